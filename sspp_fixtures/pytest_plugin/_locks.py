"""Lock waits between a test's own sessions (``sspp_db``, ``sspp_adb``) and the code under test end in an error, not a
hang, and the failure report names the sessions on the test's database, what each held and waited for, and says what
to do: the traceback alone shows only one side of the wait.

Every session on a test's database starts with ``lock_timeout`` (a default of the database, set on each clone when
it is made); the plugin's own also with ``idle_in_transaction_session_timeout``. While a test runs, a watch looks at
the database's sessions: it keeps what it saw during a wait for the report, and cancels a statement that has waited
longer than ``lock_timeout`` for a lock one of the test's own sessions holds even though its session turned
``lock_timeout`` off: single-threaded, the test can never let go of that lock.
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Generator, Iterator
from typing import TYPE_CHECKING, Any

import pytest

from ._test_database import item_database

if TYPE_CHECKING:
    import psycopg

__all__ = ["LOCK_SQLSTATES", "LockWatch", "lock_report", "pytest_runtest_call", "pytest_runtest_makereport"]

#: The SQLSTATEs a lock wait ends in: lock_not_available (lock_timeout, NOWAIT), idle_in_transaction_session_timeout,
#: deadlock_detected.
LOCK_SQLSTATES = {
    "55P03": "a statement waited longer than lock_timeout for a lock",
    "25P03": "a session sat idle in a transaction longer than idle_in_transaction_session_timeout and was ended",
    "40P01": "a deadlock",
    "57014": "the plugin cancelled a statement that waited longer than lock_timeout for a lock a session of the test "
    "(sspp_db, sspp_adb) held",
}
_WATCH = pytest.StashKey["LockWatch"]()
_APP = "sspp-fixtures-lock-watch"
_OWN = ("sspp_db", "sspp_adb")

_SESSIONS_SQL = """
SELECT a.pid, a.application_name, a.state, extract(epoch FROM now() - a.xact_start)::float8,
       left(regexp_replace(a.query, '\\s+', ' ', 'g'), 160),
       (SELECT string_agg(l.mode || ' on ' || coalesce(c.relname, l.locktype)
                          || CASE WHEN l.granted THEN '' ELSE ' (WAITING)' END, ', ' ORDER BY l.granted, c.relname)
          FROM pg_locks l LEFT JOIN pg_class c ON c.oid = l.relation
         WHERE l.pid = a.pid AND l.locktype IN ('relation', 'advisory', 'transactionid')
           AND (c.oid IS NULL OR c.relnamespace <> 'pg_catalog'::regnamespace)
           AND (l.locktype <> 'transactionid' OR NOT l.granted)),
       pg_blocking_pids(a.pid),
       CASE WHEN a.wait_event_type = 'Lock' THEN extract(epoch FROM now() - a.query_start)::float8 END
  FROM pg_stat_activity a
 WHERE a.datname = current_database() AND a.pid <> pg_backend_pid() AND a.backend_type = 'client backend'
   AND a.application_name NOT LIKE 'sspp-fixtures-%'
 ORDER BY a.pid
