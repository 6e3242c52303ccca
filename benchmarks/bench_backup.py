"""Backup and verified restore of a scenario (default load-1m), against the bare PostgreSQL tools, in one run.

    python benchmarks/bench_backup.py [--dsn URL] [--scenario load-1m] [--scale 1] [--formats custom,plain]

SETUP (untimed): ``sspp-seed load SCENARIO`` into a fresh database.
Per format:
  BASE backup:   ``pg_dump -Fc -f FILE`` (custom) or ``pg_dump | gzip -3 > FILE`` (plain), same pg_dump.
  OURS backup:   ``sspp-seed backup --out FILE --format F``: the same dump from an exported snapshot, plus the
                 manifest (row counts and checksums of every table in that snapshot) and the file's SHA-256.
  BASE restore:  ``pg_restore --single-transaction -d NEW FILE`` (custom) or ``gunzip -c FILE | psql -1``
                 (plain), then ANALYZE, into a fresh database.
  OURS restore:  ``sspp-seed restore FILE --dsn NEW``: SHA-256 check, one transaction that replays the dump,
                 recounts and re-checksums every table against the manifest, then ANALYZE.
Every restore is checked afterwards (untimed) to hold the source's row counts. Each timed step runs in its
own process; its peak PSS is the whole process tree's (pg_dump, pg_restore, psql and gzip included).
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
from pathlib import Path

import psycopg
from _common import (
    BenchDatabases,
    JobResult,
    default_dsn,
    fmt_mb,
    install_sigterm,
    postmaster_pid,
    print_header,
    print_table,
    run_job,
    scratch_dir,
)


def _args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--dsn", default=default_dsn(), help="admin DSN (default $DATABASE_URL, else local postgres)")
    parser.add_argument("--scenario", default="load-1m", help="scenario to back up (default load-1m)")
    parser.add_argument("--scale", type=float, default=None, help="multiply the scenario's counts")
    parser.add_argument("--formats", default="custom,plain", help="comma-separated: custom, plain")
    return parser.parse_args(argv)


def _exe() -> str:
    return shutil.which("sspp-seed") or str(Path(sys.executable).with_name("sspp-seed"))


def _counts(dsn: str) -> dict[str, int]:
    with psycopg.connect(dsn, autocommit=True) as conn:
        return {
            t: int(conn.execute(f"SELECT count(*) FROM {t}").fetchone()[0])  # type: ignore[index]
            for t in ("customers", "events", "signals")
        }


def _conninfo_env(dsn: str) -> tuple[str, dict[str, str]]:
    from sspp_fixtures.backup._tools import client_connection

    return client_connection(dsn)


def _shell(command: str) -> list[str]:
    return ["/bin/sh", "-c", command]


def _base_backup(tools: object, dsn: str, fmt: str, out: Path) -> list[str]:
    conninfo, _ = _conninfo_env(dsn)
    pg_dump = tools.path("pg_dump")  # type: ignore[attr-defined]
    if fmt == "custom":
        return [pg_dump, "--no-owner", "--format", "custom", "--file", str(out), "--dbname", conninfo]
    return _shell(f"{pg_dump} --no-owner --format plain --dbname '{conninfo}' | gzip -3 > '{out}'")


def _base_restore(tools: object, dsn: str, fmt: str, file: Path) -> list[str]:
    conninfo, _ = _conninfo_env(dsn)
    path = tools.path  # type: ignore[attr-defined]
    if fmt == "custom":
        return _shell(
            f"{path('pg_restore')} --single-transaction --no-owner --exit-on-error --dbname '{conninfo}' '{file}' && "
            f"{path('psql')} -X -q --dbname '{conninfo}' -c ANALYZE"
        )
    return _shell(
        f"gunzip -c '{file}' | {path('psql')} -X -q -1 -v ON_ERROR_STOP=1 --dbname '{conninfo}' >/dev/null && "
        f"{path('psql')} -X -q --dbname '{conninfo}' -c ANALYZE"
    )


def _row(label: str, job: JobResult, rows: int, size: int, base: JobResult | None) -> list[str]:
    ratio = f"{job.seconds / base.seconds:.2f}" if base else "-"
    return [
        label,
        f"{job.seconds:,.1f}",
        f"{rows / job.seconds:,.0f}",
        f"{size / 1e6 / job.seconds:,.1f}",
        fmt_mb(job.peak_pss),
        ratio,
    ]


def main(argv: list[str] | None = None) -> int:
    args = _args(argv)
    install_sigterm()
    print_header(f"bench_backup: {args.scenario} backup and verified restore vs pg_dump/pg_restore", args.dsn)
    from sspp_fixtures.backup import find_client_tools
    from sspp_fixtures.dsn import database_name

    with psycopg.connect(args.dsn, autocommit=True) as conn:
        server_major = int(conn.info.server_version) // 10000
    tools = find_client_tools(min_major=server_major)
    print(f"client tools: PostgreSQL {tools.version} in {tools.bin_dir}")
    postmaster = postmaster_pid(args.dsn)
    formats = [f.strip() for f in args.formats.split(",") if f.strip()]
    results: list[list[str]] = []
    with BenchDatabases(args.dsn) as dbs, scratch_dir("sspp_bench_backup_") as folder:
        source = dbs.create("source")
        scale = ["--scale", str(args.scale)] if args.scale else []
        print(f"SETUP: sspp-seed load {args.scenario} (untimed)...", flush=True)
        run_job([_exe(), "load", args.scenario, "--dsn", source, "--json", *scale], result_file=False)
        expected = _counts(source)
        rows = sum(expected.values())
        print(f"  {rows:,} rows: {expected}", flush=True)
        for fmt in formats:
            suffix = ".dump" if fmt == "custom" else ".sql.gz"
            base_file, ours_file = folder / f"base-{fmt}{suffix}", folder / f"ours-{fmt}{suffix}"
            print(f"BASE backup ({fmt})...", flush=True)
            base_b = run_job(_base_backup(tools, source, fmt, base_file), database=database_name(source),
                             postmaster=postmaster, result_file=False)  # fmt: skip
            print(f"OURS backup ({fmt})...", flush=True)
            ours_b = run_job([_exe(), "backup", "--dsn", source, "--out", str(ours_file), "--format", fmt, "--json"],
                             database=database_name(source), postmaster=postmaster, result_file=False)  # fmt: skip
            size = ours_file.stat().st_size
            base_target, ours_target = dbs.create(f"base_{fmt}"), dbs.create(f"ours_{fmt}")
            print(f"BASE restore ({fmt})...", flush=True)
            base_r = run_job(_base_restore(tools, base_target, fmt, base_file), database=database_name(base_target),
                             postmaster=postmaster, result_file=False)  # fmt: skip
            print(f"OURS restore ({fmt})...", flush=True)
            ours_r = run_job([_exe(), "restore", str(ours_file), "--dsn", ours_target, "--json"],
                             database=database_name(ours_target), postmaster=postmaster, result_file=False)  # fmt: skip
            for name, target in (("BASE", base_target), ("OURS", ours_target)):
                got = _counts(target)
                if got != expected:
                    print(f"error: {name} restore ({fmt}) holds {got}, expected {expected}", file=sys.stderr)
                    return 1
            verified = ours_r.report.get("verified") is True
            results += [
                _row(f"backup {fmt}: pg_dump", base_b, rows, base_file.stat().st_size, None),
                _row(f"backup {fmt}: sspp-seed backup", ours_b, rows, size, base_b),
                _row(f"restore {fmt}: bare tools + ANALYZE", base_r, rows, base_file.stat().st_size, None),
                _row(
                    f"restore {fmt}: sspp-seed restore" + (" (verified)" if verified else ""),
                    ours_r,
                    rows,
                    size,
                    base_r,
                ),
            ]
            print(f"  {fmt}: {size / 1e6:,.1f} MB; manifest {json.dumps(ours_b.report.get('tables', {}))[:120]}...")
            dbs.drop(base_target)
            dbs.drop(ours_target)
    print()
    print_table(["step", "seconds", "rows/s", "MB/s (file)", "peak PSS", "vs base"], results)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
