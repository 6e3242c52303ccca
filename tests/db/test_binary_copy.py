"""The loader's binary COPY: the same rows as COPY text in a real PostgreSQL, and text wherever the live column
types are not the ones its bytes are valid for."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import numpy as np
import psycopg
import pytest
from psycopg import sql

from sspp_fixtures._load_common import copy_format
from sspp_fixtures.bulkgen import (
    BINARY_LAYOUTS,
    ChunkMaker,
    Columns,
    copy_statement,
    formatter,
    load_pools,
    scenario_locales,
)
from sspp_fixtures.bulkgen._stream import format_columns
from sspp_fixtures.dsn import connect
from sspp_fixtures.loader import load_scenario_into
from sspp_fixtures.scenarios import load_scenario
from sspp_fixtures.schema import init_database
from tests.db.test_load import checksums

MakeDb = Callable[..., str]


@pytest.fixture
def conn(empty_db: str) -> Iterator[psycopg.Connection[Any]]:
    init_database(empty_db)
    with connect(empty_db) as connection:
        connection.autocommit = True
        yield connection


def _copy_both_ways(conn: psycopg.Connection[Any], chunks: list[Columns]) -> tuple[list[Any], list[Any]]:
    """The chunks' rows COPYed as text and as binary into two copies of their table (without keys), read back."""
    table = chunks[0].table
    read = []
    for wire in ("copy", "copy-binary"):
        conn.execute(sql.SQL("TRUNCATE {}").format(sql.Identifier(table)))
        with conn.cursor() as cursor:
            for piece in format_columns(chunks, formatter(wire)):
                with cursor.copy(copy_statement(piece.table, binary=piece.binary)) as copy:
                    copy.write(piece.data)
        query = sql.SQL("SELECT t::text FROM {} t ORDER BY 1").format(sql.Identifier(table))
        read.append(conn.execute(query).fetchall())
    return read[0], read[1]


def test_generated_events_and_signals_are_the_same_rows_either_way(conn: psycopg.Connection[Any]) -> None:
    scenario = load_scenario("demo")
    maker = ChunkMaker(scenario, load_pools(scenario_locales(scenario)))
    made = [maker.events(k) for k in range(2)]
    stories = {c.table: c for c in maker.stories()}  # made without datetime64 columns: the text is parsed
    for index, table in enumerate(("events", "signals")):
        chunks = [batch[index] for batch in made] + [stories[table]]
        assert formatter("copy-binary").binary_tables >= {table}
        text, binary = _copy_both_ways(conn, chunks)
        assert len(text) == sum(c.rows for c in chunks) > 10_000
        assert binary == text
    assert any(v is None for batch in made for v in batch[0].values["user_id"])  # NULLs were among them


def test_nulls_odd_uuids_and_text_beyond_ascii_are_the_same_rows_either_way(conn: psycopg.Connection[Any]) -> None:
    conn.execute("ALTER TABLE signals ALTER COLUMN signal_data DROP NOT NULL, ALTER COLUMN event_id DROP NOT NULL")
    rows = 300  # more distinct customer ids than a table of ready fields takes
    values: dict[str, list[str | None]] = {
        "id": [f"{i:08x}-0000-4000-8000-{i:012x}" for i in range(rows)],
        "event_type": ["deal_won" if i % 2 else "café_visit" for i in range(rows)],
        "customer_id": [f"cust_{i}_ünï" if i % 3 else f"c{i}" for i in range(rows)],
        "signal_data": [None if i % 7 == 0 else f'{{"n":{i},"s":"ß\\t{i}"}}' for i in range(rows)],
        "processed_at": [None if i % 5 == 0 else f"2026-03-{1 + i % 28:02d}T10:00:00.{i:06d}" for i in range(rows)],
        "created_at": [f"1999-12-31T23:59:59.{i:06d}" for i in range(rows)],  # before PostgreSQL's epoch
        "event_id": [None if i % 4 == 0 else f"{{{i:032X}}}" for i in range(rows)],  # braces, upper case
    }
    times = {"created_at": np.array(values["created_at"], dtype="datetime64[us]")}
    chunk = Columns("signals", values, rows, times=times)
    text, binary = _copy_both_ways(conn, [chunk])
    assert binary == text
    assert len(text) == rows


def test_the_statement_names_the_layouts_columns_in_order() -> None:
    statement = copy_statement("signals", binary=True, freeze=True).as_string(None)
    columns = ", ".join(f'"{column}"' for column, _ in BINARY_LAYOUTS["signals"])
    assert statement == f'COPY "signals" ({columns}) FROM STDIN (FORMAT binary, FREEZE)'
    assert copy_statement("customers").as_string(None).endswith("FROM STDIN")


def test_binary_only_where_every_column_has_the_type_its_bytes_are_for(conn: psycopg.Connection[Any]) -> None:
    assert copy_format(conn) == "copy-binary"
    conn.execute("ALTER TABLE events ALTER COLUMN customer_id TYPE text")  # text takes the same bytes
    assert copy_format(conn) == "copy-binary"
    conn.execute("ALTER TABLE signals ALTER COLUMN processed_at TYPE timestamptz")
    assert copy_format(conn) == "copy"


@pytest.mark.parametrize("connections", [1, 2])
def test_a_load_where_the_types_differ_goes_as_text_and_loads_the_same(
    database_factory: MakeDb, connections: int
) -> None:
    scenario = load_scenario("demo").with_overrides(scale=0.3)
    plain, adopted = database_factory("plain"), database_factory("adopted")
    for dsn in (plain, adopted):
        init_database(dsn)
    with connect(adopted) as other:
        other.execute("ALTER TABLE events ALTER COLUMN received_at TYPE timestamptz")
        other.execute("SET TIME ZONE 'UTC'")
        assert copy_format(other) == "copy"
        other.commit()
    load_scenario_into(plain, scenario, connections=connections)
    load_scenario_into(adopted, scenario, connections=connections)
    assert checksums(plain)["signals"] == checksums(adopted)["signals"]
    with connect(plain) as a, connect(adopted) as b:
        query = "SELECT md5(string_agg(id::text || customer_id || payload::text, '|' ORDER BY id)) FROM events"
        assert a.execute(query).fetchone() == b.execute(query).fetchone()
