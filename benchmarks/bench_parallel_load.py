"""A load over N connections (shadow schema + swap) vs one transaction vs the server's own COPY limit, one run.

    python benchmarks/bench_parallel_load.py [--dsn URL] [--scenario load-1m] [--connections 2] [--repeat 2]

LIMIT: as in ``bench_load.py``: the rows written beforehand (untimed) as COPY files; timed in a fresh database:
one transaction of server-side ``COPY t FROM 'file'``, the indexes one after the other, ANALYZE, COMMIT.
ONE: ``sspp-seed load SCENARIO --connections 1 --no-row-cache`` in a new process, timed from its start to its
exit: the rows generated.
PARALLEL: the same with ``--connections N``.
KEPT: ``--connections N`` with the row cache (a folder of this run's), which an untimed load filled before the
first round: the rows read from files written beforehand, as LIMIT's are.
Each round runs LIMIT, ONE, PARALLEL and KEPT, each into its own fresh database; the script prints min and
median over the rounds, the ratios to LIMIT, peak PSS of our process tree, and the machine's load average.
Goal: PARALLEL / LIMIT <= 0.6 (KEPT / LIMIT beside it).

CPU: the CPU seconds of each run (the server backends of its database, parallel workers included, and for ONE
and PARALLEL our process tree), and PARALLEL's CPU floor: its CPU seconds over the cores, the least wall time
any schedule of that work could take on this machine. A floor above the goal means the goal needs less CPU
(on the server or in the generator), not better overlap.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import sys
from pathlib import Path

from _common import (
    BenchDatabases,
    JobResult,
    Sampler,
    default_dsn,
    fmt_mb,
    install_sigterm,
    job_argv,
    postmaster_pid,
    print_header,
    print_table,
    run_job,
    scratch_dir,
)
from bench_load import _checkpoint, run_limit

GOAL_RATIO = 0.6


def _args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--dsn", default=default_dsn(), help="admin DSN (default $DATABASE_URL, else local postgres)")
    parser.add_argument("--scenario", default="load-1m", help="scenario to load (default load-1m)")
    parser.add_argument("--scale", type=float, default=None, help="multiply the scenario's counts")
    parser.add_argument("--connections", type=int, default=2, help="connections of PARALLEL (default 2)")
    parser.add_argument("--repeat", type=int, default=2, help="rounds of LIMIT, ONE, PARALLEL (default 2)")
    return parser.parse_args(argv)


def _load(
    args: argparse.Namespace,
    dbs: BenchDatabases,
    tag: str,
    connections: int,
    postmaster: int | None,
    *,
    kept: Path | None = None,
    filling: bool = False,
) -> JobResult:
    """One ``sspp-seed load`` into a fresh database: the rows generated, or with ``kept`` (a cache folder) read
    from the row cache there (``filling``: generated and kept there)."""
    from sspp_fixtures.dsn import database_name

    dsn = dbs.create(tag)
    _checkpoint(args.dsn)
    exe = shutil.which("sspp-seed") or str(Path(sys.executable).with_name("sspp-seed"))
    argv = [exe, "load", args.scenario, "--dsn", dsn, "--json", "--connections", str(connections)]
    if args.scale:
        argv += ["--scale", str(args.scale)]
    env = None
    if kept is None:
        argv.append("--no-row-cache")
    else:
        env = {"SSPP_FIXTURES_CACHE": str(kept), "SSPP_FIXTURES_ROW_CACHE_MB": str(1 << 30)}
    job = run_job(argv, database=database_name(dsn), postmaster=postmaster, result_file=False, env=env)
    dbs.drop(dsn)
    if kept is not None and not filling and not job.report.get("rows_from_cache"):
        raise SystemExit(f"{tag}: the rows were not read from the row cache in {kept}")
    return job


def _kept_cache(folder: Path) -> Path:
    """A cache folder whose row cache is this run's, the Faker pools the machine's (built once)."""
    from sspp_fixtures._paths import cache_dir

    kept = folder / "cache"
    kept.mkdir()
    (kept / "pools").symlink_to(cache_dir() / "pools")
    return kept


def _limit(
    args: argparse.Namespace, dbs: BenchDatabases, tag: str, files: dict[str, str], postmaster: int
) -> tuple[float, float]:
    """One LIMIT run in a fresh database with the schema: its wall seconds and its backends' CPU seconds."""
    from sspp_fixtures.bulkgen import TABLES
    from sspp_fixtures.dsn import database_name
    from sspp_fixtures.schema import init_database

    dsn = dbs.create(tag)
    init_database(dsn, purpose="benchmark")
    _checkpoint(args.dsn)
    sampler = Sampler(None, database_name(dsn), postmaster).start()
    try:
        steps = run_limit(dsn, files, {t: TABLES[t].columns for t in files})
    finally:
        sampler.stop()
    dbs.drop(dsn)
    return steps[-1][2] - steps[0][1], _load_cpu(sampler.cpu_by_group())


