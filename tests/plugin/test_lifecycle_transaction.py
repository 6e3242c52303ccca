"""The transaction around an ``isolation='transaction'`` test: rolled back and its session reset in one message
(which opens the next test's transaction, where the server allows it), with no error swallowed on the way
(psycopg's transaction exit once rejected the reset's extra results and only logged it)."""

from __future__ import annotations

import logging
from collections.abc import Iterator

import psycopg
import pytest

from sspp_fixtures.dsn import connect
from sspp_fixtures.pytest_plugin._connection import RolledBackTest, SsppConnection
from sspp_fixtures.server import Server


@pytest.fixture
def conn(pg_server: Server) -> Iterator[SsppConnection]:
    with connect(pg_server.dsn) as probe:  # an answering server, or the fixture errors with its reason
        probe.execute("SELECT 1")
    with SsppConnection.connect(pg_server.dsn, autocommit=True) as connection:
        yield connection


IDLE = psycopg.pq.TransactionStatus.IDLE
INTRANS = psycopg.pq.TransactionStatus.INTRANS


@pytest.mark.parametrize("begin_ahead", [True, False])
def test_each_test_is_rolled_back_and_its_session_reset_without_a_logged_error(
    conn: SsppConnection, caplog: pytest.LogCaptureFixture, begin_ahead: bool
) -> None:
    caplog.set_level(logging.DEBUG, logger="psycopg")
    conn.execute("CREATE TEMP TABLE kept (a int)")  # made before any test: the reset drops it too
    for _ in range(3):
        with RolledBackTest(conn, begin_ahead=begin_ahead):
            assert conn.info.transaction_status == INTRANS
            conn.execute("CREATE TEMP TABLE scratch (a int)")
            conn.execute("SET statement_timeout = '5s'")
            conn.execute("SELECT pg_advisory_lock(4242)")
            with conn.transaction():  # a savepoint inside the test's transaction, not a commit
                conn.execute("SET lock_timeout = '3s'")
        # begun ahead: the next test's transaction is open already (nothing in it yet)
        assert conn.info.transaction_status == (INTRANS if begin_ahead else IDLE)
        assert conn.execute("SHOW statement_timeout").fetchone() == ("0",)
        assert conn.execute("SHOW lock_timeout").fetchone() == ("0",)
        assert conn.execute("SELECT to_regclass('pg_temp.kept')").fetchone() == (None,)
        assert conn.execute("SELECT to_regclass('pg_temp.scratch')").fetchone() == (None,)
        held = "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND pid = pg_backend_pid()"
        assert conn.execute(held).fetchone() == (0,)
    assert [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING] == []


@pytest.mark.parametrize("begin_ahead", [True, False])
def test_a_failed_test_and_refused_commits_leave_the_connection_usable(conn: SsppConnection, begin_ahead: bool) -> None:
    with pytest.raises(psycopg.errors.DivisionByZero), RolledBackTest(conn, begin_ahead=begin_ahead):
        conn.execute("SELECT 1 / 0")
    with RolledBackTest(conn, begin_ahead=begin_ahead):
        conn.execute("CREATE TABLE escaped (a int)")
        with pytest.raises(psycopg.ProgrammingError, match="commit"):
            conn.commit()
        with pytest.raises(psycopg.ProgrammingError, match="rollback"):
            conn.rollback()
        with pytest.raises(psycopg.ProgrammingError):
            conn.autocommit = False  # psycopg refuses inside a transaction: no way out of it but raw SQL
    assert conn.execute("SELECT to_regclass('escaped')").fetchone() == (None,)
    conn.rollback()  # between tests the connection is the plugin's: nothing refused


@pytest.mark.parametrize("begin_ahead", [True, False])
def test_statements_are_counted_per_test_as_after_a_rollback(conn: SsppConnection, begin_ahead: bool) -> None:
    # psycopg prepares a statement once it ran prepare_threshold times, and forgets the counts at a rollback: a
    # statement run once a test is never prepared (it was every few tests, then deallocated: two round trips)
    threshold = conn.prepare_threshold
    assert threshold is not None
    prepared = "SELECT count(*) FROM pg_prepared_statements"
    for _ in range(2 * threshold + 2):
        with RolledBackTest(conn, begin_ahead=begin_ahead):
            conn.execute("SELECT 1").fetchone()
            assert conn.execute(prepared, prepare=False).fetchone() == (0,)
