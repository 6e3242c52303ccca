"""When a test fails on a lock wait (``lock_timeout``) or because its ``sspp_db`` was killed for sitting idle in a
transaction, the failure report names the sessions on the test's database, what each holds and waits for, and says
what to do: such a test would otherwise have hung, and its traceback alone shows only one side of the wait.
"""

from __future__ import annotations

from collections.abc import Generator, Iterator
from typing import Any

import pytest

__all__ = ["LOCK_SQLSTATES", "lock_report", "pytest_runtest_makereport"]

#: The SQLSTATEs a lock wait ends in: lock_not_available (lock_timeout, NOWAIT), idle_in_transaction_session_timeout,
#: deadlock_detected.
LOCK_SQLSTATES = {
    "55P03": "a statement waited longer than lock_timeout for a lock",
    "25P03": "a session sat idle in a transaction longer than idle_in_transaction_session_timeout and was ended",
    "40P01": "a deadlock",
}

_SESSIONS_SQL = """
SELECT a.pid, a.application_name, a.state, extract(epoch FROM now() - a.xact_start)::float8,
       left(regexp_replace(a.query, '\\s+', ' ', 'g'), 160),
       (SELECT string_agg(l.mode || ' on ' || coalesce(c.relname, l.locktype)
                          || CASE WHEN l.granted THEN '' ELSE ' (WAITING)' END, ', ' ORDER BY l.granted, c.relname)
          FROM pg_locks l LEFT JOIN pg_class c ON c.oid = l.relation
         WHERE l.pid = a.pid AND l.locktype IN ('relation', 'advisory', 'transactionid')
           AND (c.oid IS NULL OR c.relnamespace <> 'pg_catalog'::regnamespace)
           AND (l.locktype <> 'transactionid' OR NOT l.granted))
  FROM pg_stat_activity a
 WHERE a.datname = current_database() AND a.pid <> pg_backend_pid() AND a.backend_type = 'client backend'
 ORDER BY a.pid
"""

_ADVICE = (
    "What to do: a session of the test kept a transaction open while another needed a lock it held. End that "
    "transaction before the code under test runs (sspp_db autocommits unless you opened one: close the `with "
    "sspp_db.transaction():` block, or commit()/rollback() it), or let the code under test use the same connection. "
    "The limits are --sspp-lock-timeout and --sspp-idle-timeout (ini sspp_lock_timeout, sspp_idle_timeout)."
)


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


def _sqlstate(error: BaseException) -> str | None:
    """The SQLSTATE of a lock-wait error anywhere in ``error``'s chain (psycopg, psycopg2, asyncpg, wrapped)."""
    for current in _chain(error):
        for attribute in ("sqlstate", "pgcode"):
            code = getattr(current, attribute, None)
            if isinstance(code, str) and code in LOCK_SQLSTATES:
                return code
    return None


def _pid(conn: Any) -> int | None:
    try:
        return None if conn is None or conn.closed else int(conn.info.backend_pid)
    except Exception:
        return None


def lock_report(dsn: str, sqlstate: str, names: dict[int, str]) -> str:
    """What the sessions on the database of ``dsn`` hold and wait for; ``names`` labels known pids (sspp_db)."""
    import psycopg

    lines = [f"sspp-fixtures: this test failed on a lock wait ({sqlstate}: {LOCK_SQLSTATES[sqlstate]})."]
    try:
        with psycopg.connect(dsn, autocommit=True, connect_timeout=5, options="-c statement_timeout=5s") as conn:
            rows = conn.execute(_SESSIONS_SQL).fetchall()
    except psycopg.Error as error:
        lines.append(f"(could not list the sessions on the test's database: {error})")
        rows = []
    if rows:
        lines.append("Sessions on the test's database now:")
    for pid, app, state, in_transaction_s, query, locks in rows:
        label = names.get(pid, "another connection")
        since = f" for {in_transaction_s:.1f}s" if in_transaction_s is not None and state != "active" else ""
        lines.append(
            f"  pid {pid} {label} (application_name {app!r}): {state}{since}; "
            f"holds {locks or 'no table locks'}; last statement: {query}"
        )
    if not rows:
        lines.append("No session is left on the test's database (the waiting statement was cancelled).")
    lines.append(_ADVICE)
    return "\n".join(lines)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Generator[None, Any, Any]:
    report = yield
    if call.when != "call" or call.excinfo is None or not report.failed:
        return report
    database = getattr(item, "funcargs", {}).get("_sspp_database")
    sqlstate = _sqlstate(call.excinfo.value)
    if database is None or sqlstate is None:
        return report
    funcargs = item.funcargs  # type: ignore[attr-defined]
    names = {pid: name for name in ("sspp_db", "sspp_adb") if (pid := _pid(funcargs.get(name))) is not None}
    report.sections.append(("sspp-fixtures lock wait", lock_report(database.db.dsn, sqlstate, names)))
    return report