def main(argv: list[str] | None = None) -> int:
    args = _args(argv)
    install_sigterm()
    print_header(f"bench_parallel_load: {args.scenario}, 1 vs {args.connections} connections vs COPY", args.dsn)
    from sspp_fixtures.bulkgen import load_pools, scenario_locales
    from sspp_fixtures.scenarios import load_scenario

    scenario = load_scenario(args.scenario).with_overrides(scale=args.scale)
    load_pools(scenario_locales(scenario), workers=os.cpu_count() or 1)  # the pools cache, built once, untimed
    postmaster = postmaster_pid(args.dsn)
    if postmaster is None:
        print("the server is not on this machine: LIMIT needs local files")
        return 2
    scale = ["--scale", str(args.scale)] if args.scale else []
    limit: list[float] = []
    limit_cpu: list[float] = []
    one: list[JobResult] = []
    parallel: list[JobResult] = []
    kept: list[JobResult] = []
    loads: list[float] = []
    with BenchDatabases(args.dsn) as dbs, scratch_dir("sspp_bench_files_") as folder:
        written = run_job(job_argv("write-copy", "--scenario", args.scenario, *scale, "--dir", str(folder)))
        files = written.report["files"]
        print(f"{sum(written.report['rows'].values()):,} rows written as COPY files (untimed)", flush=True)
        cache = _kept_cache(folder)
        _load(args, dbs, "fill", args.connections, postmaster, kept=cache, filling=True)
        size = sum(entry.stat().st_size for entry in (cache / "rows").glob("*.rows"))
        print(f"row cache filled by a load (untimed): {fmt_mb(size)}", flush=True)
        for round_no in range(1, args.repeat + 1):
            loads.append(os.getloadavg()[0])
            seconds, cpu = _limit(args, dbs, f"limit{round_no}", files, postmaster)
            limit.append(seconds)
            limit_cpu.append(cpu)
            one.append(_load(args, dbs, f"one{round_no}", 1, postmaster))
            parallel.append(_load(args, dbs, f"par{round_no}", args.connections, postmaster))
            kept.append(_load(args, dbs, f"kept{round_no}", args.connections, postmaster, kept=cache))
            print(
                f"round {round_no}: LIMIT {limit[-1]:.1f}s, ONE {one[-1].seconds:.1f}s, "
                f"PARALLEL {parallel[-1].seconds:.1f}s, KEPT {kept[-1].seconds:.1f}s (load average {loads[-1]:.1f})",
                flush=True,
            )

    def figures(name: str, seconds: list[float], jobs: list[JobResult] | None) -> list[str]:
        best, middle = min(seconds), statistics.median(seconds)
        pss = fmt_mb(max(j.peak_pss for j in jobs)) if jobs else "-"
        phases = "-"
        if jobs:
            fastest = min(jobs, key=lambda j: j.seconds)
            phases = ", ".join(f"{p} {s:.1f}" for p, s in fastest.report.get("seconds", {}).items())
        return [
            name,
            f"{best:.1f}",
            f"{middle:.1f}",
            f"{best / min(limit):.2f}",
            f"{middle / statistics.median(limit):.2f}",
            pss,
            phases,
        ]

    print()
    print_table(
        ["", "min s", "median s", "min/LIMIT", "median/LIMIT", "peak PSS", "phases of the fastest (s)"],
        [
            figures("LIMIT (server COPY, 1 txn)", limit, None),
            figures("ONE (--connections 1)", [j.seconds for j in one], one),
            figures(f"PARALLEL (--connections {args.connections})", [j.seconds for j in parallel], parallel),
            figures("KEPT (the same, rows from the row cache)", [j.seconds for j in kept], kept),
        ],
    )
    for name, jobs in (("PARALLEL", parallel), ("KEPT", kept)):
        ratio = statistics.median(j.seconds for j in jobs) / statistics.median(limit)
        verdict = "MET" if ratio <= GOAL_RATIO else "NOT MET"
        print(f"{name} / LIMIT (medians) = {ratio:.2f} (goal <= {GOAL_RATIO}: {verdict})")
    print(f"load average during the rounds {', '.join(f'{x:.1f}' for x in loads)} on {os.cpu_count()} cores")
    _print_cpu(limit, limit_cpu, one, parallel)
    _print_cpu(limit, limit_cpu, one, kept, name="KEPT")
    return 0


def _load_cpu(groups: dict[str, float]) -> float:
    """CPU seconds of a load: its database's backends and our process tree (not the server's other work)."""
    return sum(seconds for group, seconds in groups.items() if group != "server other")


def _print_cpu(
    limit: list[float],
    limit_cpu: list[float],
    one: list[JobResult],
    parallel: list[JobResult],
    *,
    name: str = "PARALLEL",
) -> None:
    """CPU seconds per run (median) and the CPU floor of ``parallel`` (PARALLEL or KEPT) on this machine's
    cores, as a share of LIMIT."""
    cores = os.cpu_count() or 1
    one_cpu = statistics.median(_load_cpu(j.cpu) for j in one)
    parallel_groups = {
        g: statistics.median(j.cpu.get(g, 0.0) for j in parallel) for g in ("backend", "main", "workers")
    }
    parallel_cpu = statistics.median(_load_cpu(j.cpu) for j in parallel)
    floor = parallel_cpu / cores
    print(
        f"CPU seconds (medians): LIMIT {statistics.median(limit_cpu):.1f} (server), ONE {one_cpu:.1f}, {name} "
        f"{parallel_cpu:.1f} ({', '.join(f'{g} {v:.1f}' for g, v in parallel_groups.items())})"
    )
    print(
        f"{name}'s CPU floor on {cores} cores: {parallel_cpu:.1f} / {cores} = {floor:.1f}s = "
        f"{floor / statistics.median(limit):.2f} of LIMIT's median; its wall time used "
        f"{parallel_cpu / statistics.median(j.seconds for j in parallel):.2f} cores on average"
    )


if __name__ == "__main__":
    try:
        sys.exit(main())
    except KeyboardInterrupt:
        print("interrupted: databases dropped", file=sys.stderr)
        sys.exit(130)
