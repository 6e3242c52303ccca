"""The three isolation modes: each is one class that owns the connections of its test databases and knows how to
hand a test its database, connect to it, put it back mid-test and release it after the test.

One instance per template and mode lives in the session (:class:`~._session.PluginSession`); a test holds the
:class:`~sspp_fixtures.templates.TestDb` its mode's :meth:`Isolation.acquire` gave and gives it back to
:meth:`Isolation.release`.
"""

from __future__ import annotations

import abc
import contextlib
import functools
from collections.abc import Iterator, Mapping
from typing import TYPE_CHECKING, ClassVar

import psycopg
from psycopg.rows import tuple_row

from ..errors import SsppError, UsageError
from ..templates._reuse import mark_all_changed
from ._config import ISOLATIONS
from ._connection import ROLLBACK_OPTIONS, SESSION_RESET, RolledBackTest, SsppConnection

if TYPE_CHECKING:  # the engines load when a test first asks for a database
    from ..templates import TestDatabases, TestDb

__all__ = ["ISOLATIONS", "TEST_APP", "Isolation", "connect_options", "isolation_for"]

#: The application_name of the plugin's connections to a test's database (what a lock report shows).
TEST_APP = "sspp-test"
_APP = TEST_APP
#: psycopg settings a test may change on ``sspp_db``, put back after it. Autocommit, as in Django: a read holds no
#: lock after it, so the code under test can TRUNCATE or ALTER right after the test read; ``with
#: sspp_db.transaction():`` makes a block atomic.
_CONNECTION_DEFAULTS: dict[str, object] = {
    "autocommit": True,
    "isolation_level": None,
    "read_only": None,
    "deferrable": None,
    "prepare_threshold": 5,
    "row_factory": tuple_row,
}


#: Settings of the plugin's sessions on a test's database: a throw-away database need not wait for the WAL to reach
#: the disk at each commit (sspp_db autocommits: each statement is a commit). Measured (bench_plugin_clients.py):
#: 20 single-row INSERTs take 1.69 ms (median) so, 1.64 ms in one transaction, 5.36 ms with synchronous_commit on.
_SESSION_DEFAULTS = {"synchronous_commit": "off"}


def connect_options(settings: Mapping[str, str]) -> str:
    """libpq ``options`` that start a session on a test's database with ``settings`` (and its defaults)."""
    return " ".join(f"-c {name}={value}" for name, value in {**_SESSION_DEFAULTS, **settings}.items())


class Isolation(abc.ABC):
    """How the tests of one template get their database, in one mode; owns the connections it hands out."""

    name: ClassVar[str]

    def __init__(self, pool: TestDatabases, settings: Mapping[str, str] | None = None) -> None:
        self.pool = pool
        self.settings = dict(settings or {})

    def connect(self, db: TestDb) -> SsppConnection:
        """A new autocommit connection to the test's database, starting with the session's ``settings``
        (``lock_timeout`` and ``idle_in_transaction_session_timeout``: a lock wait fails instead of hanging; the
        database's own defaults, set on each clone when it is made, give every other session ``lock_timeout``)."""
        return SsppConnection.connect(
            db.dsn, autocommit=True, application_name=_APP, options=connect_options(self.settings)
        )

    @abc.abstractmethod
    def acquire(self) -> TestDb:
        """The database for one test."""

    def dsn(self, db: TestDb) -> str:
        """The URL of the test's database, for code under test that connects itself."""
        return db.dsn

    @abc.abstractmethod
    def connected(self, db: TestDb) -> contextlib.AbstractContextManager[SsppConnection]:
        """``sspp_db``: a connection to the test's database for the length of the ``with`` block."""

    @contextlib.contextmanager
    def restoring(self, db: TestDb, conn: SsppConnection) -> Iterator[None]:
        """Run the block, then put the seeded data back while ``conn`` stays open (one Hypothesis example)."""
        try:
            yield
        finally:
            if not conn.closed:
                conn.rollback()
            self.pool.restore(db, keep_pids=[conn.info.backend_pid])

    @abc.abstractmethod
    def release(self, db: TestDb) -> None:
        """After the test: put the database back for the next one, or have it replaced."""

    @abc.abstractmethod
    def close(self) -> None:
        """Close the connections this mode keeps between tests (the session's end)."""

    def _bind(self, db: TestDb, conn: SsppConnection) -> SsppConnection:
        conn.bind_restore(functools.partial(self.restoring, db, conn))
        return conn


class ReuseDatabase(Isolation):
    """``database``: the test's own database, restored in place after it (or recycled when it cannot be).

    The connection ``sspp_db`` gave stays open for the next test on that database: a connect costs more here than
    the plugin's whole restore (measured: 4.8 ms against 1.7 ms). After each test it is rolled back and its
    session reset; one the test broke, or whose database was recycled, is closed.
    """

    name = "database"

    def __init__(self, pool: TestDatabases, settings: Mapping[str, str] | None = None) -> None:
        super().__init__(pool, settings)
        self._kept: dict[str, SsppConnection] = {}

    def acquire(self) -> TestDb:
        return self.pool.acquire()

    @contextlib.contextmanager
    def connected(self, db: TestDb) -> Iterator[SsppConnection]:
        conn = self._kept.get(db.name)
        if conn is None or conn.closed or conn.broken:
            conn = self.connect(db)
            self._kept[db.name] = conn
        yield self._bind(db, conn)

    def release(self, db: TestDb) -> None:
        conn = self._kept.get(db.name)
        if conn is not None and not _reset(conn):
            self._forget(db.name)
            conn = None
        keep = [conn.info.backend_pid] if conn is not None else []
        if not self.pool.release(db, keep_pids=keep).reused:
            self._forget(db.name)

    def close(self) -> None:
        for name in list(self._kept):
            self._forget(name)

    def _forget(self, name: str) -> None:
        conn = self._kept.pop(name, None)
        if conn is not None:
            with contextlib.suppress(Exception):
                conn.close()


