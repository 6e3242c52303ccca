"""The migration runner: plan, check for drift, apply under an advisory lock, one transaction per migration.

Replaces the platform's ``migrate.sh`` (whose ``psql -f migrations/*.sql`` only ever ran the first file).
Two runners started at once against one database serialize on a PostgreSQL advisory lock; the second finds
the work done and applies nothing. Pending migrations whose objects a database already holds (one made by the
platform's own init.sql) are recorded as a baseline instead of run; a partial match is refused (:mod:`._baseline`).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import psycopg

from ..dsn import connect, database_name
from ..errors import MigrationDriftError, MigrationError, UsageError
from ._baseline import baseline_applied_by, plan_adoption
from ._meta import HISTORY_TABLE, AppliedMigration, applied_migrations, ensure_meta
from ._migrations import Migration, load_migrations

__all__ = ["MIGRATION_LOCK_KEY", "MigrationPlan", "MigrationRun", "apply_migrations", "check_drift", "plan"]

#: The advisory lock key every runner takes (an arbitrary constant: 'sspp' in ASCII, then 'mig1').
MIGRATION_LOCK_KEY = 0x7373_7070_6D69_6731


@dataclass(frozen=True)
class MigrationPlan:
    """What a database holds and what applying migrations would do to it."""

    applied: tuple[AppliedMigration, ...]
    pending: tuple[Migration, ...]
    target: int | None

    @property
    def current_version(self) -> int:
        return self.applied[-1].version if self.applied else 0


@dataclass
class MigrationRun:
    """The outcome of :func:`apply_migrations`: what was applied (with durations), what was found already in place
    and recorded without running (``baselined``), and what the history already held."""

    database: str
    dry_run: bool
    already_applied: list[AppliedMigration]
    applied: list[tuple[Migration, float]] = field(default_factory=list)
    planned: list[Migration] = field(default_factory=list)
    baselined: list[Migration] = field(default_factory=list)

    @property
    def version(self) -> int:
        versions = [m.version for m, _ in self.applied] + [a.version for a in self.already_applied]
        if not self.dry_run:
            versions += [m.version for m in self.baselined]
        return max(versions, default=0)


def check_drift(applied: list[AppliedMigration], known: tuple[Migration, ...]) -> None:
    """Refuse a history that disagrees with the files: an edited applied migration, or one the tool lacks."""
    by_version = {m.version: m for m in known}
    for row in applied:
        migration = by_version.get(row.version)
        if migration is None:
            newest = known[-1].version if known else 0
            raise MigrationDriftError(
                f"the database has migration {row.label}, which this sspp-fixtures does not know "
                f"(its newest is {newest:03d})",
                hint="upgrade sspp-fixtures to the version that wrote this database",
                version=row.version,
            )
        if migration.checksum != row.checksum:
            where = migration.path or migration.filename
            raise MigrationDriftError(
                f"migration {migration.label} was edited after it was applied: {where} has checksum "
                f"{migration.checksum[:12]}, the database recorded {row.checksum[:12]} on "
                f"{row.applied_at:%Y-%m-%d %H:%M}",
                hint="never edit an applied migration: restore the file and add a new NNN_name.sql for the change",
                version=row.version,
                file=str(where),
            )


def plan(
    conn: psycopg.Connection[Any], migrations: tuple[Migration, ...] | None = None, *, to: int | None = None
) -> MigrationPlan:
    """Compare the database's history with the migration files, refusing drift."""
    known = migrations if migrations is not None else load_migrations()
    applied = applied_migrations(conn)
    check_drift(applied, known)
    if to is not None:
        if to not in {m.version for m in known} and to != 0:
            listed = ", ".join(m.label for m in known)
            raise UsageError(f"--to {to}: no migration has that version", hint=f"choose one of: {listed}")
        current = applied[-1].version if applied else 0
        if to < current:
            raise UsageError(
                f"--to {to}: the database is already at version {current:03d}",
                hint="migrations only go forward; reset the database to start over",
            )
    done = {a.version for a in applied}
    pending = tuple(m for m in known if m.version not in done and (to is None or m.version <= to))
    return MigrationPlan(applied=tuple(applied), pending=pending, target=to)


