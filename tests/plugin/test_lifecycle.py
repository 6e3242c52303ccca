"""The plugin's life cycle under pytest-xdist: a worker's databases are dropped when its session finishes (before
unconfigure), and what a killed worker left is swept by the controller once its workers are gone, so a run
leaves no test database behind.

The consumer runs are subprocesses on the shared server; this run's databases are told apart from concurrent
suites' by the pids of its workers, which are in every test database's name.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

from sspp_fixtures.dsn import connect
from sspp_fixtures.server import Server

KILLED_SUITE = """
import os
import signal
from pathlib import Path

import pytest

NOTES = Path({notes!r})


def _note(sspp_db):
    (NOTES / "pids" / str(os.getpid())).touch()
    pattern = f"^sspp_t_.*_{{os.getpid()}}_[0-9]+$"
    rows = sspp_db.execute("SELECT datname FROM pg_database WHERE datname ~ %s", (pattern,)).fetchall()
    return [r[0] for r in rows]


@pytest.mark.parametrize("n", range(6))
def test_uses_its_database(sspp_db, n):
    _note(sspp_db)
    sspp_db.execute("DELETE FROM signals")
    sspp_db.commit()


def test_kills_its_worker(sspp_db):
    names = _note(sspp_db)
    (NOTES / "killed").write_text(f"{{os.getpid()}}\\n" + "\\n".join(names))
    os.kill(os.getpid(), signal.SIGKILL)
"""


CONFTEST = """
import os
from pathlib import Path

import psycopg
import pytest

NOTES = Path({notes!r})


@pytest.hookimpl(tryfirst=True)
def pytest_unconfigure(config):
    \"\"\"In each worker, before any other unconfigure hook: the worker's databases still on the server.\"\"\"
    if not hasattr(config, "workerinput"):
        return
    with psycopg.connect(os.environ["DATABASE_URL"]) as conn:
        pattern = f"^sspp_t_.*_{{os.getpid()}}_[0-9]+$"
        rows = conn.execute("SELECT datname FROM pg_database WHERE datname ~ %s", (pattern,)).fetchall()
    (NOTES / "at-unconfigure").mkdir(exist_ok=True)
    (NOTES / "at-unconfigure" / str(os.getpid())).write_text("\\n".join(r[0] for r in rows))
"""


def _run_suite(pg_server: Server, cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """``python -m pytest -q ARGS`` in ``cwd`` against ``pg_server``, as a project of its own would run it."""
    env = {**os.environ, "DATABASE_URL": pg_server.dsn, "PYTHONDONTWRITEBYTECODE": "1"}
    env.pop("PYTEST_ADDOPTS", None)
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-p", "no:randomly", *args],
        cwd=cwd,
        check=False,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )


def _run_databases(admin_dsn: str, pids: list[int]) -> list[str]:
    """Test databases named after one of ``pids`` (``sspp_t_<fingerprint>_<worker>_<pid>_<n>``)."""
    pattern = rf"^sspp_t_[0-9a-f]{{8}}_[a-z0-9]+_({'|'.join(map(str, pids))})_\d+$"
    with connect(admin_dsn) as admin:
        rows = admin.execute("SELECT datname FROM pg_database WHERE datname ~ %s ORDER BY 1", (pattern,)).fetchall()
    return [str(r[0]) for r in rows]


def test_a_killed_worker_leaves_no_database_once_the_controller_ends(pg_server: Server, tmp_path: Path) -> None:
    notes = tmp_path / "notes"
    (notes / "pids").mkdir(parents=True)
    project = tmp_path / "project"
    project.mkdir()
    (project / "conftest.py").write_text(textwrap.dedent(CONFTEST).format(notes=str(notes)), encoding="utf-8")
    (project / "test_killed.py").write_text(textwrap.dedent(KILLED_SUITE).format(notes=str(notes)), encoding="utf-8")
    result = _run_suite(pg_server, project, "-n", "2")
    output = result.stdout + result.stderr
    assert result.returncode == 1, output  # the killed test is reported as failed ("worker crashed")
    assert "6 passed" in output, output
    killed_pid, *killed_dbs = (notes / "killed").read_text().split()
    assert killed_dbs, "the killed worker had no database: the test proves nothing"
    pids = sorted({int(p.name) for p in (notes / "pids").iterdir()} | {int(killed_pid)})
    assert len(pids) >= 2, pids
    assert _run_databases(pg_server.dsn, pids) == []
    # The workers that finished had dropped their databases before unconfigure (in sessionfinish, which xdist's
    # controller waits for), not at the last moment of the process, when the controller may kill it.
    finished = {path.name: path.read_text().split() for path in (notes / "at-unconfigure").iterdir()}
    assert finished, output
    assert killed_pid not in finished
    assert all(names == [] for names in finished.values()), finished


PARKING_SUITE = """
import pytest

