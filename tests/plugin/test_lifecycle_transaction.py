"""The transaction around an ``isolation='transaction'`` test: rolled back and its session reset in one message,
with no error swallowed on the way (psycopg's exit once rejected the reset's extra results and only logged it)."""

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


def test_each_test_is_rolled_back_and_its_session_reset_without_a_logged_error(
    conn: SsppConnection, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger="psycopg")
    for _ in range(3):
        with RolledBackTest(conn):
            conn.execute("CREATE TEMP TABLE scratch (a int)")
            conn.execute("SET statement_timeout = '5s'")
            conn.execute("SELECT pg_advisory_lock(4242)")
        assert conn.info.transaction_status == psycopg.pq.TransactionStatus.IDLE
        assert conn.execute("SHOW statement_timeout").fetchone() == ("0",)
        assert conn.execute("SELECT to_regclass('pg_temp.scratch')").fetchone() == (None,)
        held = "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND pid = pg_backend_pid()"
        assert conn.execute(held).fetchone() == (0,)
    assert [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING] == []


def test_a_failed_test_and_a_refused_commit_leave_the_connection_usable(conn: SsppConnection) -> None:
    with pytest.raises(psycopg.errors.DivisionByZero), RolledBackTest(conn):
        conn.execute("SELECT 1 / 0")
    with RolledBackTest(conn):
        conn.execute("SET statement_timeout = '7s'")
        with pytest.raises(psycopg.ProgrammingError):
            conn.commit()
    assert conn.info.transaction_status == psycopg.pq.TransactionStatus.IDLE
    assert conn.execute("SHOW statement_timeout").fetchone() == ("0",)
