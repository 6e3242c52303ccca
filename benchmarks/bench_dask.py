"""Dask: generation on a LocalCluster of 1 vs 2 workers, and a Parquet export against in-process generation.

    python benchmarks/bench_dask.py [--scenario load-100k] [--scale 1] [--repeats 3] [--skip-export-dask]

Same run, same machine:
  in-process generation   every batch made and formatted as COPY text in this process (the baseline per core)
  local:1 / local:2       the same batches as Dask tasks on a LocalCluster of 1 and 2 worker processes; each task
                          makes and formats its batch and returns only its row count (what a worker-side COPY or
                          file write starts from); as dask_client() runs them (batches grouped into Dask tasks,
                          the workers' profiler and frequent ticks off), and as before (baseline, --no-baseline to
                          skip): one batch per Dask task, on a LocalCluster with Dask's default settings
  parquet in-process      export_partitioned(..., "parquet") to a scratch folder: generation, Arrow, snappy, files
  parquet local:2         the same export with the tasks on the 2-worker cluster
The two in-process engines run alternately, round by round, after an untimed warm-up of each (imports, caches),
so that the machine's load weighs on both alike; the share is also printed round by round. The clusters too: each
round starts local:1 and local:2, baseline and change, one after the other, each cluster new and warmed (every
worker has made a batch) before it is timed.

rows/s per core = rows/s / cores used (1 in-process, N workers); rows/cpu-s = rows per CPU second of the processes
that did the work (this one, or the workers: ``client.run(time.process_time)`` before and after); client cpu-s =
CPU seconds of this process while a cluster worked (the scheduler, the nannies and the client live here). Goals
(issue #14): local:2 / local:1 >= 1.8x; Parquet export per core >= 80 % of in-process generation per core.
dbldatagen, for reference (measured on local Spark for the signals table): 177k rows per CPU second.
"""

from __future__ import annotations

import argparse
import logging
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from functools import partial
from pathlib import Path
from typing import Any

from _common import fmt_rate, print_header, print_table

from sspp_fixtures._dask import dask_client, run_tasks, task_pieces
from sspp_fixtures._dask._cluster import INSTALL_HINT
from sspp_fixtures._defaults import DEFAULT_BATCH_ROWS
from sspp_fixtures.bulkgen import load_pools, scenario_locales
from sspp_fixtures.bulkgen._stream import Task, plan_tasks
from sspp_fixtures.export import export_partitioned
from sspp_fixtures.scenarios import Scenario, load_scenario

DBLDATAGEN_ROWS_PER_CPU_S = 177_000
GOAL_SCALING = 1.8
GOAL_EXPORT_SHARE = 0.8


def made_rows(scenario: Scenario, task: Task) -> int:
    """A chunk task on a worker: the batch made and formatted as COPY text; only its row count travels back."""
    return sum(piece.rows for piece in task_pieces(scenario, task))


def _args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--scenario", default="load-100k", help="scenario (default load-100k)")
    parser.add_argument("--scale", type=float, default=None, help="multiply the scenario's counts")
    parser.add_argument("--repeats", type=int, default=3, help="timed rounds of each engine (default 3)")
    parser.add_argument(
        "--batch-rows", type=int, default=DEFAULT_BATCH_ROWS, help=f"rows per task (default {DEFAULT_BATCH_ROWS})"
    )
    parser.add_argument("--skip-export-dask", action="store_true", help="do not time the export on local:2")
    parser.add_argument(
        "--no-baseline", action="store_true", help="do not time the clusters as before (one batch per Dask task)"
    )
    return parser.parse_args(argv)


class Timing:
    """Rounds of one engine: rows, wall seconds and CPU seconds of each."""

    def __init__(self, name: str, cores: int) -> None:
        self.name, self.cores = name, cores
        self.rounds: list[tuple[int, float, float]] = []
        self.client_cpu: list[float] = []

    def rates(self) -> list[float]:
        return [rows / seconds for rows, seconds, _ in self.rounds]

    def per_cpu(self) -> list[float]:
        return [rows / max(cpu, 1e-9) for rows, _, cpu in self.rounds]

    def row(self) -> list[str]:
        rates, per_cpu = self.rates(), self.per_cpu()
        rows, _, _ = self.rounds[0]
        return [
            self.name,
            f"{rows:,}",
            f"{min(s for _, s, _ in self.rounds):.2f} / {statistics.median(s for _, s, _ in self.rounds):.2f}",
            fmt_rate(statistics.median(rates)),
            f"{fmt_rate(max(rates) / self.cores)} / {fmt_rate(statistics.median(rates) / self.cores)}",
            f"{fmt_rate(max(per_cpu))} / {fmt_rate(statistics.median(per_cpu))}",
            f"{statistics.median(self.client_cpu):.2f}" if self.client_cpu else "-",
        ]


