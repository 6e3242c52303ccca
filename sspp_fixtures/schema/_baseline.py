"""Adopting a database that already holds what some migrations make, such as one made by the platform's own init.sql.

Before pending migrations run on a database whose schema is not empty, each is compared with the live schema. What
a migration makes is learnt by applying the migrations one by one in a scratch schema, inside a transaction that is
rolled back, and reading the catalog (:mod:`._catalog`) after each. A pending migration is then

- *matched* when every object it makes exists and is defined the same way (and the tables it creates hold nothing
  else): it is recorded in the history as a baseline and not run;
- *pending* when none of its objects exists, or when it makes no catalog object at all (grants, roles created only
  when missing: safe to run again): it is applied;
- *refused* otherwise (a column missing or of another type, an index missing or defined otherwise, a missing
  trigger or view, an unexpected column): :class:`SchemaMismatchError` names every difference, before anything is
  changed.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from typing import Any

import psycopg
from psycopg import sql

from ..errors import MigrationError, SchemaMismatchError
from ._catalog import Catalog, ObjectKey, column_differences, describe_object, describe_value, read_catalog, table_of
from ._migrations import Migration, migrations_checksum

__all__ = ["Adoption", "LearntMigration", "baseline_applied_by", "learn_migrations", "plan_adoption"]

Definition = tuple[str, ...] | None


def baseline_applied_by(applied_by: str) -> str:
    """``applied_by`` of a history row recording a migration found already in place (not run)."""
    return f"{applied_by} (baseline)"


@dataclass(frozen=True)
class LearntMigration:
    """What one migration changes in the catalog: each object's definition before and after it (``None``: absent)."""

    migration: Migration
    changes: dict[ObjectKey, tuple[Definition, Definition]]


@dataclass(frozen=True)
class Adoption:
    """Which pending migrations are already in place (recorded, not run) and which are to run."""

    baselined: tuple[Migration, ...]
    to_apply: tuple[Migration, ...]


_learnt_cache: dict[tuple[int, str], tuple[tuple[LearntMigration, ...], Catalog]] = {}


def learn_migrations(
    conn: psycopg.Connection[Any], migrations: tuple[Migration, ...]
) -> tuple[tuple[LearntMigration, ...], Catalog]:
    """Each migration's catalog changes, and the catalog after all of them, learnt in a rolled-back scratch schema.

    Cached per server version and migrations checksum (the catalog's printed form depends on both, nothing else).
    """
    version_row = conn.execute("SELECT pg_catalog.current_setting('server_version_num')::int").fetchone()
    key = (int(version_row[0]) if version_row else 0, migrations_checksum(migrations))
    if key in _learnt_cache:
        return _learnt_cache[key]
    scratch = f"sspp_scratch_{secrets.token_hex(6)}"
    learnt: list[LearntMigration] = []
    before: Catalog = {}
    with conn.transaction(force_rollback=True):
        try:
            with conn.transaction():
                conn.execute(sql.SQL("CREATE SCHEMA {}").format(sql.Identifier(scratch)))
        except psycopg.errors.InsufficientPrivilege:
            raise MigrationError(
                f"cannot compare the pending migrations with database {conn.info.dbname!r}: user "
                f"{conn.info.user!r} may not create a scratch schema there (it is rolled back); nothing was changed",
                hint="run migrate as the database's owner, or GRANT CREATE ON DATABASE to this user",
            ) from None
        conn.execute(sql.SQL("SET LOCAL search_path TO {}").format(sql.Identifier(scratch)))
        for migration in migrations:
            try:
                with conn.transaction():
                    conn.execute(migration.sql.encode("utf-8"))
            except psycopg.Error as exc:
                raise MigrationError(
                    f"migration {migration.label} fails in a scratch schema, so it cannot be compared with the "
                    f"database: {(exc.diag.message_primary or str(exc)).strip()}; nothing was changed",
                    hint=f"fix {migration.path or migration.filename}",
                    version=migration.version,
                ) from None
            after = read_catalog(conn, scratch)
            changes = {k: (before.get(k), after.get(k)) for k in before.keys() | after.keys()}
            learnt.append(LearntMigration(migration, {k: v for k, v in changes.items() if v[0] != v[1]}))
            before = after
    result = (tuple(learnt), before)
    _learnt_cache[key] = result
    return result


