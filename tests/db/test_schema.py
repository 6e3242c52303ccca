"""The schema against a real PostgreSQL: init.sql, the runner, drift, locking, init and reset."""

from __future__ import annotations

import glob
import shutil
import subprocess
import threading
from collections.abc import Callable
from pathlib import Path

import psycopg
import pytest

from sspp_fixtures.dsn import connect
from sspp_fixtures.errors import MigrationDriftError, MigrationError, UnsafeTargetError, UsageError
from sspp_fixtures.schema import (
    Migration,
    applied_migrations,
    apply_migrations,
    database_status,
    describe_schema,
    init_database,
    init_sql_path,
    load_migrations,
    read_marker,
    reset_database,
)

MakeDb = Callable[..., str]


def _psql() -> str | None:
    found = shutil.which("psql")
    if found:
        return found
    candidates = sorted(glob.glob("/usr/lib/postgresql/*/bin/psql"), reverse=True)
    return candidates[0] if candidates else None


def _history(dsn: str) -> list[tuple[int, str, str]]:
    with connect(dsn) as conn:
        return [(a.version, a.name, a.checksum) for a in applied_migrations(conn)]


def _schema(dsn: str) -> dict[str, object]:
    with connect(dsn) as conn:
        return describe_schema(conn)


def _run_init_sql_with_driver(dsn: str) -> None:
    with psycopg.connect(dsn) as conn:  # not autocommit: as an application's driver would run it
        conn.execute(init_sql_path().read_bytes())


