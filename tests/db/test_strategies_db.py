"""What the strategies draw loads into PostgreSQL, by parameterised INSERT and by COPY, and reads back equal.

One database for the module (Hypothesis refuses function-scoped fixtures with @given); each example runs in a
transaction that is rolled back, so examples never collide on primary keys.
"""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import psycopg
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from psycopg import sql
from psycopg.types.json import Jsonb

from sspp_fixtures.dsn import connect
from sspp_fixtures.model import PLATFORM_EVENT_TYPES, Customer, Event, SalesSignal, Signal, platform_signal
from sspp_fixtures.schema import init_database
from sspp_fixtures.server import Server
from sspp_fixtures.strategies import customers, events, sales_signals, signals
from tests.fix_db import BackgroundDrops, new_database

SETTINGS = settings(max_examples=30, deadline=None)
JSON_COLUMNS = {"payload", "signal_data", "metadata"}
KEYS = {Customer: "customer_id", Event: "id", Signal: "id", SalesSignal: "id"}
TABLES = {Customer: "customers", Event: "events", Signal: "signals", SalesSignal: "sales_signals"}

Row = Customer | Event | Signal | SalesSignal


@pytest.fixture(scope="module")
def conn(pg_server: Server, background_drops: BackgroundDrops) -> Iterator[psycopg.Connection[Any]]:
    """A connection to this module's own database, with the schema."""
    name = new_database(pg_server, "strategies")
    dsn = pg_server.dsn_for(name)
    try:
        init_database(dsn)
        with connect(dsn) as connection:
            encoding = connection.execute(
                "SELECT pg_encoding_to_char(encoding) FROM pg_database WHERE datname = %s", (name,)
            )
            assert encoding.fetchone() == ("UTF8",), "the strategies' unicode needs a UTF8 database"
            yield connection
    finally:
        background_drops.drop(name)


def related_rows(adversarial: bool) -> st.SearchStrategy[tuple[Customer, Event, Signal]]:
    """A customer, one of its events and that event's signal."""
    return customers(adversarial=adversarial).flatmap(
        lambda customer: events(customer=customer, adversarial=adversarial).flatmap(
            lambda event: st.tuples(st.just(customer), st.just(event), signals(event, adversarial=adversarial))
        )
    )


def params(row: Row) -> tuple[Any, ...]:
    return tuple(
        Jsonb(value) if column in JSON_COLUMNS and value is not None else value
        for column, value in zip(row.COLUMNS, row.as_row(), strict=True)
    )


def insert(conn: psycopg.Connection[Any], row: Row) -> None:
    query = sql.SQL("INSERT INTO {} ({}) VALUES ({})").format(
        sql.Identifier(TABLES[type(row)]),
        sql.SQL(", ").join(map(sql.Identifier, row.COLUMNS)),
        sql.SQL(", ").join(sql.Placeholder() * len(row.COLUMNS)),
    )
    conn.execute(query, params(row))


def copy_in(conn: psycopg.Connection[Any], row: Row) -> None:
    query = sql.SQL("COPY {} ({}) FROM STDIN").format(
        sql.Identifier(TABLES[type(row)]), sql.SQL(", ").join(map(sql.Identifier, row.COLUMNS))
    )
    with conn.cursor() as cursor, cursor.copy(query) as copy:
        copy.write_row(params(row))


def read_back(conn: psycopg.Connection[Any], row: Row) -> Row:
    cls = type(row)
    key = KEYS[cls]
    query = sql.SQL("SELECT {} FROM {} WHERE {} = %s").format(
        sql.SQL(", ").join(map(sql.Identifier, row.COLUMNS)), sql.Identifier(TABLES[cls]), sql.Identifier(key)
    )
    found = conn.execute(query, (getattr(row, key),)).fetchall()
    assert len(found) == 1
    return cls(*found[0])


def json_numbers_as_decimals(value: Any) -> Any:
    """JSON with every number as the Decimal its text denotes.

    JSONB stores numbers as NUMERIC and prints them without exponent, so a float of 1e16 or more written as
    ``1e+23`` reads back as the int 10**23, which is not the float 1e23: the same JSON number, a
    different Python value. Compare numbers by the decimal they denote.
    """
    if isinstance(value, dict):
        return {key: json_numbers_as_decimals(item) for key, item in value.items()}
    if isinstance(value, list):
        return [json_numbers_as_decimals(item) for item in value]
    if isinstance(value, float):
        return Decimal(repr(value))
    if isinstance(value, int) and not isinstance(value, bool):
        return Decimal(value)
    return value


