"""Reusing a test's database: whatever a test did, the next test sees exactly the template's data.

Each test works on the database ``acquire()`` hands out, then ``release()`` must either restore it in place
(reuse path) or recycle it; the next ``acquire()`` is compared with a never-used clone, table by table and
sequence by sequence.
"""

from __future__ import annotations

import contextlib
import os
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import psycopg
import pytest

from sspp_fixtures.dsn import connect
from sspp_fixtures.errors import UsageError
from sspp_fixtures.pytest_plugin._connection import ROLLBACK_OPTIONS, RolledBackTest, SsppConnection
from sspp_fixtures.scenarios import load_scenario
from sspp_fixtures.server import Server
from sspp_fixtures.templates import (
    Outcome,
    TemplateError,
    TemplateInfo,
    TestDatabases,
    TestDb,
    _clone_pool,
    drop_templates,
    ensure_template,
)
from sspp_fixtures.templates._reuse import mark_all_changed

# A sequence that exists in the template (the SSPP schema has none), to prove sequences are put back; a comment on an
# index, to prove a rebuilt index gets it back.
EXTRA_SQL = (
    "CREATE SEQUENCE public.order_no START 1000; SELECT nextval('public.order_no'); "
    "COMMENT ON INDEX idx_events_type_received IS 'events of one type over a time range'"
)

TABLES = {"customers": "customer_id", "events": "id", "signals": "id"}


def state_of(dsn: str) -> dict[str, Any]:
    """Full-table checksums, row counts and the sequence's state."""
    with connect(dsn) as conn:
        found: dict[str, Any] = {}
        for table, key in TABLES.items():
            found[table] = conn.execute(
                f"SELECT count(*), md5(string_agg(t::text, '|' ORDER BY {key})) FROM {table} t"
            ).fetchone()
        found["order_no"] = conn.execute("SELECT last_value, is_called FROM order_no").fetchone()
        found["schema"] = conn.execute(
            "SELECT (SELECT count(*) FROM pg_indexes WHERE schemaname = 'public'), "
            "(SELECT count(*) FROM information_schema.columns WHERE table_schema = 'public')"
        ).fetchone()
        found["catalog"] = conn.execute(CATALOG_SQL).fetchone()
        found["indexes"] = conn.execute(
            "SELECT string_agg(indexdef || coalesce(' -- ' || obj_description(to_regclass(schemaname || '.' || "
            "indexname), 'pg_class'), ''), E'\\n' ORDER BY indexname) FROM pg_indexes WHERE schemaname = 'public'"
        ).fetchone()
    return found


def shapes_match(dsn: str) -> bool:
    """Whether every tracked table's catalog entry is its template's, as the restore itself checks it."""
    with connect(dsn) as conn:
        row = conn.execute("SELECT bool_and(sspp_reuse.shape(relid, natts) = shape) FROM sspp_reuse.shapes").fetchone()
    return bool(row and row[0])


#: What the database's catalogs hold outside the system schemas: any object a test made and the restore missed
#: shows here (relations, functions, types, schemas, triggers, rules, policies, grants, columns, constraints).
CATALOG_SQL = """
SELECT (SELECT md5(string_agg(r, ',' ORDER BY r)) FROM (
            SELECT n.nspname || '.' || c.relname || c.relkind::text || coalesce(c.relacl::text, '') AS r
            FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
            WHERE n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname NOT LIKE 'pg\\_to%'
              AND n.nspname NOT LIKE 'pg\\_temp%') AS relations),
       (SELECT count(*) FROM pg_proc WHERE pronamespace <> 'pg_catalog'::regnamespace),
       (SELECT count(*) FROM pg_type WHERE typnamespace <> 'pg_catalog'::regnamespace),
       (SELECT string_agg(nspname, ',' ORDER BY nspname) FROM pg_namespace WHERE nspname NOT LIKE 'pg\\_%'),
       (SELECT count(*) FROM pg_trigger), (SELECT count(*) FROM pg_rewrite), (SELECT count(*) FROM pg_policy),
       (SELECT md5(string_agg(concat_ws(':', table_name, column_name, ordinal_position, data_type,
                                        character_maximum_length, collation_name, column_default, is_nullable), ','
                              ORDER BY table_name, ordinal_position))
        FROM information_schema.columns WHERE table_schema = 'public'),
       (SELECT md5(string_agg(conrelid::regclass::text || '.' || conname || ':' || pg_get_constraintdef(oid), ','
                              ORDER BY conrelid::regclass::text, conname))
        FROM pg_constraint WHERE connamespace = 'public'::regnamespace)
"""


@pytest.fixture(scope="module")
def template(pg_server: Server) -> TemplateInfo:
    return ensure_template(pg_server.dsn, load_scenario("smoke"), extra_sql=EXTRA_SQL)


@pytest.fixture(scope="module")
def pool(pg_server: Server, template: TemplateInfo) -> Iterator[TestDatabases]:
    databases = TestDatabases(pg_server.dsn, template, worker_id="gw0", spares=2)
    yield databases
    databases.close()


@pytest.fixture(scope="module")
def pristine(pool: TestDatabases) -> dict[str, Any]:
    fresh = pool.acquire(fresh=True)
    state = state_of(fresh.dsn)
    pool.release(fresh)
    return state


