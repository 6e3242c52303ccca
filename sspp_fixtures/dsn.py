"""Connection strings: resolving, masking and connecting.

Every DSN that reaches a message, log or progress line goes through :func:`mask_dsn` first, and every error
raised while connecting is re-worded through :func:`mask_text`, so a password never reaches the user.
"""

from __future__ import annotations

import os
import re
import time
from typing import Any
from urllib.parse import quote, urlsplit, urlunsplit

import psycopg
from psycopg import conninfo as _conninfo

from ._dsnmask import mask_dsn, mask_text
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
_CONNECT_TIMEOUT_S = 10


def _is_url(dsn: str) -> bool:
    return dsn.startswith(("postgresql://", "postgres://"))


def resolve_dsn(explicit: str | None) -> str | None:
    """The DSN the user asked for: ``explicit`` (``--dsn``) first, then ``$DATABASE_URL``, else ``None``."""
    if explicit:
        return explicit
    from_env = os.environ.get(DATABASE_URL_ENV, "").strip()
    return from_env or None


#: libpq's environment variables that choose a server or database, with the keyword each stands for; psql
#: connects where they say when it is given no connection string, and so does every command here.
LIBPQ_TARGET_ENV = {
    "PGSERVICE": "service",
    "PGHOST": "host",
    "PGHOSTADDR": "hostaddr",
    "PGPORT": "port",
    "PGUSER": "user",
    "PGDATABASE": "dbname",
}


def libpq_env_dsn() -> tuple[str, list[str]] | None:
    """A key=value DSN from libpq's environment (``PGHOST``, ``PGPORT``, ``PGUSER``, ``PGDATABASE``, ...) and the
    variables it came from, or ``None`` when none of them is set. ``PGPASSWORD`` and the other variables are
    left to libpq, which reads them when connecting, so no password is ever written into the DSN."""
    given = {name: os.environ[name].strip() for name in LIBPQ_TARGET_ENV if os.environ.get(name, "").strip()}
    if not given:
        return None
    params = {LIBPQ_TARGET_ENV[name]: value for name, value in given.items()}
    if "dbname" not in params and "service" not in params:  # libpq's default, written out for messages
        params["dbname"] = params.get("user") or _os_user()
    return _conninfo.make_conninfo("", **params), list(given)


def _os_user() -> str:
    import getpass

    return getpass.getuser()


_SCHEME = re.compile(r"^(?P<scheme>[A-Za-z][A-Za-z0-9+.-]*)://")
_DSN_FORMS = (
    "write it as postgresql://USER@HOST:PORT/DBNAME (with :PASSWORD after USER if needed) or as 'host=... dbname=...'"
)


def _malformed(dsn: str, problem: str, hint: str = _DSN_FORMS) -> UsageError:
    shown = mask_text(dsn, dsn)
    return UsageError(f"malformed DSN {shown!r}: {mask_text(problem, dsn)}", hint=hint, dsn=shown)


def _unencoded_at(url: str) -> bool:
    """Two ``@`` in a URL's authority (no ``/``, ``?`` or ``#`` between them): one is part of a password."""
    first, last = url.find("@", url.find("://") + 3), url.rfind("@")
    return 0 <= first < last and not any(mark in url[first:last] for mark in "/?#")


def _check_parses(dsn: str) -> dict[str, Any]:
    """libpq's reading of ``dsn``; anything it would only refuse when connecting (a port that is not a
    number, a URL of another database) is refused here, as a usage error."""
    scheme = _SCHEME.match(dsn)
    if scheme and not _is_url(dsn):
        if scheme["scheme"].lower() in ("postgresql", "postgres"):
            raise _malformed(dsn, "the scheme must be written in lower case", hint="begin it with postgresql://")
        raise _malformed(
            dsn,
            f"{scheme['scheme'][:20]}:// is not a PostgreSQL URL",
            hint="write a postgresql://USER@HOST:PORT/DBNAME URL: sspp-fixtures works with PostgreSQL only",
        )
    if not scheme and "=" not in dsn and dsn.strip():
        raise _malformed(dsn, "neither a postgresql:// URL nor key=value pairs")
    if _is_url(dsn) and _unencoded_at(dsn):
        raise _malformed(
            dsn,
            "its credentials hold an unencoded '@' (libpq would read the rest of the password as the host name)",
            hint="write @ in a URL's user name or password as %40",
        )
    try:
        params = _conninfo.conninfo_to_dict(dsn)
    except psycopg.ProgrammingError as exc:
        raise _malformed(dsn, " ".join(mask_text(str(exc), dsn).split())) from None
    for port in str(params.get("port") or "").split(","):
        if port.strip() and not (port.strip().isdigit() and 0 < int(port) < 65536):
            raise _malformed(dsn, "the port is not a number from 1 to 65535")
    return params