def _time(timing: Timing, repeats: int, work: Callable[[], int], client: Any = None) -> Timing:
    """``repeats`` rounds of ``work``; CPU time of this process, or of the cluster's workers with ``client``."""
    cpu = time.process_time if client is None else (lambda: sum(client.run(time.process_time).values()))
    for _ in range(repeats):
        cpu_before, here_before, started = cpu(), time.process_time(), time.perf_counter()
        rows = work()
        timing.rounds.append((rows, time.perf_counter() - started, cpu() - cpu_before))
        if client is not None:
            timing.client_cpu.append(time.process_time() - here_before)
    return timing


def _generate(scenario: Scenario, tasks: list[Task]) -> int:
    return sum(made_rows(scenario, task) for task in tasks)


def _generate_on(client: Any, scenario: Scenario, batch_rows: int, group: int | None) -> int:
    return sum(rows for _, rows in run_tasks(client, scenario, made_rows, batch_rows=batch_rows, group=group))


@contextmanager
def _baseline_client(workers: int) -> Iterator[Any]:
    """A LocalCluster as dask_client() started one before this change: Dask's default settings."""
    try:
        import distributed
    except ImportError:  # pragma: no cover
        raise SystemExit(f"bench_dask needs dask.distributed: {INSTALL_HINT}") from None
    local: Any = distributed.LocalCluster  # untyped
    with (
        local(
            n_workers=workers, threads_per_worker=1, processes=True, dashboard_address=":0",
            silence_logs=logging.CRITICAL,
        ) as cluster,
        distributed.Client(cluster) as client,  # type: ignore[no-untyped-call]
    ):  # fmt: skip
        yield client


def _warm(client: Any, scenario: Scenario, tasks: list[Task]) -> None:
    """Every worker makes a batch (imports, the pools, its chunk maker), untimed."""
    workers = sorted(client.scheduler_info()["workers"])
    futures = [
        client.submit(made_rows, scenario, tasks[i % len(tasks)], workers=[address], pure=False)
        for i, address in enumerate(workers)
    ]
    client.gather(futures)


def _export(scenario: Scenario, out: str, client: Any, batch_rows: int) -> int:
    return sum(export_partitioned(scenario, "parquet", out, client=client, batch_rows=batch_rows).rows.values())


Clusters = dict[tuple[int, bool], Timing]


def _time_clusters(
    args: argparse.Namespace, scenario: Scenario, tasks: list[Task], scratch: str
) -> tuple[Clusters, Timing]:
    """Generation on local:1 and local:2 (and the baseline's), and the export on local:2, round by round."""
    clusters = [(workers, False) for workers in (1, 2)]
    if not args.no_baseline:
        clusters = [(workers, baseline) for workers in (1, 2) for baseline in (True, False)]
    by_cluster = {
        (workers, baseline): Timing(
            f"generation on local:{workers}" + (" (before: 1 batch per task, defaults)" if baseline else ""),
            workers,
        )
        for workers, baseline in clusters
    }
    exported = Timing("parquet export, local:2", 2)
    for round_ in range(args.repeats):  # round by round, each cluster new, so the machine's load hits all alike
        for workers, baseline in clusters:
            print(f"round {round_ + 1}: local:{workers}{' (before)' if baseline else ''}...", flush=True)
            opened = _baseline_client(workers) if baseline else dask_client(f"local:{workers}")
            with opened as client:
                _warm(client, scenario, tasks)
                on_cluster = partial(_generate_on, client, scenario, args.batch_rows, 1 if baseline else None)
                _time(by_cluster[workers, baseline], 1, on_cluster, client)
                if workers == 2 and not baseline and not args.skip_export_dask:
                    cluster_out = (Path(scratch) / "cluster").as_uri()
                    there = partial(_export, scenario, cluster_out, client, args.batch_rows)
                    _time(exported, 1, there, client)
    return by_cluster, exported


def _scaling(one: Timing, two: Timing, *, fastest: bool = False) -> float:
    """local:2's rows/s over local:1's: of the medians, or with ``fastest`` of the fastest rounds."""
    pick: Callable[[list[float]], float] = max if fastest else statistics.median
    return pick(two.rates()) / pick(one.rates())


