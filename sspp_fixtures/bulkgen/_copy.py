"""COPY of chunks onto an open connection: the statement for a table, and ready :class:`Columns` chunks sent
through :class:`CopyText` (the factories' ``create``; the loader streams its own pieces with the same statement)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import psycopg
from psycopg import sql

from ._formats import CopyText
from ._generate import Columns
from ._tables import TABLES

__all__ = ["copy_columns", "copy_statement"]


def copy_statement(table: str) -> sql.Composed:
    """``COPY table (columns...) FROM STDIN``, identifiers composed, never pasted."""
    spec = TABLES[table]
    return sql.SQL("COPY {} ({}) FROM STDIN").format(
        sql.Identifier(table), sql.SQL(", ").join(sql.Identifier(c) for c in spec.columns)
    )


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
