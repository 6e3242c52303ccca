"""What makes seed.sql idempotent, against a real PostgreSQL: primary keys and id sequences read from the migrations
agree with a migrated database's catalog, and the SQL formatter's INSERTs run twice and move the sequence."""

from __future__ import annotations

import pytest

from sspp_fixtures.bulkgen import TABLES, _formats
from sspp_fixtures.bulkgen._generate import Columns
from sspp_fixtures.bulkgen._tables import TableSpec
from sspp_fixtures.dsn import connect
from sspp_fixtures.errors import SsppError
from sspp_fixtures.schema import apply_migrations
from sspp_fixtures.schema._keys import TableKey, table_keys
from tests.platform_sql import PLATFORM_SEED_SQL

PRIMARY_KEYS = """
SELECT c.relname, array_agg(a.attname ORDER BY k.ord), pg_get_serial_sequence(c.relname, min(a.attname))
FROM pg_index x
JOIN pg_class c ON c.oid = x.indrelid
CROSS JOIN LATERAL unnest(x.indkey) WITH ORDINALITY AS k(attnum, ord)
JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum = k.attnum
WHERE x.indisprimary AND c.relnamespace = 'public'::regnamespace
GROUP BY c.relname, x.indexrelid
"""


def test_table_keys_agree_with_the_migrated_catalog(empty_db: str) -> None:
    apply_migrations(empty_db)
    with connect(empty_db) as conn:
        catalog = {
            table: TableKey(table, tuple(columns), sequence.removeprefix("public.") if sequence else None)
            for table, columns, sequence in conn.execute(PRIMARY_KEYS)
        }
    assert table_keys() == catalog
    assert catalog["sales_signals"].sequence == "sales_signals_id_seq"
    assert set(TABLES) <= set(catalog), "every exported table has a primary key to skip rows already there"


SALES_SIGNALS = TableSpec(
    "sales_signals",
    ("id", "account_id", "user_id", "event_type", "signal_type", "signal_score", "timestamp", "metadata"),
    ("number", "text", "text", "text", "text", "number", "timestamp", "json"),
)


def _sales_signals_sql(ids: list[int]) -> str:
    values: dict[str, list[str | None]] = {
        "id": [str(i) for i in ids],
        "account_id": ["cust_000001"] * len(ids),
        "user_id": ["usr_000001_01"] * len(ids),
        "event_type": ["email_sent"] * len(ids),
        "signal_type": ["outreach"] * len(ids),
        "signal_score": ["0.10"] * len(ids),
        "timestamp": ["2026-06-01T10:00:00"] * len(ids),
        "metadata": ['{"campaign": "it\'s Q4"}'] * len(ids),
    }
    writer = _formats.SqlInserts()
    body = writer.rows(Columns("sales_signals", values, len(ids))) + writer.footer(SALES_SIGNALS)
    return "BEGIN;\n" + body.decode() + "COMMIT;\n"


def test_sql_inserts_skip_rows_already_there_and_move_the_id_sequence(
    empty_db: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(_formats.TABLES, "sales_signals", SALES_SIGNALS)
    seed = _sales_signals_sql([1, 2, 3, 10])
    assert "ON CONFLICT (id) DO NOTHING;" in seed
    assert "SELECT setval('sales_signals_id_seq', GREATEST((SELECT max(id) FROM sales_signals), 1));" in seed
    apply_migrations(empty_db)
    with connect(empty_db) as conn:
        conn.execute(PLATFORM_SEED_SQL)  # the platform's 7 rows take ids 1-7 from the sequence
        conn.execute(seed)  # ids 1, 2, 3 are there: skipped; 10 is new
        first = conn.execute("SELECT s::text FROM sales_signals s ORDER BY id").fetchall()
        conn.execute(seed)
        assert conn.execute("SELECT s::text FROM sales_signals s ORDER BY id").fetchall() == first
        assert [r[0] for r in conn.execute("SELECT id FROM sales_signals ORDER BY id")] == [*range(1, 8), 10]
        conn.execute(PLATFORM_SEED_SQL)  # after ours: ids from the sequence, past 10
        assert conn.execute("SELECT min(id) FROM sales_signals WHERE id > 10").fetchone() == (11,)


def test_tables_without_a_sequence_get_no_setval() -> None:
    for table, spec in TABLES.items():
        if table_keys()[table].sequence is None:
            assert _formats.SqlInserts().footer(spec) == b""


def test_rows_without_their_primary_key_are_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    """A table exported without its key column could not be skipped on a second run: refused, not written."""
    without_id = TableSpec("sales_signals", SALES_SIGNALS.columns[1:], SALES_SIGNALS.kinds[1:])
    monkeypatch.setitem(_formats.TABLES, "sales_signals", without_id)
    chunk = Columns("sales_signals", {column: ["x"] for column in without_id.columns}, 1)
    with pytest.raises(SsppError, match=r"the rows of sales_signals lack its primary key \(id\)"):
        _formats.SqlInserts().rows(chunk)