pytestmark = pytest.mark.sspp(seed={seed})


@pytest.mark.parametrize("n", range(3))
def test_uses_its_database(sspp_db, n):
    sspp_db.execute("DELETE FROM events WHERE event_type = 'page_view'")
"""


def _template_of(seed: int) -> str:
    from sspp_fixtures.scenarios import load_scenario
    from sspp_fixtures.templates import template_fingerprint, template_name

    return template_name(template_fingerprint(load_scenario("smoke").with_overrides(seed=seed)))


def _parked(admin_dsn: str, seed: int) -> list[str]:
    """Databases parked for the template of smoke with ``seed`` (``sspp_tpl_<fp20>_k<pid>_<n>``)."""
    name = _template_of(seed)
    with connect(admin_dsn) as admin:
        rows = admin.execute(
            "SELECT datname FROM pg_database WHERE datname LIKE %s ORDER BY 1", (name.replace("_", "\\_") + "\\_k%",)
        ).fetchall()
    return [str(r[0]) for r in rows]


def test_each_worker_parks_a_database_for_the_next_run_which_claims_it(pg_server: Server, tmp_path: Path) -> None:
    """Under -n 2 each worker parks its restored database at the end; the next run's workers claim them (no clone);
    with --sspp-keep-databases 0 they drop them at the end."""
    import random

    from sspp_fixtures.templates import drop_templates

    seed = random.randrange(10**9)  # a template of this test's own: no other run parks or claims it
    (tmp_path / "test_parking.py").write_text(PARKING_SUITE.format(seed=seed), encoding="utf-8")
    try:
        # One per worker that took a database (xdist may give one worker every test); with 0 the second run still
        # claims what the first kept (else it would be left), then keeps none.
        for keep, parked_after in (("1", (1, 2)), ("0", (0, 0))):
            done = _run_suite(pg_server, tmp_path, "-n", "2", "--sspp-keep-databases", keep, "test_parking.py")
            assert done.returncode == 0, done.stdout + done.stderr
            low, high = parked_after
            assert low <= len(_parked(pg_server.dsn, seed)) <= high, done.stdout
    finally:
        drop_templates(pg_server.dsn, names=[_template_of(seed)])


ALTERING_SUITE = """
import psycopg

SEEN = {}


def _database_oid(conn):
    return conn.execute("SELECT oid FROM pg_database WHERE datname = current_database()").fetchone()[0]


def test_alters_a_seeded_column_and_drops_a_seeded_index(sspp_db, sspp_dsn):
    SEEN["oid"] = _database_oid(sspp_db)
    SEEN["kept"] = psycopg.connect(sspp_dsn, autocommit=True)  # a service's pooled connection, idle after the test
    sspp_db.execute("ALTER TABLE customers ALTER COLUMN name SET DEFAULT 'n/a', ALTER COLUMN segment DROP NOT NULL")
    sspp_db.execute("DROP INDEX idx_signals_data")
    sspp_db.commit()


def test_finds_the_same_database_put_back(sspp_db):
    assert _database_oid(sspp_db) == SEEN["oid"]  # not a fresh clone under the same name
    assert SEEN["kept"].execute("SELECT 1").fetchone() == (1,)  # recycling would have ended it
    assert sspp_db.execute(
        "SELECT column_default, is_nullable FROM information_schema.columns "
        "WHERE table_name = 'customers' AND column_name IN ('name', 'segment') ORDER BY column_name"
    ).fetchall() == [(None, "NO"), ("'smb'::character varying", "NO")]
    assert sspp_db.execute("SELECT to_regclass('idx_signals_data') IS NOT NULL").fetchone() == (True,)
    SEEN["kept"].close()
"""


def test_alter_column_and_drop_index_in_a_test_keep_its_database(pg_server: Server, tmp_path: Path) -> None:
    """``ALTER COLUMN ... SET DEFAULT``/``DROP NOT NULL`` and ``DROP INDEX`` on seeded objects are put back in place:
    the next test gets the same database (same oid, its idle connections alive), as the template had it."""
    (tmp_path / "test_altering.py").write_text(ALTERING_SUITE, encoding="utf-8")
    done = _run_suite(pg_server, tmp_path, "test_altering.py")
    assert done.returncode == 0, done.stdout + done.stderr
    assert "2 passed" in done.stdout, done.stdout
