"""Whole-database operations: ``init`` (schema + marker), ``reset`` (drop and re-create), ``status``.

Destructive work is refused on a database the tool did not mark, unless the database holds nothing that
could be lost (no tables but the SSPP schema's, all empty) or the caller says ``force``.
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass
from typing import Any

import psycopg

from ..dsn import connect, database_name
from ..errors import MigrationDriftError, UnsafeTargetError
from ._inspect import TargetState, inspect_target
from ._meta import (
    HISTORY_TABLE,
    MARKER_TABLE,
    META_SCHEMA,
    AppliedMigration,
    Marker,
    applied_migrations,
    read_marker,
    write_marker,
)
from ._migrations import Migration, load_migrations
from ._runner import MigrationRun, apply_on_connection, plan

__all__ = [
    "EMPTY_SCHEMA_STATEMENTS",
    "DatabaseStatus",
    "InitResult",
    "database_status",
    "init_database",
    "refuse_unless_safe",
    "reset_database",
    "schema_objects",
    "schema_tables",
]

_CREATE_TABLE = re.compile(
    r"\bCREATE\s+(?:OR\s+REPLACE\s+)?(?:TABLE|VIEW|MATERIALIZED\s+VIEW)\s+(?:IF\s+NOT\s+EXISTS\s+)?(?:(\w+)\.)?(\w+)",
    re.IGNORECASE,
)
_CREATE_OBJECT = re.compile(
    r"\bCREATE\s+(?:OR\s+REPLACE\s+)?(SEQUENCE|FUNCTION|PROCEDURE|AGGREGATE|TYPE|DOMAIN|VIEW|MATERIALIZED\s+VIEW"
    r"|COLLATION|EXTENSION)\s+(?:IF\s+NOT\s+EXISTS\s+)?(?:\"?(\w+)\"?\.)?\"?(\w+)",
    re.IGNORECASE,
)
_LOCK_TIMEOUT = "10s"

#: What ``reset`` and ``restore`` start from: the tool's bookkeeping gone and ``public`` as a new database has it.
EMPTY_SCHEMA_STATEMENTS = (
    f"DROP SCHEMA IF EXISTS {META_SCHEMA} CASCADE",
    "DROP SCHEMA IF EXISTS public CASCADE",
    "CREATE SCHEMA public AUTHORIZATION pg_database_owner",
    "GRANT USAGE ON SCHEMA public TO PUBLIC",
    "COMMENT ON SCHEMA public IS 'standard public schema'",
)


def schema_tables(migrations: tuple[Migration, ...]) -> frozenset[str]:
    """Schema-qualified names of the tables and views the migrations create."""
    return frozenset(
        f"{(schema or 'public').lower()}.{name.lower()}"
        for migration in migrations
        for schema, name in _CREATE_TABLE.findall(migration.sql)
    )


def schema_objects(migrations: tuple[Migration, ...]) -> frozenset[str]:
    """Everything the tool makes in the schemas it replaces: the migrations' tables and other objects
    (``schema.name``; an extension by its name) and its bookkeeping tables."""
    made: set[str] = set(schema_tables(migrations)) | {HISTORY_TABLE, MARKER_TABLE}
    for migration in migrations:
        for kind, schema, name in _CREATE_OBJECT.findall(migration.sql):
            is_extension = kind.upper() == "EXTENSION"
            made.add(name.lower() if is_extension else f"{(schema or 'public').lower()}.{name.lower()}")
    return frozenset(made)


@dataclass(frozen=True)
class InitResult:
    """What ``init`` or ``reset`` did."""

    database: str
    run: MigrationRun
    was_marked: bool
    dropped_tables: tuple[str, ...]
    duration_ms: float


def _refuse_unless_disposable(
    database: str, state: TargetState, ours: frozenset[str], *, action: str, force: bool
) -> None:
    if force:
        return
    foreign = state.foreign_tables(ours)
    others = [o.label for o in state.foreign_objects(ours)]
    if not foreign and not others and not state.tables_with_rows:
        return
    if others:
        listed = [f"table {t}" for t in foreign] + others
        what = "objects sspp-fixtures did not make"
    elif foreign:
        listed, what = list(foreign), "tables sspp-fixtures did not make"
    else:
        listed = list(state.tables_with_rows)
        what = "data"
    shown = ", ".join(listed[:5]) + (f" and {len(listed) - 5} more" if len(listed) > 5 else "")
    raise UnsafeTargetError(
        f"refusing to {action} database {database!r}: it is not marked as made by sspp-fixtures and holds "
        f"{what} ({shown})",
        hint=f"point --dsn at an empty or sspp-made database, or pass --force to {action} it anyway",
        database=database,
        tables=listed,
    )


def refuse_unless_safe(
    conn: psycopg.Connection[Any],
    *,
    action: str,
    force: bool = False,
    migrations: tuple[Migration, ...] | None = None,
) -> Marker | None:
    """Return the database's marker, or refuse ``action`` on an unmarked database holding data or foreign tables.

    Raises :class:`UnsafeTargetError` (exit 4) unless the database is marked, disposable (only the SSPP schema's
    tables, all empty) or ``force`` is given.
    """
    marker = read_marker(conn)
    if marker is None:
        known = migrations if migrations is not None else load_migrations()
        database = str(conn.info.dbname)
        _refuse_unless_disposable(database, inspect_target(conn), schema_objects(known), action=action, force=force)
    return marker


def init_database(
    dsn: str,
    *,
    force: bool = False,
    purpose: str = "sspp-seed init",
    mark: bool = True,
    wait_s: float = 0.0,
    migrations: tuple[Migration, ...] | None = None,
    command: str = "init",
) -> InitResult:
    """Create the SSPP schema (pending migrations) in an empty or tool-made database and mark it.

    ``mark=False`` leaves the marker as it is (``load`` writes it in its own transaction, so a load that does
    not complete leaves the marker of the data still there). ``command`` is the ``sspp-seed`` command doing it
    (``load`` initializes too): refusals and the migrations' ``applied_by`` name it, so nobody is told about a
    command they did not run.
    """
    started = time.perf_counter()
    known = migrations if migrations is not None else load_migrations()
    database = database_name(dsn)
    with connect(dsn, wait_s=wait_s) as conn:
        marker = read_marker(conn)
        if marker is None:
            _refuse_unless_disposable(
                database, inspect_target(conn), schema_objects(known), action=command, force=force
            )
        run = apply_on_connection(conn, known, applied_by=f"sspp-seed {command}", database=database)
        if mark:
            write_marker(conn, purpose=purpose)
    return InitResult(database, run, marker is not None, (), (time.perf_counter() - started) * 1000)


def reset_database(
    dsn: str, *, force: bool = False, wait_s: float = 0.0, migrations: tuple[Migration, ...] | None = None
) -> InitResult:
    """Drop the ``public`` schema and the tool's bookkeeping, re-create the SSPP schema, and mark the database."""
    started = time.perf_counter()
    known = migrations if migrations is not None else load_migrations()
    database = database_name(dsn)
    with connect(dsn, wait_s=wait_s) as conn:
        marker = read_marker(conn)
        state = inspect_target(conn)
        if marker is None:
            _refuse_unless_disposable(database, state, schema_objects(known), action="reset", force=force)
        dropped = tuple(t for t in state.tables if t.startswith("public."))
        try:
            with conn.transaction():
                conn.execute(f"SET LOCAL lock_timeout = '{_LOCK_TIMEOUT}'")
                conn.execute("; ".join(EMPTY_SCHEMA_STATEMENTS))
        except psycopg.errors.LockNotAvailable:
            raise UnsafeTargetError(
                f"cannot reset database {database!r}: other sessions hold locks on its tables",
                hint="close the applications connected to it and try again",
                database=database,
            ) from None
        run = apply_on_connection(conn, known, applied_by="sspp-seed reset", database=database)
        write_marker(conn, purpose=marker.purpose if marker else "sspp-seed reset")
    return InitResult(database, run, marker is not None, dropped, (time.perf_counter() - started) * 1000)