def one_test(pool: TestDatabases, body: Callable[[psycopg.Connection[Any]], object], **kwargs: Any) -> Outcome:
    """Acquire, run ``body`` on a connection to the database (committed on success), close, release."""
    db = pool.acquire()
    with psycopg.connect(db.dsn, **kwargs) as conn:
        body(conn)
    return pool.release(db)


def next_db(pool: TestDatabases) -> TestDb:
    db = pool.acquire()
    pool.release(db)
    return db


CHANGES: dict[str, str] = {
    "insert": "INSERT INTO events (event_type, customer_id, payload) VALUES ('purchase', 'cust_x', '{}')",
    "update_jsonb": "UPDATE signals SET signal_data = jsonb_set(signal_data, '{score}', '99') "
    "WHERE id IN (SELECT id FROM signals ORDER BY id LIMIT 5)",
    "update_key": "UPDATE customers SET customer_id = customer_id || '_x' WHERE customer_id = 'cust_story_funnel'",
    "delete": "DELETE FROM customers WHERE customer_id IN (SELECT customer_id FROM customers ORDER BY 1 LIMIT 10)",
    "truncate": "TRUNCATE events, signals",
    "all_kinds": "INSERT INTO signals (event_type, customer_id, signal_data) VALUES ('x', 'y', '{}'); "
    "UPDATE events SET source = 'web' WHERE event_type = 'purchase'; "
    "DELETE FROM events WHERE event_type = 'page_view'; "
    "UPDATE customers SET name = 'Renamed' WHERE customer_id = 'cust_story_funnel'; "
    "DELETE FROM signals WHERE id IN (SELECT id FROM signals LIMIT 3)",
    "upsert": "INSERT INTO customers (customer_id, name) SELECT customer_id, 'Upserted' FROM customers LIMIT 3 "
    "ON CONFLICT (customer_id) DO UPDATE SET name = EXCLUDED.name",
    "savepoints": "BEGIN; INSERT INTO events (event_type, customer_id, payload) VALUES ('a', 'b', '{}'); "
    "SAVEPOINT s; DELETE FROM events WHERE event_type = 'inquiry'; RELEASE s; "
    "SAVEPOINT t; DELETE FROM customers; ROLLBACK TO t; COMMIT",
    "replica_role": "SET session_replication_role = replica; DELETE FROM signals WHERE event_type = 'purchase'",
    "as_service_role": "SET ROLE sspp_worker; UPDATE signals SET customer_id = 'moved' WHERE event_type = 'renewal'",
    "temp_table": "CREATE TEMP TABLE scratch AS SELECT * FROM events LIMIT 10; DROP TABLE scratch; "
    "CREATE TEMP TABLE scratch2 (x int); DELETE FROM events WHERE event_type = 'upsell'",
    "sequence": "SELECT nextval('order_no'), nextval('order_no')",
    "sequence_setval": "SELECT setval('order_no', 5, false)",
}


@pytest.mark.parametrize("change", list(CHANGES))
def test_a_change_is_put_back_in_place(pool: TestDatabases, pristine: dict[str, Any], change: str) -> None:
    db = pool.acquire()
    with psycopg.connect(db.dsn, autocommit=True) as conn:
        conn.execute(CHANGES[change])
    assert state_of(db.dsn) != pristine
    outcome = pool.release(db)
    assert outcome.path == "restored", outcome
    again = pool.acquire()
    assert again.name == db.name
    assert again.uses == db.uses + 1
    assert state_of(again.dsn) == pristine
    assert pool.release(again).path == "clean"


def test_a_read_only_test_leaves_it_clean(pool: TestDatabases, pristine: dict[str, Any]) -> None:
    outcome = one_test(pool, lambda c: c.execute("SELECT count(*) FROM events JOIN signals USING (customer_id)"))
    assert outcome.path == "clean"
    rolled_back = one_test(pool, lambda c: (c.execute("DELETE FROM events"), c.rollback()))
    assert rolled_back.path == "clean"
    assert state_of(next_db(pool).dsn) == pristine


def test_only_the_schema_tables_are_visible(pool: TestDatabases) -> None:
    db = pool.acquire()
    with connect(db.dsn) as conn:
        tables = conn.execute(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = 'public' ORDER BY 1"
        ).fetchall()
    pool.release(db)
    assert [t[0] for t in tables] == ["customers", "events", "sales_signals", "signal_analytics", "signals"]


