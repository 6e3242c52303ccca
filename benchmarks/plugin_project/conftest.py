"""bench_plugin.py's consumer project: times each test's setup and teardown (its body excluded) and gives the
tests a ``db`` connection from the fixture the run measures (``bench.json``'s ``fixture``).

- ``sspp``: the project's own plugin (``sspp_db``);
- ``pgp``: pytest-postgresql 10, ``postgresql_noproc`` + ``postgresql``, its template cloned from a database the
  benchmark loaded beforehand (named by a ``NoopExecutor``'s ``template_dbname``);
- ``floor``: a bare ``psycopg.connect()`` + ``close()`` on one shared database;
- ``hand``: what one writes by hand for rolled-back tests: one session-scoped connection to that database, a
  ``rollback()`` after each test (the ``BEGIN`` is sent by the test's first statement).

bench_plugin.py copies this folder per run and writes ``bench.json`` next to this file.
"""

from __future__ import annotations

import json
import time
from collections.abc import Generator, Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest

BENCH: dict[str, Any] = json.loads(Path(__file__).with_name("bench.json").read_text(encoding="utf-8"))
DB_NAME = pytest.StashKey[str]()
_MARKS = {"conftest": time.monotonic()}
_SETUP: dict[str, float] = {}
_CALL: dict[str, float] = {}
_RECORDS: list[dict[str, Any]] = []
_FAILED: list[str] = []


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_setup(item: pytest.Item) -> Generator[None, None, None]:
    started = time.monotonic()
    _MARKS.setdefault("first_setup", started)
    try:
        return (yield)
    finally:
        _SETUP[item.nodeid] = (time.monotonic() - started) * 1000.0


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_call(item: pytest.Item) -> Generator[None, None, None]:
    started = time.monotonic()
    try:
        return (yield)
    finally:
        _CALL[item.nodeid] = (time.monotonic() - started) * 1000.0


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_teardown(item: pytest.Item, nextitem: pytest.Item | None) -> Generator[None, None, None]:
    started = time.monotonic()
    try:
        return (yield)
    finally:
        ended = time.monotonic()
        _MARKS["last_teardown"] = ended
        _RECORDS.append(
            {
                "test": item.nodeid,
                "setup_ms": _SETUP.pop(item.nodeid, None),
                "call_ms": _CALL.pop(item.nodeid, None),
                "teardown_ms": (ended - started) * 1000.0,
                "db": item.stash.get(DB_NAME, None),
                "last": nextitem is None,
            }
        )


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    if report.failed:
        _FAILED.append(f"{report.nodeid} ({report.when}): {str(report.longrepr).splitlines()[-1][:200]}")


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    _MARKS["session_finish"] = time.monotonic()
    data = {
        "marks": _MARKS,
        "tests": _RECORDS,
        "failed": _FAILED,
        "exitstatus": int(exitstatus),
        "collected": session.testscollected,
    }
    Path(BENCH["out"]).write_text(json.dumps(data), encoding="utf-8")


def _remember(request: pytest.FixtureRequest, conn: psycopg.Connection[Any]) -> psycopg.Connection[Any]:
    request.node.stash[DB_NAME] = conn.info.dbname
    return conn


if BENCH["fixture"] == "sspp":

    @pytest.fixture
    def db(request: pytest.FixtureRequest, sspp_db: psycopg.Connection[Any]) -> psycopg.Connection[Any]:
        return _remember(request, sspp_db)

elif BENCH["fixture"] == "pgp":
    from pytest_postgresql import factories
    from pytest_postgresql.executors import NoopExecutor

    _PGP: dict[str, Any] = BENCH["pgp"]

    @pytest.fixture(scope="session")
    def bench_seeded() -> NoopExecutor:
        """Stands for the server; its ``template_dbname`` is the database the benchmark loaded with the scenario."""
        return NoopExecutor(
            dbname=_PGP["seed_base"], options="", maintenance_dbname=_PGP["maintenance"], **_PGP["server"]
        )

    # The session template (<dbname>_tmpl) is cloned once from the seeded database; each test gets a clone of it.
    postgresql_noproc = factories.postgresql_noproc(dbname=_PGP["dbname"], depends_on="bench_seeded", **_PGP["server"])
    postgresql = factories.postgresql("postgresql_noproc")

    @pytest.fixture
    def db(request: pytest.FixtureRequest, postgresql: psycopg.Connection[Any]) -> psycopg.Connection[Any]:
        return _remember(request, postgresql)

elif BENCH["fixture"] == "hand":

    @pytest.fixture(scope="session")
    def bench_session_conn() -> Iterator[psycopg.Connection[Any]]:
        with psycopg.connect(BENCH["floor_dsn"]) as conn:
            yield conn

    @pytest.fixture
    def db(
        request: pytest.FixtureRequest, bench_session_conn: psycopg.Connection[Any]
    ) -> Iterator[psycopg.Connection[Any]]:
        try:
            yield _remember(request, bench_session_conn)
        finally:
            bench_session_conn.rollback()

else:

    @pytest.fixture
    def db(request: pytest.FixtureRequest) -> Iterator[psycopg.Connection[Any]]:
        conn = psycopg.connect(BENCH["floor_dsn"])
        try:
            yield _remember(request, conn)
        finally:
            conn.close()
