"""The factories against a real PostgreSQL: create() round-trips, create_batch() is one COPY per table."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from typing import Any

import psycopg
import pytest

from sspp_fixtures import bulkgen
from sspp_fixtures.dsn import connect
from sspp_fixtures.errors import UsageError
from sspp_fixtures.factories import (
    BoundFactories,
    CustomerFactory,
    EventFactory,
    SignalFactory,
    bind,
    bind_factories,
    reseed,
)
from sspp_fixtures.model import PLATFORM_EVENT_TYPES, Customer, Event, SalesSignal, Signal, platform_signal
from sspp_fixtures.schema import init_database


@pytest.fixture
def conn(empty_db: str) -> Iterator[psycopg.Connection[Any]]:
    init_database(empty_db)
    with connect(empty_db) as connection:
        yield connection


@pytest.fixture
def factories(conn: psycopg.Connection[Any]) -> BoundFactories:
    reseed(99)
    return bind_factories(conn)


def _counts(conn: psycopg.Connection[Any]) -> tuple[int, int, int]:
    row = conn.execute(
        "SELECT (SELECT count(*) FROM customers), (SELECT count(*) FROM events), (SELECT count(*) FROM signals)"
    ).fetchone()
    assert row is not None
    return row[0], row[1], row[2]


def _read(
    conn: psycopg.Connection[Any], table: str, key: str, columns: tuple[str, ...], value: object
) -> tuple[Any, ...]:
    row = conn.execute(f"SELECT {', '.join(columns)} FROM {table} WHERE {key} = %s", (value,)).fetchone()
    assert row is not None, f"{table} row {value} was not persisted"
    return tuple(row)


def test_create_persists_and_reads_back_equal(conn: psycopg.Connection[Any], factories: BoundFactories) -> None:
    customer = factories.customers.create(locale="pl_PL")
    assert _read(conn, "customers", "customer_id", Customer.COLUMNS, customer.customer_id) == customer.as_row()
    event = factories.events.create(customer=customer, purchase=True)
    assert _read(conn, "events", "id", Event.COLUMNS, event.id) == event.as_row()
    signal = factories.signals.create(event=event)
    assert _read(conn, "signals", "id", Signal.COLUMNS, signal.id) == signal.as_row()
    assert _counts(conn) == (1, 1, 1)


def test_create_makes_sub_objects_unless_given(conn: psycopg.Connection[Any], factories: BoundFactories) -> None:
    signal = factories.signals.create(enterprise=True)
    assert _counts(conn) == (1, 1, 1)
    segment = _read(conn, "customers", "customer_id", ("segment",), signal.customer_id)
    assert segment == ("enterprise",)
    event = factories.events()  # a bound factory's call creates
    assert _counts(conn) == (2, 2, 1)
    factories.signals.create(event=event)
    assert _counts(conn) == (2, 2, 2)
    factories.events.create(uncached=True)
    assert _counts(conn) == (2, 3, 2)
    assert factories.customers.build() is not None
    assert _counts(conn) == (2, 3, 2)


def test_create_batch_sends_one_copy_per_table(
    conn: psycopg.Connection[Any], factories: BoundFactories, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls: list[list[tuple[str, int]]] = []
    copies: list[str] = []
    real_copy_columns = bulkgen.copy_columns
    real_copy = psycopg.Cursor.copy

    def spy_copy_columns(connection: psycopg.Connection[Any], chunks: Any) -> int:
        chunks = list(chunks)
        calls.append([(chunk.table, chunk.rows) for chunk in chunks])
        return real_copy_columns(connection, chunks)

    def spy_copy(self: psycopg.Cursor[Any], statement: Any, *args: Any, **kwargs: Any) -> Any:
        copies.append(statement.as_string(self.connection) if hasattr(statement, "as_string") else str(statement))
        return real_copy(self, statement, *args, **kwargs)

    monkeypatch.setattr(bulkgen, "copy_columns", spy_copy_columns)
    monkeypatch.setattr(psycopg.Cursor, "copy", spy_copy)

    signals = factories.signals.create_batch(500)
    assert len(signals) == 500
    assert calls == [[("customers", 500), ("events", 500), ("signals", 500)]]
    assert [statement.split()[1] for statement in copies] == ['"customers"', '"events"', '"signals"']
    assert _counts(conn) == (500, 500, 500)

    customer = factories.customers.create()
    calls.clear()
    factories.events.create_batch(200, customer=customer, inquiry=True)
    assert calls == [[("events", 200)]]
    assert _counts(conn) == (501, 700, 500)


def test_references_resolve_in_sql(conn: psycopg.Connection[Any], factories: BoundFactories) -> None:
    factories.signals.create_batch(300)
    customer = factories.customers.create(churn_risk=True)
    events = factories.events.create_batch(40, customer=customer)
    for event in events[:20]:
        factories.signals.create(event=event)
    factories.signals.create_batch(30, churn_risk=True, unprocessed=True)
    orphans = conn.execute(
        """
        SELECT (SELECT count(*) FROM signals s LEFT JOIN events e ON e.id = s.event_id WHERE e.id IS NULL),
               (SELECT count(*) FROM events e LEFT JOIN customers c USING (customer_id) WHERE c.customer_id IS NULL),
               (SELECT count(*) FROM signals s JOIN events e ON e.id = s.event_id
                 WHERE s.customer_id <> e.customer_id OR s.event_type <> e.event_type
                    OR s.processed_at <= e.received_at),
               (SELECT count(*) FROM events e JOIN customers c USING (customer_id) WHERE c.created_at >= e.received_at),
               (SELECT count(*) FROM signals WHERE processed_at IS NULL)
        """
    ).fetchone()
    assert orphans == (0, 0, 0, 0, 30)
    assert _counts(conn) == (331, 370, 350)


def test_a_failed_batch_leaves_nothing(conn: psycopg.Connection[Any], factories: BoundFactories) -> None:
    factories.customers.create(customer_id="cust_000001")
    with pytest.raises(psycopg.errors.UniqueViolation):
        factories.signals.create_batch(5, event__customer__customer_id="cust_000001")
    assert _counts(conn) == (1, 0, 0)


def test_create_without_a_bound_connection_is_a_clear_error(conn: psycopg.Connection[Any]) -> None:
    for create in (CustomerFactory.create, EventFactory.create, SignalFactory.create):
        with pytest.raises(UsageError, match=r"no database connection.*bind_factories"):
            create()
    with pytest.raises(UsageError, match="bind_factories"):
        SignalFactory.create_batch(10)
    assert _counts(conn) == (0, 0, 0)


def test_bind_is_scoped_to_the_block_and_thread(conn: psycopg.Connection[Any]) -> None:
    seen: list[str] = []

    def other_thread() -> None:
        try:
            CustomerFactory.create()
        except UsageError:
            seen.append("unbound")

    with bind(conn) as bound:
        SignalFactory.create()
        bound.customers.create()
        thread = threading.Thread(target=other_thread)
        thread.start()
        thread.join()
    assert seen == ["unbound"]
    assert _counts(conn) == (2, 1, 1)
    with pytest.raises(UsageError):
        CustomerFactory.create()


def test_two_bindings_write_to_their_own_database(database_factory: Callable[[str], str]) -> None:
    first, second = database_factory("one"), database_factory("two")
    for dsn in (first, second):
        init_database(dsn)
    with connect(first) as one, connect(second) as two:
        a, b = bind_factories(one), bind_factories(two)
        a.customers.create_batch(3)
        b.signals.create()
        assert _counts(one) == (3, 0, 0)
        assert _counts(two) == (1, 1, 1)


def test_create_joins_the_callers_transaction(empty_db: str) -> None:
    init_database(empty_db)
    with connect(empty_db, autocommit=False) as conn:
        bound = bind_factories(conn)
        bound.signals.create_batch(10)
        assert _counts(conn) == (10, 10, 10)
        conn.rollback()
        assert _counts(conn) == (0, 0, 0)


def test_a_failed_batch_inside_the_callers_transaction_rolls_back_to_its_savepoint(empty_db: str) -> None:
    init_database(empty_db)
    with connect(empty_db, autocommit=False) as conn:
        bound = bind_factories(conn)
        bound.customers.create(customer_id="cust_000002")
        with pytest.raises(psycopg.errors.UniqueViolation):
            bound.events.create_batch(3, customer__customer_id="cust_000002")
        assert _counts(conn) == (1, 0, 0)
        conn.commit()
    with connect(empty_db) as check:
        assert _counts(check) == (1, 0, 0)


def test_sales_signals_persist_with_the_workers_rules(conn: psycopg.Connection[Any], factories: BoundFactories) -> None:
    row = factories.sales_signals.create(meeting_booked=True, enterprise=True)
    assert _read(conn, "sales_signals", "id", SalesSignal.COLUMNS, row.id) == row.as_row()
    assert row.event_type == "meeting_booked"
    assert (row.signal_type, float(row.signal_score)) == platform_signal(row.event_type, row.metadata)
    # The event it came from was persisted too, with its user, and resolves to the account.
    event = conn.execute(
        "SELECT user_id, payload, received_at FROM events WHERE customer_id = %s", (row.account_id,)
    ).fetchone()
    assert event == (row.user_id, row.metadata, row.timestamp)
    assert conn.execute("SELECT count(*) FROM customers WHERE customer_id = %s", (row.account_id,)).fetchone() == (1,)

    batch = factories.sales_signals.create_batch(200)
    counts = conn.execute("SELECT event_type, count(*) FROM sales_signals GROUP BY 1").fetchall()
    assert sum(n for _, n in counts) == 201
    assert {t for t, _ in counts} <= set(PLATFORM_EVENT_TYPES)
    wrong = [r.id for r in batch if (r.signal_type, float(r.signal_score)) != platform_signal(r.event_type, r.metadata)]
    assert not wrong
    # The table's sequence is left alone: the worker's own inserts still get small ids, never a collision.
    new_id = conn.execute(
        "INSERT INTO sales_signals (account_id, user_id, event_type, signal_type, signal_score, timestamp) "
        "VALUES ('acc_001', 'user_001', 'email_sent', 'outreach', 0.10, now()) RETURNING id"
    ).fetchone()
    assert new_id == (1,)


def test_sales_signals_refuse_other_event_types(factories: BoundFactories) -> None:
    with pytest.raises(UsageError, match="only the platform's event types"):
        factories.sales_signals.build(event=EventFactory.build(purchase=True))
