"""Schema commands: ``init``, ``migrate``, ``status``, ``reset``, ``schema init-sql`` and ``schema render``."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click
from rich.console import Console

from ..databases import ensure_database
from ..dsn import mask_dsn
from ..errors import WriteError
from ..schema import (
    DatabaseStatus,
    InitResult,
    MigrationRun,
    apply_migrations,
    database_status,
    init_database,
    init_sql_path,
    render_init_sql,
    reset_database,
)
from ._app import cli
from ._output import CliState, make_table
from ._target import require_target

__all__: list[str] = []

dsn_option = click.option(
    "--dsn",
    metavar="URL",
    help="Database to work on, e.g. postgresql://USER:PASS@HOST:5432/sspp (default: $DATABASE_URL, else the PG* "
    "variables as psql reads them, else database 'sspp' on the tool's running server).",
)
json_option = click.option("--json", "as_json", is_flag=True, help="Print the result as JSON on stdout.")
wait_option = click.option(
    "--wait",
    "wait_s",
    type=click.FloatRange(min=0, max=3600),
    default=0,
    metavar="SECONDS",
    help="Retry connecting for up to SECONDS while the server starts (e.g. in an init container).",
)


def _run_json(run: MigrationRun) -> dict[str, Any]:
    return {
        "database": run.database,
        "dry_run": run.dry_run,
        "version": run.version,
        "already_applied": [a.label for a in run.already_applied],
        "applied": [{"migration": m.label, "duration_ms": round(ms, 2)} for m, ms in run.applied],
        "planned": [m.label for m in run.planned],
        "baselined": [m.label for m in run.baselined],
    }


def _render_run(console: Console, run: MigrationRun) -> None:
    if run.baselined:
        listed = ", ".join(m.label for m in run.baselined)
        would = "would be recorded" if run.dry_run else "recorded"
        console.print(f"{run.database}: already in place, {would} as applied: {listed}")
    if run.dry_run:
        if not run.planned:
            console.print(f"{run.database}: up to date at version {run.version:03d}; nothing to apply")
            return
        console.print(f"{run.database}: would apply")
        table = make_table(["migration"])
        for migration in run.planned:
            table.add_row(migration.label)
        console.print(table)
        return
    if not run.applied:
        console.print(f"{run.database}: up to date at version {run.version:03d}; nothing applied")
        return
    console.print(f"{run.database}: applied")
    table = make_table(["migration", "ms"])
    for migration, duration_ms in run.applied:
        table.add_row(migration.label, f"{duration_ms:.1f}")
    console.print(table)
    console.print(f"now at version {run.version:03d}")


def _init_json(result: InitResult, dsn: str) -> dict[str, Any]:
    return {
        "dsn": mask_dsn(dsn),
        "was_marked": result.was_marked,
        "dropped_tables": list(result.dropped_tables),
        "duration_ms": round(result.duration_ms, 1),
        **_run_json(result.run),
    }


@cli.command("migrate")
@dsn_option
@click.option("--to", "to", type=click.IntRange(min=0), metavar="VERSION", help="Stop after this version.")
@click.option("--dry-run", is_flag=True, help="Print the plan; change nothing.")
@wait_option
@json_option
@click.pass_obj
def migrate_command(
    state: CliState, dsn: str | None, to: int | None, dry_run: bool, wait_s: float, as_json: bool
) -> None:
    """Apply pending migrations, each in its own transaction, under an advisory lock.

    A database that already holds what a migration makes (the platform's own init.sql made it) is adopted: that
    migration is recorded as applied, not run, and the rest are applied. One that holds part of it, defined
    otherwise, is refused (exit 5) with every difference named; nothing is changed.

    \b
    Examples:
      sspp-seed migrate                     # $DATABASE_URL, PG*, else the tool's running server
      sspp-seed migrate --dsn "$(sspp-seed server dsn)"
      sspp-seed migrate --dry-run
      sspp-seed migrate --wait 120          # Kubernetes init container: wait for the server
    """
    target = require_target(state, dsn, create=True)
    if not as_json and not dry_run:
        state.info(f"migrating {mask_dsn(target)}")
    run = apply_migrations(target, to=to, dry_run=dry_run, wait_s=wait_s)
    state.emit(as_json, _run_json(run), lambda console: _render_run(console, run))


def _status_json(status: DatabaseStatus, dsn: str) -> dict[str, Any]:
    marker = status.marker
    return {
        "dsn": mask_dsn(dsn),
        "database": status.database,
        "server_version": status.server_version,
        "marked": marker is not None,
        "marker": None
        if marker is None
        else {"tool_version": marker.tool_version, "purpose": marker.purpose, "marked_at": marker.marked_at},
        "version": status.applied[-1].version if status.applied else 0,
        "up_to_date": status.up_to_date,
        "drift": status.drift,
        "applied": [
            {"migration": a.label, "applied_at": a.applied_at, "applied_by": a.applied_by} for a in status.applied
        ],
        "pending": [m.label for m in status.pending],
        "tables": list(status.tables.tables),
        "tables_with_rows": list(status.tables.tables_with_rows),
    }


def _render_status(console: Console, status: DatabaseStatus, dsn: str) -> None:
    marker = status.marker
    marked = f"yes ({marker.purpose}, sspp-fixtures {marker.tool_version})" if marker else "no"
    console.print(f"database  {status.database} at {mask_dsn(dsn)} (PostgreSQL {status.server_version})")
    console.print(f"marked    {marked}")
    table = make_table(["migration", "state", "applied at", "by"])
    for applied in status.applied:
        table.add_row(applied.label, "applied", f"{applied.applied_at:%Y-%m-%d %H:%M:%S}", applied.applied_by)
    for migration in status.pending:
        table.add_row(migration.label, "pending", "", "")
    console.print(table)
    if status.drift:
        console.print(f"[bold red]drift:[/] {status.drift}", markup=True)
    elif status.pending:
        console.print(f"{len(status.pending)} pending: run sspp-seed migrate")
    else:
        console.print("up to date")


@cli.command("status")
@dsn_option
@wait_option
@json_option
@click.pass_obj
def status_command(state: CliState, dsn: str | None, wait_s: float, as_json: bool) -> int:
    """Show applied and pending migrations, drift, and whether the database is marked as the tool's.

    Exits 5 when an applied migration was edited (drift), 0 otherwise.
    """
    target = require_target(state, dsn)
    status = database_status(target, wait_s=wait_s)
    state.emit(as_json, _status_json(status, target), lambda console: _render_status(console, status, target))
    return 5 if status.drift else 0


def _render_init(console: Console, verb: str, result: InitResult, dsn: str) -> None:
    if result.dropped_tables:
        console.print(f"dropped {len(result.dropped_tables)} tables: {', '.join(result.dropped_tables)}")
    _render_run(console, result.run)
    console.print(f"{verb} {result.database} in {result.duration_ms:.0f} ms; connect with: {mask_dsn(dsn)}")


@cli.command("init")
@dsn_option
@click.option(
    "--force", is_flag=True, help="Initialize even a database that holds tables or data not made by the tool."
)
@click.option("--create", is_flag=True, help="Create the database first if it does not exist.")
@wait_option
@json_option
@click.pass_obj
def init_command(state: CliState, dsn: str | None, force: bool, create: bool, wait_s: float, as_json: bool) -> None:
    """Create the SSPP schema in an empty database and mark it as the tool's.

    Without --dsn or DATABASE_URL, starts (or reuses) the tool's own warm PostgreSQL server and initializes
    its database 'sspp'. A database holding tables or data the tool did not make is refused unless --force.

    \b
    Examples:
      sspp-seed init
      sspp-seed init --dsn "$(sspp-seed server dsn --database sspp_dev)" --create
    """
    target = require_target(state, dsn, start=True)
    if create:
        ensure_database(target)
    result = init_database(target, force=force, wait_s=wait_s)
    state.emit(
        as_json,
        _init_json(result, target),
        lambda console: _render_init(console, "initialized", result, target),
    )


@cli.command("reset")
@dsn_option
@click.option("--force", is_flag=True, help="Reset even a database the tool did not mark (its data is lost).")
@wait_option
@json_option
@click.pass_obj
def reset_command(state: CliState, dsn: str | None, force: bool, wait_s: float, as_json: bool) -> None:
    """Drop every table of a tool-made database and re-create the SSPP schema, empty.

    Refuses a database that the tool did not mark and that holds tables or data, unless --force.
    """
    target = require_target(state, dsn, create=True)
    result = reset_database(target, force=force, wait_s=wait_s)
    state.emit(as_json, _init_json(result, target), lambda console: _render_init(console, "reset", result, target))


@cli.group("schema")
def schema_group() -> None:
    """Files made from the migrations."""


def _default_init_sql() -> Path:
    """sql/init.sql of a source checkout (next to its pyproject.toml); from an installed package, init.sql in the
    current folder: the package's own files are never written."""
    beside_migrations = init_sql_path()
    if beside_migrations.parent.name == "sql" and (beside_migrations.parent.parent / "pyproject.toml").is_file():
        return beside_migrations
    return Path("init.sql")


@schema_group.command("init-sql")
@click.option(
    "--out",
    type=click.Path(dir_okay=False, writable=True, path_type=Path),
    help="Where to write (default: sql/init.sql in a source checkout, else init.sql in the current folder); "
    "'-' for stdout.",
)
@click.option("--check", is_flag=True, help="Write nothing; exit 1 if the file is not current.")
@click.pass_obj
def init_sql_command(state: CliState, out: Path | None, check: bool) -> int:
    """Build sql/init.sql from sql/migrations (plain SQL for psql, docker-entrypoint-initdb.d, drivers)."""
    text = render_init_sql()
    if out is not None and str(out) == "-":
        click.echo(text, nl=False)
        return 0
    target = out if out is not None else _default_init_sql()
    if check:
        current = target.read_text(encoding="utf-8") if target.exists() else ""
        if current != text:
            state.problem(f"{target} is out of date: run sspp-seed schema render")
            return 1
        state.info(f"{target} is current")
        return 0
    try:
        target.write_text(text, encoding="utf-8")
    except OSError as exc:
        raise WriteError(
            f"cannot write {target}: {exc.strerror}", hint="choose a writable path with --out", errno=exc.errno
        ) from None
    state.info(f"wrote {target}")
    return 0


@schema_group.command("render")
@click.option("--check", is_flag=True, help="Write nothing; exit 1 if any file is not current.")
@click.option(
    "--root",
    type=click.Path(file_okay=False, exists=True, path_type=Path),
    help="The checkout to render in (default: the one this sspp-fixtures runs from).",
)
@json_option
@click.pass_obj
def render_command(state: CliState, check: bool, root: Path | None, as_json: bool) -> int:
    """Rebuild sql/init.sql, sql/seed.sql and deploy/k8s/sql-configmap.yaml together, so none can drift.

    init.sql comes from sql/migrations, seed.sql is the 'sample' scenario as idempotent INSERTs (what
    `sspp-seed export sample --format sql` writes), and the ConfigMap holds both byte for byte. Run it in a
    checkout after adding a migration or changing the sample scenario; --check (CI) exits 1 when a file is stale.
    """
    from ..sqlfiles import REGENERATE, render_sql_files

    files = render_sql_files(root, check=check)
    stale = [f for f in files if f.stale]

    def render(console: Console) -> None:
        for item in files:
            if check:
                console.print(f"{item.path}: {'out of date' if item.stale else 'current'}")
            else:
                console.print(f"{item.path}: {'written' if item.stale else 'unchanged'} ({item.size:,} bytes)")

    data = {"check": check, "files": [{"path": str(f.path), "stale": f.stale, "bytes": f.size} for f in files]}
    state.emit(as_json, data, render)
    if check and stale:
        state.problem(f"{len(stale)} of {len(files)} files out of date: run {REGENERATE}")
        return 1
    return 0