#: DDL that only makes new objects: the restore drops them, the database stays (and keeps its connections).
DDL_UNDONE: dict[str, str] = {
    "create_table": "CREATE TABLE notes (id int)",
    "create_index": "CREATE INDEX ON customers (name)",
    "table_with_keys": "CREATE TABLE notes (id serial PRIMARY KEY, customer_id text REFERENCES customers, "
    "body text UNIQUE); INSERT INTO notes (customer_id, body) SELECT customer_id, name FROM customers LIMIT 3",
    "view_and_function": "CREATE VIEW buyers AS SELECT * FROM customers; "
    "CREATE FUNCTION twice(x int) RETURNS int LANGUAGE sql AS 'SELECT 2 * x'; "
    "CREATE MATERIALIZED VIEW counts AS SELECT count(*) FROM events",
    "schema_type_domain": "CREATE SCHEMA scratch; CREATE TABLE scratch.t (a int); CREATE TYPE mood AS ENUM ('ok'); "
    "CREATE DOMAIN positive AS int CHECK (VALUE > 0); CREATE SEQUENCE scratch.s",
    "trigger_on_a_seeded_table": "CREATE FUNCTION no_op() RETURNS trigger LANGUAGE plpgsql AS "
    "'BEGIN RETURN NEW; END'; CREATE TRIGGER t_no_op BEFORE INSERT ON events FOR EACH ROW EXECUTE FUNCTION no_op(); "
    "INSERT INTO events (event_type, customer_id, payload) VALUES ('x', 'y', '{}')",
    "child_of_a_seeded_table": "CREATE TABLE more_events () INHERITS (events); "
    "INSERT INTO more_events (event_type, customer_id, payload) VALUES ('x', 'y', '{}')",
    "created_then_dropped": "CREATE TABLE gone (id int); DROP TABLE gone; CREATE INDEX i ON events (source)",
    "add_column": "ALTER TABLE events ADD COLUMN extra int",
    "add_columns_with_keys_and_checks": "ALTER TABLE customers ADD COLUMN nickname text UNIQUE, "
    "ADD COLUMN n serial, ADD CONSTRAINT n_positive CHECK (n > 0); "
    "ALTER TABLE signals ADD CONSTRAINT signals_customer FOREIGN KEY (customer_id) REFERENCES customers NOT VALID",
    "add_column_rewrites_then_writes": "ALTER TABLE events ADD COLUMN r float DEFAULT random(); "
    "INSERT INTO events (event_type, customer_id, payload) VALUES ('x', 'y', '{}'); "
    "DELETE FROM events WHERE event_type = 'inquiry'",
    "added_then_dropped_by_the_test": "ALTER TABLE events ADD COLUMN gone int; ALTER TABLE events DROP COLUMN gone; "
    "INSERT INTO events (event_type, customer_id, payload) VALUES ('x', 'y', '{}')",
    # writes the mark trigger did not see: the table is restored whole, though no ALTER rewrote it
    "mark_trigger_disabled_while_writing": "ALTER TABLE events DISABLE TRIGGER sspp_reuse_mark; "
    "DELETE FROM events WHERE event_type = 'purchase'; ALTER TABLE events ENABLE ALWAYS TRIGGER sspp_reuse_mark",
    "mark_trigger_made_replica_while_writing": "ALTER TABLE customers ENABLE REPLICA TRIGGER sspp_reuse_mark; "
    "UPDATE customers SET name = 'unseen'; INSERT INTO customers (customer_id, name) VALUES ('cust_unseen', 'x'); "
    "ALTER TABLE customers ENABLE ALWAYS TRIGGER sspp_reuse_mark",
    "all_triggers_disabled_while_writing": "ALTER TABLE signals DISABLE TRIGGER ALL; DELETE FROM signals; "
    "ALTER TABLE signals ENABLE TRIGGER ALL; ALTER TABLE signals ENABLE ALWAYS TRIGGER sspp_reuse_mark",
    "truncated_then_altered": "TRUNCATE customers; ALTER TABLE customers ADD COLUMN extra int",
}


#: ALTER COLUMN ... SET/DROP DEFAULT, SET/DROP NOT NULL and DROP INDEX on the template's columns and indexes: put
#: back in place (defaults, NOT NULL, the index rebuilt under its name with its comment).
DDL_PUT_BACK: dict[str, str] = {
    "set_default": "ALTER TABLE customers ALTER COLUMN name SET DEFAULT 'n/a'",
    "replace_and_drop_defaults": "ALTER TABLE events ALTER COLUMN source SET DEFAULT 'web', "
    "ALTER COLUMN received_at DROP DEFAULT, ALTER COLUMN id DROP DEFAULT; "
    "INSERT INTO events (id, event_type, customer_id, payload, received_at) "
    "VALUES (gen_random_uuid(), 'x', 'y', '{}', now())",
    "default_on_a_new_function": "CREATE FUNCTION f() RETURNS text LANGUAGE sql AS 'SELECT 1::text'; "
    "ALTER TABLE events ALTER COLUMN source SET DEFAULT f()",
    "drop_not_null": "ALTER TABLE events ALTER COLUMN source DROP NOT NULL; "
    "UPDATE events SET source = 'x' WHERE event_type = 'purchase'",
    "set_not_null_with_a_constraint": "ALTER TABLE signals ALTER COLUMN processed_at SET NOT NULL, "
    "ADD CONSTRAINT signals_processed UNIQUE (processed_at, id)",
    "add_column_and_drop_not_null": "ALTER TABLE events ADD COLUMN extra int; "
    "ALTER TABLE events ALTER COLUMN source DROP NOT NULL",
    "drop_index": "DROP INDEX idx_signals_data",
    "drop_indexes_then_write": "DROP INDEX idx_events_received_at, idx_customers_segment; "
    "DELETE FROM customers WHERE segment = 'smb'",
    "drop_index_and_reuse_its_name": "DROP INDEX idx_signals_customer; "
    "CREATE INDEX idx_signals_customer ON signals (event_type)",
    "drop_a_commented_index": "DROP INDEX idx_events_type_received",
    "everything_at_once": "DROP INDEX idx_events_type_received; ALTER TABLE events ALTER COLUMN source DROP DEFAULT, "
    "ALTER COLUMN event_type DROP NOT NULL, ADD COLUMN extra int; CREATE INDEX ON events (extra)",
    # ALTER COLUMN ... TYPE where no index or constraint uses the column: the type put back, the table reloaded
    "column_type": "ALTER TABLE customers ALTER COLUMN name TYPE varchar(300)",
    "column_type_then_write": "ALTER TABLE customers ALTER COLUMN name TYPE text; "
    "UPDATE customers SET name = repeat('x', 500) WHERE customer_id IN (SELECT customer_id FROM customers LIMIT 5)",
    "column_types_and_collation": "ALTER TABLE customers ALTER COLUMN phone TYPE varchar(80), "
    'ALTER COLUMN contact_email TYPE text, ALTER COLUMN industry TYPE varchar(50) COLLATE "C"',
    "column_type_with_a_default": "ALTER TABLE events ALTER COLUMN source TYPE varchar(80)",
    "column_type_and_a_new_column": "ALTER TABLE customers ALTER COLUMN region TYPE text, ADD COLUMN extra int",
}


