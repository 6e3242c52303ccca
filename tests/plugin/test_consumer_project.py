"""A separate consumer project (a test file, no conftest) runs against the installed plugin.

It proves what a service's suite relies on: each test sees exactly the seeded data and none of the other
tests' commits, whatever the test before it did (insert, update, delete, truncate, DDL, connections left
open); ``sspp_dsn`` works for code that connects itself; the marker switches scenario and isolation. It runs
as a subprocess, in-process (pytester) and under ``-n 2``.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from psycopg.conninfo import conninfo_to_dict

from sspp_fixtures.dsn import connect
from sspp_fixtures.loader import load_scenario_into
from sspp_fixtures.scenarios import load_scenario
from sspp_fixtures.server import Server
from tests.fix_db import BackgroundDrops, new_database

CHECKSUM_SQL = (
    "SELECT md5(string_agg(x, '|' ORDER BY x)) FROM ("
    "SELECT 'c' || c::text AS x FROM customers c UNION ALL SELECT 'e' || e::text FROM events e "
    "UNION ALL SELECT 's' || s::text FROM signals s) t"
)

CONSUMER_TESTS = """
import psycopg
import pytest

SMOKE = {smoke!r}
SAMPLE = {sample!r}
CHECKSUM_SQL = {checksum_sql!r}
LEFT_OPEN = []  # connections a test leaves open on purpose (kept referenced, so no ResourceWarning mid-run)


@pytest.fixture(scope="module", autouse=True)
def _close_what_was_left_open():
    # Closed when the module is done: an in-process run would otherwise drop them later, inside another test.
    yield
    for conn in LEFT_OPEN:
        conn.close()


def state(conn):
    return conn.execute(CHECKSUM_SQL).fetchone()[0]


def columns(conn):
    return [r[0] for r in conn.execute(
        "SELECT column_name FROM information_schema.columns WHERE table_name = 'events' ORDER BY 1")]


@pytest.fixture(autouse=True)
def starts_seeded(request):
    if "sspp_db" in request.fixturenames:
        conn = request.getfixturevalue("sspp_db")
        expected = SAMPLE if request.node.get_closest_marker("sspp") and "sample" in str(
            request.node.get_closest_marker("sspp").kwargs) else SMOKE
        assert state(conn) == expected, "this test did not start from exactly the seeded data"
        assert "stray" not in columns(conn)


@pytest.mark.parametrize("n", range(3))
def test_insert(sspp_db, n):
    sspp_db.execute("INSERT INTO customers (customer_id, name) VALUES ('cust_test', 'Test Co')")
    sspp_db.execute("INSERT INTO events (event_type, customer_id, payload) VALUES ('x', 'cust_test', '{{}}')")
    sspp_db.commit()


def test_update(sspp_db):
    sspp_db.execute("UPDATE signals SET signal_data = jsonb_set(signal_data, '{{score}}', '0')")
    sspp_db.execute("UPDATE customers SET name = 'Renamed' WHERE customer_id = 'cust_000001'")
    sspp_db.commit()


def test_delete(sspp_db):
    sspp_db.execute("DELETE FROM events WHERE event_type = 'page_view'")
    sspp_db.commit()


def test_truncate(sspp_db):
    sspp_db.execute("TRUNCATE signals, events")
    sspp_db.commit()


def test_alter_table(sspp_db):
    sspp_db.execute("ALTER TABLE events ADD COLUMN stray int")
    sspp_db.commit()


def test_connection_left_open(sspp_dsn, sspp_db):
    committed = psycopg.connect(sspp_dsn)
    committed.execute("DELETE FROM customers WHERE customer_id = 'cust_000002'")
    committed.commit()
    pending = psycopg.connect(sspp_dsn)
    pending.execute("INSERT INTO customers (customer_id, name) VALUES ('cust_pending', 'Pending')")
    LEFT_OPEN.extend([committed, pending])  # both left open on purpose


def test_code_that_connects_itself(sspp_dsn):
    with psycopg.connect(sspp_dsn) as conn:
        assert state(conn) == SMOKE
        conn.execute("INSERT INTO signals (event_type, customer_id, signal_data) VALUES ('x', 'y', '{{}}')")


@pytest.mark.sspp(scenario="sample")
def test_marker_switches_scenario(sspp_db):
    assert sspp_db.execute("SELECT count(*) FROM customers").fetchone()[0] == 21
    sspp_db.execute("DELETE FROM signals")
    sspp_db.commit()


@pytest.mark.sspp(isolation="transaction")
def test_transaction_isolation(sspp_db):
    sspp_db.execute("DELETE FROM events")
    with pytest.raises(psycopg.ProgrammingError):
        sspp_db.commit()


