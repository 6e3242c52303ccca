"""The connection budget: a server with too few connections for the run's xdist workers and the code under test
fails the run before its first test, with what to change; one with room runs code that connects itself.

The real thing: a throwaway local cluster restarted with ``max_connections = 20``, and consumer runs under
``-n 3`` (too many) and ``-n 2`` (fits) whose tests open connections of their own through ``sspp_dsn``.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

from sspp_fixtures.errors import ConnectionBudgetError
from sspp_fixtures.pytest_plugin._budget import PLUGIN_CONNECTIONS, Budget, check_budget
from sspp_fixtures.server import LocalServer, _runtime
from sspp_fixtures.server._local import find_binaries, start_local

MAX_CONNECTIONS = 20

CONSUMER = """
import psycopg
import pytest


@pytest.mark.parametrize("n", range(8))
def test_code_under_test_connects_itself(sspp_db, sspp_dsn, n):
    # what a service's code does beside the test's own connection: a pool of two
    with psycopg.connect(sspp_dsn) as first, psycopg.connect(sspp_dsn) as second:
        first.execute("INSERT INTO customers (customer_id, name) VALUES ('cust_budget', 'Budget Co')")
        first.commit()
        assert second.execute("SELECT count(*) FROM customers WHERE customer_id = 'cust_budget'").fetchone() == (1,)
    assert sspp_db.execute("SELECT count(*) FROM customers WHERE customer_id = 'cust_budget'").fetchone() == (1,)
"""


def test_the_budget_message_names_every_figure_and_the_way_out() -> None:
    budget = Budget(max_connections=20, reserved=3, in_use=1, workers=4, plugin=PLUGIN_CONNECTIONS, reserve=2)
    assert not budget.fits
    assert (budget.free, budget.per_worker, budget.needed) == (16, 7, 28)
    text = budget.message("the server")
    for part in ("max_connections=20", "3 reserved", "1 in use", "16 free", "4 xdist workers need 28", "7 each"):
        assert part in text, text
    hint = budget.hint()
    assert "max_connections = 32" in hint, hint  # 3 reserved + 1 in use + 28
    assert "-n 2" in hint, hint
    assert Budget(20, 3, 1, 2, PLUGIN_CONNECTIONS, 2).fits


@pytest.fixture(scope="module")
def small_server() -> Iterator[LocalServer]:
    """A throwaway local cluster with ``max_connections = 20``."""
    if find_binaries() is None:
        pytest.skip("no PostgreSQL server binaries on this machine")
    server = start_local()
    try:
        with psycopg.connect(server.dsn, autocommit=True) as conn:
            conn.execute(f"ALTER SYSTEM SET max_connections = {MAX_CONNECTIONS}")
        assert server.data_dir is not None
        _runtime.run_tool(
            [server.bin_dir / "pg_ctl", "restart", "-D", server.data_dir, "-w", "-t", "30", "-m", "fast"],
            what="pg_ctl restart",
            run_as=server.run_as,
            cwd=server.cluster_dir,
        )
        with psycopg.connect(server.dsn) as conn:
            assert conn.execute("SHOW max_connections").fetchone() == (str(MAX_CONNECTIONS),)
        yield server
    finally:
        server.stop()


def _run(project: Path, server: LocalServer, workers: int) -> tuple[int, str]:
    env = {**os.environ, "DATABASE_URL": server.dsn, "PYTHONDONTWRITEBYTECODE": "1"}
    env.pop("PYTEST_ADDOPTS", None)
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-p", "no:randomly", "-n", str(workers)],
        cwd=project,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    return result.returncode, result.stdout + result.stderr


@pytest.fixture
def project(tmp_path: Path) -> Path:
    (tmp_path / "test_service.py").write_text(textwrap.dedent(CONSUMER), encoding="utf-8")
    return tmp_path


@pytest.mark.local
def test_too_many_workers_for_the_server_fail_before_the_first_test(small_server: LocalServer, project: Path) -> None:
    code, output = _run(project, small_server, 3)
    assert code == pytest.ExitCode.INTERRUPTED, output  # the first worker to fail stops the run
    assert "not enough connections" in output, output
    assert f"max_connections={MAX_CONNECTIONS}" in output, output
    assert "3 xdist workers need 21: 7 each" in output, output
    assert "run at most 2 workers (-n 2)" in output, output
    assert "too many clients" not in output, output
    assert "passed" not in output, output  # no test ran: each worker stopped at its first
    assert "During handling" not in output, output


@pytest.mark.local
def test_workers_that_fit_leave_room_for_the_code_under_test(small_server: LocalServer, project: Path) -> None:
    code, output = _run(project, small_server, 2)
    assert code == 0, output
    assert "8 passed" in output, output


@pytest.mark.local
def test_other_clients_count_against_the_budget(small_server: LocalServer) -> None:
    """Connections held by others leave less room: 20 - 3 reserved - 6 held = 11 < 2 workers x 7."""
    check_budget(small_server.dsn, workers=2, reserve=2, worker_pids=[])
    held = [psycopg.connect(small_server.dsn) for _ in range(6)]
    try:
        with pytest.raises(ConnectionBudgetError, match="6 in use by other clients"):
            check_budget(small_server.dsn, workers=2, reserve=2, worker_pids=[])
    finally:
        for conn in held:
            conn.close()
