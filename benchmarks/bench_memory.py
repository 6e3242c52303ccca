"""Peak memory of generation and of the load at two sizes (default load-1m and load-10m): is it flat?

    python benchmarks/bench_memory.py [--dsn URL] [--small load-1m] [--large load-10m] [--no-db] [--db-large]

Default run: generation alone (bulkgen, COPY text, nothing kept) at both sizes, plus the load of the small
one into a fresh database. ``--db-large`` also loads the large one (10M signals: several minutes);
``--no-db`` skips every load. Each job runs in its own subprocess; its memory is sampled from /proc.
Goal: under 300 MB and flat (large / small close to 1).
"""

from __future__ import annotations

import argparse
import sys

from _common import (
    BenchDatabases,
    JobResult,
    default_dsn,
    fmt_groups,
    fmt_mb,
    install_sigterm,
    job_argv,
    postmaster_pid,
    print_header,
    print_table,
    run_job,
)
from bench_load import _cli_load_available, _ours_argv

from sspp_fixtures._defaults import DEFAULT_BATCH_ROWS

GOAL_MB = 300
FLAT = 1.2


def _args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--dsn", default=default_dsn(), help="admin DSN (default $DATABASE_URL, else local postgres)")
    parser.add_argument("--small", default="load-1m", help="the small scenario (default load-1m)")
    parser.add_argument("--large", default="load-10m", help="the large scenario (default load-10m)")
    parser.add_argument("--scale", type=float, default=None, help="multiply both scenarios' counts")
    parser.add_argument("--no-db", action="store_true", help="generation only, no database")
    parser.add_argument("--db-large", action="store_true", help="also load the large scenario into a database")
    parser.add_argument(
        "--workers",
        type=int,
        default=None,
        help="generator processes; 0 = in-process (default: the loader's choice)",
    )
    parser.add_argument("--batch-rows", type=int, default=DEFAULT_BATCH_ROWS, help="rows per generated batch")
    parser.add_argument("--interval", type=float, default=0.1, help="/proc sampling interval in seconds")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = _args(argv)
    install_sigterm()
    print_header("bench_memory: peak memory at two sizes", None if args.no_db else args.dsn)
    from sspp_fixtures.bulkgen import load_pools, scenario_locales
    from sspp_fixtures.dsn import database_name
    from sspp_fixtures.scenarios import load_scenario

    for name in (args.small, args.large):
        load_pools(scenario_locales(load_scenario(name)))  # the pools cache, built once, untimed
    scale = ["--scale", str(args.scale)] if args.scale else []
    workers = ["--workers", str(args.workers)] if args.workers is not None else []
    via = "cli" if _cli_load_available() else "api"
    postmaster = None if args.no_db else postmaster_pid(args.dsn)
    results: list[tuple[str, str, JobResult]] = []

    with BenchDatabases(args.dsn) as dbs:
        for size, scenario in (("small", args.small), ("large", args.large)):
            print(f"generation alone: {scenario}...", flush=True)
            job = run_job(
                job_argv("bulkgen", "--scenario", scenario, *scale, *workers, "--batch-rows", str(args.batch_rows)),
                interval=args.interval,
            )
            results.append((scenario, "generate", job))
            if args.no_db or (size == "large" and not args.db_large):
                continue
            print(f"load ({via}): {scenario}...", flush=True)
            dsn = dbs.create(size)
            load_args = argparse.Namespace(
                scenario=scenario, scale=args.scale, workers=args.workers, batch_rows=args.batch_rows
            )
            job = run_job(
                _ours_argv(load_args, dsn, via),
                database=database_name(dsn),
                postmaster=postmaster,
                interval=args.interval,
                result_file=via == "api",
            )
            dbs.drop(dsn)
            results.append((scenario, f"load ({via})", job))

    rows = []
    for scenario, mode, job in results:
        made = {str(k): int(v) for k, v in (job.report.get("rows") or {}).items()}
        rows.append(
            [
                scenario,
                mode,
                f"{made.get('signals', 0):,}",
                f"{sum(made.values()):,}",
                f"{job.seconds:.1f}",
                fmt_mb(job.peak_pss),
                fmt_mb(job.peak_rss),
                fmt_mb(job.max_hwm),
                fmt_groups(job.sampler),
            ]
        )
    print()
    headers = ["scenario", "mode", "signals", "rows", "seconds", "peak PSS tree", "peak RSS tree", "max proc"]
    print_table([*headers, "peak PSS by group"], rows)
    print()
    for mode in ("generate", f"load ({via})"):
        pair = [job for _, m, job in results if m == mode]
        if len(pair) != 2:
            continue
        small, large = pair
        ratio = large.peak_pss / small.peak_pss
        under = max(small.peak_pss, large.peak_pss) / 2**20 < GOAL_MB
        flat = ratio <= FLAT
        print(
            f"{mode}: peak PSS tree {fmt_mb(small.peak_pss)} -> {fmt_mb(large.peak_pss)}, ratio {ratio:.2f} "
            f"(RSS tree {fmt_mb(small.peak_rss)} -> {fmt_mb(large.peak_rss)}, "
            f"ratio {large.peak_rss / small.peak_rss:.2f}); "
            f"goal < {GOAL_MB} MB: {'MET' if under else 'NOT MET'}, flat (ratio <= {FLAT}): "
            f"{'MET' if flat else 'NOT MET'}"
        )
    print(
        "peak PSS tree = largest sum, over the job's processes (main, forkserver, workers), of their proportional "
        "set size (shared pages split between sharers); RSS tree counts shared pages once per process; "
        "max proc = largest single-process peak (VmHWM). Server memory is not included."
    )
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except KeyboardInterrupt:
        print("interrupted: databases dropped", file=sys.stderr)
        sys.exit(130)
