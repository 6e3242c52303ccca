"""Connection strings: resolving, masking and connecting.

Every DSN that reaches a message, log or progress line goes through :func:`mask_dsn` first, and every error
raised while connecting is re-worded through :func:`mask_text`, so a password never reaches the user.
"""

from __future__ import annotations

import os
import re
import time
from collections.abc import Iterable
from typing import Any
from urllib.parse import quote, urlsplit, urlunsplit

import psycopg
from psycopg import conninfo as _conninfo

from .errors import DatabaseUnreachableError, UsageError

__all__ = [
    "DATABASE_URL_ENV",
    "connect",
    "database_name",
    "mask_dsn",
    "mask_text",
    "resolve_dsn",
    "with_database",
]

DATABASE_URL_ENV = "DATABASE_URL"
MASK = "***"

_URL_PASSWORD = re.compile(r"(?P<head>[a-z][a-z0-9+.-]*://[^:/@\s]*):(?P<secret>[^@\s]*)@", re.IGNORECASE)
_KV_PASSWORD = re.compile(r"(?P<head>\bpassword\s*=\s*)(?P<secret>'(?:[^'\\]|\\.)*'|\S+)", re.IGNORECASE)
_CONNECT_TIMEOUT_S = 10


def _is_url(dsn: str) -> bool:
    return dsn.startswith(("postgresql://", "postgres://"))


def mask_dsn(dsn: str) -> str:
    """Return ``dsn`` with its password replaced by ``***`` (URL or key=value form)."""
    masked = _URL_PASSWORD.sub(lambda m: f"{m['head']}:{MASK}@", dsn)
    masked = _KV_PASSWORD.sub(lambda m: f"{m['head']}{MASK}", masked)
    return re.sub(r"([?&]password=)[^&#\s]*", rf"\1{MASK}", masked, flags=re.IGNORECASE)


def _passwords(dsns: Iterable[str]) -> list[str]:
    found: list[str] = []
    for dsn in dsns:
        try:
            password = _conninfo.conninfo_to_dict(dsn).get("password")
        except psycopg.ProgrammingError:
            password = None
        if password:
            found.append(str(password))
            found.append(quote(str(password), safe=""))
    return [p for p in found if p]


def mask_text(text: str, *dsns: str) -> str:
    """Mask DSNs inside free text, and any literal occurrence of the passwords the given DSNs hold."""
    masked = mask_dsn(text)
    for secret in sorted(set(_passwords(dsns)), key=len, reverse=True):
        masked = masked.replace(secret, MASK)
    return masked


def resolve_dsn(explicit: str | None) -> str | None:
    """The DSN the user asked for: ``explicit`` (``--dsn``) first, then ``$DATABASE_URL``, else ``None``."""
    if explicit:
        return explicit
    from_env = os.environ.get(DATABASE_URL_ENV, "").strip()
    return from_env or None


def _check_parses(dsn: str) -> dict[str, Any]:
    try:
        return _conninfo.conninfo_to_dict(dsn)
    except psycopg.ProgrammingError as exc:
        raise UsageError(
            f"malformed DSN {mask_dsn(dsn)!r}: {mask_text(str(exc), dsn)}",
            hint="write it as postgresql://USER:PASSWORD@HOST:PORT/DBNAME or as 'host=... dbname=...'",
        ) from None


def database_name(dsn: str) -> str:
    """The database a DSN connects to (libpq's default: the user name, then the OS user)."""
    params = _check_parses(dsn)
    name = params.get("dbname") or params.get("user") or os.environ.get("PGDATABASE") or os.environ.get("PGUSER")
    if not name:
        import getpass

        name = getpass.getuser()
    return str(name)


def with_database(dsn: str, dbname: str) -> str:
    """The same DSN pointing at another database on the same server."""
    _check_parses(dsn)
    if _is_url(dsn):
        parts = urlsplit(dsn)
        return urlunsplit(parts._replace(path="/" + quote(dbname, safe="")))
    return _conninfo.make_conninfo(dsn, dbname=dbname)


def connect(
    dsn: str,
    *,
    autocommit: bool = True,
    wait_s: float = 0.0,
    connect_timeout_s: int = _CONNECT_TIMEOUT_S,
    application_name: str = "sspp-fixtures",
) -> psycopg.Connection[Any]:
    """Open a connection, retrying for up to ``wait_s`` seconds while the server is not accepting connections.

    Raises :class:`DatabaseUnreachableError` with a masked, one-line explanation when it cannot connect.
    """
    _check_parses(dsn)
    deadline = time.monotonic() + max(wait_s, 0.0)
    delay = 0.1
    while True:
        try:
            return psycopg.connect(
                dsn,
                autocommit=autocommit,
                connect_timeout=connect_timeout_s,
                application_name=application_name,
            )
        except psycopg.OperationalError as exc:
            reason = _explain(exc, dsn)
            if time.monotonic() + delay > deadline or not _worth_retrying(reason):
                waited = f" after waiting {wait_s:g}s" if wait_s > 0 else ""
                raise DatabaseUnreachableError(
                    f"cannot connect to {mask_dsn(dsn)}{waited}: {reason}",
                    hint=_remedy(reason, wait_s),
                    dsn=mask_dsn(dsn),
                ) from None
            time.sleep(delay)
            delay = min(delay * 1.5, 1.0)


def _explain(exc: psycopg.OperationalError, dsn: str) -> str:
    lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
    # libpq repeats "connection to server at ... failed:" per address tried; keep the last, most specific line.
    text = lines[-1] if lines else exc.__class__.__name__
    text = re.sub(r"^(?:connection failed:\s*)?(?:connection to server .*? failed:\s*)?", "", text)
    text = re.sub(r"^(?:FATAL|ERROR):\s+", "", text)
    return mask_text(text, dsn)


def _worth_retrying(reason: str) -> bool:
    lowered = reason.lower()
    permanent = ("password authentication failed", "does not exist", "no password supplied", "role ")
    return not any(marker in lowered for marker in permanent)


def _remedy(reason: str, wait_s: float) -> str:
    lowered = reason.lower()
    if "password" in lowered:
        return "check the user name and password in the DSN"
    if "database" in lowered and "does not exist" in lowered:
        return "create the database first, or point the DSN at an existing one"
    if "does not exist" in lowered:
        return "check the user name in the DSN"
    if wait_s <= 0:
        return "check that the server is running and reachable, or pass --wait SECONDS to wait for it"
    return "check that the server is running and that host and port in the DSN are right"