_HOLDS_OBJECTS = """
SELECT EXISTS (SELECT 1 FROM pg_catalog.pg_class WHERE relnamespace = pg_catalog.to_regnamespace(%(schema)s))
    OR EXISTS (SELECT 1 FROM pg_catalog.pg_proc WHERE pronamespace = pg_catalog.to_regnamespace(%(schema)s))
"""


def _live_schema(conn: psycopg.Connection[Any]) -> str:
    """The schema unqualified CREATEs of the migrations land in on this connection."""
    row = conn.execute("SELECT pg_catalog.current_schema()").fetchone()
    return str(row[0]) if row and row[0] else "public"


def _difference(label: str, key: ObjectKey, live: Definition, expected: Definition) -> list[str]:
    if expected is None:
        return [f"{describe_object(key)} should not exist after {label}"]
    if live is None:
        return [f"missing {describe_object(key)}"]
    if key[0] == "column":
        return column_differences(key, live, expected)
    return [f"{describe_object(key)} is `{describe_value(key, live)}`, {label} makes `{describe_value(key, expected)}`"]


def _classify(learnt: LearntMigration, live: Catalog, final: Catalog) -> tuple[str, list[str]]:
    """``("baseline" | "apply", [])`` or ``("refuse", differences)`` for one pending migration."""
    label = learnt.migration.label
    if not learnt.changes:
        return "apply", []
    present, absent, differences = 0, 0, []
    missing: list[str] = []
    for key in sorted(learnt.changes):
        before, after = learnt.changes[key]
        have = live.get(key)
        if have == after:
            present += 1
        elif have == before:
            absent += 1
            missing += _difference(label, key, have, after)
        else:
            differences += _difference(label, key, have, after)
    if present and not differences:
        created = {key[1] for key, (before, _) in learnt.changes.items() if key[0] == "table" and before is None}
        differences += [
            f"unexpected {describe_object(key)}"
            for key in sorted(live)
            if table_of(key) in created and key not in final
        ]
    if not differences and not present:
        return "apply", []
    if not differences and not absent:
        return "baseline", []
    return "refuse", differences + missing


def plan_adoption(
    conn: psycopg.Connection[Any], known: tuple[Migration, ...], pending: tuple[Migration, ...], *, database: str
) -> Adoption:
    """Split ``pending`` into migrations already in place and migrations to run; refuse a partial match.

    Reads only (the scratch schema is rolled back). Raises :class:`SchemaMismatchError` (exit 5) naming every
    difference of every migration that matches only in part.
    """
    if not pending:
        return Adoption((), ())
    schema = _live_schema(conn)
    holds = conn.execute(_HOLDS_OBJECTS, {"schema": schema}).fetchone()
    live = read_catalog(conn, schema) if holds and holds[0] else {}
    if not live:  # an empty schema (a new database, a template being built): one query, no scratch schema
        return Adoption((), pending)
    learnt, final = learn_migrations(conn, known)
    by_version = {item.migration.version: item for item in learnt}
    baselined: list[Migration] = []
    to_apply: list[Migration] = []
    refused: dict[str, list[str]] = {}
    for migration in pending:
        verdict, differences = _classify(by_version[migration.version], live, final)
        if verdict == "baseline":
            baselined.append(migration)
        elif verdict == "apply":
            to_apply.append(migration)
        else:
            refused[migration.label] = differences
    if refused:
        if len(refused) == 1:
            ((label, found),) = refused.items()
            what, listed = f"{label} makes", ", ".join(found)
        else:
            what = f"{' and '.join(refused)} make"
            listed = "; ".join(f"{label}: {', '.join(found)}" for label, found in refused.items())
        files = ", ".join(f"sql/migrations/{label}.sql" for label in refused)
        raise SchemaMismatchError(
            f"cannot migrate database {database!r}: schema {schema!r} holds part of what {what}, or holds it "
            f"defined otherwise: {listed}; nothing was changed",
            hint=f"make those objects match {files} (or drop them) and run migrate again, or migrate an empty "
            "database and copy the rows over",
            database=database,
            differences=refused,
        )
    return Adoption(tuple(baselined), tuple(to_apply))
