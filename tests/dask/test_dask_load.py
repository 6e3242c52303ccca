"""A load whose chunks a Dask cluster copies: the same data as in-process, no chunk lost or doubled when a worker
dies, and atomic when the loading process is killed. Real ``distributed.LocalCluster`` and real PostgreSQL."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from distributed import Client, WorkerPlugin

from sspp_fixtures._dask._load import LEDGER, copy_task, create_ledger, ledger_keys
from sspp_fixtures._shadow_load import UnsupportedTables, create_shadow_table, shadow_schemas, sweep_shadow_schemas
from sspp_fixtures._shadow_load._shadow import claim_shadow_schema
from sspp_fixtures.bulkgen import TABLE_ORDER
from sspp_fixtures.bulkgen._stream import plan_tasks
from sspp_fixtures.dsn import connect
from sspp_fixtures.loader import load_scenario_into
from sspp_fixtures.scenarios import Scenario, load_scenario
from sspp_fixtures.server import Server
from tests.db.test_parallel_load import shadows, state  # data, sequence, grants, view and marker
from tests.fix_cli import cli_here
from tests.fix_db import BackgroundDrops, new_database

MakeDb = Callable[..., str]

WORKER_APPLICATION = "sspp-fixtures dask load %"
LOAD_APPLICATION = "sspp-fixtures parallel load"


def several_chunks() -> Scenario:
    """Small, but several chunk tasks (2 of events, 1 of customers, the stories)."""
    return load_scenario("smoke").with_overrides(scale=10, seed=5)


@pytest.fixture(scope="module")
def reference(pg_server: Server, background_drops: BackgroundDrops) -> dict[str, str]:
    """What :func:`several_chunks` leaves when loaded in this process, in one transaction."""
    name = new_database(pg_server, "reference")
    try:
        load_scenario_into(pg_server.dsn_for(name), several_chunks(), connections=1, workers=0)
        return state(pg_server.dsn_for(name))
    finally:
        background_drops.drop(name)


def test_the_same_data_whether_in_process_over_connections_or_on_a_cluster(
    database_factory: MakeDb, reference: dict[str, str], client2: Client
) -> None:
    """(A cluster of one worker, started by ``--dask local:1``, is in the kill test below.)"""
    scenario = several_chunks()
    assert len(plan_tasks(scenario)) >= 4
    parallel = database_factory()
    load_scenario_into(parallel, scenario, connections=2, workers=0)
    assert state(parallel) == reference
    on_dask = database_factory()
    report = load_scenario_into(on_dask, scenario, dask=client2, connections=2)
    assert report.dask == client2.scheduler_info()["address"]
    assert report.rows == {t: int(reference[t].split(":")[0]) for t in TABLE_ORDER}
    assert state(on_dask) == reference
    assert shadows(on_dask) == []
    with connect(on_dask) as conn:  # the ledger went with the shadow schema
        assert conn.execute("SELECT to_regclass(%s)", (LEDGER,)).fetchone() == (None,)


def test_a_task_run_again_after_its_commit_copies_nothing(empty_db: str) -> None:
    """What Dask does when a worker dies after the task's commit but before it reported the result."""
    scenario = several_chunks()
    load_scenario_into(empty_db, load_scenario("smoke"), connections=1, workers=0)
    task = plan_tasks(scenario)[1]
    with connect(empty_db) as conn:
        shadow = claim_shadow_schema(conn, "test")
        for table in TABLE_ORDER:
            create_shadow_table(conn, shadow, "public", table, ())
        create_ledger(conn, shadow)
    first = copy_task(scenario, task, empty_db, shadow)
    again = copy_task(scenario, task, empty_db, shadow)
    assert (first.again, again.again) == (False, True)
    assert first.rows == again.rows
    with connect(empty_db) as conn:
        for table, rows in first.rows.items():
            query = f'SELECT count(*) FROM "{shadow}"."{table}"'
            assert conn.execute(query).fetchone() == (rows,)
        ledger = conn.execute(f'SELECT table_name, chunk FROM "{shadow}".{LEDGER} ORDER BY 1, 2').fetchall()
        assert sorted(ledger) == sorted(ledger_keys(scenario, task))
        conn.execute(f'DROP SCHEMA "{shadow}" CASCADE')


