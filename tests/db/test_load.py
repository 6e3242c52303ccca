"""Loading: atomic, deterministic, safe about its target, and checked against the live schema."""

from __future__ import annotations

import json
import subprocess
import time
from collections.abc import Callable

import pytest

from sspp_fixtures.dsn import connect
from sspp_fixtures.errors import LoadError, UnsafeTargetError
from sspp_fixtures.loader import load_scenario_into
from sspp_fixtures.scenarios import load_scenario
from sspp_fixtures.schema import init_database
from tests.fix_cli import cli_here
from tests.fix_db import sspp_seed_command

MakeDb = Callable[..., str]

CHECKSUMS = {
    "customers": "SELECT md5(string_agg(c::text, '|' ORDER BY customer_id)) FROM customers c",
    "events": "SELECT md5(string_agg(e::text, '|' ORDER BY id)) FROM events e",
    "signals": "SELECT md5(string_agg(s::text, '|' ORDER BY id)) FROM signals s",
}


def checksums(dsn: str) -> dict[str, str]:
    with connect(dsn) as conn:
        return {table: conn.execute(query).fetchone()[0] for table, query in CHECKSUMS.items()}  # type: ignore[index]


def counts(dsn: str) -> dict[str, int]:
    with connect(dsn) as conn:
        return {t: conn.execute(f"SELECT count(*) FROM {t}").fetchone()[0] for t in CHECKSUMS}  # type: ignore[index]


def test_same_seed_same_tables_whatever_the_batching(database_factory: MakeDb) -> None:
    scenario = load_scenario("demo").with_overrides(scale=0.4)
    first, second, other = database_factory("a"), database_factory("b"), database_factory("c")
    load_scenario_into(first, scenario, workers=0, batch_rows=10_000)
    load_scenario_into(second, scenario, workers=2, batch_rows=30_000)
    assert checksums(first) == checksums(second)
    load_scenario_into(other, scenario.with_overrides(seed=99), workers=0)
    assert checksums(other)["events"] != checksums(first)["events"]


def test_a_reload_replaces_the_data(empty_db: str) -> None:
    smoke = load_scenario("smoke")
    load_scenario_into(empty_db, smoke)
    before = checksums(empty_db)
    load_scenario_into(empty_db, smoke)
    assert checksums(empty_db) == before
    with connect(empty_db) as conn:
        analyzed = conn.execute(
            "SELECT count(*) FROM pg_stat_user_tables "
            "WHERE relname IN ('customers', 'events', 'signals', 'sales_signals') AND last_analyze IS NOT NULL"
        ).fetchone()
        indexes = conn.execute("SELECT count(*) FROM pg_indexes WHERE schemaname = 'public'").fetchone()
        trigger = conn.execute(
            "SELECT count(*) FROM pg_trigger WHERE tgname = 'update_sales_signals_updated_at' AND tgenabled = 'O'"
        ).fetchone()
        sequence = conn.execute("SELECT last_value = (SELECT max(id) FROM sales_signals) FROM sales_signals_id_seq")
    assert analyzed == (4,)
    assert indexes == (22,), "every index dropped for the COPY was rebuilt"
    assert trigger == (1,)
    assert sequence.fetchone() == (True,), "the worker's next insert comes after the loaded ids"


def test_load_refuses_foreign_data_unless_forced(empty_db: str) -> None:
    with connect(empty_db) as conn:
        conn.execute("CREATE TABLE orders (id int); INSERT INTO orders VALUES (1)")
    with pytest.raises(UnsafeTargetError, match=r"refusing to load .*public\.orders"):
        load_scenario_into(empty_db, load_scenario("smoke"))
    load_scenario_into(empty_db, load_scenario("smoke"), force=True)
    with connect(empty_db) as conn:
        assert conn.execute("SELECT count(*) FROM orders").fetchone() == (1,)