@pytest.mark.parametrize("n", range(2))
def test_sspp_db_starts_as_a_fresh_session(sspp_db, n):
    assert sspp_db.autocommit is True
    assert sspp_db.execute("SHOW statement_timeout").fetchone()[0] == "0"
    assert sspp_db.execute("SHOW lock_timeout").fetchone()[0] == "10s"
    assert sspp_db.execute("SELECT current_user = session_user").fetchone()[0]
    sspp_db.execute("SET statement_timeout = '5s'")
    sspp_db.execute("SET lock_timeout = '1min'")
    sspp_db.execute("SET ROLE sspp_readonly")
    sspp_db.execute("SELECT pg_advisory_lock(42)")
    sspp_db.autocommit = False
    sspp_db.execute("SELECT count(*) FROM customers")  # left in a transaction: rolled back after the test


@pytest.mark.sspp(isolation="transaction")
@pytest.mark.parametrize("n", range(2))
def test_transaction_isolation_resets_the_kept_session(sspp_db, n):
    assert sspp_db.execute("SHOW statement_timeout").fetchone()[0] == "0"
    held = "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND pid = pg_backend_pid()"
    assert sspp_db.execute(held).fetchone()[0] == 0  # session locks outlive a rollback: the reset frees them
    sspp_db.execute("SET statement_timeout = '5s'")
    sspp_db.execute("SELECT pg_advisory_lock(43)")
    sspp_db.execute("INSERT INTO customers (customer_id, name) VALUES ('cust_tx', 'Tx')")


@pytest.mark.sspp(isolation="transaction")
@pytest.mark.parametrize("n", range(2))
def test_transaction_isolation_survives_a_raw_commit(sspp_db, n):
    assert state(sspp_db) == SMOKE  # the first test's committed insert went with its database
    sspp_db.execute("INSERT INTO customers (customer_id, name) VALUES ('cust_escaped', 'Escaped')")
    sspp_db.execute("COMMIT")  # what commit() refuses, in raw SQL


@pytest.mark.sspp(isolation="clone")
def test_clone_isolation(sspp_db, sspp_dsn):
    assert sspp_dsn.endswith(sspp_db.info.dbname)
    sspp_db.execute("DROP TABLE signals")
    sspp_db.commit()


def test_factories_are_bound(sspp_factories, sspp_db):
    sspp_factories.events.create_batch(5)
    assert sspp_db.execute("SELECT count(*) FROM events").fetchone()[0] == {smoke_events} + 5
    sspp_db.commit()


def test_server_handle(sspp_server):
    assert sspp_server.dsn
"""

N_TESTS = 20


@pytest.fixture(scope="module")
def consumer(pg_server: Server, tmp_path_factory: pytest.TempPathFactory, background_drops: BackgroundDrops) -> Path:
    """A project folder holding only a test file, whose constants are the seeded data's checksums."""
    expected: dict[str, str] = {}
    smoke_events = 0
    for name in ("smoke", "sample"):
        database = new_database(pg_server, name)
        dsn = pg_server.dsn_for(database)
        report = load_scenario_into(dsn, load_scenario(name), workers=0)
        with connect(dsn) as conn:
            expected[name] = conn.execute(CHECKSUM_SQL).fetchone()[0]  # type: ignore[index]
        if name == "smoke":
            smoke_events = report.rows["events"]
        background_drops.drop(database)
    folder = tmp_path_factory.mktemp("consumer")
    (folder / "test_service.py").write_text(
        textwrap.dedent(CONSUMER_TESTS).format(
            smoke=expected["smoke"], sample=expected["sample"], checksum_sql=CHECKSUM_SQL, smoke_events=smoke_events
        ),
        encoding="utf-8",
    )
    return folder


def _env(pg_server: Server) -> dict[str, str]:
    return {**os.environ, "DATABASE_URL": pg_server.dsn, "PYTHONDONTWRITEBYTECODE": "1"}


@dataclass
class Run:
    """A ``pytest`` run of the consumer project in a process of its own, started in the background."""

    process: subprocess.Popen[bytes]
    out: Path

    def result(self) -> tuple[int, str]:
        """Its exit code and output (stdout and stderr), once it has finished."""
        code = self.process.wait(timeout=600)
        return code, self.out.read_text(encoding="utf-8", errors="replace")