class DieInTheMiddleOfACopy(WorkerPlugin):
    """On the worker that starts the chosen chunk task first: hold a lock that makes the task's COPY wait (its
    chunks already claimed in the ledger, uncommitted), then end the worker process at once, as a crash would.
    The marker file makes it happen once, on the first attempt only."""

    def __init__(self, dsn: str, key_part: str, marker: str) -> None:
        self.dsn = dsn
        self.key_part = key_part
        self.marker = marker

    def transition(self, key: Any, start: str, finish: str, **kwargs: Any) -> None:
        if finish != "executing" or self.key_part not in str(key):
            return
        try:
            os.close(os.open(self.marker, os.O_CREAT | os.O_EXCL | os.O_WRONLY))
        except FileExistsError:
            return
        threading.Thread(target=self._die_inside_the_copy, daemon=True).start()

    def _die_inside_the_copy(self) -> None:
        with connect(self.dsn, autocommit=False) as holder, connect(self.dsn) as conn:
            shadow = shadow_schemas(conn)[0]
            holder.execute(f'LOCK TABLE "{shadow}".events IN SHARE MODE')
            me = f"sspp-fixtures dask load {os.getpid()}@%"
            for _ in range(3000):
                if conn.execute(
                    "SELECT 1 FROM pg_stat_activity WHERE application_name LIKE %s AND datname = current_database() "
                    "AND wait_event_type = 'Lock' "
                    "AND query LIKE 'COPY%%'",
                    (me,),
                ).fetchone():
                    Path(self.marker).write_text("died inside the copy")
                    os._exit(1)
                time.sleep(0.01)


def test_a_worker_that_dies_inside_a_copy_loses_and_doubles_nothing(
    empty_db: str, reference: dict[str, str], client2: Client, tmp_path: Path
) -> None:
    scenario = several_chunks()
    target = empty_db
    marker = tmp_path / "died"
    pids = set(client2.run(os.getpid).values())
    client2.register_plugin(DieInTheMiddleOfACopy(target, "sspp-events-", str(marker)), name="die-once")
    try:
        load_scenario_into(target, scenario, dask=client2, connections=1)
    finally:
        client2.unregister_worker_plugin("die-once")  # type: ignore[no-untyped-call]
    assert marker.read_text() == "died inside the copy"
    assert set(client2.run(os.getpid).values()) != pids  # a worker died (and its nanny started another)
    assert state(target) == reference
    assert shadows(target) == []


# ------------------------------------------------------------------------------------------------ kills


def wait_for_sessions_to_end(dsn: str) -> None:
    """Until the server has ended the killed load's sessions, the coordinator's and its workers'."""
    with connect(dsn) as conn:
        deadline = time.monotonic() + 30
        while conn.execute(
            "SELECT 1 FROM pg_stat_activity WHERE datname = current_database() "
            "AND (application_name = %s OR application_name LIKE %s)",
            (LOAD_APPLICATION, WORKER_APPLICATION),
        ).fetchone():
            assert time.monotonic() < deadline, "the killed load's sessions did not end"
            time.sleep(0.05)


