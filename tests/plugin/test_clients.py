"""The fixtures for client libraries, run for real through pytester: a lock wait fails fast and its report names
the sessions involved; ``sspp_adb`` works in async tests under anyio and pytest-asyncio (strict and auto mode)."""

from __future__ import annotations

import pytest

import sspp_fixtures.scenarios  # noqa: F401  (numpy with it: an in-process run must not import numpy a second time)
from sspp_fixtures.errors import UsageError
from sspp_fixtures.pytest_plugin._clients import driver_url
from sspp_fixtures.server import Server

ASYNCIO_INI = """
[pytest]
asyncio_default_fixture_loop_scope = function
asyncio_mode = {mode}
"""


@pytest.fixture
def on_server(pg_server: Server, monkeypatch: pytest.MonkeyPatch) -> Server:
    monkeypatch.setenv("DATABASE_URL", pg_server.dsn)
    return pg_server


@pytest.mark.usefixtures("on_server")
def test_a_lock_wait_fails_fast_and_names_both_sessions(pytester: pytest.Pytester) -> None:
    pytester.makeini(ASYNCIO_INI.format(mode="strict") + "sspp_lock_timeout = 1s\nsspp_idle_timeout = 3s\n")
    pytester.makepyfile(
        test_locks="""
import time

import psycopg
import pytest

KEPT = []


@pytest.fixture(scope="module", autouse=True)
def _close_kept():
    yield
    for conn in KEPT:
        conn.close()


def test_truncate_while_sspp_db_holds_a_read_lock(sspp_db, sspp_dsn):
    other = psycopg.connect(sspp_dsn)  # the code under test's own connection (a pool's, say), kept open
    KEPT.append(other)
    with sspp_db.transaction():
        sspp_db.execute("SELECT count(*) FROM customers").fetchone()
        other.execute("TRUNCATE customers")


def test_truncate_with_no_lock_timeout_of_its_own(sspp_db, sspp_dsn):
    other = psycopg.connect(sspp_dsn, autocommit=True)
    KEPT.append(other)
    other.execute("SET lock_timeout = 0")  # the database's default turned off: the plugin's watch cancels the wait
    with sspp_db.transaction():
        sspp_db.execute("SELECT count(*) FROM signals").fetchone()
        other.execute("TRUNCATE signals")


def test_sspp_db_waits_for_a_lock_the_code_under_test_keeps(sspp_db, sspp_dsn):
    other = psycopg.connect(sspp_dsn)
    KEPT.append(other)
    other.execute("LOCK TABLE events IN ACCESS EXCLUSIVE MODE")  # and its transaction left open
    sspp_db.execute("SELECT count(*) FROM events")


def test_after_a_read_the_code_under_test_can_truncate(sspp_db, sspp_dsn):
    assert sspp_db.execute("SELECT count(*) FROM customers").fetchone()[0] == 61
    with psycopg.connect(sspp_dsn) as other:
        other.execute("TRUNCATE customers CASCADE")
    assert sspp_db.execute("SELECT count(*) FROM customers").fetchone()[0] == 0


def test_sspp_db_left_idle_in_a_transaction_is_ended(sspp_db):
    with sspp_db.transaction():
        sspp_db.execute("SELECT count(*) FROM events").fetchone()
        time.sleep(4)
        sspp_db.execute("SELECT 1")
"""
    )
    result = pytester.runpytest_inprocess("-q", "-p", "no:cacheprovider", "-p", "no:randomly")
    result.assert_outcomes(passed=1, failed=4)
    result.stdout.fnmatch_lines(
        [
            "*LockNotAvailable: canceling statement due to lock timeout*",
            "*sspp-fixtures lock wait*",
            "sspp-fixtures: this test failed on a lock wait (55P03: a statement waited longer than lock_timeout*",
            "Sessions on the test's database *s into the test, during the wait:",
            "*pid * sspp_db (application_name 'sspp-test'): idle in transaction for *s; locks: AccessShareLock on "
            "customers*; last statement: SELECT count(*) FROM customers",
            "*pid * another connection (application_name ''): active waiting for pid * (sspp_db); "
            "locks: AccessExclusiveLock on customers (WAITING)*; last statement: TRUNCATE customers",
            "What to do: a session of the test kept a transaction open while the code under test needed a lock it "
            "held*sspp_db.transaction()*",
            "The limits are --sspp-lock-timeout and --sspp-idle-timeout*",
        ]
    )
    result.stdout.fnmatch_lines(
        [
            "*QueryCanceled*",
            "*sspp-fixtures lock wait*",
            "sspp-fixtures: this test failed on a lock wait (57014: the plugin cancelled a statement that waited "
            "longer than lock_timeout for a lock a session of the test (sspp_db, sspp_adb) held).",
            "Sessions on the test's database *s into the test, during the wait:",
            "*pid * sspp_db (application_name 'sspp-test'): idle in transaction for *s; locks: *AccessShareLock on "
            "signals*; last statement: SELECT count(*) FROM signals",
            "*pid * another connection, its statement cancelled (application_name ''): active waiting for pid * "
            "(sspp_db); locks: AccessExclusiveLock on signals (WAITING)*; last statement: TRUNCATE signals",
            "What to do: a session of the test kept a transaction open while the code under test needed a lock it "
            "held*sspp_db.transaction()*",
            "The limits are --sspp-lock-timeout and --sspp-idle-timeout*",
        ]
    )
    result.stdout.fnmatch_lines(
        [
            "*LockNotAvailable: canceling statement due to lock timeout*",
            "sspp-fixtures: this test failed on a lock wait (55P03: a statement waited longer than lock_timeout*",
            "*pid * sspp_db (application_name 'sspp-test'): active waiting for pid * (another connection); "
            "locks: AccessShareLock on events (WAITING)*",
            "*pid * another connection (application_name ''): idle in transaction for *s; "
            "locks: AccessExclusiveLock on events; last statement: LOCK TABLE events IN ACCESS EXCLUSIVE MODE",
            "What to do: the code under test kept a transaction open, holding a lock the test's own session needed*",
        ]
    )
    result.stdout.fnmatch_lines(
        ["*25P03: a session sat idle in a transaction longer than*", "What to do: keep a transaction of sspp_db*"]
    )


