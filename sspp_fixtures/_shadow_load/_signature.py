"""A comparable description of the SSPP tables' catalog: what a swap must leave exactly as it found it.

Everything but identities (OIDs, files) and data-dependent values (sequence positions, statistics): columns,
defaults, keys, checks, indexes, triggers, owners, grants, options, comments, owned sequences, and the views
over the tables. The swap compares it before and after itself; the tests compare it between two loads.
"""

from __future__ import annotations

from typing import Any

import psycopg

from ..bulkgen import TABLE_ORDER
from ._live import read_views

__all__ = ["catalog_signature", "first_difference"]

_QUERIES = {
    "table": """
        SELECT c.relname, pg_catalog.pg_get_userbyid(c.relowner), c.relacl::text, c.reloptions::text,
               c.relkind, c.relpersistence, c.relreplident, c.relrowsecurity, c.relforcerowsecurity,
               pg_catalog.obj_description(c.oid, 'pg_class')
        FROM pg_catalog.pg_class c WHERE c.relnamespace = %(schema)s::regnamespace AND c.relname = ANY(%(tables)s)
    """,
    "column": r"""
        SELECT c.relname, row_number() OVER (PARTITION BY c.oid ORDER BY a.attnum), a.attname,
               pg_catalog.format_type(a.atttypid, a.atttypmod), a.attnotnull,
               pg_catalog.pg_get_expr(d.adbin, d.adrelid), a.attidentity, a.attgenerated, a.attcollation::regcollation,
               a.attacl::text, a.attstorage, a.attcompression, a.attstattarget,
               (SELECT array_agg(o ORDER BY o) FROM unnest(a.attoptions) o WHERE o NOT LIKE 'pg\_attver=%%'),
               pg_catalog.col_description(c.oid, a.attnum)
        FROM pg_catalog.pg_class c JOIN pg_catalog.pg_attribute a ON a.attrelid = c.oid
        LEFT JOIN pg_catalog.pg_attrdef d ON d.adrelid = c.oid AND d.adnum = a.attnum
        WHERE c.relnamespace = %(schema)s::regnamespace AND c.relname = ANY(%(tables)s)
          AND a.attnum > 0 AND NOT a.attisdropped
    """,
    "index": """
        SELECT c.relname, i.relname, pg_catalog.pg_get_indexdef(i.oid), x.indisclustered, x.indisreplident,
               x.indisvalid, i.reloptions::text, pg_catalog.obj_description(i.oid, 'pg_class')
        FROM pg_catalog.pg_class c JOIN pg_catalog.pg_index x ON x.indrelid = c.oid
        JOIN pg_catalog.pg_class i ON i.oid = x.indexrelid
        WHERE c.relnamespace = %(schema)s::regnamespace AND c.relname = ANY(%(tables)s)
    """,
    "constraint": """
        SELECT c.relname, co.conname, co.contype, pg_catalog.pg_get_constraintdef(co.oid), co.condeferrable,
               co.condeferred, co.convalidated, co.connoinherit, pg_catalog.obj_description(co.oid, 'pg_constraint')
        FROM pg_catalog.pg_class c JOIN pg_catalog.pg_constraint co ON co.conrelid = c.oid
        WHERE c.relnamespace = %(schema)s::regnamespace AND c.relname = ANY(%(tables)s)
    """,
    "trigger": """
        SELECT c.relname, t.tgname, pg_catalog.pg_get_triggerdef(t.oid), t.tgenabled,
               pg_catalog.obj_description(t.oid, 'pg_trigger')
        FROM pg_catalog.pg_class c JOIN pg_catalog.pg_trigger t ON t.tgrelid = c.oid
        WHERE c.relnamespace = %(schema)s::regnamespace AND c.relname = ANY(%(tables)s) AND NOT t.tgisinternal
    """,
    "sequence": """
        SELECT c.relname, a.attname, pg_catalog.pg_get_serial_sequence(c.oid::regclass::text, a.attname),
               s.relname, pg_catalog.pg_get_userbyid(s.relowner), s.relacl::text,
               q.seqtypid::regtype, q.seqstart, q.seqincrement, q.seqmax, q.seqmin, q.seqcache, q.seqcycle
        FROM pg_catalog.pg_class c
        JOIN pg_catalog.pg_depend d ON d.refobjid = c.oid AND d.refclassid = 'pg_catalog.pg_class'::regclass
             AND d.classid = 'pg_catalog.pg_class'::regclass AND d.deptype IN ('a', 'i')
        JOIN pg_catalog.pg_class s ON s.oid = d.objid AND s.relkind = 'S'
        JOIN pg_catalog.pg_sequence q ON q.seqrelid = s.oid
        JOIN pg_catalog.pg_attribute a ON a.attrelid = c.oid AND a.attnum = d.refobjsubid
        WHERE c.relnamespace = %(schema)s::regnamespace AND c.relname = ANY(%(tables)s)
    """,
}


def catalog_signature(conn: psycopg.Connection[Any], schema: str) -> dict[str, list[tuple[Any, ...]]]:
    """The catalog of the SSPP tables in ``schema`` and of the views over them, as sorted rows per kind."""
    params = {"schema": schema, "tables": list(TABLE_ORDER)}
    signature = {
        kind: sorted(map(tuple, conn.execute(query, params).fetchall()), key=repr) for kind, query in _QUERIES.items()
    }
    signature["view"] = [
        (v.schema, v.name, v.depth, v.definition, v.reloptions, v.owner, v.grants, v.comment, v.column_comments)
        for v in read_views(conn, schema)
    ]
    return signature


def first_difference(before: dict[str, list[tuple[Any, ...]]], after: dict[str, list[tuple[Any, ...]]]) -> str:
    """The first row that differs, said in a line (``before`` is what the live tables had)."""
    for kind, rows in before.items():
        gone = [row for row in rows if row not in after.get(kind, [])]
        new = [row for row in after.get(kind, []) if row not in rows]
        if gone or new:
            was = f"was {gone[0]!r}" if gone else "was nothing"
            now = f"now {new[0]!r}" if new else "now nothing"
            return f"{kind}: {was}, {now}"
    return "no difference"
