"""Creating and dropping whole databases on a server, names always quoted, other users' sessions handled."""

from __future__ import annotations

import contextlib
from typing import Any

import psycopg
from psycopg import sql

from .dsn import connect, database_name, with_database
from .errors import DatabaseUnreachableError, UsageError

__all__ = [
    "create_database",
    "database_exists",
    "drop_database",
    "ensure_database",
]

_MAX_NAME = 63


def _check_name(name: str) -> None:
    if not name or len(name.encode()) > _MAX_NAME:
        raise UsageError(
            f"database name {name!r} is not usable",
            hint=f"use 1 to {_MAX_NAME} bytes, e.g. sspp_dev",
        )


def database_exists(admin: psycopg.Connection[Any], name: str) -> bool:
    row = admin.execute("SELECT 1 FROM pg_catalog.pg_database WHERE datname = %s", (name,)).fetchone()
    return row is not None


def create_database(admin_dsn: str, name: str, *, template: str | None = None) -> None:
    """``CREATE DATABASE name [TEMPLATE template]`` through the server's maintenance DSN."""
    _check_name(name)
    query = sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name))
    if template is not None:
        query = sql.SQL("{} TEMPLATE {}").format(query, sql.Identifier(template))
    with connect(admin_dsn) as admin:
        admin.execute(query)


def drop_database(
    admin: str | psycopg.Connection[Any], name: str, *, missing_ok: bool = True, prefixes: tuple[str, ...] = ()
) -> None:
    """Drop ``name`` with ``FORCE``, ending any session still connected to it: the one way the tool drops a database.

    ``admin`` is the maintenance DSN, or an open autocommit connection to it. What ``FORCE`` cannot get past is
    handled too: prepared transactions left in the database are rolled back, a template flag is cleared.
    ``prefixes``: refuse a name that starts with none of them (callers that drop only what they made).
    """
    _check_name(name)
    if prefixes and not name.startswith(prefixes):
        raise UsageError(f"refusing to drop {name!r}: not a database sspp-fixtures made")
    if isinstance(admin, str):
        with connect(admin) as conn:
            drop_database(conn, name, missing_ok=missing_ok, prefixes=prefixes)
        return
    if name == admin.info.dbname:
        raise UsageError(f"refusing to drop {name!r}: it is the maintenance database the tool connects through")
    query = sql.SQL("DROP DATABASE {}{} WITH (FORCE)").format(
        sql.SQL("IF EXISTS " if missing_ok else ""), sql.Identifier(name)
    )
    try:
        admin.execute(query)
    except psycopg.errors.ObjectInUse:
        if not _rollback_prepared(admin, name):
            raise
        admin.execute(query)
    except psycopg.errors.WrongObjectType:  # "cannot drop a template database"
        admin.execute(sql.SQL("ALTER DATABASE {} WITH IS_TEMPLATE false").format(sql.Identifier(name)))
        admin.execute(query)


def _rollback_prepared(admin: psycopg.Connection[Any], name: str) -> bool:
    """Roll back the prepared transactions of database ``name`` (they survive ``FORCE``); whether there were any."""
    rows = admin.execute("SELECT gid FROM pg_catalog.pg_prepared_xacts WHERE database = %s", (name,)).fetchall()
    if not rows:
        return False
    # The same parameters as ``admin`` (password included) to reach the other database.
    dsn = admin.info.dsn + (f" password={admin.info.password}" if admin.info.password else "")
    with connect(with_database(dsn, name)) as conn:
        for (gid,) in rows:
            with contextlib.suppress(psycopg.Error):
                conn.execute(sql.SQL("ROLLBACK PREPARED {}").format(sql.Literal(gid)))
    return True


def ensure_database(dsn: str) -> bool:
    """Make sure the database a DSN names exists, creating it through the ``postgres`` database if not.

    Returns ``True`` when it had to be created.
    """
    name = database_name(dsn)
    try:
        with connect(dsn):
            return False
    except DatabaseUnreachableError as exc:
        if "does not exist" not in exc.message or name not in exc.message:
            raise
    create_database(with_database(dsn, "postgres"), name)
    return True