@pytest.mark.parametrize("change", list(DDL_PUT_BACK))
def test_alter_column_and_drop_index_on_seeded_tables_are_put_back_in_place(
    pool: TestDatabases, pristine: dict[str, Any], change: str
) -> None:
    for attempt in range(2):  # the second time on what the first restore rebuilt (a rebuilt index has a new oid)
        db = pool.acquire()
        with psycopg.connect(db.dsn, autocommit=True) as conn:
            conn.execute(DDL_PUT_BACK[change])
        assert state_of(db.dsn) != pristine
        outcome = pool.release(db)
        assert outcome.path == "restored", (attempt, outcome)
        again = pool.acquire()
        assert (again.name, again.uses) == (db.name, db.uses + 1)
        assert state_of(again.dsn) == pristine
        assert shapes_match(again.dsn)
        assert pool.release(again).path == "clean"


def test_dropping_an_index_the_test_made_stays_in_place(pool: TestDatabases, pristine: dict[str, Any]) -> None:
    outcome = one_test(pool, lambda c: c.execute("CREATE INDEX mine ON events (source); DROP INDEX mine"))
    assert outcome.path == "restored", outcome  # as before: the created index is gone, nothing to drop
    assert state_of(next_db(pool).dsn) == pristine


@pytest.mark.parametrize("change", list(DDL_UNDONE))
def test_ddl_that_makes_new_objects_is_undone_in_place(
    pool: TestDatabases, pristine: dict[str, Any], change: str
) -> None:
    db = pool.acquire()
    with psycopg.connect(db.dsn, autocommit=True) as conn:
        conn.execute(DDL_UNDONE[change])
    assert state_of(db.dsn) != pristine
    outcome = pool.release(db)
    assert outcome.path == "restored", outcome
    again = pool.acquire()
    assert (again.name, again.uses) == (db.name, db.uses + 1)
    assert state_of(again.dsn) == pristine
    assert pool.release(again).path == "clean"


def test_ddl_rolled_back_leaves_it_clean(pool: TestDatabases) -> None:
    outcome = one_test(
        pool, lambda c: (c.execute("ALTER TABLE events ADD COLUMN x int; CREATE TABLE t ()"), c.rollback())
    )
    assert outcome.path == "clean"


#: DDL on the template's own objects, or that names none: the database is replaced by a fresh clone.
DDL_REPLACED: dict[str, str] = {
    "column_type_of_an_indexed_column": "ALTER TABLE customers ALTER COLUMN segment TYPE varchar(40)",
    "column_type_of_a_key": "ALTER TABLE events ALTER COLUMN customer_id TYPE text",
    "rename_column": "ALTER TABLE events RENAME COLUMN source TO origin",
    "drop_seeded_column": "ALTER TABLE events DROP COLUMN source",
    "disable_trigger": "ALTER TABLE events DISABLE TRIGGER ALL; DELETE FROM events",
    "not_null_a_test_row_breaks": "ALTER TABLE events ALTER COLUMN source DROP NOT NULL; "
    "INSERT INTO events (event_type, customer_id, payload, source) VALUES ('x', 'y', '{}', NULL)",
    "not_null_a_seeded_row_breaks": "ALTER TABLE customers ALTER COLUMN name DROP NOT NULL; "
    "UPDATE customers SET name = NULL WHERE customer_id = 'cust_story_funnel'",
    "drop_primary_key": "ALTER TABLE customers DROP CONSTRAINT customers_pkey CASCADE",
    "alter_index": "ALTER INDEX idx_signals_data SET (fastupdate = off)",
    "comment_on_index": "COMMENT ON INDEX idx_events_received_at IS 'changed'",
    "drop_index_and_rename_another": "DROP INDEX idx_signals_data; ALTER INDEX idx_signals_customer RENAME TO x",
    "grant": "GRANT DELETE ON events TO sspp_api",
    "replace_function": "CREATE OR REPLACE FUNCTION update_updated_at_column() RETURNS trigger LANGUAGE plpgsql "
    "AS 'BEGIN RETURN NEW; END'",
    "identity": "ALTER TABLE sales_signals ALTER COLUMN id DROP DEFAULT, "
    "ALTER COLUMN id ADD GENERATED ALWAYS AS IDENTITY",
}