def _print_scaling(by_cluster: Clusters) -> None:
    """The scaling goal's verdict (medians), with the same run's baseline and the fastest rounds' figures."""
    now, fastest = (
        _scaling(by_cluster[1, False], by_cluster[2, False]),
        _scaling(by_cluster[1, False], by_cluster[2, False], fastest=True),
    )
    verdict = "MET" if now >= GOAL_SCALING else "NOT MET"
    line = f"goal: local:2 / local:1 >= {GOAL_SCALING}x: {now:.2f}x -> {verdict} (fastest rounds: {fastest:.2f}x"
    if (1, True) in by_cluster:
        before = _scaling(by_cluster[1, True], by_cluster[2, True])
        before_fastest = _scaling(by_cluster[1, True], by_cluster[2, True], fastest=True)
        line += f"; before, same run: {before:.2f}x, fastest rounds {before_fastest:.2f}x"
    print(line + ")")


def main(argv: list[str] | None = None) -> int:
    args = _args(argv)
    print_header("bench_dask: LocalCluster scaling and Parquet export, no database", None)
    scenario = load_scenario(args.scenario).with_overrides(scale=args.scale)
    load_pools(scenario_locales(scenario), workers=os.cpu_count() or 1)  # the pools' disk cache, untimed
    tasks = plan_tasks(scenario, args.batch_rows)
    print(f"{scenario.name}: {len(tasks)} tasks of up to {args.batch_rows:,} rows; {args.repeats} rounds each")
    timings: list[Timing] = []
    with tempfile.TemporaryDirectory(prefix="sspp-bench-dask-") as scratch:
        print("running in-process generation and parquet export, alternately...", flush=True)
        generation, parquet = Timing("in-process generation", 1), Timing("parquet export, in-process", 1)
        make = partial(_generate, scenario, tasks)
        here = partial(_export, scenario, str(Path(scratch) / "here"), None, args.batch_rows)
        make(), here()  # warm-up, untimed: the first round of each pays imports and cold caches
        for _ in range(args.repeats):  # interleaved, so a change in the machine's load hits both alike
            _time(generation, 1, make)
            _time(parquet, 1, here)
        timings += [generation, parquet]
        by_cluster, exported = _time_clusters(args, scenario, tasks, scratch)
        timings += list(by_cluster.values())
        if exported.rounds:
            timings.append(exported)
    print()
    print_table(
        [
            "engine",
            "rows",
            "seconds min / median",
            "rows/s",
            "rows/s per core max / median",
            "rows/cpu-s max / median",
            "client cpu-s",
        ],
        [timing.row() for timing in timings]
        + [["dbldatagen (signals, local Spark)", "-", "-", "-", "-", fmt_rate(DBLDATAGEN_ROWS_PER_CPU_S), "-"]],
    )
    by_name = {timing.name: timing for timing in timings}
    made_per_cpu = statistics.median(by_name["in-process generation"].per_cpu())
    export = statistics.median(by_name["parquet export, in-process"].per_cpu())
    made, written = by_name["in-process generation"].per_cpu(), by_name["parquet export, in-process"].per_cpu()
    shares = [e / g for e, g in zip(written, made, strict=True)]
    share = export / made_per_cpu
    print()
    _print_scaling(by_cluster)
    print(
        f"goal: parquet export per core >= {GOAL_EXPORT_SHARE:.0%} of in-process generation per core (rows/cpu-s): "
        f"{share:.0%} -> {'MET' if share >= GOAL_EXPORT_SHARE else 'NOT MET'} (round by round, "
        f"min / median / max: {min(shares):.0%} / {statistics.median(shares):.0%} / {max(shares):.0%})"
    )
    print(
        f"per CPU second: in-process generation {fmt_rate(made_per_cpu)}, parquet export {fmt_rate(export)}, "
        f"dbldatagen {fmt_rate(DBLDATAGEN_ROWS_PER_CPU_S)} (x{made_per_cpu / DBLDATAGEN_ROWS_PER_CPU_S:.1f} / "
        f"x{export / DBLDATAGEN_ROWS_PER_CPU_S:.1f})"
    )
    print(
        f"cores here: {os.cpu_count()}; with 2 cores, local:2 shares them with this process and anything else "
        "running, so its scaling is a floor; rows/cpu-s hardly moves with the machine's load."
    )
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        sys.exit(130)