@dataclass(frozen=True)
class DatabaseStatus:
    """What ``sspp-seed status`` reports about one database."""

    database: str
    server_version: str
    marker: Marker | None
    applied: tuple[AppliedMigration, ...]
    pending: tuple[Migration, ...]
    drift: str | None
    tables: TargetState

    @property
    def up_to_date(self) -> bool:
        return self.drift is None and not self.pending


def database_status(
    dsn: str, *, wait_s: float = 0.0, migrations: tuple[Migration, ...] | None = None
) -> DatabaseStatus:
    """Applied and pending migrations, drift, marker and tables of the database at ``dsn``; changes nothing."""
    known = migrations if migrations is not None else load_migrations()
    with connect(dsn, wait_s=wait_s) as conn:
        version_row = conn.execute("SHOW server_version").fetchone()
        server_version = str(version_row[0]).split()[0] if version_row else "?"
        marker = read_marker(conn)
        state = inspect_target(conn)
        drift: str | None = None
        try:
            current = plan(conn, known)
            applied, pending = current.applied, current.pending
        except MigrationDriftError as exc:
            drift = str(exc)
            applied = tuple(applied_migrations(conn))
            done = {a.version for a in applied}
            pending = tuple(m for m in known if m.version not in done)
    return DatabaseStatus(database_name(dsn), server_version, marker, applied, pending, drift, state)