#: DDL that cannot be undone in place: what the tests below use to make the pool replace a database.
REPLACING_DDL = DDL_REPLACED["column_type_of_an_indexed_column"]


@pytest.mark.parametrize("change", list(DDL_REPLACED))
def test_ddl_on_seeded_objects_replaces_the_database_under_its_name(
    pool: TestDatabases, pristine: dict[str, Any], change: str
) -> None:
    db = pool.acquire()
    with psycopg.connect(db.dsn, autocommit=True) as conn:
        conn.execute(DDL_REPLACED[change])
    kept = psycopg.connect(db.dsn, autocommit=True)  # a service's pooled connection: ended by the replacement
    outcome = pool.release(db)
    assert (outcome.path, outcome.reason) == ("recycled", "ddl")
    fresh = pool.acquire()
    assert (fresh.name, fresh.dsn, fresh.uses) == (db.name, db.dsn, 0)
    assert state_of(fresh.dsn) == pristine
    with pytest.raises(psycopg.OperationalError):
        kept.execute("SELECT 1")
    kept.close()
    assert pool.release(fresh).path == "clean"


def _release_in_view(conn: psycopg.Connection[Any], probe: str) -> tuple[str, Any]:
    """Run the release function on ``conn`` (kept, so in the same transaction the caller can see what it did through
    ``probe``), then roll it all back: the pool's own release does the real work afterwards."""
    conn.execute("SET track_functions = 'all'")
    with conn.transaction(force_rollback=True):
        status = conn.execute("SELECT sspp_reuse.release(5000, false, '{}', '{}')").fetchone()
        seen = conn.execute(probe).fetchone()
    assert status is not None
    assert seen is not None
    return str(status[0]), seen[0]


def test_ddl_no_undo_can_put_back_replaces_the_database_without_trying_the_undo(pool: TestDatabases) -> None:
    db = pool.acquire()
    with psycopg.connect(db.dsn, autocommit=True) as conn:
        conn.execute(DDL_REPLACED["rename_column"])
        status, undo_calls = _release_in_view(
            conn, "SELECT pg_stat_get_xact_function_calls('sspp_reuse.undo_alters()'::regprocedure)"
        )
    assert (status, undo_calls) == ("recycle:ddl", None)
    assert pool.release(db).path == "recycled"


@pytest.mark.parametrize(
    ("ddl", "whole_table_restored"),
    [
        ("ALTER TABLE customers ADD COLUMN extra int, ADD CONSTRAINT extra_positive CHECK (extra > 0)", False),
        ("ALTER TABLE customers ALTER COLUMN name SET DEFAULT 'n/a', ALTER COLUMN segment DROP NOT NULL", False),
        ("ALTER TABLE customers ADD COLUMN r float DEFAULT random()", True),  # a rewrite: every row is new
    ],
)
def test_an_altered_table_is_restored_whole_only_when_rewritten(
    pool: TestDatabases, pristine: dict[str, Any], ddl: str, whole_table_restored: bool
) -> None:
    db = pool.acquire()
    with psycopg.connect(db.dsn, autocommit=True) as conn:
        conn.execute(ddl)
        status, pristine_scans = _release_in_view(
            conn,
            "SELECT pg_stat_get_xact_numscans(format('sspp_reuse.p_%s', 'customers'::regclass::oid)::regclass)",
        )
    assert status == "restored"
    assert (pristine_scans > 0) == whole_table_restored
    assert pool.release(db).path == "restored"
    assert state_of(next_db(pool).dsn) == pristine


def test_added_columns_replace_the_database_once_their_slots_add_up(pool: TestDatabases) -> None:
    """A dropped column keeps its slot (a table holds 1,600): past 200 of them the database is replaced."""
    columns = ", ".join(f"ADD COLUMN c{i} int" for i in range(201))
    outcome = one_test(pool, lambda c: c.execute(f"ALTER TABLE events {columns}"), autocommit=True)
    assert (outcome.path, outcome.reason) == ("recycled", "dropped_columns")


SET_WORK_MEM = "DO $$BEGIN EXECUTE format('ALTER DATABASE %I SET work_mem = ''7MB''', current_database()); END$$"


def test_database_settings_recycle(pool: TestDatabases) -> None:
    outcome = one_test(pool, lambda c: c.execute(SET_WORK_MEM), autocommit=True)
    assert (outcome.path, outcome.reason) == ("recycled", "database_settings")
    with connect(next_db(pool).dsn) as conn:
        assert conn.execute("SHOW work_mem").fetchone() != ("7MB",)