class FreshClone(Isolation):
    """``clone``: a never-used clone per test, dropped after it; ``sspp_db`` is a connection of the test's own."""

    name = "clone"

    def acquire(self) -> TestDb:
        return self.pool.acquire(fresh=True)

    @contextlib.contextmanager
    def connected(self, db: TestDb) -> Iterator[SsppConnection]:
        conn = self.connect(db)
        try:
            yield self._bind(db, conn)
        finally:
            conn.close()

    def release(self, db: TestDb) -> None:
        self.pool.release(db)

    def close(self) -> None:
        """Nothing to close: each test's connection was closed when ``sspp_db`` ended."""


class RolledBack(Isolation):
    """``transaction``: one database and one open connection for all such tests of a template; each test runs in
    a transaction that is rolled back, so it pays no connect (the path under a millisecond; one round trip a test:
    the teardown's message opens the next test's transaction, see :class:`RolledBackTest`).

    A connection a test broke is replaced, and its database put back, before the next test.
    """

    name = "transaction"

    def __init__(self, pool: TestDatabases, settings: Mapping[str, str] | None = None) -> None:
        super().__init__(pool, settings)
        self._held: tuple[TestDb, SsppConnection] | None = None

    def acquire(self) -> TestDb:
        if self._held is not None and not (self._held[1].closed or self._held[1].broken):
            return self._held[0]
        self.close()
        db = self.pool.acquire()
        # No other session can reach the test's transaction (sspp_dsn and sspp_adb are refused), so no limit on
        # idling in it; a startup option outranks the server's and the database's settings, and RESET ALL goes back
        # to it: the next test's BEGIN can always go out with this one's ROLLBACK (one round trip a test).
        settings = {**self.settings, "idle_in_transaction_session_timeout": "0", **ROLLBACK_OPTIONS}
        conn = SsppConnection.connect(db.dsn, autocommit=True, application_name=_APP, options=connect_options(settings))
        self._held = (db, conn)
        return db

    def dsn(self, db: TestDb) -> str:
        raise UsageError(
            "sspp_dsn is not available with isolation='transaction': other connections would commit outside the "
            "test's transaction",
            hint="use isolation='database' (the default)",
        )

    @contextlib.contextmanager
    def connected(self, db: TestDb) -> Iterator[SsppConnection]:
        assert self._held is not None
        assert self._held[0] is db
        conn = self._bind(db, self._held[1])
        test = RolledBackTest(conn, begin_ahead=True)
        try:
            with test:
                yield conn
        finally:
            if test.escaped:
                self._restore_after_escape()

    @contextlib.contextmanager
    def restoring(self, db: TestDb, conn: SsppConnection) -> Iterator[None]:
        """Run the block in a savepoint that is rolled back."""
        with conn.transaction(force_rollback=True):
            yield

    def release(self, db: TestDb) -> None:
        """Nothing to do: the test's transaction was rolled back when ``sspp_db`` ended."""

    def close(self) -> None:
        held, self._held = self._held, None
        if held is not None:
            with contextlib.suppress(Exception):
                held[1].close()
            self.pool.release(held[0])

    def _restore_after_escape(self) -> None:
        """Put the held database back now, every table whole: a test committed writes no mark tells the restore of.
        Where that cannot be done in place (the test's commit held DDL), the database is given back and replaced."""
        assert self._held is not None
        db, conn = self._held
        try:
            conn.rollback()  # the next test's transaction, begun ahead
            mark_all_changed(conn)
            self.pool.restore(db, keep_pids=[conn.info.backend_pid])
        except (psycopg.Error, SsppError):
            self.close()


_MODES: dict[str, type[Isolation]] = {mode.name: mode for mode in (ReuseDatabase, FreshClone, RolledBack)}
if tuple(_MODES) != ISOLATIONS:  # the names are listed in _config, which the plugin imports at start-up
    raise ImportError(f"isolation classes {tuple(_MODES)} do not match _config.ISOLATIONS {ISOLATIONS}")


def isolation_for(name: str, pool: TestDatabases, settings: Mapping[str, str] | None = None) -> Isolation:
    """The mode called ``name`` for the test databases of ``pool``; its connections start with ``settings``."""
    return _MODES[name](pool, settings)


def _reset(conn: SsppConnection) -> bool:
    """Roll back and reset a kept connection's session and psycopg settings; ``False`` if the test broke it."""
    if conn.closed or conn.broken:
        return False
    try:
        conn.rollback()
        conn.autocommit = True
        conn.execute(SESSION_RESET)
        for setting, value in _CONNECTION_DEFAULTS.items():
            setattr(conn, setting, value)
    except psycopg.Error:
        return False
    return True
