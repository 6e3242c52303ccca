"""The catalog objects of one schema as comparable plain data: tables, columns, constraints, indexes, triggers,
functions, views and sequences.

Each object is a key (its kind and name) and a value (its definition as PostgreSQL prints it back), read with the
described schema first on the ``search_path`` and its name stripped from qualified names, so the same DDL run in
two schemas (a scratch schema and ``public``) gives equal catalogs. Objects of extensions are left out.
"""

from __future__ import annotations

import re
from typing import Any

import psycopg
from psycopg import sql

__all__ = [
    "Catalog",
    "ObjectKey",
    "column_differences",
    "describe_object",
    "describe_value",
    "read_catalog",
    "table_of",
]

#: ``(kind, name)`` or ``(kind, table, name)`` for objects that belong to a table.
ObjectKey = tuple[str, ...]
Catalog = dict[ObjectKey, tuple[str, ...]]

_NOT_EXTENSION = """
    NOT EXISTS (SELECT 1 FROM pg_catalog.pg_depend d
                WHERE d.classid = '{catalog}'::regclass AND d.objid = {oid} AND d.deptype = 'e')
"""

_TABLES = f"""
SELECT c.relname FROM pg_catalog.pg_class c
WHERE c.relnamespace = %(ns)s AND c.relkind IN ('r', 'p')
  AND {_NOT_EXTENSION.format(catalog="pg_catalog.pg_class", oid="c.oid")}
"""
_COLUMNS = f"""
SELECT c.relname, a.attname, pg_catalog.format_type(a.atttypid, a.atttypmod),
       CASE WHEN a.attnotnull THEN 'NOT NULL' ELSE 'NULL' END,
       coalesce(pg_catalog.pg_get_expr(ad.adbin, ad.adrelid), ''), a.attidentity::text, a.attgenerated::text
FROM pg_catalog.pg_attribute a
JOIN pg_catalog.pg_class c ON c.oid = a.attrelid
LEFT JOIN pg_catalog.pg_attrdef ad ON ad.adrelid = a.attrelid AND ad.adnum = a.attnum
WHERE c.relnamespace = %(ns)s AND c.relkind IN ('r', 'p') AND a.attnum > 0 AND NOT a.attisdropped
  AND {_NOT_EXTENSION.format(catalog="pg_catalog.pg_class", oid="c.oid")}
"""
_CONSTRAINTS = f"""
SELECT c.relname, co.conname, pg_catalog.pg_get_constraintdef(co.oid)
FROM pg_catalog.pg_constraint co JOIN pg_catalog.pg_class c ON c.oid = co.conrelid
WHERE c.relnamespace = %(ns)s AND {_NOT_EXTENSION.format(catalog="pg_catalog.pg_class", oid="c.oid")}
"""
_INDEXES = f"""
SELECT t.relname, i.relname, pg_catalog.pg_get_indexdef(x.indexrelid)
FROM pg_catalog.pg_index x
JOIN pg_catalog.pg_class i ON i.oid = x.indexrelid
JOIN pg_catalog.pg_class t ON t.oid = x.indrelid
WHERE t.relnamespace = %(ns)s AND {_NOT_EXTENSION.format(catalog="pg_catalog.pg_class", oid="t.oid")}
"""
_TRIGGERS = f"""
SELECT c.relname, tg.tgname, pg_catalog.pg_get_triggerdef(tg.oid)
FROM pg_catalog.pg_trigger tg JOIN pg_catalog.pg_class c ON c.oid = tg.tgrelid
WHERE c.relnamespace = %(ns)s AND NOT tg.tgisinternal
  AND {_NOT_EXTENSION.format(catalog="pg_catalog.pg_class", oid="c.oid")}
"""
_FUNCTIONS = f"""
SELECT p.proname || '(' || pg_catalog.pg_get_function_identity_arguments(p.oid) || ')',
       l.lanname, pg_catalog.pg_get_function_result(p.oid), p.provolatile::text,
       CASE WHEN p.prosecdef THEN 'SECURITY DEFINER' ELSE 'SECURITY INVOKER' END,
       coalesce(array_to_string(p.proconfig, ', '), ''), p.prosrc
FROM pg_catalog.pg_proc p JOIN pg_catalog.pg_language l ON l.oid = p.prolang
WHERE p.pronamespace = %(ns)s AND {_NOT_EXTENSION.format(catalog="pg_catalog.pg_proc", oid="p.oid")}
"""
_VIEWS = f"""
SELECT c.relname, CASE c.relkind WHEN 'm' THEN 'materialized view' ELSE 'view' END,
       pg_catalog.pg_get_viewdef(c.oid, true)
FROM pg_catalog.pg_class c
WHERE c.relnamespace = %(ns)s AND c.relkind IN ('v', 'm')
  AND {_NOT_EXTENSION.format(catalog="pg_catalog.pg_class", oid="c.oid")}
"""
_SEQUENCES = f"""
SELECT c.relname, pg_catalog.format_type(s.seqtypid, NULL), s.seqstart::text, s.seqincrement::text,
       s.seqmin::text, s.seqmax::text, CASE WHEN s.seqcycle THEN 'CYCLE' ELSE 'NO CYCLE' END,
       coalesce((SELECT t.relname || '.' || a.attname
                 FROM pg_catalog.pg_depend d
                 JOIN pg_catalog.pg_class t ON t.oid = d.refobjid
                 JOIN pg_catalog.pg_attribute a ON a.attrelid = d.refobjid AND a.attnum = d.refobjsubid
                 WHERE d.classid = 'pg_catalog.pg_class'::regclass AND d.objid = c.oid
                   AND d.deptype IN ('a', 'i')
                 LIMIT 1), '')
FROM pg_catalog.pg_sequence s JOIN pg_catalog.pg_class c ON c.oid = s.seqrelid
WHERE c.relnamespace = %(ns)s AND {_NOT_EXTENSION.format(catalog="pg_catalog.pg_class", oid="c.oid")}
"""