def test_a_column_the_model_does_not_know_stops_the_load_before_copy(empty_db: str) -> None:
    init_database(empty_db)
    with connect(empty_db) as conn:
        conn.execute("ALTER TABLE signals ADD COLUMN tenant_id int NOT NULL")
    with pytest.raises(LoadError, match=r"table signals: column tenant_id is NOT NULL without a default"):
        load_scenario_into(empty_db, load_scenario("smoke"))
    with connect(empty_db) as conn:
        conn.execute("ALTER TABLE signals ALTER COLUMN tenant_id SET DEFAULT 1")
    load_scenario_into(empty_db, load_scenario("smoke"))  # with a default the worker's columns still suffice
    with connect(empty_db) as conn:
        conn.execute("ALTER TABLE events DROP COLUMN source")
    with pytest.raises(LoadError, match=r"table events has no column source"):
        load_scenario_into(empty_db, load_scenario("smoke"))


def test_the_live_sales_signals_table_is_checked_too(empty_db: str) -> None:
    init_database(empty_db)
    with connect(empty_db) as conn:
        conn.execute("ALTER TABLE sales_signals ADD COLUMN region text NOT NULL")
    with pytest.raises(LoadError, match=r"table sales_signals: column region is NOT NULL without a default"):
        load_scenario_into(empty_db, load_scenario("smoke"))
    with connect(empty_db) as conn:
        conn.execute("ALTER TABLE sales_signals DROP COLUMN region; ALTER TABLE sales_signals DROP COLUMN user_id")
    with pytest.raises(LoadError, match=r"table sales_signals has no column user_id"):
        load_scenario_into(empty_db, load_scenario("smoke"))
    with connect(empty_db) as conn:
        conn.execute("DROP VIEW signal_analytics; DROP TABLE sales_signals")
        assert conn.execute("SELECT count(*) FROM customers").fetchone() == (0,)
    with pytest.raises(LoadError, match=r"table sales_signals does not exist.*migrate"):
        load_scenario_into(empty_db, load_scenario("smoke"))


def test_cli_load_json_and_exit_codes(empty_db: str) -> None:
    result = cli_here("load", "smoke", "--dsn", empty_db, "--json", "--seed", "5")
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["seed"] == 5
    assert report["rows"]["customers"] == 61
    assert set(report["seconds"]) >= {"copy", "indexes", "analyze"}
    assert counts(empty_db)["events"] == report["rows"]["events"]
    bad_scale = cli_here("load", "smoke", "--dsn", empty_db, "--scale", "-2")
    assert bad_scale.returncode == 2
    assert "--scale -2: must be greater than 0" in bad_scale.stderr
    unknown = cli_here("load", "smok", "--dsn", empty_db)
    assert unknown.returncode == 1
    assert "did you mean 'smoke'" in unknown.stderr


@pytest.mark.slow
def test_a_load_killed_midway_leaves_zero_rows(empty_db: str) -> None:
    """Terminate the loading backend in the middle of COPY: exit 6, one clear line, and nothing committed."""
    init_database(empty_db)
    database = empty_db.rsplit("/", 1)[-1]
    process = subprocess.Popen(
        [*sspp_seed_command(), "load", "load-1m", "--dsn", empty_db, "--workers", "1"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        with connect(empty_db) as conn:
            deadline = time.monotonic() + 120
            killed = False
            while time.monotonic() < deadline and process.poll() is None:
                row = conn.execute(
                    "SELECT pid FROM pg_stat_activity WHERE datname = %s AND query LIKE 'COPY%%' "
                    "AND pid <> pg_backend_pid()",
                    (database,),
                ).fetchone()
                progress = conn.execute("SELECT tuples_processed FROM pg_stat_progress_copy").fetchone()
                if row and progress and progress[0] > 0:
                    conn.execute("SELECT pg_terminate_backend(%s)", (row[0],))
                    killed = True
                    break
                time.sleep(0.05)
        assert killed, "the load never reached COPY"
        _, stderr = process.communicate(timeout=120)
    finally:
        if process.poll() is None:
            process.kill()
    assert process.returncode == 6, stderr
    assert "lost the connection" in stderr
    assert "nothing was loaded" in stderr
    assert "Traceback" not in stderr
    assert counts(empty_db) == {"customers": 0, "events": 0, "signals": 0}
