"""What the live SSPP tables carry besides their rows, read from the catalog: what a shadow copy must rebuild.

Indexes and keys are built on the shadow tables; owners, grants, triggers, comments, owned sequences and the
views over the tables are put back by the swap. Features this path does not rebuild (foreign keys, policies,
identity columns, ...) are refused up front, before any work, so the caller can fall back to one transaction.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import psycopg

from ..bulkgen import TABLE_ORDER

__all__ = ["IndexSpec", "LiveTable", "LiveView", "read_live_tables", "read_views", "unsupported_features"]


@dataclass(frozen=True)
class IndexSpec:
    """One index of a live table; ``constraint`` is ``"PRIMARY KEY"``/``"UNIQUE"`` for the index of a key."""

    table: str
    live_table: str  # the table as pg_get_indexdef spells it: schema.table, each quoted where needed
    name: str
    definition: str
    constraint: str | None
    deferrable: str
    comment: str | None
    constraint_comment: str | None

    @property
    def gin(self) -> bool:
        return " USING gin " in self.definition


@dataclass(frozen=True)
class LiveTable:
    """One live table: where it is, who owns it, its grants (in ACL order), triggers, comment and sequences."""

    name: str
    owner: str
    reloptions: tuple[str, ...]
    grants: tuple[tuple[str, str, bool], ...]  # (grantee or "PUBLIC", privilege, with grant option)
    triggers: tuple[tuple[str, str, str, str | None], ...]  # (name, definition, tgenabled, comment)
    comment: str | None
    sequences: tuple[tuple[str, str], ...]  # (qualified sequence name, owning column)
    indexes: tuple[IndexSpec, ...]


@dataclass(frozen=True)
class LiveView:
    """A view that depends on the live tables (directly or through another view), dropped and recreated by the
    swap because a view binds to the tables it reads, not to their names."""

    schema: str
    name: str
    depth: int
    definition: str
    reloptions: tuple[str, ...]
    owner: str
    grants: tuple[tuple[str, str, bool], ...]
    comment: str | None
    column_comments: tuple[tuple[str, str], ...]


_GRANTS = """
    SELECT CASE WHEN a.grantee = 0 THEN 'PUBLIC' ELSE pg_catalog.quote_ident(r.rolname) END, a.privilege_type,
           a.is_grantable
    FROM pg_catalog.aclexplode(%s::aclitem[]) WITH ORDINALITY AS a(grantor, grantee, privilege_type, is_grantable, n)
    LEFT JOIN pg_catalog.pg_roles r ON r.oid = a.grantee
    WHERE a.grantee <> (SELECT oid FROM pg_catalog.pg_roles WHERE rolname = %s)
    ORDER BY a.n