def _connect_timeout(params: dict[str, Any], dsn: str, asked_s: int | None) -> dict[str, Any]:
    """``connect_timeout`` for psycopg. The user's (the DSN's ``connect_timeout``, else $PGCONNECT_TIMEOUT)
    wins over the default; a caller's explicit bound (a quick probe) caps it."""
    given = params.get("connect_timeout", os.environ.get("PGCONNECT_TIMEOUT"))
    if given is None or not str(given).strip():
        return {"connect_timeout": asked_s if asked_s is not None else _CONNECT_TIMEOUT_S}
    try:
        users = float(str(given))
    except ValueError:
        raise _malformed(
            dsn, f"connect_timeout {str(given)[:20]!r} is not a number of seconds", hint="e.g. connect_timeout=10"
        ) from None
    if asked_s is not None and (users <= 0 or users > asked_s):  # 0 or less means "wait forever" to libpq
        return {"connect_timeout": asked_s}
    return {}


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
    connect_timeout_s: int | None = None,
    application_name: str = "sspp-fixtures",
) -> psycopg.Connection[Any]:
    """Open a connection, retrying for up to ``wait_s`` seconds while the server is not accepting connections.

    Each attempt gives up after the DSN's ``connect_timeout``, else ``$PGCONNECT_TIMEOUT``, else 10 s;
    ``connect_timeout_s`` caps that (callers that only probe pass a few seconds).

    Raises :class:`DatabaseUnreachableError` with a masked, one-line explanation when it cannot connect.
    """
    timeout = _connect_timeout(_check_parses(dsn), dsn, connect_timeout_s)
    deadline = time.monotonic() + max(wait_s, 0.0)
    delay = 0.1
    while True:
        try:
            return psycopg.connect(dsn, autocommit=autocommit, application_name=application_name, **timeout)
        except psycopg.OperationalError as exc:
            reason = _explain(exc, dsn)
            if time.monotonic() + delay > deadline or not _worth_retrying(reason):
                waited = f" after waiting {wait_s:g}s" if wait_s > 0 else ""
                raise DatabaseUnreachableError(
                    f"cannot connect to {mask_dsn(dsn)}{waited}: {reason}",
                    hint=_remedy(reason, wait_s),
                    dsn=mask_dsn(dsn),
                    missing_database=_missing_database(reason),
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


def _missing_database(reason: str) -> bool:
    lowered = reason.lower()
    return "database" in lowered and "does not exist" in lowered


def _remedy(reason: str, wait_s: float) -> str:
    lowered = reason.lower()
    if "password" in lowered:
        return "check the user name and password in the DSN"
    if _missing_database(reason):
        return (
            "create the database first (sspp-seed init --create --dsn ..., or createdb NAME), "
            "or check the database name in the DSN"
        )
    if "does not exist" in lowered:
        return "check the user name in the DSN"
    if "timeout expired" in lowered:
        return (
            "the server did not answer in time: check host and port in the DSN and that no firewall drops the "
            "connection (connect_timeout=SECONDS in the DSN or $PGCONNECT_TIMEOUT sets how long to try)"
        )
    if wait_s <= 0:
        return "check that the server is running and reachable, or pass --wait SECONDS to wait for it"
    return "check that the server is running and that host and port in the DSN are right"