@contextmanager
def migration_lock(conn: psycopg.Connection[Any]) -> Iterator[None]:
    """Hold the runners' advisory lock (session level) while the body runs."""
    conn.execute("SELECT pg_advisory_lock(%s)", (MIGRATION_LOCK_KEY,))
    try:
        yield
    finally:
        if not conn.closed:
            conn.execute("SELECT pg_advisory_unlock(%s)", (MIGRATION_LOCK_KEY,))


def apply_one(conn: psycopg.Connection[Any], migration: Migration, *, applied_by: str) -> float:
    """Apply one migration and record it, in one transaction; returns its duration in ms."""
    started = time.perf_counter()
    try:
        with conn.transaction():
            conn.execute(migration.sql.encode("utf-8"))
            duration_ms = (time.perf_counter() - started) * 1000
            conn.execute(
                f"INSERT INTO {HISTORY_TABLE} (version, name, checksum, duration_ms, applied_by) "
                "VALUES (%s, %s, %s, %s, %s)",
                (migration.version, migration.name, migration.checksum, duration_ms, applied_by),
            )
    except psycopg.Error as exc:
        diag = exc.diag
        detail = (diag.message_primary or str(exc)).strip()
        position = f" near character {diag.statement_position}" if diag.statement_position else ""
        raise MigrationError(
            f"migration {migration.label} failed{position}: {detail}; it was rolled back",
            hint=f"fix {migration.path or migration.filename} (it was never applied, so editing it is safe)",
            version=migration.version,
            sqlstate=diag.sqlstate,
        ) from None
    return duration_ms


def record_baseline(conn: psycopg.Connection[Any], migration: Migration, *, applied_by: str) -> None:
    """Record a migration whose objects the database already holds, without running it."""
    conn.execute(
        f"INSERT INTO {HISTORY_TABLE} (version, name, checksum, duration_ms, applied_by) VALUES (%s, %s, %s, 0, %s)",
        (migration.version, migration.name, migration.checksum, baseline_applied_by(applied_by)),
    )


def apply_migrations(
    dsn: str,
    *,
    to: int | None = None,
    dry_run: bool = False,
    wait_s: float = 0.0,
    migrations: tuple[Migration, ...] | None = None,
    applied_by: str = "sspp-seed migrate",
    on_applied: Callable[[Migration, float], None] | None = None,
) -> MigrationRun:
    """Bring the database at ``dsn`` up to date (or to version ``to``), or only plan it with ``dry_run``."""
    known = migrations if migrations is not None else load_migrations()
    with connect(dsn, wait_s=wait_s) as conn:
        return apply_on_connection(
            conn,
            known,
            to=to,
            dry_run=dry_run,
            applied_by=applied_by,
            on_applied=on_applied,
            database=database_name(dsn),
        )


def apply_on_connection(
    conn: psycopg.Connection[Any],
    known: tuple[Migration, ...],
    *,
    to: int | None = None,
    dry_run: bool = False,
    applied_by: str = "sspp-seed migrate",
    on_applied: Callable[[Migration, float], None] | None = None,
    database: str = "",
) -> MigrationRun:
    """:func:`apply_migrations` on an open autocommit connection.

    Nothing is changed when a pending migration matches the database only in part (:class:`SchemaMismatchError`).
    """
    if dry_run:
        current = plan(conn, known, to=to)
        adoption = plan_adoption(conn, known, current.pending, database=database)
        return MigrationRun(
            database=database,
            dry_run=True,
            already_applied=list(current.applied),
            planned=list(adoption.to_apply),
            baselined=list(adoption.baselined),
        )
    with migration_lock(conn):
        current = plan(conn, known, to=to)
        adoption = plan_adoption(conn, known, current.pending, database=database)
        try:
            ensure_meta(conn)
        except psycopg.errors.InsufficientPrivilege as exc:
            raise MigrationError(
                f"cannot record migrations in database {database!r}: {(exc.diag.message_primary or '').strip()}; "
                "nothing was changed",
                hint="run migrate as the database's owner, or GRANT CREATE ON DATABASE to this user",
            ) from None
        run = MigrationRun(database=database, dry_run=False, already_applied=list(current.applied))
        for migration in current.pending:
            if migration in adoption.baselined:
                record_baseline(conn, migration, applied_by=applied_by)
                run.baselined.append(migration)
                continue
            duration_ms = apply_one(conn, migration, applied_by=applied_by)
            run.applied.append((migration, duration_ms))
            if on_applied is not None:
                on_applied(migration, duration_ms)
    return run
