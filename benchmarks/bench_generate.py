"""Generation alone, no database: rows/s of each engine, side by side, against a naive factory-boy baseline.

    python benchmarks/bench_generate.py [--scenario load-100k] [--scale 1] [--naive-rows 10000]

Engines, each in its own subprocess (peak RSS is that subprocess and its children):
  naive factory-boy + Faker   a DictFactory with Faker fields, one event dict per build() (the baseline)
  sspp factories              sspp_fixtures.factories: build() of an event with its signal (when available)
  bulkgen workers=1 / =2      bulkgen.generate(scenario, "copy"): every row of the three tables, as COPY text
"""

from __future__ import annotations

import argparse
import os
import sys

from _common import MB, JobFailed, JobResult, fmt_groups, fmt_mb, fmt_rate, job_argv, print_header, print_table, run_job

from sspp_fixtures._defaults import DEFAULT_BATCH_ROWS

GOAL_ROWS_S = 350_000


def _args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--scenario", default="load-100k", help="scenario for bulkgen (default load-100k)")
    parser.add_argument("--scale", type=float, default=None, help="multiply the scenario's counts")
    parser.add_argument("--naive-rows", type=int, default=10_000, help="events built by the baseline (default 10000)")
    parser.add_argument("--factory-rows", type=int, default=5_000, help="events built by our factories (default 5000)")
    parser.add_argument(
        "--workers",
        default=f"0,1,{os.cpu_count() or 1}",
        help="bulkgen worker counts, comma-separated (0 = in-process)",
    )
    parser.add_argument("--batch-rows", type=int, default=DEFAULT_BATCH_ROWS, help="bulkgen batch size")
    parser.add_argument("--skip-naive", action="store_true", help="do not run the baseline (no x baseline column)")
    return parser.parse_args(argv)


def _warm_pools(scenario_name: str) -> None:
    """Build the Faker pools cache once (untimed), so no engine pays for it."""
    from sspp_fixtures.bulkgen import load_pools, scenario_locales
    from sspp_fixtures.scenarios import load_scenario

    load_pools(scenario_locales(load_scenario(scenario_name)), workers=os.cpu_count() or 1)


def main(argv: list[str] | None = None) -> int:
    args = _args(argv)
    print_header("bench_generate: generation alone, no database", None)
    _warm_pools(args.scenario)
    scale = ["--scale", str(args.scale)] if args.scale else []
    results: list[tuple[str, JobResult | None, str]] = []

    def engine(name: str, *job_args: str) -> None:
        print(f"running {name}...", flush=True)
        try:
            job = run_job(job_argv(*job_args))
        except JobFailed as exc:
            print(f"  {name} failed: {exc}", file=sys.stderr)
            results.append((name, None, f"failed: {exc.reason}"))
            return
        skipped = str(job.report.get("skipped", ""))
        results.append((name, None if skipped else job, f"skipped: {skipped}" if skipped else ""))

    if not args.skip_naive:
        engine("naive factory-boy + Faker", "naive", "--rows", str(args.naive_rows))
    engine("sspp factories build()", "factories", "--rows", str(args.factory_rows))
    for workers in (int(w) for w in args.workers.split(",")):
        engine(
            f"bulkgen workers={workers}", "bulkgen", "--scenario", args.scenario, *scale,
            "--workers", str(workers), "--batch-rows", str(args.batch_rows),
        )  # fmt: skip

    baseline = results[0][1] if not args.skip_naive else None
    base_rate = _rate(baseline) if baseline else None
    rows = []
    for name, job, note in results:
        if job is None:
            rows.append([name, "-", "-", "-", "-", "-", "-", "-", "-", "-", note])
            continue
        rate = _rate(job)
        size = job.report.get("bytes")
        cpu = _cpu(job)
        rows.append(
            [
                name,
                f"{_rows(job):,}",
                f"{job.report['seconds']:.2f}",
                fmt_rate(rate),
                f"{rate / base_rate:,.1f}x" if base_rate else "-",
                f"{sum(cpu.values()) / _rows(job) * 1e6:,.2f}",
                fmt_rate(_rows(job) / sum(cpu.values())),
                f"{size / MB / job.report['seconds']:,.1f}" if size else "-",
                fmt_mb(job.peak_rss),
                fmt_mb(job.max_hwm),
                _note(job),
            ]
        )
    print()
    print_table(
        [
            "engine",
            "rows",
            "seconds",
            "rows/s",
            "x baseline",
            "cpu us/row",
            "rows/cpu-s",
            "MB/s",
            "peak RSS tree",
            "max proc",
            "notes",
        ],
        rows,
    )
    best = max((_rate(j) for n, j, _ in results if j is not None and n.startswith("bulkgen")), default=0.0)
    verdict = "MET" if best >= GOAL_ROWS_S else "NOT MET"
    print()
    print(f"goal: bulkgen over {os.cpu_count()} cores >= {GOAL_ROWS_S:,} rows/s: best {best:,.0f} rows/s -> {verdict}")
    _print_cpu_comparison(results)
    print(
        "rows = all rows of all tables the engine made; seconds = inside the job, from the first call to the last "
        "row (bulkgen: includes starting its workers); cpu us/row = CPU time (user + system) per row: the job's own "
        "process while timed (getrusage) plus, for bulkgen with workers, all its child processes (forkserver and "
        "workers, from /proc): unlike rows/s it hardly moves when other work shares the machine; rows/cpu-s = its "
        "inverse; peak RSS tree = largest sum of RSS over the job's processes; max proc = largest single-process "
        "peak (VmHWM)."
    )
    return 0