def test_database_settings_are_made_with_each_clone_and_kept(
    pg_server: Server, template: TemplateInfo, pristine: dict[str, Any]
) -> None:
    settings = {"lock_timeout": "3s", "synchronous_commit": "off"}
    with TestDatabases(pg_server.dsn, template, worker_id="gw8", spares=1, database_settings=settings) as pool:
        db = pool.acquire()
        with psycopg.connect(db.dsn, autocommit=True) as conn:
            assert conn.execute(
                "SELECT current_setting('lock_timeout'), current_setting('synchronous_commit')"
            ).fetchone() == ("3s", "off")
            conn.execute("DELETE FROM events")
        assert pool.release(db).path == "restored"
        for change in (SET_WORK_MEM, RESET_LOCK_TIMEOUT):
            outcome = one_test(pool, lambda c, change=change: c.execute(change), autocommit=True)
            assert (outcome.path, outcome.reason) == ("recycled", "database_settings")
            fresh = pool.acquire()
            with psycopg.connect(fresh.dsn) as conn:
                assert conn.execute("SHOW lock_timeout").fetchone() == ("3s",)
                assert conn.execute("SHOW work_mem").fetchone() != ("7MB",)
            assert state_of(fresh.dsn) == pristine
            assert pool.release(fresh).path == "clean"


RESET_LOCK_TIMEOUT = "DO $$BEGIN EXECUTE format('ALTER DATABASE %I RESET lock_timeout', current_database()); END$$"


def test_large_objects_recycle(pool: TestDatabases, pristine: dict[str, Any]) -> None:
    outcome = one_test(pool, lambda c: c.execute("SELECT lo_from_bytea(0, 'blob')"))
    assert (outcome.path, outcome.reason) == ("recycled", "large_object")
    assert state_of(next_db(pool).dsn) == pristine


def test_prepared_transactions_recycle(pool: TestDatabases, pristine: dict[str, Any]) -> None:
    db = pool.acquire()
    with psycopg.connect(db.dsn, autocommit=True) as conn:
        if conn.execute("SHOW max_prepared_transactions").fetchone() == ("0",):
            pool.release(db)
            pytest.skip("the server has max_prepared_transactions = 0")
        conn.execute("BEGIN; DELETE FROM events; PREPARE TRANSACTION 'left_behind'")
    outcome = pool.release(db)
    assert (outcome.path, outcome.reason) == ("recycled", "prepared_transaction")
    assert state_of(next_db(pool).dsn) == pristine


def test_connections_that_could_break_isolation_are_ended_and_undone(
    pool: TestDatabases, pristine: dict[str, Any]
) -> None:
    db = pool.acquire()
    uncommitted = psycopg.connect(db.dsn)  # idle in transaction, holding row locks
    uncommitted.execute(
        "DELETE FROM customers; INSERT INTO events (event_type, customer_id, payload) VALUES ('open', 'x', '{}')"
    )
    locking = psycopg.connect(db.dsn, autocommit=True)  # idle, holding a session-level advisory lock
    locking.execute("SELECT pg_advisory_lock(42)")
    listening = psycopg.connect(db.dsn, autocommit=True)  # idle, listening: the next test's NOTIFYs would reach it
    listening.execute("LISTEN sspp_test_channel")
    committed = psycopg.connect(db.dsn, autocommit=True)  # idle, its insert committed: a pool's connection, kept
    committed.execute("INSERT INTO signals (event_type, customer_id, signal_data) VALUES ('open', 'x', '{}')")
    busy = psycopg.connect(db.dsn, autocommit=True)  # running a statement when the test ends
    runner = threading.Thread(
        target=lambda: _quietly(
            busy, "UPDATE events SET source = 'x', payload = payload || jsonb_build_object('s', pg_sleep(30)::text)"
        )
    )
    runner.start()
    time.sleep(0.2)
    outcome = pool.release(db)
    runner.join(5)
    assert outcome.path == "restored"
    assert not runner.is_alive()
    for conn in (uncommitted, locking, listening, busy):
        with pytest.raises(psycopg.OperationalError):
            conn.execute("SELECT 1")
        conn.close()
    assert committed.execute("SELECT count(*) FROM signals WHERE event_type = 'open'").fetchone() == (0,)
    committed.close()
    assert state_of(next_db(pool).dsn) == pristine


def test_a_kept_pool_survives_restores_and_follows_a_replacement(pool: TestDatabases, pristine: dict[str, Any]) -> None:
    """A service's pool, made once: its idle connections live through restores; after a replacement (DDL on a
    seeded table) the URL it was made with still leads to the test's database."""
    db = pool.acquire()
    kept = [psycopg.connect(db.dsn, autocommit=True) for _ in range(2)]
    for _ in range(3):
        kept[0].execute("DELETE FROM events")
        kept[1].execute("SELECT count(*) FROM customers")
        assert pool.release(db).path == "restored"
        db = pool.acquire()
        assert kept[0].execute("SELECT count(*) FROM events").fetchone() == (pristine["events"][0],)
    kept[0].execute(REPLACING_DDL)
    assert pool.release(db).path == "recycled"
    again = pool.acquire()
    assert again.dsn == db.dsn
    for conn in kept:
        conn.close()
    with psycopg.connect(db.dsn) as reconnected:
        assert "extra" not in columns_of(reconnected, "events")
    assert state_of(again.dsn) == pristine
    pool.release(again)


def columns_of(conn: psycopg.Connection[Any], table: str) -> list[str]:
    rows = conn.execute("SELECT column_name FROM information_schema.columns WHERE table_name = %s", (table,))
    return [row[0] for row in rows]


def _quietly(conn: psycopg.Connection[Any], query: str) -> None:
    with contextlib.suppress(psycopg.Error):
        conn.execute(query)


