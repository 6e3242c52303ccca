"""The swap: in one short transaction, the filled shadow tables take the live tables' place.

The live tables are locked (within the lock timeout), the views over them dropped, the live tables dropped and
the shadow tables moved into the live schema; owners, grants, triggers, comments, the serial sequences'
ownership and values, the views and the marker are put back. Before the commit, the catalog of the new tables is
compared with what the old ones had: any difference rolls the swap back, and the live tables stay as they were.
"""

from __future__ import annotations

from typing import Any

import psycopg
from psycopg import sql

from ..bulkgen import TABLE_ORDER
from ..errors import LoadError
from ._live import LiveTable, LiveView
from ._signature import catalog_signature, first_difference

__all__ = ["swap_in"]


def swap_in(
    conn: psycopg.Connection[Any],
    *,
    shadow: str,
    live: str,
    tables: list[LiveTable],
    views: list[LiveView],
    last_steps: list[tuple[str, Any]],
) -> None:
    """Swap the shadow tables in, inside ``conn``'s current transaction (the caller commits).

    ``last_steps`` are (description, callable(conn)) run after the swap and before the catalog check: the
    sequences' values and the marker.
    """
    names = [sql.Identifier(live, t) for t in TABLE_ORDER]
    conn.execute(sql.SQL("LOCK TABLE {} IN ACCESS EXCLUSIVE MODE").format(sql.SQL(", ").join(names)))
    before = catalog_signature(conn, live)
    for view in reversed(views):
        conn.execute(sql.SQL("DROP VIEW {}").format(sql.Identifier(view.schema, view.name)))
    for table in tables:
        for sequence, _column in table.sequences:
            conn.execute(sql.SQL("ALTER SEQUENCE {} OWNED BY NONE").format(sql.SQL(sequence)))
        conn.execute(sql.SQL("DROP TABLE {}").format(sql.Identifier(live, table.name)))
    for table in tables:
        _take_place(conn, table, shadow, live)
    for view in views:
        _recreate_view(conn, view)
    for _what, step in last_steps:
        step(conn)
    after = catalog_signature(conn, live)
    if after != before:
        raise LoadError(
            f"the parallel load could not rebuild the tables exactly: {first_difference(before, after)}; "
            "the swap was rolled back and the live tables are as they were",
            hint="load with --connections 1, and report this difference",
        )
    conn.execute(sql.SQL("DROP SCHEMA {}").format(sql.Identifier(shadow)))


def _take_place(conn: psycopg.Connection[Any], table: LiveTable, shadow: str, live: str) -> None:
    target = sql.Identifier(live, table.name)
    conn.execute(
        sql.SQL("ALTER TABLE {} SET SCHEMA {}").format(sql.Identifier(shadow, table.name), sql.Identifier(live))
    )
    conn.execute(sql.SQL("ALTER TABLE {} OWNER TO {}").format(target, sql.Identifier(table.owner)))
    _grant(conn, sql.SQL("TABLE {}").format(target), table.grants)
    if table.comment is not None:
        conn.execute(sql.SQL("COMMENT ON TABLE {} IS {}").format(target, sql.Literal(table.comment)))
    for name, definition, enabled, comment in table.triggers:
        conn.execute(definition.encode())
        if enabled != "O":
            how = {"D": "DISABLE", "R": "ENABLE REPLICA", "A": "ENABLE ALWAYS"}[enabled]
            conn.execute(sql.SQL("ALTER TABLE {} " + how + " TRIGGER {}").format(target, sql.Identifier(name)))
        if comment is not None:
            conn.execute(
                sql.SQL("COMMENT ON TRIGGER {} ON {} IS {}").format(sql.Identifier(name), target, sql.Literal(comment))
            )
    for sequence, column in table.sequences:
        conn.execute(
            sql.SQL("ALTER SEQUENCE {} OWNED BY {}").format(sql.SQL(sequence), sql.Identifier(live, table.name, column))
        )


def _recreate_view(conn: psycopg.Connection[Any], view: LiveView) -> None:
    target = sql.Identifier(view.schema, view.name)
    options = (
        sql.SQL(" WITH ({})").format(sql.SQL(", ").join(map(sql.SQL, view.reloptions)))
        if view.reloptions
        else sql.SQL("")
    )
    conn.execute(
        sql.SQL("CREATE VIEW {}{} AS ").format(target, options) + sql.SQL(view.definition.rstrip().rstrip(";"))
    )
    conn.execute(sql.SQL("ALTER VIEW {} OWNER TO {}").format(target, sql.Identifier(view.owner)))
    _grant(conn, sql.SQL("TABLE {}").format(target), view.grants)
    if view.comment is not None:
        conn.execute(sql.SQL("COMMENT ON VIEW {} IS {}").format(target, sql.Literal(view.comment)))
    for column, comment in view.column_comments:
        conn.execute(
            sql.SQL("COMMENT ON COLUMN {} IS {}").format(
                sql.Identifier(view.schema, view.name, column), sql.Literal(comment)
            )
        )


def _grant(conn: psycopg.Connection[Any], target: sql.Composable, grants: tuple[tuple[str, str, bool], ...]) -> None:
    """Replay grants in their ACL order, one statement per grantee and grant option, so the ACL comes out the same."""
    for grantee, privilege, grantable in grants:
        conn.execute(
            sql.SQL("GRANT " + privilege + " ON {} TO " + grantee + (" WITH GRANT OPTION" if grantable else "")).format(
                target
            )
        )