def _cpu(job: JobResult) -> dict[str, float]:
    """CPU seconds while timed: ``main`` (the job's process) and ``workers`` (its descendants, whole life)."""
    main = job.report.get("cpu_s")
    if main is None:  # a job that does not report it: the sampler's estimate over the timed span
        main = job.sampler.cpu_between(job.report["t_start"] - 0.1, job.report["t_end"] + 0.1).get("main", 0.0)
        main *= float(job.report["seconds"])
    cpu = {"main": max(float(main), 1e-9)}
    if job.cpu.get("workers"):
        cpu["workers"] = job.cpu["workers"]
    return cpu


def _print_cpu_comparison(results: list[tuple[str, JobResult | None, str]]) -> None:
    """The generator's CPU per row in-process against in worker processes (same work, same bytes)."""
    jobs = {name: job for name, job, _ in results if job is not None and name.startswith("bulkgen")}
    inline = jobs.get("bulkgen workers=0")
    if inline is None:
        return
    base = _cpu(inline)["main"] / _rows(inline) * 1e6
    print(f"cpu per row: in-process {base:.2f} us/row", end="")
    for name, job in jobs.items():
        cpu = _cpu(job)
        if "workers" in cpu:
            made = cpu["workers"] / _rows(job) * 1e6
            fed = cpu["main"] / _rows(job) * 1e6
            print(
                f"; {name.removeprefix('bulkgen ')}: workers {made:.2f} ({made / base - 1:+.0%}) + main {fed:.2f}",
                end="",
            )
    print(" (workers = forkserver + generator processes; main = reading their pieces)")


def _rows(job: JobResult) -> int:
    return sum(int(n) for n in job.report["rows"].values())


def _rate(job: JobResult) -> float:
    return _rows(job) / float(job.report["seconds"])


def _busy(job: JobResult) -> float:
    """Cores the job's processes kept busy while timed (from the /proc samples)."""
    cores = job.sampler.cpu_between(job.report["t_start"] - 0.1, job.report["t_end"] + 0.1)
    return cores.get("main", 0.0) + cores.get("workers", 0.0)


def _note(job: JobResult) -> str:
    rows = job.report["rows"]
    parts = [f"{k} {v:,}" for k, v in rows.items()] if len(rows) > 1 else []
    parts.append(f"cpu {_busy(job):.2f} cores")
    cpu = _cpu(job)
    if "workers" in cpu:
        parts.append(f"cpu-s main {cpu['main']:.2f} workers {cpu['workers']:.2f}")
    parts.append(f"PSS {fmt_groups(job.sampler)}")
    if "first_piece_s" in job.report:
        parts.append(f"first piece {job.report['first_piece_s']:.2f}s")
    return ", ".join(parts)


if __name__ == "__main__":
    try:
        sys.exit(main())
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        sys.exit(130)
