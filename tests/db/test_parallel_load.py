"""A load over several connections: the same database as a plain load, and atomic even when killed."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import psycopg
import pytest

from sspp_fixtures._shadow_load import catalog_signature, shadow_schemas, sweep_shadow_schemas
from sspp_fixtures._stallwatch import StallWatch
from sspp_fixtures.dsn import connect
from sspp_fixtures.errors import LoadError, UnsafeTargetError
from sspp_fixtures.loader import load_scenario_into
from sspp_fixtures.scenarios import load_scenario
from tests.fix_cli import cli_here

MakeDb = Callable[..., str]

APPLICATION = "sspp-fixtures parallel load"
TABLES = ("customers", "events", "signals", "sales_signals")
KEYS = {"customers": "customer_id", "events": "id", "signals": "id", "sales_signals": "id"}

# What a test can read of a database besides pg_dump: data, sequence positions, grants, marker.
STATE = {
    **{
        table: f"SELECT count(*) || ':' || coalesce(md5(string_agg(t::text, '|' ORDER BY {key})), '') FROM {table} t"
        for table, key in KEYS.items()
    },
    "sequence": "SELECT last_value || ':' || is_called FROM sales_signals_id_seq",
    "acl": "SELECT string_agg(relname || '=' || coalesce(relacl::text, ''), ' ' ORDER BY relname) FROM pg_class "
    "WHERE relnamespace = 'public'::regnamespace AND relname IN "
    "('customers', 'events', 'signals', 'sales_signals', 'signal_analytics', 'sales_signals_id_seq')",
    "marker": "SELECT purpose FROM sspp_meta.database_marker",
    "view": "SELECT count(*) || ':' || sum(signal_count) FROM signal_analytics",
}


def state(dsn: str) -> dict[str, str]:
    with connect(dsn) as conn:
        return {name: str(conn.execute(query).fetchone()[0]) for name, query in STATE.items()}  # type: ignore[index]


def schema_dump(dsn: str) -> str:
    """``pg_dump --schema-only``, without its per-run ``\\restrict`` key lines."""
    pg_dump = shutil.which("pg_dump")
    if pg_dump is None:
        pytest.skip("needs pg_dump")
    dump = subprocess.run([pg_dump, "--schema-only", dsn], capture_output=True, text=True, check=True).stdout
    return "\n".join(line for line in dump.splitlines() if not line.startswith(("\\restrict", "\\unrestrict")))


def signature(dsn: str) -> dict[str, list[tuple[Any, ...]]]:
    with connect(dsn) as conn:
        return catalog_signature(conn, "public")


def shadows(dsn: str) -> list[str]:
    with connect(dsn) as conn:
        return shadow_schemas(conn)


def test_a_parallel_load_leaves_exactly_what_a_plain_load_leaves(database_factory: MakeDb) -> None:
    """Catalog (pg_dump and our signature), data, sequences, grants, view and marker: all identical; a second
    parallel load into the loaded database replaces its data the same way."""
    scenario = load_scenario("smoke").with_overrides(seed=11)
    plain, parallel = database_factory(), database_factory()
    load_scenario_into(plain, scenario, connections=1)
    first = load_scenario_into(parallel, load_scenario("smoke").with_overrides(seed=3), connections=2)
    report = load_scenario_into(parallel, scenario, connections=3)
    assert (first.connections, report.connections) == (2, 3)
    assert report.rows["sales_signals"] > 0
    assert schema_dump(parallel) == schema_dump(plain)
    assert signature(parallel) == signature(plain)
    assert state(parallel) == state(plain)
    assert shadows(parallel) == []
    with connect(parallel) as conn:  # the trigger and the sequence work on the swapped-in table
        top = conn.execute("SELECT max(id) FROM sales_signals").fetchone()[0]  # type: ignore[index]
        row = conn.execute(
            "INSERT INTO sales_signals (account_id, user_id, event_type, signal_type, signal_score, timestamp, "
            "updated_at) VALUES ('a', 'u', 'e', 's', 0.5, now(), '2000-01-01') RETURNING id"
        ).fetchone()
        assert row is not None
        assert row[0] == top + 1
        conn.execute("UPDATE sales_signals SET signal_score = 0.6 WHERE id = %s", (row[0],))
        updated = conn.execute("SELECT updated_at > '2001-01-01' FROM sales_signals WHERE id = %s", (row[0],))
        assert updated.fetchone() == (True,)


def test_a_schema_with_our_prefix_that_we_did_not_make_is_never_swept(empty_db: str) -> None:
    with connect(empty_db) as conn:
        conn.execute("CREATE SCHEMA sspp_load_someones_own; CREATE TABLE sspp_load_someones_own.t (a int)")
    assert sweep_shadow_schemas(empty_db) == []
    with pytest.raises(UnsafeTargetError):  # a load sweeps first, then refuses a database holding others' tables
        load_scenario_into(empty_db, load_scenario("smoke"), connections=2)
    with connect(empty_db) as conn:
        assert conn.execute("SELECT count(*) FROM sspp_load_someones_own.t").fetchone() == (0,)


def test_cli_load_connections(empty_db: str) -> None:
    result = cli_here("load", "smoke", "--dsn", empty_db, "--json", "--connections", "2")
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["connections"] == 2
    small = cli_here("load", "smoke", "--dsn", empty_db, "--json")
    assert json.loads(small.stdout)["connections"] == 1  # small scenarios: one transaction pays best
    assert cli_here("load", "smoke", "--dsn", empty_db, "--connections", "0").returncode == 2


def test_tables_it_cannot_rebuild_are_refused_before_any_work(empty_db: str) -> None:
    load_scenario_into(empty_db, load_scenario("smoke"), connections=1)
    before = state(empty_db)
    with connect(empty_db) as conn:
        conn.execute("CREATE MATERIALIZED VIEW signal_counts AS SELECT count(*) FROM signals")
    with pytest.raises(LoadError) as caught:
        load_scenario_into(empty_db, load_scenario("smoke").with_overrides(seed=9), connections=2)
    assert "signal_counts is a materialized view" in str(caught.value)
    assert "--connections 1" in str(caught.value)
    assert state(empty_db) == before
    assert shadows(empty_db) == []
    # Without --connections, a scenario big enough for the default to choose several falls back to one transaction.
    report = load_scenario_into(empty_db, load_scenario("smoke").with_overrides(scale=40, seed=9))
    assert report.connections == 1
    assert state(empty_db)["marker"] == "sspp-seed load smoke (seed 9)"


def test_a_swap_that_cannot_lock_the_tables_changes_nothing_and_drops_its_shadow(empty_db: str) -> None:
    load_scenario_into(empty_db, load_scenario("smoke"), connections=1)
    before = state(empty_db)
    with connect(empty_db, autocommit=False, application_name="sspp-test reader") as reader:
        reader.execute("SELECT 1 FROM customers LIMIT 1")  # holds ACCESS SHARE until rollback
        with pytest.raises(LoadError) as caught:
            load_scenario_into(
                f"{empty_db}?options=-c%20lock_timeout%3D300ms",
                load_scenario("smoke").with_overrides(seed=9),
                connections=2,
            )
        reader.rollback()
    assert caught.value.sqlstate == "55P03"
    assert "sspp-test reader" in str(caught.value)
    assert state(empty_db) == before
    assert shadows(empty_db) == []


# ------------------------------------------------------------------------------------------------ kills


@contextmanager
def loading_process(dsn: str, *args: str) -> Iterator[subprocess.Popen[str]]:
    """``sspp-seed load ... --connections 2`` as a real process in its own group; killed if still running."""
    process = subprocess.Popen(
        [sys.executable, "-m", "sspp_fixtures", "load", *args, "--dsn", dsn, "--connections", "2", "--workers", "0"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    try:
        yield process
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
        process.communicate(timeout=30)


def wait_for(conn: psycopg.Connection[Any], query: str, process: subprocess.Popen[str], timeout_s: float = 120) -> None:
    """Poll ``query`` (on the load's backends) until it returns a row; the load must still be running."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        assert process.poll() is None, f"the load ended first: {process.communicate()[1]}"
        if conn.execute(query, (APPLICATION,)).fetchone():
            return
        time.sleep(0.005)
    raise AssertionError(f"the load never got to: {query}")


def kill(process: subprocess.Popen[str]) -> None:
    os.killpg(process.pid, signal.SIGKILL)
    process.wait(timeout=30)


def wait_for_sessions_to_end(dsn: str) -> None:
    """Until the server has noticed the kill and ended the load's sessions (which frees their locks)."""
    with connect(dsn) as conn:
        deadline = time.monotonic() + 30
        while conn.execute("SELECT 1 FROM pg_stat_activity WHERE application_name = %s", (APPLICATION,)).fetchone():
            assert time.monotonic() < deadline, "the killed load's sessions did not end"
            time.sleep(0.05)


def check_after_kill(dsn: str, before: dict[str, str]) -> None:
    """Once the server has ended the killed load's sessions, the live tables are as before and a shadow schema
    is left for the sweep (the load could not drop it)."""
    wait_for_sessions_to_end(dsn)
    assert state(dsn) == before
    assert shadows(dsn) != []


def check_swept(dsn: str) -> None:
    assert sweep_shadow_schemas(dsn) != []
    assert shadows(dsn) == []


@pytest.fixture
def loaded(empty_db: str) -> tuple[str, dict[str, str], dict[str, list[tuple[Any, ...]]]]:
    load_scenario_into(empty_db, load_scenario("smoke"), connections=1)
    return empty_db, state(empty_db), signature(empty_db)


def test_a_load_killed_during_copy_leaves_the_live_tables_and_the_next_load_sweeps(
    loaded: tuple[str, dict[str, str], dict[str, list[tuple[Any, ...]]]],
) -> None:
    dsn, before, _ = loaded
    with loading_process(dsn, "smoke", "--scale", "30", "--seed", "4") as process, connect(dsn) as conn:
        wait_for(
            conn,
            "SELECT 1 FROM pg_stat_activity a JOIN pg_stat_progress_copy p ON p.pid = a.pid "
            "WHERE a.application_name = %s AND p.tuples_processed > 0",
            process,
        )
        kill(process)
    check_after_kill(dsn, before)
    scenario = load_scenario("smoke").with_overrides(seed=4)
    load_scenario_into(dsn, scenario, connections=2)  # the next run sweeps the killed load's schema first
    assert shadows(dsn) == []
    assert state(dsn)["marker"] == "sspp-seed load smoke (seed 4)"


def test_a_load_killed_during_index_builds_leaves_the_live_tables(
    loaded: tuple[str, dict[str, str], dict[str, list[tuple[Any, ...]]]],
) -> None:
    dsn, before, _ = loaded
    with loading_process(dsn, "smoke", "--scale", "30", "--seed", "4") as process, connect(dsn) as conn:
        wait_for(
            conn,
            "SELECT 1 FROM pg_stat_activity WHERE application_name = %s AND state = 'active' "
            "AND query LIKE 'CREATE %%INDEX%%'",
            process,
        )
        kill(process)
    check_after_kill(dsn, before)
    check_swept(dsn)


def test_a_load_killed_during_the_swap_leaves_the_live_tables_and_their_catalog(
    loaded: tuple[str, dict[str, str], dict[str, list[tuple[Any, ...]]]],
) -> None:
    """The swap is held on the marker's row (after it has dropped the live tables and moved the shadow ones in,
    inside its transaction), then killed: the server rolls all of it back."""
    dsn, before, catalog = loaded
    with connect(dsn, autocommit=False) as holder:
        holder.execute("SELECT * FROM sspp_meta.database_marker FOR UPDATE")
        with loading_process(dsn, "smoke", "--seed", "4") as process, connect(dsn) as conn:
            wait_for(
                conn,
                "SELECT 1 FROM pg_stat_activity WHERE application_name = %s AND wait_event_type = 'Lock' "
                "AND query LIKE 'INSERT INTO sspp_meta.database_marker%%'",
                process,
            )
            with connect(dsn) as peek:  # the swap is under way: the shadow tables are in the live schema by now
                assert (
                    peek.execute(
                        "SELECT count(*) FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid "
                        "WHERE a.application_name = %s AND l.mode = 'AccessExclusiveLock' AND l.locktype = 'relation'",
                        (APPLICATION,),
                    ).fetchone()[0]
                    >= 8
                )  # type: ignore[index]
            kill(process)
        holder.rollback()
    check_after_kill(dsn, before)
    check_swept(dsn)
    assert signature(dsn) == catalog


def test_a_connection_waiting_for_its_siblings_is_not_a_stall_but_a_frozen_statement_is(empty_db: str) -> None:
    """A parallel load's connection idles between its statements (while the others copy or build) for as long
    as that takes; only a statement that shows no progress for the bound counts as a stall."""
    with connect(empty_db) as conn, StallWatch(empty_db, conn, timeout_s=0.4, idle_between=True) as watch:
        time.sleep(1.5)
        assert watch.stall is None
        conn.execute("SELECT 1")  # still usable
        with pytest.raises(psycopg.OperationalError), watch.on_server():
            conn.execute("SELECT pg_sleep(30)")  # a backend that changes nothing: what a frozen one looks like
        assert watch.stall is not None


def test_a_first_load_killed_during_index_builds_does_not_make_the_database_look_foreign(empty_db: str) -> None:
    """The killed load's shadow tables hold committed rows; the next load (no --force) sweeps them before it
    judges whether the database holds data the tool did not make."""
    with loading_process(empty_db, "smoke", "--scale", "30") as process, connect(empty_db) as conn:
        wait_for(
            conn,
            "SELECT 1 FROM pg_stat_activity WHERE application_name = %s AND state = 'active' "
            "AND query LIKE 'CREATE %%INDEX%%'",
            process,
        )
        kill(process)
    wait_for_sessions_to_end(empty_db)
    with connect(empty_db) as conn:
        assert conn.execute("SELECT count(*) FROM customers").fetchone() == (0,)
    assert shadows(empty_db) != []
    load_scenario_into(empty_db, load_scenario("smoke"), connections=2)
    assert shadows(empty_db) == []
    assert state(empty_db)["marker"] == "sspp-seed load smoke (seed 42)"