def test_two_sessions_writing_the_same_table_do_not_wait_on_each_other(pool: TestDatabases) -> None:
    db = pool.acquire()
    with psycopg.connect(db.dsn) as first, psycopg.connect(db.dsn, autocommit=True) as second:
        first.execute("INSERT INTO events (event_type, customer_id, payload) VALUES ('a', 'b', '{}')")
        second.execute("SET statement_timeout = '2s'")
        second.execute("INSERT INTO events (event_type, customer_id, payload) VALUES ('c', 'd', '{}')")
        first.commit()
    assert pool.release(db).path == "restored"


def test_a_test_that_kills_every_session_still_gets_restored(pool: TestDatabases, pristine: dict[str, Any]) -> None:
    db = pool.acquire()
    with psycopg.connect(db.dsn, autocommit=True) as conn:
        conn.execute("DELETE FROM signals")
        conn.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
            "WHERE datname = current_database() AND pid <> pg_backend_pid()"
        )
    assert pool.release(db).path == "restored"
    assert state_of(next_db(pool).dsn) == pristine


def test_clone_isolation_gives_a_fresh_database_each_time(pool: TestDatabases, pristine: dict[str, Any]) -> None:
    first = pool.acquire(fresh=True)
    with connect(first.dsn) as conn:
        conn.execute("DELETE FROM events")
    assert pool.release(first).path == "dropped"
    second = pool.acquire(fresh=True)
    assert second.name != first.name
    assert second.uses == 0
    assert state_of(second.dsn) == pristine
    pool.release(second)


def test_close_drops_every_database_it_made(pg_server: Server, template: TemplateInfo) -> None:
    databases = TestDatabases(pg_server.dsn, template, worker_id="gw9", spares=1)
    held = databases.acquire()  # still in use when close() runs
    recycled = databases.acquire(fresh=True)
    databases.release(recycled)
    assert held.name in _databases_of(pg_server, "gw9")
    databases.close()
    assert _databases_of(pg_server, "gw9") == []


def test_spares_are_made_only_once_a_database_is_replaced(pg_server: Server, template: TemplateInfo) -> None:
    """A run that replaces nothing makes one clone per database it uses: no spare to create, nor to drop."""
    with TestDatabases(pg_server.dsn, template, worker_id="gw7", spares=2) as pool:
        for _ in range(3):
            one_test(pool, lambda c: c.execute("DELETE FROM events"), autocommit=True)
        time.sleep(0.3)
        assert len(_databases_of(pg_server, "gw7")) == 1
        assert pool.spares_ready == 0
        one_test(pool, lambda c: c.execute(REPLACING_DDL), autocommit=True)
        assert pool.wait_spares(timeout_s=60)
        assert pool.spares_ready == 2


def test_a_restart_since_the_replacement_replaces_the_database_again(pool: TestDatabases) -> None:
    """Renames commit asynchronously: a crash right after one may lose it, which the server's start time shows."""
    db = pool.acquire()
    with psycopg.connect(db.dsn, autocommit=True) as conn:
        conn.execute(REPLACING_DDL)
    assert pool.release(db).path == "recycled"
    replaced = _oid_of(pool, db.name)
    slot = next(slot for slot in pool._idle if slot.name == db.name)  # a crash-restart cannot be had here
    slot.server_started = "a start time before a crash"
    again = pool.acquire()
    assert (again.name, again.uses) == (db.name, 0)
    assert _oid_of(pool, db.name) != replaced
    assert pool.release(again).path == "clean"


def _oid_of(pool: TestDatabases, name: str) -> int:
    with connect(pool.admin_dsn) as admin:
        row = admin.execute("SELECT oid FROM pg_database WHERE datname = %s", (name,)).fetchone()
    assert row is not None
    return int(row[0])


