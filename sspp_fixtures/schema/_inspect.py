"""Reading a live database: which tables it holds, whether they hold rows, and its schema as plain data."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import psycopg

from ._catalog import read_catalog
from ._meta import META_SCHEMA

__all__ = ["SchemaObject", "TargetState", "describe_schema", "inspect_target"]

_SYSTEM_SCHEMAS = ("pg_catalog", "information_schema", "pg_toast", META_SCHEMA)
#: The schemas ``reset`` and ``restore`` drop (see ``EMPTY_SCHEMA_STATEMENTS``): every object in them is lost.
REPLACED_SCHEMAS = ("public", META_SCHEMA)

_USER_TABLES = """
SELECT n.nspname, c.relname, c.relkind, c.relispopulated
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


# Every catalog of objects that live in a schema: (catalog, its oid's table alias, the kind shown (an SQL
# expression), the name shown, the namespace column, an extra condition).
_CATALOGS = (
    ("pg_class", "c", "'sequence'", "c.relname::text", "relnamespace", "c.relkind = 'S'"),
    # tables of the bookkeeping schema (tables elsewhere are listed by _USER_TABLES)
    ("pg_class", "c", "'table'", "c.relname::text", "relnamespace",
     "c.relkind IN ('r', 'p', 'v', 'm', 'f') AND t.nspname = %(meta)s"),
    ("pg_proc", "p", "CASE p.prokind WHEN 'p' THEN 'procedure' WHEN 'a' THEN 'aggregate' ELSE 'function' END",
     "p.proname || '(' || pg_catalog.pg_get_function_identity_arguments(p.oid) || ')'", "pronamespace", "true"),
    ("pg_type", "y", "CASE y.typtype WHEN 'e' THEN 'enum' WHEN 'd' THEN 'domain' WHEN 'r' THEN 'range type' "
     "ELSE 'type' END", "y.typname::text", "typnamespace", "true"),
    ("pg_collation", "o", "'collation'", "o.collname::text", "collnamespace", "true"),
    ("pg_operator", "o", "'operator'", "o.oprname::text", "oprnamespace", "true"),
    ("pg_opfamily", "o", "'operator family'", "o.opfname::text", "opfnamespace", "true"),
    ("pg_opclass", "o", "'operator class'", "o.opcname::text", "opcnamespace", "true"),
    ("pg_conversion", "o", "'conversion'", "o.conname::text", "connamespace", "true"),
    ("pg_ts_config", "o", "'text search configuration'", "o.cfgname::text", "cfgnamespace", "true"),
    ("pg_ts_dict", "o", "'text search dictionary'", "o.dictname::text", "dictnamespace", "true"),
    ("pg_statistic_ext", "o", "'statistics'", "o.stxname::text", "stxnamespace", "true"),
)  # fmt: skip

# Objects that live and die with another one (a table's row type, an array type, an index, a sequence owned by
# a column, a range's constructors) depend on it internally ('i') or automatically ('a') and are judged with
# it; the objects of an extension ('e') are judged as the extension.
_USER_OBJECTS = (
    "WITH target AS (SELECT oid, nspname FROM pg_catalog.pg_namespace WHERE nspname = ANY(%(schemas)s)),\n"
    "candidates AS (\n"
    + "\nUNION ALL\n".join(
        f"SELECT 'pg_catalog.{catalog}'::regclass AS classid, {alias}.oid AS objid, {kind} AS kind, "
        f"t.nspname AS schema, {name} AS name FROM pg_catalog.{catalog} {alias} "
        f"JOIN target t ON t.oid = {alias}.{namespace} WHERE {condition}"
        for catalog, alias, kind, name, namespace, condition in _CATALOGS
    )
    + """
)
SELECT kind, schema, name FROM candidates c
WHERE NOT EXISTS (
    SELECT 1 FROM pg_catalog.pg_depend d
    WHERE d.classid = c.classid AND d.objid = c.objid AND d.deptype IN ('i', 'a', 'e')
)
UNION ALL
SELECT 'extension', '', x.extname::text
FROM pg_catalog.pg_extension x
WHERE x.extnamespace IN (SELECT oid FROM target)
   OR EXISTS (
       SELECT 1 FROM candidates c JOIN pg_catalog.pg_depend d ON d.classid = c.classid AND d.objid = c.objid
       WHERE d.refclassid = 'pg_catalog.pg_extension'::regclass AND d.refobjid = x.oid AND d.deptype = 'e'
   )
ORDER BY 2, 1, 3
"""
)


