"""The shadow schema a parallel load fills: its name, the lock that says its load is alive, and the sweep.

A shadow schema is named ``sspp_load_<pid>_<n>`` (the loading process and a number of its own). While its load
runs, the load's first connection holds a session advisory lock keyed on that name; the server releases it when
that session ends, however the process ended. A shadow schema whose lock is free belongs to no running load,
and :func:`sweep_shadow_schemas` drops it.
"""

from __future__ import annotations

import contextlib
import itertools
import os
import socket
from typing import Any

import psycopg
from psycopg import sql

from ..dsn import connect

__all__ = ["SHADOW_PREFIX", "claim_shadow_schema", "shadow_schemas", "sweep_shadow_schemas"]

SHADOW_PREFIX = "sspp_load_"

#: First key of the two-key advisory locks that mark a shadow schema in use (second key: hash of its name).
_LOCK_CLASS = 0x5550_4C44  # "SPLD"

_counter = itertools.count()
#: How a shadow schema's comment starts: a schema with our prefix but not this comment is not ours to drop.
_COMMENT_START = "sspp-fixtures parallel load in progress"

_LIKE_OPTIONS = (
    "INCLUDING DEFAULTS INCLUDING CONSTRAINTS INCLUDING COMMENTS INCLUDING GENERATED INCLUDING STORAGE "
    "INCLUDING COMPRESSION"
)


def _lock_args(schema: str) -> sql.Composed:
    return sql.SQL("{}, pg_catalog.hashtext({})").format(sql.Literal(_LOCK_CLASS), sql.Literal(schema))


def claim_shadow_schema(conn: psycopg.Connection[Any], what: str) -> str:
    """Create a new shadow schema, locked by ``conn``'s session (autocommit) for as long as it lives."""
    while True:
        schema = f"{SHADOW_PREFIX}{os.getpid()}_{next(_counter)}"
        conn.execute(sql.SQL("SELECT pg_catalog.pg_advisory_lock({})").format(_lock_args(schema)))
        comment = f"{_COMMENT_START} ({what}; process {os.getpid()} on {socket.gethostname()})"
        try:
            with conn.transaction():  # the schema never exists without the comment that says it is ours
                conn.execute(sql.SQL("CREATE SCHEMA {}").format(sql.Identifier(schema)))
                conn.execute(sql.SQL("COMMENT ON SCHEMA {} IS {}").format(sql.Identifier(schema), sql.Literal(comment)))
        except psycopg.errors.DuplicateSchema:  # another host's process with our pid: next number
            conn.execute(sql.SQL("SELECT pg_catalog.pg_advisory_unlock({})").format(_lock_args(schema)))
            continue
        return schema


def create_shadow_table(
    conn: psycopg.Connection[Any], shadow: str, live: str, table: str, options: tuple[str, ...]
) -> None:
    """``shadow.table`` like ``live.table``: columns, defaults, checks, comments, storage; no index, no key."""
    with_options = sql.SQL(" WITH ({})").format(sql.SQL(", ").join(map(sql.SQL, options))) if options else sql.SQL("")
    conn.execute(
        sql.SQL("CREATE TABLE {} (LIKE {} " + _LIKE_OPTIONS + "){}").format(
            sql.Identifier(shadow, table), sql.Identifier(live, table), with_options
        )
    )


def shadow_schemas(conn: psycopg.Connection[Any]) -> list[str]:
    """Every shadow schema in the database, whichever load made it (named with our prefix *and* commented by us)."""
    return [
        str(r[0])
        for r in conn.execute(
            "SELECT nspname FROM pg_catalog.pg_namespace WHERE nspname LIKE %s "
            "AND pg_catalog.obj_description(oid, 'pg_namespace') LIKE %s ORDER BY nspname",
            (SHADOW_PREFIX.replace("_", r"\_") + "%", _COMMENT_START + "%"),
        ).fetchall()
    ]


def drop_shadow_schema(conn: psycopg.Connection[Any], schema: str) -> None:
    """Drop a shadow schema and all it holds (autocommit ``conn``), waiting a few seconds at most for locks."""
    with conn.transaction():
        conn.execute("SET LOCAL lock_timeout = '5s'")
        conn.execute(sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(sql.Identifier(schema)))


def release_shadow_schema(conn: psycopg.Connection[Any], schema: str) -> None:
    with contextlib.suppress(psycopg.Error):
        conn.execute(sql.SQL("SELECT pg_catalog.pg_advisory_unlock({})").format(_lock_args(schema)))


def sweep_shadow_schemas(dsn: str, *, wait_s: float = 0.0) -> list[str]:
    """Drop the shadow schemas no running load holds (left by a killed load); returns the names dropped.

    A schema still locked (its load runs, or its killed process's sessions have not ended yet) is left alone;
    so is one whose tables stay locked for more than a few seconds: the next sweep gets it.
    """
    dropped = []
    with connect(dsn, wait_s=wait_s, application_name="sspp-fixtures shadow sweep") as conn:
        for schema in shadow_schemas(conn):
            row = conn.execute(
                sql.SQL("SELECT pg_catalog.pg_try_advisory_lock({})").format(_lock_args(schema))
            ).fetchone()
            if not row or not row[0]:
                continue
            try:
                drop_shadow_schema(conn, schema)
                dropped.append(schema)
            except psycopg.errors.LockNotAvailable:
                pass
            finally:
                release_shadow_schema(conn, schema)
    return dropped