def test_init_sql_equals_the_migrations(database_factory: MakeDb) -> None:
    """A database from init.sql (psql and a driver) has exactly the schema and history the runner makes."""
    by_runner = database_factory("runner")
    apply_migrations(by_runner)
    by_driver = database_factory("driver")
    _run_init_sql_with_driver(by_driver)
    expected = _schema(by_runner)
    assert expected["columns"], "the runner created no tables"
    assert _schema(by_driver) == expected
    assert _history(by_driver) == _history(by_runner)

    psql = _psql()
    if psql is None:
        pytest.skip("no psql binary on this machine; the driver path above was checked")
    by_psql = database_factory("psql")
    done = subprocess.run(
        [psql, "-X", "-v", "ON_ERROR_STOP=1", "-q", "-d", by_psql, "-f", str(init_sql_path())],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert _schema(by_psql) == expected
    assert _history(by_psql) == _history(by_runner)


def test_init_sql_twice_in_one_cluster_then_migrate_applies_nothing(database_factory: MakeDb) -> None:
    first, second = database_factory("first"), database_factory("second")
    _run_init_sql_with_driver(first)
    _run_init_sql_with_driver(second)  # roles already exist cluster-wide: must not fail
    for dsn in (first, second):
        run = apply_migrations(dsn)
        assert run.applied == []
        assert [a.version for a in run.already_applied] == [m.version for m in load_migrations()]
        assert database_status(dsn).up_to_date


def test_init_sql_refuses_an_initialized_database(empty_db: str) -> None:
    apply_migrations(empty_db)
    with pytest.raises(psycopg.errors.RaiseException, match="already has the SSPP schema"):
        _run_init_sql_with_driver(empty_db)
    assert len(_history(empty_db)) == len(load_migrations())


def test_the_platform_services_write_with_the_seed_columns(empty_db: str) -> None:
    """The worker's INSERT of the seed's columns and the API's three-column event insert keep working."""
    apply_migrations(empty_db)
    with connect(empty_db) as conn:
        conn.execute(
            "INSERT INTO signals (event_type, customer_id, signal_data) VALUES "
            "('purchase', 'cust_001', '{\"amount\": 150.00, \"product\": \"Widget A\"}'), "
            "('brand_new_type', 'cust_not_cached', '{}')"
        )
        row = conn.execute(
            "INSERT INTO events (event_type, customer_id, payload) VALUES ('inquiry', 'cust_002', '{}') "
            "RETURNING id IS NOT NULL, source, received_at IS NOT NULL"
        ).fetchone()
        assert row == (True, "api", True)
        roles = conn.execute("SELECT rolname FROM pg_roles WHERE rolname LIKE 'sspp\\_%' ORDER BY 1").fetchall()
        assert [r[0] for r in roles] >= ["sspp_api", "sspp_readonly", "sspp_worker"]
        assert conn.execute("SELECT has_table_privilege('sspp_readonly', 'signals', 'INSERT')").fetchone() == (False,)
        assert conn.execute("SELECT has_table_privilege('sspp_worker', 'signals', 'INSERT')").fetchone() == (True,)
        assert conn.execute("SELECT has_table_privilege('sspp_api', 'events', 'INSERT')").fetchone() == (True,)


def _slow_migrations() -> tuple[Migration, ...]:
    real = load_migrations()
    slow = Migration(real[-1].version + 1, "slow_step", "SELECT pg_sleep(0.4); CREATE TABLE slow_marker (x int);")
    return (*real, slow)


def test_two_concurrent_runners_apply_each_migration_once(empty_db: str) -> None:
    migrations = _slow_migrations()
    results: list[object] = []
    barrier = threading.Barrier(2)

    def runner() -> None:
        barrier.wait()
        try:
            results.append(apply_migrations(empty_db, migrations=migrations))
        except Exception as exc:  # pragma: no cover - surfaced by the assertion below
            results.append(exc)

    threads = [threading.Thread(target=runner) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    applied_counts = sorted(len(r.applied) for r in results)  # type: ignore[attr-defined]
    assert applied_counts == [0, len(migrations)], results
    history = _history(empty_db)
    assert [v for v, _, _ in history] == [m.version for m in migrations]


def test_an_edited_applied_migration_is_refused(empty_db: str, tmp_path: Path) -> None:
    migrations = load_migrations()
    apply_migrations(empty_db, migrations=migrations)
    edited = tuple(
        Migration(m.version, m.name, m.sql + "\n-- tweak\n", m.path) if m.version == 2 else m for m in migrations
    )
    with pytest.raises(MigrationDriftError, match=r"migration 002_create_events was edited after it was applied"):
        apply_migrations(empty_db, migrations=edited)
    with pytest.raises(MigrationDriftError, match="which this sspp-fixtures does not know"):
        apply_migrations(empty_db, migrations=migrations[:2])
    assert database_status(empty_db, migrations=edited).drift is not None


def test_a_failing_migration_is_rolled_back_whole(empty_db: str) -> None:
    broken = (
        Migration(1, "good", "CREATE TABLE good (x int);"),
        Migration(2, "bad", "CREATE TABLE half_made (x int); SELECT no_such_column FROM good;"),
    )
    with pytest.raises(MigrationError, match=r"migration 002_bad failed .*no_such_column.*rolled back"):
        apply_migrations(empty_db, migrations=broken)
    assert [v for v, _, _ in _history(empty_db)] == [1]
    with connect(empty_db) as conn:
        assert conn.execute("SELECT to_regclass('half_made')").fetchone() == (None,)


def test_to_and_dry_run(empty_db: str) -> None:
    plan = apply_migrations(empty_db, dry_run=True)
    assert [m.version for m in plan.planned] == [m.version for m in load_migrations()]
    assert _history(empty_db) == []
    apply_migrations(empty_db, to=2)
    assert [v for v, _, _ in _history(empty_db)] == [1, 2]
    with pytest.raises(UsageError, match="already at version 002"):
        apply_migrations(empty_db, to=1)
    with pytest.raises(UsageError, match="no migration has that version"):
        apply_migrations(empty_db, to=99)
    assert [m.version for m in apply_migrations(empty_db, dry_run=True).planned] == [
        m.version for m in load_migrations()[2:]
    ]


def test_init_marks_and_refuses_foreign_data(database_factory: MakeDb) -> None:
    fresh = database_factory("fresh")
    result = init_database(fresh)
    assert len(result.run.applied) == len(load_migrations())
    with connect(fresh) as conn:
        marker = read_marker(conn)
    assert marker is not None
    assert marker.created_by == "sspp-fixtures"
    assert init_database(fresh).run.applied == []  # idempotent on its own database

    foreign = database_factory("foreign")
    with connect(foreign) as conn:
        conn.execute("CREATE TABLE invoices (id int); INSERT INTO invoices VALUES (1)")
    with pytest.raises(UnsafeTargetError, match=r"refusing to init .*public\.invoices"):
        init_database(foreign)
    init_database(foreign, force=True)


def test_reset_refuses_unmarked_and_recreates_marked(database_factory: MakeDb) -> None:
    marked = database_factory("marked")
    init_database(marked)
    with connect(marked) as conn:
        conn.execute("INSERT INTO customers (customer_id, name) VALUES ('cust_000001', 'Acme')")
    result = reset_database(marked)
    assert set(result.dropped_tables) == {
        "public.customers",
        "public.events",
        "public.signals",
        "public.sales_signals",
        "public.signal_analytics",
    }
    with connect(marked) as conn:
        assert conn.execute("SELECT count(*) FROM customers").fetchone() == (0,)
        assert read_marker(conn) is not None
        owner = conn.execute("SELECT nspowner::regrole::text FROM pg_namespace WHERE nspname = 'public'").fetchone()
        assert owner == ("pg_database_owner",)

    unmarked = database_factory("unmarked")
    with connect(unmarked) as conn:
        conn.execute("CREATE TABLE payroll (id int)")
    with pytest.raises(UnsafeTargetError, match=r"refusing to reset .*public\.payroll.*--force"):
        reset_database(unmarked)
    with connect(unmarked) as conn:
        assert conn.execute("SELECT to_regclass('payroll') IS NOT NULL").fetchone() == (True,)
    reset_database(unmarked, force=True)
    with connect(unmarked) as conn:
        assert conn.execute("SELECT to_regclass('payroll')").fetchone() == (None,)


def test_a_database_born_from_init_sql_is_adopted_while_empty(database_factory: MakeDb) -> None:
    """compose's database (init.sql, no rows yet) can be reset; once it holds rows, it needs --force."""
    dsn = database_factory("compose")
    _run_init_sql_with_driver(dsn)
    reset_database(dsn)
    with connect(dsn) as conn:
        conn.execute("DELETE FROM sspp_meta.database_marker")
        conn.execute("INSERT INTO events (event_type, customer_id, payload) VALUES ('inquiry', 'c', '{}')")
    with pytest.raises(UnsafeTargetError, match=r"holds data \(public\.events\)"):
        reset_database(dsn)