"""


def _grants(conn: psycopg.Connection[Any], acl: str | None, owner: str) -> tuple[tuple[str, str, bool], ...]:
    if acl is None:
        return ()
    return tuple((g, p, bool(o)) for g, p, o in conn.execute(_GRANTS, (acl, owner)).fetchall())


def unsupported_features(conn: psycopg.Connection[Any], schema: str) -> list[str]:
    """What the live tables have that a shadow copy and swap would not reproduce exactly, one line each."""
    rows = conn.execute(
        r"""
        WITH t AS (SELECT c.oid, c.relname, c.relkind, c.relpersistence, c.reltablespace, c.relreplident,
                          c.relrowsecurity, c.relhasrules
                   FROM pg_catalog.pg_class c
                   WHERE c.relnamespace = %(schema)s::regnamespace AND c.relname = ANY(%(tables)s))
        SELECT format('%%s is not a plain logged table in the default tablespace', relname) FROM t
            WHERE relkind <> 'r' OR relpersistence <> 'p' OR reltablespace <> 0
        UNION ALL SELECT format('%%s has replica identity %%s', relname, relreplident) FROM t WHERE relreplident <> 'd'
        UNION ALL SELECT format('%%s has row-level security', relname) FROM t WHERE relrowsecurity
        UNION ALL SELECT format('%%s has rules', relname) FROM t WHERE relhasrules
        UNION ALL SELECT format('constraint %%s (%%s) is a foreign key or exclusion constraint', co.conname,
                                co.conrelid::regclass)
            FROM pg_catalog.pg_constraint co
            WHERE co.contype IN ('f', 'x')
              AND (co.conrelid IN (SELECT oid FROM t) OR co.confrelid IN (SELECT oid FROM t))
        UNION ALL SELECT format('%%s.%%s is an identity column, has column privileges or options', t.relname,
                                a.attname)
            FROM t JOIN pg_catalog.pg_attribute a ON a.attrelid = t.oid AND a.attnum > 0 AND NOT a.attisdropped
            WHERE a.attidentity <> '' OR a.attacl IS NOT NULL OR a.attstattarget <> -1
               -- pg_attver: a version stamp some servers put on every column they create, not an option set
               OR EXISTS (SELECT 1 FROM unnest(a.attoptions) o WHERE o NOT LIKE 'pg\_attver=%%')
        UNION ALL SELECT format('%%s is partitioned or inherits', t.relname) FROM t
            WHERE EXISTS (SELECT 1 FROM pg_catalog.pg_inherits i WHERE i.inhrelid = t.oid OR i.inhparent = t.oid)
        UNION ALL SELECT format('%%s has extended statistics', t.relname) FROM t
            WHERE EXISTS (SELECT 1 FROM pg_catalog.pg_statistic_ext s WHERE s.stxrelid = t.oid)
        UNION ALL SELECT format('%%s is in a publication', t.relname) FROM t
            WHERE EXISTS (SELECT 1 FROM pg_catalog.pg_publication_rel p WHERE p.prrelid = t.oid)
        UNION ALL SELECT format('%%s has policies', t.relname) FROM t
            WHERE EXISTS (SELECT 1 FROM pg_catalog.pg_policy p WHERE p.polrelid = t.oid)
        UNION ALL SELECT format('trigger %%s on %%s is internal', tg.tgname, t.relname)
            FROM t JOIN pg_catalog.pg_trigger tg ON tg.tgrelid = t.oid WHERE tg.tgisinternal
        """,
        {"schema": schema, "tables": list(TABLE_ORDER)},
    ).fetchall()
    problems = [str(r[0]) for r in rows]
    problems += [f"{v.schema}.{v.name} is a materialized view over the tables" for v in read_views(conn, schema, True)]
    return problems


def read_live_tables(conn: psycopg.Connection[Any], schema: str) -> list[LiveTable]:
    """The live tables of the load, in :data:`TABLE_ORDER`."""
    found = []
    for table in TABLE_ORDER:
        row = conn.execute(
            "SELECT c.oid, pg_catalog.pg_get_userbyid(c.relowner), coalesce(c.reloptions, '{}'), c.relacl::text, "
            "pg_catalog.obj_description(c.oid, 'pg_class') FROM pg_catalog.pg_class c "
            "WHERE c.relnamespace = %s::regnamespace AND c.relname = %s",
            (schema, table),
        ).fetchone()
        assert row is not None, table  # check_live_schema found it
        oid, owner, reloptions, acl, comment = row
        triggers = conn.execute(
            "SELECT tgname, pg_catalog.pg_get_triggerdef(oid), tgenabled, "
            "pg_catalog.obj_description(oid, 'pg_trigger') FROM pg_catalog.pg_trigger "
            "WHERE tgrelid = %s AND NOT tgisinternal ORDER BY tgname",
            (oid,),
        ).fetchall()
        sequences = conn.execute(
            "SELECT d.objid::regclass::text, a.attname FROM pg_catalog.pg_depend d "
            "JOIN pg_catalog.pg_class s ON s.oid = d.objid AND s.relkind = 'S' "
            "JOIN pg_catalog.pg_attribute a ON a.attrelid = d.refobjid AND a.attnum = d.refobjsubid "
            "WHERE d.classid = 'pg_catalog.pg_class'::regclass AND d.refclassid = 'pg_catalog.pg_class'::regclass "
            "AND d.refobjid = %s AND d.deptype = 'a' ORDER BY 1",
            (oid,),
        ).fetchall()
        indexes = conn.execute(
            """
            SELECT pg_catalog.quote_ident(%s) || '.' || pg_catalog.quote_ident(%s), i.relname,
                   pg_catalog.pg_get_indexdef(i.oid),
                   CASE co.contype WHEN 'p' THEN 'PRIMARY KEY' WHEN 'u' THEN 'UNIQUE' END,
                   CASE WHEN co.condeferrable THEN ' DEFERRABLE' ELSE '' END
                   || CASE WHEN co.condeferred THEN ' INITIALLY DEFERRED' ELSE '' END,
                   pg_catalog.obj_description(i.oid, 'pg_class'), pg_catalog.obj_description(co.oid, 'pg_constraint')
            FROM pg_catalog.pg_index x
            JOIN pg_catalog.pg_class i ON i.oid = x.indexrelid
            LEFT JOIN pg_catalog.pg_constraint co ON co.conindid = i.oid AND co.contype IN ('p', 'u')
            WHERE x.indrelid = %s ORDER BY i.relname
            """,
            (schema, table, oid),
        ).fetchall()
        found.append(
            LiveTable(
                name=table,
                owner=owner,
                reloptions=tuple(reloptions),
                grants=_grants(conn, acl, owner),
                triggers=tuple((n, d, str(e), c) for n, d, e, c in triggers),
                comment=comment,
                sequences=tuple((s, c) for s, c in sequences),
                indexes=tuple(IndexSpec(table, *row) for row in indexes),
            )
        )
    return found


_DEPENDENT_VIEWS = """
    WITH RECURSIVE deps(oid, depth) AS (
        SELECT r.ev_class, 1
        FROM pg_catalog.pg_depend d JOIN pg_catalog.pg_rewrite r ON r.oid = d.objid
        WHERE d.classid = 'pg_catalog.pg_rewrite'::regclass AND d.refclassid = 'pg_catalog.pg_class'::regclass
          AND r.ev_class <> d.refobjid AND d.refobjid IN (
              SELECT oid FROM pg_catalog.pg_class WHERE relnamespace = %s::regnamespace AND relname = ANY(%s))
        UNION
        SELECT r.ev_class, deps.depth + 1
        FROM deps JOIN pg_catalog.pg_depend d ON d.refobjid = deps.oid
          AND d.refclassid = 'pg_catalog.pg_class'::regclass AND d.classid = 'pg_catalog.pg_rewrite'::regclass
        JOIN pg_catalog.pg_rewrite r ON r.oid = d.objid
        WHERE r.ev_class <> deps.oid AND deps.depth < 50
    )
    SELECT c.oid, n.nspname, c.relname, max(deps.depth), c.relkind, pg_catalog.pg_get_viewdef(c.oid),
           coalesce(c.reloptions, '{}'), pg_catalog.pg_get_userbyid(c.relowner), c.relacl::text,
           pg_catalog.obj_description(c.oid, 'pg_class')
    FROM deps JOIN pg_catalog.pg_class c ON c.oid = deps.oid JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
    GROUP BY c.oid, n.nspname, c.relname
    ORDER BY max(deps.depth), n.nspname, c.relname
"""


def read_views(conn: psycopg.Connection[Any], schema: str, materialized: bool = False) -> list[LiveView]:
    """The views over the live tables, those read by other views after them (or only the materialized ones)."""
    views = []
    for oid, nsp, name, depth, kind, definition, reloptions, owner, acl, comment in conn.execute(
        _DEPENDENT_VIEWS, (schema, list(TABLE_ORDER))
    ).fetchall():
        if (kind == "m") != materialized:
            continue
        columns = conn.execute(
            "SELECT attname, pg_catalog.col_description(attrelid, attnum) FROM pg_catalog.pg_attribute "
            "WHERE attrelid = %s AND attnum > 0 AND pg_catalog.col_description(attrelid, attnum) IS NOT NULL "
            "ORDER BY attnum",
            (oid,),
        ).fetchall()
        views.append(
            LiveView(
                schema=nsp,
                name=name,
                depth=depth,
                definition=definition,
                reloptions=tuple(reloptions),
                owner=owner,
                grants=_grants(conn, acl, owner),
                comment=comment,
                column_comments=tuple((c, d) for c, d in columns),
            )
        )
    return views
