"""Fixtures for the client libraries services use: ``sspp_url`` (the test database's URL for a driver, as SQLAlchemy
spells it) and ``sspp_adb`` (a psycopg ``AsyncConnection`` for async tests under anyio or pytest-asyncio).

Nothing here imports psycopg at module level: the plugin loads without it until a test asks for a database.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Coroutine, Iterator
from typing import TYPE_CHECKING, Any, TypeVar
from urllib.parse import quote, urlencode, urlsplit, urlunsplit

import pytest

from ..errors import UsageError
from ._session import plugin_session
from ._test_database import item_database_for

if TYPE_CHECKING:
    import psycopg
    from psycopg.rows import TupleRow

__all__ = ["driver_url", "sspp_adb", "sspp_url"]

_T = TypeVar("_T")
_DRIVER = re.compile(r"[a-z][a-z0-9_]*")


def driver_url(dsn: str, driver: str | None = None) -> str:
    """``dsn`` as a URL for ``driver``: ``postgresql+<driver>://...`` (SQLAlchemy's spelling), or plain
    ``postgresql://...`` for ``None``. A ``key=value`` DSN is turned into a URL first."""
    if driver is not None and not _DRIVER.fullmatch(driver):
        raise UsageError(
            f"sspp_url({driver!r}): not a driver name", hint="e.g. None, 'psycopg', 'psycopg2', 'asyncpg', 'pg8000'"
        )
    scheme = "postgresql" if driver is None else f"postgresql+{driver}"
    if dsn.startswith(("postgresql://", "postgres://")):
        return urlunsplit(urlsplit(dsn)._replace(scheme=scheme))
    from psycopg.conninfo import conninfo_to_dict

    params = {key: str(value) for key, value in conninfo_to_dict(dsn).items()}
    user, password = params.pop("user", ""), params.pop("password", "")
    host, port, dbname = params.pop("host", ""), params.pop("port", ""), params.pop("dbname", "")
    if host.startswith("/"):  # a Unix socket folder goes in the query, where libpq and SQLAlchemy read it
        params["host"], host = host, ""
    auth = quote(user, safe="") + (":" + quote(password, safe="") if password else "")
    netloc = (auth + "@" if auth else "") + host + (":" + port if port else "")
    return urlunsplit((scheme, netloc, "/" + quote(dbname, safe=""), urlencode(params), ""))


@pytest.fixture
def sspp_url(sspp_dsn: str) -> Callable[[str | None], str]:
    """``sspp_url(driver=None)``: this test's database as a URL for a driver, as SQLAlchemy spells it:
    ``sspp_url("psycopg")`` is ``postgresql+psycopg://...``, ``sspp_url()`` plain ``postgresql://...``.
    Available where ``sspp_dsn`` is (not with isolation 'transaction')."""

    def url(driver: str | None = None) -> str:
        return driver_url(sspp_dsn, driver)

    return url


def _run_aside(coroutine: Coroutine[Any, Any, _T]) -> _T:
    """Run ``coroutine`` to completion on an event loop of its own in another thread, so that the test's event loop
    (anyio's, pytest-asyncio's, any loop scope) is neither needed nor disturbed."""
    import asyncio
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(1, thread_name_prefix="sspp-adb") as executor:
        return executor.submit(asyncio.run, coroutine).result()


@pytest.fixture
def sspp_adb(request: pytest.FixtureRequest) -> Iterator[psycopg.AsyncConnection[TupleRow]]:
    """A psycopg ``AsyncConnection`` to this test's database, for ``async def`` tests under anyio
    (``@pytest.mark.anyio``, asyncio backend) or pytest-asyncio (strict or auto mode, any loop scope).

    Like ``sspp_db`` with isolation 'database' or 'clone': autocommit, ``lock_timeout`` and
    ``idle_in_transaction_session_timeout`` set, the database put back after the test. It is a plain (sync) fixture
    whose connection is opened and closed on a loop of its own: a psycopg connection is bound to no event loop, so
    the test awaits it on whichever loop runs the test, with no async-fixture plugin involved. With isolation
    'transaction' it is refused, as ``sspp_dsn`` is: its commits would escape the test's transaction.
    """
    import psycopg

    from ._isolation import TEST_APP, connect_options

    database = item_database_for(request, plugin_session(request.config))
    mode, db = database.mode, database.db
    if mode.name == "transaction":
        raise UsageError(
            "sspp_adb is not available with isolation='transaction': its commits would escape the test's transaction",
            hint="use isolation='database' (the default) or 'clone'",
        )
    options = connect_options(mode.settings)
    conn = _run_aside(
        psycopg.AsyncConnection.connect(db.dsn, autocommit=True, application_name=TEST_APP, options=options)
    )
    try:
        yield conn
    finally:
        if not conn.closed:
            _run_aside(conn.close())