def _squeeze(text: str) -> str:
    """Whitespace runs as one space: a body indented otherwise is the same body."""
    return " ".join(text.split())


def _unqualifier(schema: str) -> re.Pattern[str]:
    quoted = '"' + schema.replace('"', '""') + '"'
    return re.compile(rf'(?<![\w"$])(?:{re.escape(quoted)}|{re.escape(schema)})\.')


def read_catalog(conn: psycopg.Connection[Any], schema: str) -> Catalog:
    """Every object of ``schema`` as ``{key: definition}`` (see the module's docstring); reads only.

    Sets ``search_path`` to ``schema`` for the reading and restores what it was, inside or outside a transaction.
    """
    row = conn.execute("SELECT pg_catalog.to_regnamespace(%s)::oid", (schema,)).fetchone()
    if row is None or row[0] is None:
        return {}
    params = {"ns": row[0]}
    unqualify = _unqualifier(schema)
    catalog: Catalog = {}
    with conn.transaction():
        previous = conn.execute("SELECT pg_catalog.current_setting('search_path')").fetchone()
        conn.execute("SELECT pg_catalog.set_config('search_path', %s, true)", (sql.Identifier(schema).as_string(conn),))
        try:
            for (table,) in conn.execute(_TABLES, params):
                catalog[("table", table)] = ("table",)
            for table, column, type_, null, default, identity, generated in conn.execute(_COLUMNS, params):
                catalog[("column", table, column)] = (type_, null, default, identity, generated)
            for table, name, definition in conn.execute(_CONSTRAINTS, params):
                catalog[("constraint", table, name)] = (unqualify.sub("", definition),)
            for table, name, definition in conn.execute(_INDEXES, params):
                catalog[("index", table, name)] = (unqualify.sub("", definition),)
            for table, name, definition in conn.execute(_TRIGGERS, params):
                catalog[("trigger", table, name)] = (unqualify.sub("", definition),)
            for signature, language, result, volatility, security, config, body in conn.execute(_FUNCTIONS, params):
                catalog[("function", signature)] = (language, result, volatility, security, config, _squeeze(body))
            for name, kind, definition in conn.execute(_VIEWS, params):
                catalog[("view", name)] = (kind, _squeeze(unqualify.sub("", definition)))
            for name, *definition in conn.execute(_SEQUENCES, params):
                catalog[("sequence", name)] = tuple(definition)
        finally:
            if previous is not None:
                conn.execute("SELECT pg_catalog.set_config('search_path', %s, true)", (previous[0],))
    return catalog


def table_of(key: ObjectKey) -> str | None:
    """The table an object belongs to (a column, constraint, index or trigger), or ``None``."""
    return key[1] if key[0] in ("column", "constraint", "index", "trigger") else None


_COLUMN_PARTS = ("type", "nullability", "default", "identity", "generated")


def describe_object(key: ObjectKey) -> str:
    """``column sales_signals.updated_at``, ``index idx_x on sales_signals``, ``function f()``, ..."""
    kind = key[0]
    if kind == "column":
        return f"column {key[1]}.{key[2]}"
    if len(key) == 3:
        return f"{kind} {key[2]} on {key[1]}"
    return f"{kind} {key[1]}"


def describe_value(key: ObjectKey, value: tuple[str, ...]) -> str:
    """An object's definition in words, for messages."""
    if key[0] == "column":
        type_, null, default, _identity, _generated = value
        return f"{type_} {'NOT NULL' if null == 'NOT NULL' else 'NULL'}" + (f" DEFAULT {default}" if default else "")
    if key[0] == "function":
        language, result, _volatility, _security, _config, body = value
        return f"RETURNS {result} LANGUAGE {language} AS $$ {body} $$"
    if key[0] == "view":
        return value[1]
    if key[0] == "sequence":
        type_, start, increment, minimum, maximum, cycle, owner = value
        owned = f" OWNED BY {owner}" if owner else ""
        return f"AS {type_} START {start} INCREMENT {increment} MINVALUE {minimum} MAXVALUE {maximum} {cycle}{owned}"
    return " ".join(value)


def column_differences(key: ObjectKey, live: tuple[str, ...], expected: tuple[str, ...]) -> list[str]:
    """What differs between two definitions of one column, named part by part (type, nullability, default)."""
    found = []
    for part, have, want in zip(_COLUMN_PARTS, live, expected, strict=True):
        if have != want:
            found.append(f"{describe_object(key)} has {part} {have or 'none'}, expected {want or 'none'}")
    return found
