"""``sspp-seed doctor``: what this machine offers and the state of a database, with the fix for each problem."""

from __future__ import annotations

from typing import TYPE_CHECKING

import click
from rich.console import Console
from rich.table import Table
from rich.text import Text

from ..dsn import DATABASE_URL_ENV
from ._app import cli
from ._db import dsn_option, json_option
from ._output import CliState
from ._target import announce, find_target

if TYPE_CHECKING:
    from ..doctor import Check, DoctorReport

__all__: list[str] = []

_STYLES = {"ok": "green", "warn": "yellow", "fail": "bold red", "skip": "dim"}


def _table(checks: tuple[Check, ...]) -> Table:
    table = Table(show_edge=False, header_style="bold", pad_edge=False)
    table.add_column("check", no_wrap=True)
    table.add_column("status", no_wrap=True)
    table.add_column("detail", overflow="fold")
    for check in checks:
        detail = Text(check.detail)
        if check.fix and check.status != "ok":
            detail.append(f"\n→ {check.fix}", style="dim" if check.status == "skip" else "cyan")
        table.add_row(check.name, Text(check.status, style=_STYLES[check.status]), detail)
    return table


def _render(console: Console, report: DoctorReport) -> None:
    console.print(Text("this machine", style="bold"))
    console.print(_table(report.machine))
    console.print()
    if report.database is None:
        console.print(
            Text(
                "database: not checked (pass --dsn URL, set $DATABASE_URL or PG* variables, or run sspp-seed demo "
                "--detach)",
                style="dim",
            )
        )
    else:
        console.print(Text(f"database {report.dsn}", style="bold"))
        console.print(_table(report.database))
    console.print()
    console.print(Text(f"{report.summary()}; exit code {report.exit_code} ({report.elapsed_ms / 1000:.1f} s)"))


def _has_database(dsn: str) -> bool:
    from ..databases import database_exists
    from ..dsn import connect, database_name, with_database
    from ..errors import DatabaseUnreachableError

    try:
        with connect(with_database(dsn, "postgres"), connect_timeout_s=2) as admin:
            return database_exists(admin, database_name(dsn))
    except DatabaseUnreachableError:
        return False


@cli.command("doctor")
@dsn_option
@click.option(
    "--timeout",
    "timeout_s",
    type=click.IntRange(min=2, max=60),
    default=2,
    show_default=True,
    metavar="SECONDS",
    help="How long to wait for the database to accept a connection (2 is libpq's minimum).",
)
@json_option
@click.pass_obj
def doctor_command(state: CliState, dsn: str | None, timeout_s: int, as_json: bool) -> int:
    """Check what this machine offers and, given a DSN, the state of that database; change nothing.

    \b
    This machine: the tool, Python, each server provider (dsn, warm server, local binaries, the embedded
    wheel, Docker), which one `auto` picks, and the pg_dump/pg_restore/psql that backup and restore run.
    The database (--dsn, else $DATABASE_URL, else PG*, else 'sspp' on the tool's running server): reachable,
    marked as the tool's, migrated, loaded (rows per table), the service roles, and whether a pg_dump here can
    dump it. Each problem comes with its fix.
    Never starts a server or writes anything; passwords are never shown.

    \b
    Exit codes: 0 nothing failed (warnings allowed), 1 a check failed, 2 the DSN is malformed,
    3 the database is unreachable.

    \b
    Examples:
      sspp-seed doctor
      sspp-seed doctor --dsn "$(sspp-seed server dsn)" --timeout 5
      sspp-seed doctor --json > doctor.json
    """
    from ..doctor import run_doctor

    target = find_target(dsn)
    if target is not None and target.warm is not None and not _has_database(target.dsn):
        target = None  # the tool's server without its database 'sspp' yet: check the machine only
    chosen = dsn  # --dsn and $DATABASE_URL: the doctor reads them itself and says which it used
    if target is not None and target.source not in ("--dsn", f"${DATABASE_URL_ENV}"):
        announce(state, target)
        chosen = target.dsn
    report = run_doctor(chosen, connect_timeout_s=timeout_s)
    state.emit(as_json, report.to_dict(), lambda console: _render(console, report))
    if report.failed:
        worst = max(report.failed, key=lambda check: check.exit_code)
        detail = worst.detail.rstrip(". ")
        fix = (
            f"{' ' if detail.endswith(('?', '!')) else '. '}{worst.fix[:1].upper()}{worst.fix[1:]}" if worst.fix else ""
        )
        state.problem(f"error: {worst.name}: {detail}{fix}")
    return report.exit_code