@dataclass(frozen=True)
class SchemaObject:
    """An object other than a table in a schema that ``reset``/``restore`` would drop (or an extension with
    objects there)."""

    kind: str
    schema: str
    name: str

    @property
    def qualified(self) -> str:
        """``schema.name`` (a function without its arguments), ``name`` for an extension."""
        base = self.name.split("(", 1)[0]
        return f"{self.schema}.{base}" if self.schema else base

    @property
    def label(self) -> str:
        """What a message shows: ``sequence public.orders_seq``, ``function public.f(integer)``."""
        return f"{self.kind} {self.schema}.{self.name}" if self.schema else f"{self.kind} {self.name}"


@dataclass(frozen=True)
class TargetState:
    """What a database holds, as far as deciding whether destructive work on it is safe."""

    tables: tuple[str, ...]
    tables_with_rows: tuple[str, ...]
    objects: tuple[SchemaObject, ...] = ()

    @property
    def empty(self) -> bool:
        return not self.tables and not self.objects

    def foreign_tables(self, ours: frozenset[str]) -> tuple[str, ...]:
        """Tables (schema-qualified) the SSPP schema does not define."""
        return tuple(t for t in self.tables if t not in ours)

    def foreign_objects(self, ours: frozenset[str]) -> tuple[SchemaObject, ...]:
        """Other objects the SSPP schema does not define (``ours``: qualified names, extensions by name)."""
        return tuple(o for o in self.objects if o.qualified not in ours)


def inspect_target(conn: psycopg.Connection[Any]) -> TargetState:
    """List the user tables of the database (extensions' and the tool's own excluded), which hold rows, and every
    other object in the schemas ``reset`` and ``restore`` replace."""
    rows = conn.execute(_USER_TABLES, (list(_SYSTEM_SCHEMAS),)).fetchall()
    tables: list[str] = []
    with_rows: list[str] = []
    for schema, name, kind, populated in rows:
        qualified = f"{schema}.{name}"
        tables.append(qualified)
        if kind in ("r", "p") or (kind == "m" and populated):  # a matview made WITH NO DATA cannot be read
            query = psycopg.sql.SQL("SELECT EXISTS (SELECT 1 FROM {}.{})").format(
                psycopg.sql.Identifier(schema), psycopg.sql.Identifier(name)
            )
            found = conn.execute(query).fetchone()
            if found and found[0]:
                with_rows.append(qualified)
    objects = tuple(
        SchemaObject(*row)
        for row in conn.execute(_USER_OBJECTS, {"schemas": list(REPLACED_SCHEMAS), "meta": META_SCHEMA})
    )
    return TargetState(tables=tuple(tables), tables_with_rows=tuple(with_rows), objects=objects)


def describe_schema(conn: psycopg.Connection[Any], schemas: tuple[str, ...] = ("public",)) -> dict[str, Any]:
    """The schema as comparable plain data: columns, constraints, indexes, grants, triggers, functions, views and
    sequences (for tests, doctor)."""
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
    objects: dict[str, list[list[str]]] = {"triggers": [], "functions": [], "views": [], "sequences": []}
    for schema in schemas:
        for key, definition in sorted(read_catalog(conn, schema).items()):
            if key[0] in ("trigger", "function", "view", "sequence"):
                objects[f"{key[0]}s"].append([schema, *key[1:], *definition])
    return {
        "columns": [list(r) for r in columns],
        "constraints": [list(r) for r in constraints],
        "indexes": [list(r) for r in indexes],
        "grants": [list(r) for r in grants],
        **objects,
    }
