"""Reading a live database: which tables it holds, whether they hold rows, and its schema as plain data."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import psycopg

from ._meta import META_SCHEMA

__all__ = ["TargetState", "describe_schema", "inspect_target"]

_SYSTEM_SCHEMAS = ("pg_catalog", "information_schema", "pg_toast", META_SCHEMA)

_USER_TABLES = """
SELECT n.nspname, c.relname, c.relkind
FROM pg_catalog.pg_class c
JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
WHERE c.relkind IN ('r', 'p', 'v', 'm', 'f')
  AND n.nspname <> ALL (%s)
  AND n.nspname NOT LIKE 'pg\\_temp\\_%%' AND n.nspname NOT LIKE 'pg\\_toast\\_temp\\_%%'
  AND NOT EXISTS (
      SELECT 1 FROM pg_catalog.pg_depend d
      WHERE d.classid = 'pg_catalog.pg_class'::regclass AND d.objid = c.oid AND d.deptype = 'e'
  )
ORDER BY 1, 2
"""


@dataclass(frozen=True)
class TargetState:
    """What a database holds, as far as deciding whether destructive work on it is safe."""

    tables: tuple[str, ...]
    tables_with_rows: tuple[str, ...]

    @property
    def empty(self) -> bool:
        return not self.tables

    def foreign_tables(self, ours: frozenset[str]) -> tuple[str, ...]:
        """Tables (schema-qualified) the SSPP schema does not define."""
        return tuple(t for t in self.tables if t not in ours)


def inspect_target(conn: psycopg.Connection[Any]) -> TargetState:
    """List the user tables of the database (extensions' and the tool's own excluded) and which hold rows."""
    rows = conn.execute(_USER_TABLES, (list(_SYSTEM_SCHEMAS),)).fetchall()
    tables: list[str] = []
    with_rows: list[str] = []
    for schema, name, kind in rows:
        qualified = f"{schema}.{name}"
        tables.append(qualified)
        if kind in ("r", "p", "m"):
            query = psycopg.sql.SQL("SELECT EXISTS (SELECT 1 FROM {}.{})").format(
                psycopg.sql.Identifier(schema), psycopg.sql.Identifier(name)
            )
            found = conn.execute(query).fetchone()
            if found and found[0]:
                with_rows.append(qualified)
    return TargetState(tables=tuple(tables), tables_with_rows=tuple(with_rows))


def describe_schema(conn: psycopg.Connection[Any], schemas: tuple[str, ...] = ("public",)) -> dict[str, Any]:
    """The schema as comparable plain data: columns, constraints, indexes, grants, roles (for tests, doctor)."""
    columns = conn.execute(
        """
        SELECT table_schema, table_name, column_name, ordinal_position, data_type, character_maximum_length,
               numeric_precision, numeric_scale, is_nullable, column_default
        FROM information_schema.columns WHERE table_schema = ANY(%s)
        ORDER BY table_schema, table_name, ordinal_position
        """,
        (list(schemas),),
    ).fetchall()
    constraints = conn.execute(
        """
        SELECT n.nspname, cl.relname, co.conname, pg_catalog.pg_get_constraintdef(co.oid)
        FROM pg_catalog.pg_constraint co
        JOIN pg_catalog.pg_class cl ON cl.oid = co.conrelid
        JOIN pg_catalog.pg_namespace n ON n.oid = cl.relnamespace
        WHERE n.nspname = ANY(%s) ORDER BY 1, 2, 3
        """,
        (list(schemas),),
    ).fetchall()
    indexes = conn.execute(
        "SELECT schemaname, tablename, indexname, indexdef FROM pg_catalog.pg_indexes "
        "WHERE schemaname = ANY(%s) ORDER BY 1, 2, 3",
        (list(schemas),),
    ).fetchall()
    grants = conn.execute(
        """
        SELECT table_schema, table_name, grantee, privilege_type FROM information_schema.role_table_grants
        WHERE table_schema = ANY(%s) AND grantee LIKE 'sspp\\_%%' ORDER BY 1, 2, 3, 4
        """,
        (list(schemas),),
    ).fetchall()
    return {
        "columns": [list(r) for r in columns],
        "constraints": [list(r) for r in constraints],
        "indexes": [list(r) for r in indexes],
        "grants": [list(r) for r in grants],
    }
