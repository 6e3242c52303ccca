"""End-to-end load of a scenario (default load-1m) against the server's own COPY limit, in one run.

    python benchmarks/bench_load.py [--dsn URL] [--scenario load-1m] [--scale 1] [--skip-limit]

LIMIT: the same rows, written beforehand (untimed) as one COPY text file per table in a folder the server can
read; timed in a fresh database with the schema: BEGIN; drop the tables' indexes and keys; server-side
``COPY t FROM 'file'`` for each table; recreate the indexes; ANALYZE; COMMIT. The server only parses files.

OURS: a new process that imports sspp_fixtures and loads the scenario into another fresh database
(``sspp-seed load`` when the CLI has it, else ``load_scenario_into``), timed from process start to exit:
schema, generation, COPY, indexes, ANALYZE, COMMIT. Goal: OURS / LIMIT <= 1.3.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
from _common import (
    BenchDatabases,
    JobResult,
    Sampler,
    default_dsn,
    fmt_groups,
    fmt_mb,
    install_sigterm,
    job_argv,
    postmaster_pid,
    print_header,
    print_table,
    run_job,
    scratch_dir,
)
from psycopg import sql

from sspp_fixtures._defaults import DEFAULT_BATCH_ROWS
from sspp_fixtures._load_common import index_build_memory, relation_sizes

GOAL_RATIO = 1.3
# The session settings the loader uses inside its transaction; the limit gets the same, to compare like with like
# (and, like the loader, each index's sort memory from its table's size: ``index_build_memory``).
_PARALLEL_WORKERS = min(4, os.cpu_count() or 1)
SESSION = ("SET LOCAL synchronous_commit = off", f"SET LOCAL max_parallel_maintenance_workers = {_PARALLEL_WORKERS}")


def _args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--dsn", default=default_dsn(), help="admin DSN (default $DATABASE_URL, else local postgres)")
    parser.add_argument("--scenario", default="load-1m", help="scenario to load (default load-1m)")
    parser.add_argument("--scale", type=float, default=None, help="multiply the scenario's counts")
    parser.add_argument("--skip-limit", action="store_true", help="only run OURS (no files, no server-side COPY)")
    parser.add_argument(
        "--workers",
        type=int,
        default=None,
        help="generator processes; 0 = in-process (default: the loader's choice)",
    )
    parser.add_argument("--batch-rows", type=int, default=DEFAULT_BATCH_ROWS, help="rows per generated batch")
    parser.add_argument(
        "--via",
        choices=("auto", "cli", "api"),
        default="auto",
        help="OURS as `sspp-seed load` (cli) or load_scenario_into (api); auto: cli when it exists",
    )
    parser.add_argument("--repeat", type=int, default=1, help="rounds of LIMIT then OURS (the files are written once)")
    parser.add_argument("--interval", type=float, default=0.1, help="/proc sampling interval in seconds")
    return parser.parse_args(argv)


# --------------------------------------------------------------------------------------------- LIMIT


def _index_definitions(conn: psycopg.Connection[Any], tables: list[str]) -> list[tuple[str, str, str, bool]]:
    """(table, name, definition, is_constraint) of every index and primary/unique key of ``tables``."""
    rows = conn.execute(
        """
        SELECT t.relname, COALESCE(c.conname, i.relname),
               COALESCE(pg_catalog.pg_get_constraintdef(c.oid), pg_catalog.pg_get_indexdef(i.oid)),
               c.conname IS NOT NULL
        FROM pg_catalog.pg_index x
        JOIN pg_catalog.pg_class i ON i.oid = x.indexrelid
        JOIN pg_catalog.pg_class t ON t.oid = x.indrelid
        LEFT JOIN pg_catalog.pg_constraint c ON c.conindid = i.oid AND c.contype IN ('p', 'u', 'x')
        WHERE t.relnamespace = current_schema()::regnamespace AND t.relname = ANY(%s)
        ORDER BY c.conname IS NULL, t.relname, i.relname
        """,
        (tables,),
    ).fetchall()
    return [(str(t), str(n), str(d), bool(k)) for t, n, d, k in rows]


def run_limit(dsn: str, files: dict[str, str], columns: dict[str, tuple[str, ...]]) -> list[tuple[str, float, float]]:
    """Time the server-side load of ``files``; returns (step, start, end) in ``time.monotonic()``."""
    steps: list[tuple[str, float, float]] = []

    @contextlib.contextmanager
    def step(name: str) -> Iterator[None]:
        started = time.monotonic()
        yield
        steps.append((name, started, time.monotonic()))

    tables = list(files)
    with psycopg.connect(dsn, autocommit=False) as conn:
        with step("prepare"):
            for statement in SESSION:
                conn.execute(statement)
            saved = _index_definitions(conn, tables)
            for table, name, _definition, constraint in saved:
                if constraint:
                    conn.execute(
                        sql.SQL("ALTER TABLE {} DROP CONSTRAINT {}").format(sql.Identifier(table), sql.Identifier(name))
                    )
                else:
                    conn.execute(sql.SQL("DROP INDEX {}").format(sql.Identifier(name)))
        for table, path in files.items():
            with step(f"copy {table}"):
                conn.execute(
                    sql.SQL("COPY {} ({}) FROM {}").format(
                        sql.Identifier(table),
                        sql.SQL(", ").join(map(sql.Identifier, columns[table])),
                        sql.Literal(path),
                    )
                )
        with step("indexes"):
            sizes = relation_sizes(conn, "public")
            for table, name, definition, constraint in saved:
                with step(f"index {table}.{name}"):
                    gin = " USING gin " in definition
                    memory = index_build_memory(sizes.get(table, 0), gin=gin, parallel_workers=_PARALLEL_WORKERS)
                    conn.execute(sql.SQL("SET LOCAL maintenance_work_mem = {}").format(sql.Literal(memory)))
                    if constraint:
                        conn.execute(
                            sql.SQL("ALTER TABLE {} ADD CONSTRAINT {} ").format(
                                sql.Identifier(table), sql.Identifier(name)
                            )
                            + sql.SQL(definition)  # from pg_get_constraintdef, not user input
                        )
                    else:
                        conn.execute(definition.encode())
        with step("analyze"):
            conn.execute(sql.SQL("ANALYZE {}").format(sql.SQL(", ").join(map(sql.Identifier, tables))))
        with step("commit"):
            conn.commit()
    return steps


def _checkpoint(dsn: str) -> None:
    """Start each timed run with no dirty buffers left over by the previous one."""
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute("CHECKPOINT")


# --------------------------------------------------------------------------------------------- OURS


def _cli_load_available() -> bool:
    exe = shutil.which("sspp-seed") or str(Path(sys.executable).with_name("sspp-seed"))
    if not Path(exe).exists():
        return False
    done = subprocess.run([exe, "load", "--help"], capture_output=True, text=True, check=False)
    return done.returncode == 0 and "--json" in done.stdout


def _ours_argv(args: argparse.Namespace, dsn: str, via: str) -> list[str]:
    if via == "cli":
        exe = shutil.which("sspp-seed") or str(Path(sys.executable).with_name("sspp-seed"))
        argv = [exe, "load", args.scenario, "--dsn", dsn, "--json", "--batch-rows", str(args.batch_rows)]
        if args.scale:
            argv += ["--scale", str(args.scale)]
        if args.workers is not None:
            argv += ["--workers", str(args.workers)]
        return argv
    argv = job_argv("load", "--dsn", dsn, "--scenario", args.scenario, "--batch-rows", str(args.batch_rows))
    if args.scale:
        argv += ["--scale", str(args.scale)]
    if args.workers is not None:
        argv += ["--workers", str(args.workers)]
    return argv


def _ours_phases(job: JobResult) -> tuple[dict[str, float], list[tuple[str, float, float]]]:
    """Seconds per phase (from the job's report) and the phases' time spans (api jobs only)."""
    report = job.report
    seconds = report.get("seconds") or report.get("phases_seconds") or {}
    if not isinstance(seconds, dict):
        seconds = {}
    spans: list[tuple[str, float, float]] = []
    marks = report.get("phases") or []
    if marks and isinstance(marks[0], list):
        ends = [t for _, t in marks[1:]] + [report.get("t_done", marks[-1][1])]
        spans = [(name, start, end) for (name, start), end in zip(marks, ends, strict=True)]
    elif seconds:
        # The CLI reports durations only: lay the phases back to back, ending when the process ended.
        end = job.started + job.seconds
        for name in reversed(list(seconds)):
            spans.insert(0, (str(name), end - float(seconds[name]), end))
            end -= float(seconds[name])
    return {str(k): float(v) for k, v in seconds.items()}, spans


# --------------------------------------------------------------------------------------------- report


def _cpu_line(sampler: Sampler, spans: list[tuple[str, float, float]], name: str) -> str:
    starts = [s for n, s, _ in spans if n.startswith(name)]
    ends = [e for n, _, e in spans if n.startswith(name)]
    if not starts:
        return "-"
    cores = sampler.cpu_between(min(starts), max(ends))
    order = ("main", "workers", "backend", "server other")
    return ", ".join(f"{g} {cores[g]:.2f}" for g in order if g in cores and cores[g] >= 0.005) or "-"


Round = tuple[list[tuple[str, float, float]], Sampler | None, JobResult]


def _round(
    args: argparse.Namespace,
    dbs: BenchDatabases,
    files: dict[str, str],
    postmaster: int | None,
    via: str,
    round_no: int,
) -> Round:
    """One LIMIT (unless skipped) then one OURS, each into its own fresh database, dropped afterwards."""
    from sspp_fixtures.bulkgen import TABLES
    from sspp_fixtures.dsn import database_name
    from sspp_fixtures.schema import init_database

    tag = f" (round {round_no}/{args.repeat})" if args.repeat > 1 else ""
    limit_steps: list[tuple[str, float, float]] = []
    limit_sampler: Sampler | None = None
    if not args.skip_limit:
        limit_dsn = dbs.create(f"limit{round_no}")
        init_database(limit_dsn, purpose="benchmark")
        _checkpoint(args.dsn)
        print(f"LIMIT: server-side COPY FROM files, indexes, ANALYZE, COMMIT{tag}...", flush=True)
        limit_sampler = Sampler(None, database_name(limit_dsn), postmaster, args.interval).start()
        try:
            limit_steps = run_limit(limit_dsn, files, {t: TABLES[t].columns for t in files})
        finally:
            limit_sampler.stop()
        dbs.drop(limit_dsn)

    ours_dsn = dbs.create(f"ours{round_no}")
    _checkpoint(args.dsn)
    print(f"OURS: {via}: new process, load {args.scenario} into a fresh database{tag}...", flush=True)
    ours = run_job(
        _ours_argv(args, ours_dsn, via),
        database=database_name(ours_dsn),
        postmaster=postmaster,
        interval=args.interval,
        result_file=via == "api",
    )
    dbs.drop(ours_dsn)
    return limit_steps, limit_sampler, ours


def main(argv: list[str] | None = None) -> int:
    args = _args(argv)
    install_sigterm()
    print_header(f"bench_load: {args.scenario} end to end vs server-side COPY", args.dsn)
    from sspp_fixtures.bulkgen import load_pools, scenario_locales
    from sspp_fixtures.scenarios import load_scenario

    scenario = load_scenario(args.scenario)
    if args.scale:
        scenario = scenario.with_overrides(scale=args.scale)
    load_pools(scenario_locales(scenario), workers=os.cpu_count() or 1)  # the pools cache, built once, untimed
    postmaster = postmaster_pid(args.dsn)
    if postmaster is None:
        print("note: the server is not on this machine: no server CPU figures, and no LIMIT (it needs local files)")
        args.skip_limit = True
    via = args.via
    if via == "auto":
        via = "cli" if _cli_load_available() else "api"
    scale = ["--scale", str(args.scale)] if args.scale else []

    rounds: list[Round] = []
    limit_rows: dict[str, int] = {}
    files: dict[str, str] = {}
    with BenchDatabases(args.dsn) as dbs, scratch_dir("sspp_bench_files_") as folder:
        if not args.skip_limit:
            print(f"LIMIT: writing {scenario.name} as COPY files under {folder} (untimed)...", flush=True)
            written = run_job(
                job_argv("write-copy", "--scenario", args.scenario, *scale, "--dir", str(folder),
                         "--batch-rows", str(args.batch_rows)),
            )  # fmt: skip
            limit_rows = written.report["rows"]
            files = written.report["files"]
            size = sum(Path(p).stat().st_size for p in files.values())
            print(f"  {sum(limit_rows.values()):,} rows, {size / 1e6:,.0f} MB in {written.seconds:.1f}s", flush=True)
        for round_no in range(1, args.repeat + 1):
            rounds.append(_round(args, dbs, files, postmaster, via, round_no))

    # The detailed table shows the round whose ratio is the median one (the only round by default).
    def ratio(item: Round) -> float:
        steps, _, job = item
        return job.seconds / (steps[-1][2] - steps[0][1]) if steps else job.seconds

    shown = sorted(rounds, key=ratio)[(len(rounds) - 1) // 2]
    _report(args, scenario, via, shown[0], shown[1], limit_rows, shown[2])
    if len(rounds) > 1:
        ours_all = [job.seconds for _, _, job in rounds]
        limit_all = [steps[-1][2] - steps[0][1] for steps, _, _ in rounds if steps]
        print(
            f"rounds: OURS {', '.join(f'{t:.1f}' for t in ours_all)} s; "
            f"LIMIT {', '.join(f'{t:.1f}' for t in limit_all) or '-'} s; "
            + (f"ratios {', '.join(f'{ratio(r):.2f}' for r in rounds)}; " if limit_all else "")
            + (f"best OURS / best LIMIT = {min(ours_all) / min(limit_all):.2f}" if limit_all else "")
        )
    return 0


def _report(
    args: argparse.Namespace,
    scenario: Any,
    via: str,
    limit_steps: list[tuple[str, float, float]],
    limit_sampler: Sampler | None,
    limit_rows: dict[str, int],
    ours: JobResult,
) -> None:
    phases, spans = _ours_phases(ours)
    ours_rows = {str(k): int(v) for k, v in (ours.report.get("rows") or {}).items()}
    total_rows = sum(ours_rows.values()) or sum(limit_rows.values())
    limit_total = (limit_steps[-1][2] - limit_steps[0][1]) if limit_steps else None
    limit_by: dict[str, float] = {}
    for name, start, end in limit_steps:
        key = "copy" if name.startswith("copy") else name
        limit_by[key] = limit_by.get(key, 0.0) + end - start
        limit_by[name] = end - start
    startup = ours.seconds - sum(phases.values()) if phases else None

    def sec(value: float | None) -> str:
        return "-" if value is None else f"{value:.2f}"

    rows = [["process start + imports + scenario", "-", sec(startup)]]
    rows.append(["prepare (schema, drop indexes)", sec(limit_by.get("prepare")), sec(phases.get("prepare"))])
    for table in ("customers", "events", "signals"):
        rows.append([f"  copy {table}", sec(limit_by.get(f"copy {table}")), "(interleaved)"])
    rows.append(["copy (generate + send; server parses)", sec(limit_by.get("copy")), sec(phases.get("copy"))])
    for name in ("indexes", "analyze", "commit"):
        rows.append([name, sec(limit_by.get(name)), sec(phases.get(name))])
    rows.append(["TOTAL", sec(limit_total), sec(ours.seconds)])
    rate_limit = f"{total_rows / limit_total:,.0f}" if limit_total else "-"
    rows.append(["rows/s (all tables)", rate_limit, f"{total_rows / ours.seconds:,.0f}"])
    rows.append(["peak RSS tree (PSS)", "-", f"{fmt_mb(ours.peak_rss)} ({fmt_mb(ours.peak_pss)})"])
    rows.append(["max single process (VmHWM)", "-", fmt_mb(ours.max_hwm)])
    rows.append(["peak PSS by group", "-", fmt_groups(ours.sampler)])
    print()
    print(f"{scenario.name}: " + ", ".join(f"{t} {n:,}" for t, n in (ours_rows or limit_rows).items()))
    print_table(["seconds", "LIMIT (COPY FROM file)", f"OURS ({via})"], rows)

    print()
    print("CPU, average cores busy (main = our main process, workers = generator processes, backend = the server")
    print("backend of the load and its parallel workers, server other = checkpointer, walwriter...):")
    cpu_rows = []
    for name in ("copy", "indexes", "analyze"):
        limit_cpu = _cpu_line(limit_sampler, limit_steps, name) if limit_sampler else "-"
        cpu_rows.append([name, limit_cpu, _cpu_line(ours.sampler, spans, name) if spans else "-"])
    total_cpu = ", ".join(f"{g} {v:.1f}s" for g, v in sorted(ours.cpu.items()))
    cpu_rows.append(["cpu seconds, whole run", _total_cpu(limit_sampler), total_cpu])
    print_table(["phase", "LIMIT", "OURS"], cpu_rows)

    print()
    indexes = sorted(
        ((e - s, n.removeprefix("index ")) for n, s, e in limit_steps if n.startswith("index ")), reverse=True
    )
    if indexes:
        print("LIMIT index builds, slowest first: " + ", ".join(f"{n} {t:.1f}s" for t, n in indexes))
    if limit_total:
        ratio = ours.seconds / limit_total
        verdict = "MET" if ratio <= GOAL_RATIO else "NOT MET"
        print(
            f"ratio OURS / LIMIT = {ours.seconds:.2f}s / {limit_total:.2f}s = {ratio:.2f}  "
            f"(goal <= {GOAL_RATIO}: {verdict})"
        )
    else:
        print("ratio: - (LIMIT skipped)")
    sent = ours.report.get("bytes") or ours.report.get("bytes_sent") or 0
    print(f"OURS rows/s = {total_rows / ours.seconds:,.0f}; bytes sent {sent / 1e6:,.0f} MB")


def _total_cpu(sampler: Sampler | None) -> str:
    if sampler is None:
        return "-"
    cpu = sampler.cpu_by_group()
    return ", ".join(f"{g} {v:.1f}s" for g, v in sorted(cpu.items()) if g not in ("main", "workers"))


if __name__ == "__main__":
    try:
        sys.exit(main())
    except KeyboardInterrupt:
        print("interrupted: databases dropped", file=sys.stderr)
        sys.exit(130)