def kill_the_load_when(dsn: str, scheduler: str, query: str, application: str) -> None:
    """Run ``sspp-seed load ... --dask SCHEDULER`` as a process of its own; SIGKILL it (and whatever it started)
    as soon as ``query`` (given ``application``, the sessions to look at) returns a row."""
    process = subprocess.Popen(
        [sys.executable, "-m", "sspp_fixtures", "load", "smoke", "--scale", "30", "--seed", "4", "--dsn", dsn,
         "--dask", scheduler, "--connections", "2"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )  # fmt: skip
    try:
        with connect(dsn) as conn:
            deadline = time.monotonic() + 120
            while not conn.execute(query, (application,)).fetchone():
                assert process.poll() is None, f"the load ended first: {process.communicate()[1]}"
                assert time.monotonic() < deadline, f"the load never got to: {query}"
                time.sleep(0.005)
    finally:
        os.killpg(process.pid, signal.SIGKILL)
        process.communicate(timeout=30)
    wait_for_sessions_to_end(dsn)


@pytest.mark.slow
def test_a_load_killed_while_the_workers_copy_leaves_the_live_tables_and_the_next_load_sweeps(
    empty_db: str, reference: dict[str, str], client2: Client
) -> None:
    """The killed load's tasks run on a cluster that outlives it (as a remote one does): those in flight may still
    commit into the orphaned shadow schema, which the next load sweeps."""
    load_scenario_into(empty_db, load_scenario("smoke"), connections=1, workers=0)
    before = state(empty_db)
    kill_the_load_when(
        empty_db,
        str(client2.scheduler_info()["address"]),
        "SELECT 1 FROM pg_stat_activity a JOIN pg_stat_progress_copy p ON p.pid = a.pid "
        "WHERE a.application_name LIKE %s AND p.tuples_processed > 0 AND a.datname = current_database()",
        WORKER_APPLICATION,
    )
    assert state(empty_db) == before
    assert shadows(empty_db) != []
    result = cli_here("load", "smoke", "--scale", "10", "--seed", "5", "--dsn", empty_db, "--dask", "local:1", "--json")
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["dask"] == "local:1"
    assert shadows(empty_db) == []
    assert state(empty_db) == reference


@pytest.mark.slow
@pytest.mark.parametrize(
    "during",
    [
        "SELECT 1 FROM pg_stat_activity WHERE application_name = %s AND datname = current_database() "
        "AND state = 'active' AND query LIKE 'CREATE %%INDEX%%'",
        "SELECT 1 FROM pg_stat_activity WHERE application_name = %s AND datname = current_database() "
        "AND wait_event_type = 'Lock' AND query LIKE 'INSERT INTO sspp_meta.database_marker%%'",
    ],
    ids=["index builds", "swap"],
)
def test_a_load_on_dask_killed_during_index_builds_or_the_swap_leaves_the_live_tables(
    empty_db: str, client2: Client, during: str
) -> None:
    """For the swap, the marker's row is held (the swap waits on it after moving the shadow tables in)."""
    load_scenario_into(empty_db, load_scenario("smoke"), connections=1, workers=0)
    before = state(empty_db)
    with connect(empty_db, autocommit=False) as holder:
        if "database_marker" in during:
            holder.execute("SELECT * FROM sspp_meta.database_marker FOR UPDATE")
        kill_the_load_when(empty_db, str(client2.scheduler_info()["address"]), during, LOAD_APPLICATION)
        holder.rollback()
    assert state(empty_db) == before
    assert shadows(empty_db) != []
    assert sweep_shadow_schemas(empty_db) != []
    assert shadows(empty_db) == []


def test_tables_the_swap_cannot_rebuild_are_refused_before_the_cluster_copies(empty_db: str, client2: Client) -> None:
    load_scenario_into(empty_db, load_scenario("smoke"), connections=1, workers=0)
    before = state(empty_db)
    with connect(empty_db) as conn:
        conn.execute("CREATE MATERIALIZED VIEW signal_counts AS SELECT count(*) FROM signals")
    with pytest.raises(UnsupportedTables) as caught:
        load_scenario_into(empty_db, load_scenario("smoke").with_overrides(seed=9), dask=client2)
    assert "signal_counts is a materialized view" in str(caught.value)
    assert "without --dask, with --connections 1" in str(caught.value)
    assert state(empty_db) == before
    assert shadows(empty_db) == []


def test_cli_load_refuses_a_dask_spec_it_cannot_read(empty_db: str) -> None:
    result = cli_here("load", "smoke", "--dsn", empty_db, "--dask", "local:zero")
    assert result.returncode == 2
    assert "--dask" in result.stderr