def _start(folder: Path, pg_server: Server, out: Path, *args: str) -> Run:
    with out.open("wb") as sink:
        process = subprocess.Popen(
            [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-p", "no:randomly", *args],
            cwd=folder,
            env=_env(pg_server),
            stdout=sink,
            stderr=subprocess.STDOUT,
        )
    return Run(process, out)


@pytest.fixture(scope="module")
def consumer_runs(
    consumer: Path, pg_server: Server, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[dict[str, Run]]:
    """The consumer suite in a subprocess, plain and under ``-n 2``, started side by side: each spends most of its
    time waiting for the server (clones, drops), so together they take about as long as one."""
    outputs = tmp_path_factory.mktemp("consumer-runs")
    runs = {
        "plain": _start(consumer, pg_server, outputs / "plain.txt"),
        "xdist": _start(consumer, pg_server, outputs / "xdist.txt", "-n", "2"),
    }
    yield runs
    for run in runs.values():
        if run.process.poll() is None:
            run.process.kill()
        run.process.wait()


@pytest.mark.slow
@pytest.mark.usefixtures("consumer_runs")  # started first: the subprocess runs go on while this one runs
def test_consumer_suite_in_process(
    consumer: Path, pg_server: Server, pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DATABASE_URL", pg_server.dsn)
    pytester.makepyfile(test_service=(consumer / "test_service.py").read_text(encoding="utf-8"))
    result = pytester.runpytest_inprocess("-q", "-p", "no:cacheprovider")
    result.assert_outcomes(passed=N_TESTS)


@pytest.mark.slow
def test_consumer_suite_in_a_subprocess(consumer_runs: dict[str, Run]) -> None:
    code, output = consumer_runs["plain"].result()
    assert code == 0, output
    assert f"{N_TESTS} passed" in output


@pytest.mark.slow
def test_consumer_suite_under_xdist(consumer_runs: dict[str, Run]) -> None:
    code, output = consumer_runs["xdist"].result()
    assert code == 0, output
    assert f"{N_TESTS} passed" in output


def test_bad_marker_and_options_are_usage_errors(
    pytester: pytest.Pytester, pg_server: Server, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DATABASE_URL", pg_server.dsn)
    pytester.makepyfile(
        test_bad="""
import pytest

@pytest.mark.sspp(isolation="sideways")
def test_x(sspp_db):
    pass
"""
    )
    result = pytester.runpytest_inprocess("-q", "-p", "no:cacheprovider")
    result.stdout.fnmatch_lines(["*unknown isolation 'sideways'*"])
    assert result.ret != 0
    result = pytester.runpytest_inprocess("-q", "-p", "no:cacheprovider", "--sspp-server", "cloud")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*--sspp-server 'cloud' is not a server kind*"])


def test_auto_takes_the_server_libpq_variables_name(
    pytester: pytest.Pytester, pg_server: Server, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """No DSN and no DATABASE_URL, but PGHOST/PGPORT/PGUSER/PGDATABASE set as for psql: ``--sspp-server auto``
    takes that server, as the CLI does, instead of starting one of its own."""
    params = conninfo_to_dict(pg_server.dsn)
    monkeypatch.setenv("DATABASE_URL", "")
    monkeypatch.setenv("SSPP_FIXTURES_CACHE", str(tmp_path / "cache"))  # no warm server there, none to start
    for key, name in (("host", "PGHOST"), ("port", "PGPORT"), ("user", "PGUSER"), ("password", "PGPASSWORD")):
        if params.get(key):
            monkeypatch.setenv(name, str(params[key]))
        else:
            monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("PGDATABASE", str(params.get("dbname") or "postgres"))
    where = (params.get("host", "localhost"), int(params.get("port", 5432)))
    pytester.makepyfile(
        test_env=f"""
def test_on_the_server_pg_variables_name(sspp_server, sspp_db):
    assert sspp_server.provider == "dsn"
    assert (sspp_db.info.host, sspp_db.info.port) == {where!r}
    assert sspp_db.execute("SELECT count(*) FROM customers").fetchone()[0] == 61
"""
    )
    result = pytester.runpytest_inprocess("-q", "-p", "no:cacheprovider")
    result.assert_outcomes(passed=1)


@pytest.mark.slow
def test_without_any_dsn_the_plugin_runs_its_own_server(tmp_path: Path) -> None:
    """A machine with no DATABASE_URL: the run starts a server, shares it across xdist workers, stops it after."""
    (tmp_path / "test_mini.py").write_text(
        textwrap.dedent(
            """
            import pytest

            @pytest.mark.parametrize("n", range(4))
            def test_seeded(sspp_db, n):
                assert sspp_db.execute("SELECT count(*) FROM customers").fetchone()[0] == 61
                sspp_db.execute("DELETE FROM customers")
                sspp_db.commit()
            """
        ),
        encoding="utf-8",
    )
    cache = tmp_path / "cache"
    env = {**os.environ, "DATABASE_URL": "", "SSPP_FIXTURES_CACHE": str(cache)}
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-n", "2"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "4 passed" in result.stdout
    runs = cache / "runs"
    assert not runs.exists() or not any(runs.iterdir()), "the run's server was not stopped and removed"