def assert_loads_equal(conn: psycopg.Connection[Any], row: Row, *, via: str) -> None:
    (copy_in if via == "copy" else insert)(conn, row)
    back = read_back(conn, row)
    for column in row.COLUMNS:
        expected, actual = getattr(row, column), getattr(back, column)
        if column in JSON_COLUMNS and expected is None:
            assert actual is None, column
        elif column in JSON_COLUMNS:
            assert json_numbers_as_decimals(actual) == json_numbers_as_decimals(expected), column
            # and the server holds the same JSON value as the one sent
            same = conn.execute(
                sql.SQL("SELECT {} = %s FROM {} WHERE {} = %s").format(
                    sql.Identifier(column), sql.Identifier(TABLES[type(row)]), sql.Identifier(KEYS[type(row)])
                ),
                (Jsonb(expected), getattr(row, KEYS[type(row)])),
            ).fetchone()
            assert same == (True,), column
        else:
            assert actual == expected, column


@pytest.mark.parametrize("via", ["insert", "copy"])
@pytest.mark.parametrize("adversarial", [False, True], ids=["normal", "adversarial"])
@SETTINGS
@given(data=st.data())
def test_drawn_rows_load_and_read_back_equal(
    conn: psycopg.Connection[Any], adversarial: bool, via: str, data: st.DataObject
) -> None:
    customer, event, signal = data.draw(related_rows(adversarial))
    with conn.transaction(force_rollback=True):
        for row in (customer, event, signal):
            assert_loads_equal(conn, row, via=via)


@SETTINGS
@given(rows=related_rows(adversarial=False))
def test_known_event_types_read_back_as_the_same_python_values(
    conn: psycopg.Connection[Any], rows: tuple[Customer, Event, Signal]
) -> None:
    """Outside free-text payloads no normalisation is needed: the very same dicts come back."""
    _, event, signal = rows
    with conn.transaction(force_rollback=True):
        insert(conn, event)
        insert(conn, signal)
        assert read_back(conn, event) == event
        assert read_back(conn, signal) == signal


def test_large_json_floats_read_back_as_ints(conn: psycopg.Connection[Any]) -> None:
    """Why free-text payloads are compared as decimals (see json_numbers_as_decimals)."""
    row = conn.execute("SELECT %s::jsonb", (Jsonb({"x": 1e23, "y": 1e-7}),)).fetchone()
    assert row is not None
    back = row[0]
    assert back == {"x": 10**23, "y": 1e-7}  # json.dumps wrote 1e+23, JSONB answers 100000000000000000000000
    assert back["x"] != 1e23  # the float nearest 1e23 is 99999999999999991611392


def platform_rows(adversarial: bool) -> st.SearchStrategy[tuple[Customer, Event, SalesSignal]]:
    """A customer, one of its events of the platform's types and the worker's sales_signals row of it."""
    return customers(adversarial=adversarial).flatmap(
        lambda customer: (
            events(st.sampled_from(PLATFORM_EVENT_TYPES), customer=customer, adversarial=adversarial)
            .filter(lambda event: event.event_type in PLATFORM_EVENT_TYPES)
            .flatmap(
                lambda event: st.tuples(
                    st.just(customer), st.just(event), sales_signals(event, adversarial=adversarial)
                )
            )
        )
    )


@pytest.mark.parametrize("via", ["insert", "copy"])
@pytest.mark.parametrize("adversarial", [False, True], ids=["normal", "adversarial"])
@SETTINGS
@given(data=st.data())
def test_drawn_sales_signals_load_and_follow_the_rules(
    conn: psycopg.Connection[Any], adversarial: bool, via: str, data: st.DataObject
) -> None:
    customer, event, row = data.draw(platform_rows(adversarial))
    assert (row.account_id, row.user_id, row.metadata) == (event.customer_id, event.user_id, event.payload)
    assert (row.signal_type, float(row.signal_score)) == platform_signal(event.event_type, event.payload)
    assert row.timestamp.microsecond % 1000 == 0
    assert row.processed_at >= row.timestamp
    with conn.transaction(force_rollback=True):
        for item in (customer, event, row):
            assert_loads_equal(conn, item, via=via)


@SETTINGS
@given(row=sales_signals(adversarial=True))
def test_any_metadata_is_scored_and_loads(conn: psycopg.Connection[Any], row: SalesSignal) -> None:
    """Arbitrary JSON metadata (or none): the rules give a score DECIMAL(3, 2) takes, in [0.1, 1]."""
    assert Decimal("0.10") <= row.signal_score <= Decimal("1.00")
    with conn.transaction(force_rollback=True):
        assert_loads_equal(conn, row, via="copy")