"""

_ADVICE_TEST_HOLDS = (
    "What to do: a session of the test kept a transaction open while the code under test needed a lock it held. "
    "End that transaction before the code under test runs (sspp_db autocommits unless you opened one: close the "
    "`with sspp_db.transaction():` block, or commit()/rollback() it), or let the code under test use the same "
    "connection."
)
_ADVICE_CODE_HOLDS = (
    "What to do: the code under test kept a transaction open, holding a lock the test's own session needed. Have it "
    "commit or roll back (or give its connection back to its pool) before the test uses the same table."
)
_ADVICE_IDLE = (
    "What to do: keep a transaction of sspp_db or sspp_adb short (both autocommit unless you open one), or raise "
    "--sspp-idle-timeout while you stop in a debugger inside one."
)
_LIMITS = "The limits are --sspp-lock-timeout and --sspp-idle-timeout (ini sspp_lock_timeout, sspp_idle_timeout)."
_UNITS = {"ms": 0.001, "s": 1.0, "min": 60.0, "h": 3600.0, "": 0.001}  # a bare number is milliseconds to PostgreSQL
Session = tuple[Any, ...]


def _chain(error: BaseException) -> Iterator[BaseException]:
    """``error`` and what it wraps: ``__cause__``/``__context__``, SQLAlchemy's ``.orig``, an ExceptionGroup's."""
    seen: set[int] = set()
    todo = [error]
    while todo:
        current = todo.pop()
        if id(current) in seen:
            continue
        seen.add(id(current))
        yield current
        todo.extend(e for e in (current.__cause__, current.__context__, getattr(current, "orig", None)) if e)
        if isinstance(current, BaseExceptionGroup):
            todo.extend(current.exceptions)


def _sqlstate(error: BaseException, *, cancelled: bool) -> str | None:
    """The SQLSTATE of a lock-wait error anywhere in ``error``'s chain (psycopg, psycopg2, asyncpg, wrapped);
    a cancelled statement counts only if the watch ``cancelled`` one."""
    for current in _chain(error):
        for attribute in ("sqlstate", "pgcode"):
            code = getattr(current, attribute, None)
            if isinstance(code, str) and code in LOCK_SQLSTATES and (code != "57014" or cancelled):
                return code
    return None


def _pid(conn: Any) -> int | None:
    try:
        return None if conn is None or conn.closed else int(conn.info.backend_pid)
    except Exception:
        return None


def _seconds(duration: str) -> float:
    number = duration.rstrip("abcdefghijklmnopqrstuvwxyz")
    return float(number) * _UNITS[duration[len(number) :]]


def _connect(dsn: str) -> psycopg.Connection[Any]:
    import psycopg

    options = "-c statement_timeout=5s -c lock_timeout=2s"
    return psycopg.connect(dsn, autocommit=True, connect_timeout=5, application_name=_APP, options=options)


def sessions(conn: psycopg.Connection[Any]) -> list[Session]:
    """The client sessions on ``conn``'s database but its own: pid, application_name, state, seconds in a
    transaction, last statement, locks held or awaited, pids blocking it."""
    return conn.execute(_SESSIONS_SQL).fetchall()


class LockWatch:
    """Looks at the test database's sessions every ``interval`` seconds while a test runs, and keeps the last view
    in which one was waiting for a lock: once the wait ends in an error, the holder may have let go already."""

    def __init__(self, dsn: str, interval: float, names: dict[int, str], lock_timeout_s: float) -> None:
        self.dsn = dsn
        self.interval = interval
        self.names = names
        self.lock_timeout_s = lock_timeout_s
        self.cancelled: list[int] = []
        self.waiting: tuple[float, list[Session]] | None = None
        self._started = time.monotonic()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._watch, name="sspp-lock-watch", daemon=True)
        self._thread.start()

    def _watch(self) -> None:
        conn = None
        try:
            while not self._stop.wait(self.interval):
                with contextlib.suppress(Exception):
                    if conn is None or conn.closed:
                        conn = _connect(self.dsn)
                    rows = sessions(conn)
                    if any(row[6] for row in rows):
                        self.waiting = (time.monotonic() - self._started, rows)
                    for pid in self._stuck(rows):
                        conn.execute("SELECT pg_cancel_backend(%s)", (pid,))
                        self.cancelled.append(pid)
        finally:
            if conn is not None:
                conn.close()

    def _stuck(self, rows: list[Session]) -> list[int]:
        """Sessions that have waited longer than lock_timeout for a lock held by one of the test's own."""
        if self.lock_timeout_s <= 0:
            return []
        return [
            row[0]
            for row in rows
            if row[0] not in self.names
            and row[7] is not None
            and row[7] >= self.lock_timeout_s
            and any(blocker in self.names for blocker in row[6])
        ]

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=10)


