"""A load whose chunks a Dask cluster copies, beside the same load over this machine's connections, one run; and
the sizing figures the docs quote (rows per worker-second, bytes per row, WAL per load).

    python benchmarks/bench_dask_load.py [--dsn URL] [--scenario load-100k] [--connections 2] [--dask 1,2]
                                         [--repeat 2]

LOCAL: ``sspp-seed load SCENARIO --connections N`` (generator processes here, N connections).
DASK W: ``sspp-seed load SCENARIO --dask local:W --connections N`` (W worker processes generate and COPY; the N
connections build the indexes). Each in a new process into a fresh database, timed from start to exit (a local
cluster's start is in the time, and in the report's ``cluster`` phase).
Per load: WAL written (``pg_current_wal_lsn`` before and after: the whole server's, so other work on it counts
too), and for the Dask loads the copy phase's rows per worker-second. After the last round, the size of each
table (heap, indexes, TOAST) per row, from ``pg_total_relation_size``.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import sys
from pathlib import Path

from _common import BenchDatabases, JobResult, default_dsn, install_sigterm, print_header, print_table, run_job

TABLES = ("customers", "events", "signals", "sales_signals")


def _args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--dsn", default=default_dsn(), help="admin DSN (default $DATABASE_URL, else local postgres)")
    parser.add_argument("--scenario", default="load-100k", help="scenario to load (default load-100k)")
    parser.add_argument("--scale", type=float, default=None, help="multiply the scenario's counts")
    parser.add_argument("--connections", type=int, default=2, help="connections of every load (default 2)")
    parser.add_argument("--dask", default="1,2", help="local cluster sizes to try, comma-separated (default 1,2)")
    parser.add_argument("--repeat", type=int, default=2, help="rounds (default 2)")
    return parser.parse_args(argv)


def _wal_lsn(dsn: str) -> str:
    from sspp_fixtures.dsn import connect

    with connect(dsn) as conn:
        conn.execute("CHECKPOINT")
        row = conn.execute("SELECT pg_current_wal_lsn()::text").fetchone()
    return str(row[0]) if row else "0/0"


def _wal_since(dsn: str, start: str) -> int:
    from sspp_fixtures.dsn import connect

    with connect(dsn) as conn:
        row = conn.execute("SELECT pg_wal_lsn_diff(pg_current_wal_lsn(), %s::pg_lsn)::bigint", (start,)).fetchone()
    return int(row[0]) if row else 0


def _sizes(dsn: str) -> list[list[str]]:
    from sspp_fixtures.dsn import connect

    rows = []
    with connect(dsn) as conn:
        for table in TABLES:
            count, heap, indexes, total = conn.execute(  # type: ignore[misc]
                f"SELECT (SELECT count(*) FROM {table}), pg_table_size('{table}'), pg_indexes_size('{table}'), "
                f"pg_total_relation_size('{table}')"
            ).fetchone()
            per = max(1, int(count))
            rows.append([table, f"{count:,}", f"{heap / per:.0f}", f"{indexes / per:.0f}", f"{total / per:.0f}"])
    return rows


def _load(args: argparse.Namespace, dbs: BenchDatabases, tag: str, dask: int | None) -> tuple[JobResult, int, str]:
    dsn = dbs.create(tag)
    exe = shutil.which("sspp-seed") or str(Path(sys.executable).with_name("sspp-seed"))
    argv = [exe, "load", args.scenario, "--dsn", dsn, "--json", "--connections", str(args.connections)]
    if args.scale:
        argv += ["--scale", str(args.scale)]
    if dask:
        argv += ["--dask", f"local:{dask}"]
    start = _wal_lsn(args.dsn)
    job = run_job(argv, result_file=False)
    return job, _wal_since(args.dsn, start), dsn


def main(argv: list[str] | None = None) -> int:
    args = _args(argv)
    install_sigterm()
    sizes = [int(w) for w in args.dask.split(",") if w.strip()]
    print_header(
        f"bench_dask_load: {args.scenario}, --connections {args.connections} vs --dask local:{sizes}", args.dsn
    )
    runs: dict[str, list[tuple[JobResult, int]]] = {}
    loads: list[float] = []
    last = ""
    with BenchDatabases(args.dsn) as dbs:
        for round_no in range(1, args.repeat + 1):
            loads.append(os.getloadavg()[0])
            for workers in [None, *sizes]:
                name = "LOCAL" if workers is None else f"DASK {workers}"
                job, wal, dsn = _load(args, dbs, f"{name.replace(' ', '').lower()}{round_no}", workers)
                runs.setdefault(name, []).append((job, wal))
                if last:
                    dbs.drop(last)
                last = dsn
                print(f"round {round_no}: {name} {job.seconds:.1f}s, WAL {wal / 2**20:,.0f} MB", flush=True)
        size_rows = _sizes(last)

    table = []
    for name, done in runs.items():
        seconds = [job.seconds for job, _ in done]
        fastest = min(done, key=lambda d: d[0].seconds)[0].report
        rows = sum(fastest["rows"].values())
        copy = fastest["seconds"].get("copy", 0.0)
        workers = int(name.split()[1]) if name.startswith("DASK") else 0
        per_worker = f"{rows / (workers * copy):,.0f}" if workers and copy else "-"
        phases = ", ".join(f"{p} {s:.1f}" for p, s in fastest["seconds"].items())
        wal = statistics.median(w for _, w in done)
        table.append(
            [name, f"{min(seconds):.1f}", f"{statistics.median(seconds):.1f}", f"{wal / rows:,.0f}", per_worker, phases]
        )
    print()
    print_table(["", "min s", "median s", "WAL B/row", "rows/worker-s (copy)", "phases of the fastest (s)"], table)
    print()
    print_table(["table", "rows", "heap B/row", "index B/row", "total B/row"], size_rows)
    print(f"load average during the rounds {', '.join(f'{x:.1f}' for x in loads)} on {os.cpu_count()} cores")
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except KeyboardInterrupt:
        print("interrupted: databases dropped", file=sys.stderr)
        sys.exit(130)
