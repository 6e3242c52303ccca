"""Which database a command works on: ``--dsn``, else ``$DATABASE_URL``, else libpq's ``PG*`` environment (as
psql), else the database 'sspp' on the tool's own running server. A choice the user did not spell out is said on
stderr; when nothing gives a database, the error names every place that was looked at."""

from __future__ import annotations

from dataclasses import dataclass

from ..dsn import DATABASE_URL_ENV, LIBPQ_TARGET_ENV, mask_dsn, with_database
from ..errors import UsageError
from ..server import find_running
from ..server._warm import WarmServerState, start_warm_server, state_file
from ._output import CliState

__all__ = ["DEFAULT_DATABASE", "Target", "find_target", "require_target"]

#: The database on the tool's own server (the platform's name for it).
DEFAULT_DATABASE = "sspp"


@dataclass(frozen=True)
class Target:
    """A database to work on and where it came from (``--dsn``, ``$DATABASE_URL``, ``PG*``, ``warm server``)."""

    dsn: str
    source: str
    warm: WarmServerState | None = None


def _warm_target(warm: WarmServerState) -> Target:
    return Target(with_database(warm.dsn, DEFAULT_DATABASE), "warm server", warm)


def find_target(dsn: str | None) -> Target | None:
    """The database the user means (the server ``auto`` would take first), without starting or creating anything;
    ``None`` when nothing names one."""
    running = find_running(dsn)
    if running is None:
        return None
    return _warm_target(running.warm) if running.warm is not None else Target(running.dsn, running.source)


def announce(state: CliState, target: Target) -> None:
    """Say on stderr which database a command chose when the user did not name it (``--verbose``: always)."""
    if target.warm is not None:
        state.info(
            f"using database {DEFAULT_DATABASE!r} on sspp-fixtures' own server ({target.warm.provider} PostgreSQL "
            f"{target.warm.version}, pid {target.warm.pid}): {mask_dsn(target.dsn)}"
        )
    elif target.source not in ("--dsn", f"${DATABASE_URL_ENV}"):
        state.info(f"using {mask_dsn(target.dsn)} (from libpq's environment: {target.source})")
    else:
        state.detail(f"using {mask_dsn(target.dsn)} (from {target.source})")


def _nothing_found() -> UsageError:
    names = ", ".join(f"${name}" for name in LIBPQ_TARGET_ENV)
    return UsageError(
        f"no database given: no --dsn, ${DATABASE_URL_ENV} is not set, none of {names} is set, and sspp-fixtures' "
        f"own server is not running (none recorded in {state_file()})",
        hint="pass --dsn URL, set DATABASE_URL, or start the tool's server with its database: sspp-seed demo --detach",
    )


def require_target(state: CliState, dsn: str | None, *, create: bool = False, start: bool = False) -> str:
    """The DSN a command works on (see the module's docstring), announced; ``start``: start the tool's server when
    nothing else names a database; ``create``: create 'sspp' on the tool's server when missing."""
    from ..databases import ensure_database

    target = find_target(dsn)
    if target is None and start:
        state.info("no --dsn, DATABASE_URL or PG* variables: starting sspp-fixtures' own PostgreSQL server")
        target = _warm_target(start_warm_server())
    if target is None:
        raise _nothing_found()
    announce(state, target)
    if target.warm is not None and (create or start):
        ensure_database(target.dsn)
    return target.dsn