def lock_report(
    dsn: str, sqlstate: str, names: dict[int, str], waiting: tuple[float, list[Session]] | None = None
) -> str:
    """What the sessions on the database of ``dsn`` held and waited for (``waiting``: as seen during the wait,
    after so many seconds), else hold now; ``names`` labels known pids (sspp_db), whose sessions come first."""
    lines = [f"sspp-fixtures: this test failed on a lock wait ({sqlstate}: {LOCK_SQLSTATES[sqlstate]})."]
    if waiting is not None:
        lines.append(f"Sessions on the test's database {waiting[0]:.1f}s into the test, during the wait:")
        rows = waiting[1]
    else:
        try:
            with _connect(dsn) as conn:
                rows = sessions(conn)
        except Exception as error:
            lines.append(f"(could not list the sessions on the test's database: {error})")
            rows = []
        lines.append("Sessions on the test's database after the test (none was seen waiting):")
    rows = sorted(rows, key=lambda row: (names.get(row[0]) not in _OWN, row[0]))  # the test's own sessions first
    for pid, app, state, in_transaction_s, query, locks, blockers, _waited_s in rows:
        label = names.get(pid, "another connection")
        since = f" for {in_transaction_s:.1f}s" if in_transaction_s is not None and state != "active" else ""
        blocked = (
            " waiting for " + ", ".join(f"pid {b} ({names.get(b, 'another connection')})" for b in blockers)
            if blockers
            else ""
        )
        lines.append(
            f"  pid {pid} {label} (application_name {app!r}): {state}{since}{blocked}; "
            f"locks: {locks or 'no table locks'}; last statement: {query}"
        )
    waits = [
        (pid in names and names[pid] in _OWN, any(b in names and names[b] in _OWN for b in row[6]))
        for row in rows
        for pid in [row[0]]
        if row[6]
    ]
    if any(not waiter_own and holder_own for waiter_own, holder_own in waits):
        lines.append(_ADVICE_TEST_HOLDS)
    elif any(waiter_own for waiter_own, _holder_own in waits):
        lines.append(_ADVICE_CODE_HOLDS)
    else:
        lines.append(_ADVICE_IDLE)
    lines.append(_LIMITS)
    return "\n".join(lines)


def _watch_interval(settings: dict[str, str]) -> float | None:
    timeouts = ("lock_timeout", "idle_in_transaction_session_timeout")
    limits = [seconds for key in timeouts if key in settings and (seconds := _seconds(settings[key])) > 0]
    return max(0.2, min(limits) / 2) if limits else None


@pytest.hookimpl(wrapper=True)
def pytest_runtest_call(item: pytest.Item) -> Generator[None, Any, Any]:
    database = item_database(item)
    if database is None or database.mode.name == "transaction":  # no other session can wait on that one
        return (yield)
    settings = database.mode.settings
    interval = _watch_interval(settings)
    if interval is None:
        return (yield)
    funcargs = item.funcargs  # type: ignore[attr-defined]
    names = {pid: name for name in ("sspp_db", "sspp_adb") if (pid := _pid(funcargs.get(name))) is not None}
    watch = LockWatch(database.db.dsn, interval, names, _seconds(settings.get("lock_timeout", "0")))
    try:
        return (yield)
    finally:
        watch.stop()
        item.stash[_WATCH] = watch


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Generator[None, Any, Any]:
    report = yield
    if call.when != "call" or call.excinfo is None or not report.failed:
        return report
    database = item_database(item)
    watch = item.stash.get(_WATCH, None)
    sqlstate = _sqlstate(call.excinfo.value, cancelled=watch is not None and bool(watch.cancelled))
    if database is None or sqlstate is None:
        return report
    funcargs = item.funcargs  # type: ignore[attr-defined]
    names = {pid: name for name in ("sspp_db", "sspp_adb") if (pid := _pid(funcargs.get(name))) is not None}
    if watch is not None:
        cancelled = dict.fromkeys(watch.cancelled, "another connection, its statement cancelled")
        names = {**cancelled, **watch.names, **names}
    text = lock_report(database.db.dsn, sqlstate, names, watch.waiting if watch is not None else None)
    report.sections.append(("sspp-fixtures lock wait", text))
    return report