def test_sspp_url_spells_the_database_for_each_driver() -> None:
    url = "postgresql://app:s%40cret@db.example:5433/sspp_t_1?sslmode=disable"
    assert driver_url(url) == url
    assert driver_url(url, "asyncpg") == "postgresql+asyncpg://app:s%40cret@db.example:5433/sspp_t_1?sslmode=disable"
    assert driver_url("host=/run/pg port=5432 user=postgres dbname=sspp_t_2", "psycopg2") == (
        "postgresql+psycopg2://postgres@:5432/sspp_t_2?host=%2Frun%2Fpg"
    )
    assert driver_url("host=h user=u password='p w' dbname=d", "psycopg") == "postgresql+psycopg://u:p%20w@h/d"
    with pytest.raises(UsageError, match="not a driver name"):
        driver_url(url, "postgresql+psycopg")


ASYNC_TESTS = """
import psycopg
import pytest

COUNT = "SELECT count(*) FROM customers"


async def count(conn):
    cursor = await conn.execute(COUNT)
    return (await cursor.fetchone())[0]


{mark}
async def test_reads_and_truncates(sspp_adb, sspp_url):
    assert await count(sspp_adb) == 61
    assert sspp_adb.autocommit
    assert sspp_url("psycopg").startswith("postgresql+psycopg://")
    await sspp_adb.execute("TRUNCATE customers CASCADE")  # autocommit: committed, put back after the test
    async with await psycopg.AsyncConnection.connect(sspp_url()) as other:
        assert await count(other) == 0


{mark}
async def test_starts_seeded_again(sspp_adb):
    assert await count(sspp_adb) == 61
    async with sspp_adb.transaction():
        await sspp_adb.execute("DELETE FROM customers")
    assert await count(sspp_adb) == 0
"""


@pytest.mark.usefixtures("on_server")
def test_sspp_adb_under_anyio_and_pytest_asyncio_strict(pytester: pytest.Pytester) -> None:
    pytester.makeini(ASYNCIO_INI.format(mode="strict"))
    pytester.makepyfile(
        test_anyio=ASYNC_TESTS.format(mark="@pytest.mark.anyio"),
        test_asyncio=ASYNC_TESTS.format(mark="@pytest.mark.asyncio"),
        test_asyncio_module_loop=ASYNC_TESTS.format(mark='@pytest.mark.asyncio(loop_scope="module")'),
        test_refused="""
import pytest

@pytest.mark.sspp(isolation="transaction")
@pytest.mark.anyio
async def test_refused(sspp_adb):
    pass
""",
    )
    result = pytester.runpytest_inprocess("-q", "-p", "no:cacheprovider", "-p", "no:randomly")
    result.assert_outcomes(passed=6, errors=1)
    result.stdout.fnmatch_lines(["*sspp_adb is not available with isolation='transaction'*"])


@pytest.mark.usefixtures("on_server")
def test_sspp_adb_under_pytest_asyncio_auto_mode(pytester: pytest.Pytester) -> None:
    pytester.makeini(ASYNCIO_INI.format(mode="auto"))
    pytester.makepyfile(test_adb_auto_mode=ASYNC_TESTS.format(mark=""))  # a name no module of ours has
    result = pytester.runpytest_inprocess("-q", "-p", "no:cacheprovider", "-p", "no:randomly")
    result.assert_outcomes(passed=2)
