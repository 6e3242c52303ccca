"""COPY of chunks onto an open connection: the statement for a table, and ready :class:`Columns` chunks sent
through :class:`CopyText` (the factories' ``create``; the loader streams its own pieces with the same statement)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import psycopg
from psycopg import sql

from ._binary import BINARY_LAYOUTS
from ._formats import CopyText
from ._generate import Columns
from ._tables import TABLES

__all__ = ["copy_columns", "copy_statement"]


def copy_statement(table: str, *, binary: bool = False, freeze: bool = False) -> sql.Composed:
    """``COPY table (columns...) FROM STDIN [(options)]``, identifiers composed, never pasted; ``binary``: the
    columns in the order of the table's binary layout, ``FORMAT binary``."""
    columns = [c for c, _ in BINARY_LAYOUTS[table]] if binary else TABLES[table].columns
    options = [sql.SQL(o) for o, wanted in (("FORMAT binary", binary), ("FREEZE", freeze)) if wanted]
    statement = sql.SQL("COPY {} ({}) FROM STDIN").format(
        sql.Identifier(table), sql.SQL(", ").join(sql.Identifier(c) for c in columns)
    )
    return statement + sql.SQL(" ({})").format(sql.SQL(", ").join(options)) if options else statement


def copy_columns(conn: psycopg.Connection[Any], chunks: Iterable[Columns]) -> int:
    """COPY already-made chunks (the factories' ``create_batch``) on an open connection; returns rows sent."""
    formatter = CopyText()
    sent = 0
    with conn.cursor() as cursor:
        for chunk in chunks:
            if chunk.rows:
                with cursor.copy(copy_statement(chunk.table)) as copy:
                    copy.write(formatter.rows(chunk))
                sent += chunk.rows
    return sent
