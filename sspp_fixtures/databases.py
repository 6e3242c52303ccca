"""Creating and dropping whole databases on a server, names always quoted, other users' sessions handled."""

from __future__ import annotations

from typing import Any

import psycopg
from psycopg import sql

from .dsn import connect, database_name, with_database
from .errors import DatabaseUnreachableError, UsageError

__all__ = ["create_database", "database_exists", "drop_database", "ensure_database"]

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


def drop_database(admin_dsn: str, name: str, *, missing_ok: bool = True) -> None:
    """Drop ``name``, ending any session still connected to it."""
    _check_name(name)
    if name == database_name(admin_dsn):
        raise UsageError(f"refusing to drop {name!r}: it is the maintenance database the tool connects through")
    with connect(admin_dsn) as admin:
        if missing_ok and not database_exists(admin, name):
            return
        admin.execute(sql.SQL("DROP DATABASE {} WITH (FORCE)").format(sql.Identifier(name)))


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