def test_replaced_databases_are_dropped_after_a_burst_of_replacements(
    pg_server: Server, template: TemplateInfo, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Each DROP DATABASE forces a checkpoint: during a burst the replaced databases wait (at most 4 of them)."""
    monkeypatch.setattr(_clone_pool, "_DROP_QUIET_S", 60.0)  # the burst never ends in this test
    with TestDatabases(pg_server.dsn, template, worker_id="gw6", spares=1) as pool:
        for _ in range(2):
            one_test(pool, lambda c: c.execute(REPLACING_DDL), autocommit=True)
        time.sleep(0.5)
        assert len(_replaced_of(pg_server, "gw6")) == 2
        for _ in range(3):
            one_test(pool, lambda c: c.execute(REPLACING_DDL), autocommit=True)
        deadline = time.monotonic() + 60
        while len(_replaced_of(pg_server, "gw6")) >= 4 and time.monotonic() < deadline:
            time.sleep(0.05)
        assert len(_replaced_of(pg_server, "gw6")) < 4
    assert _databases_of(pg_server, "gw6") == []


def _replaced_of(server: Server, worker_id: str) -> list[str]:
    """The databases of ``worker_id`` replaced and not yet dropped (closed to connections before being renamed)."""
    with connect(server.dsn) as admin:
        rows = admin.execute(
            "SELECT datname FROM pg_database WHERE datname = ANY(%s) AND NOT datallowconn",
            (_databases_of(server, worker_id),),
        ).fetchall()
    return [row[0] for row in rows]


def _databases_of(server: Server, worker_id: str) -> list[str]:
    """The per-test databases this process's pools with ``worker_id`` have on the server (not another run's)."""
    pattern = f"sspp\\_t\\_%\\_{worker_id}\\_{os.getpid()}\\_%"
    with connect(server.dsn) as admin:
        rows = admin.execute("SELECT datname FROM pg_database WHERE datname LIKE %s", (pattern,)).fetchall()
    return [row[0] for row in rows]


def test_restore_during_a_test_keeps_its_sessions(pool: TestDatabases, pristine: dict[str, Any]) -> None:
    db = pool.acquire()
    with psycopg.connect(db.dsn, autocommit=True) as conn:
        for _ in range(3):  # e.g. Hypothesis examples, each starting from the seeded data
            conn.execute("DELETE FROM events WHERE event_type = 'purchase'")
            assert pool.restore(db).path == "restored"
            assert state_of(db.dsn) == pristine
        conn.execute("SELECT 1")  # still connected
        with psycopg.connect(db.dsn) as open_transaction:
            open_transaction.execute("INSERT INTO events (event_type, customer_id, payload) VALUES ('a', 'b', '{}')")
            with pytest.raises(UsageError, match="inside a transaction"):
                pool.restore(db)
            open_transaction.rollback()
        conn.execute("CREATE INDEX ON events (source)")  # a new object: undone in place
        assert pool.restore(db).path == "restored"
        conn.execute(REPLACING_DDL)
        with pytest.raises(TemplateError, match="cannot be restored in place"):
            pool.restore(db)
    assert pool.release(db).path == "recycled"


def test_restore_keeping_one_session_ends_the_others(pool: TestDatabases, pristine: dict[str, Any]) -> None:
    db = pool.acquire()
    with psycopg.connect(db.dsn, autocommit=True) as kept, psycopg.connect(db.dsn) as other:
        kept.execute("UPDATE customers SET name = 'x'")
        other.execute("DELETE FROM signals")  # uncommitted: ended, rolled back
        assert pool.restore(db, keep_pids=[kept.info.backend_pid]).path == "restored"
        assert state_of(db.dsn) == pristine
        kept.execute("SELECT 1")
        with pytest.raises(psycopg.OperationalError):
            other.execute("SELECT 1")
    assert pool.release(db).path == "clean"


def test_two_pools_of_one_template_in_one_process_do_not_collide(pg_server: Server, template: TemplateInfo) -> None:
    """A pytester run in-process beside the outer session makes a second pool with the same name prefix."""
    with (
        TestDatabases(pg_server.dsn, template, worker_id="main", spares=1) as first,
        TestDatabases(pg_server.dsn, template, worker_id="main", spares=1) as second,
    ):
        a, b = first.acquire(fresh=True), second.acquire(fresh=True)
        assert a.name != b.name
        assert state_of(a.dsn) == state_of(b.dsn)
        first.release(a)
        second.release(b)


def test_writes_in_a_rolled_back_test_are_not_marked_and_a_raw_commit_is_told(
    pool: TestDatabases, pristine: dict[str, Any]
) -> None:
    """Isolation 'transaction': the test's writes leave no mark (its transaction is rolled back), unless it commits
    them all the same (a raw COMMIT); then the plugin has every table put back whole."""
    db = pool.acquire()
    options = " ".join(f"-c {name}={value}" for name, value in ROLLBACK_OPTIONS.items())
    with SsppConnection.connect(db.dsn, autocommit=True, options=options) as conn:
        rolled_back = RolledBackTest(conn, begin_ahead=True)
        with rolled_back:
            conn.execute(CHANGES["insert"])
            assert conn.execute("SELECT count(*) FROM sspp_reuse.dirty").fetchone() == (0,)
        assert not rolled_back.escaped
        escaping = RolledBackTest(conn, begin_ahead=True)
        with escaping:
            conn.execute(CHANGES["delete"])
            conn.execute("COMMIT")
        assert escaping.escaped
        conn.rollback()
        mark_all_changed(conn)
    assert pool.release(db).path == "restored"
    assert state_of(next_db(pool).dsn) == pristine


def test_a_column_type_is_put_back_in_place_only_on_a_table_cheaper_to_reload_than_a_clone(
    pg_server: Server,
) -> None:
    """A seeded table over 1/16 of the database: a clone is faster than reloading it, so the database is replaced."""
    big = (
        "CREATE TABLE big AS SELECT g AS id, 'x' AS label FROM generate_series(1, 150000) g; "
        "ALTER TABLE big ADD PRIMARY KEY (id)"
    )
    template = ensure_template(pg_server.dsn, load_scenario("smoke"), extra_sql=EXTRA_SQL + "; " + big)
    try:
        with TestDatabases(pg_server.dsn, template, worker_id="gw7", spares=1) as pool:
            small = one_test(pool, lambda c: c.execute("ALTER TABLE customers ALTER COLUMN name TYPE text"))
            assert small.path == "restored", small
            large = one_test(pool, lambda c: c.execute("ALTER TABLE big ALTER COLUMN label TYPE varchar(10)"))
            assert (large.path, large.reason) == ("recycled", "ddl")
    finally:
        drop_templates(pg_server.dsn, names=[template.name])
