"""bench_plugin.py's consumer tests: ``bench.json``'s ``tests`` small tests on the seeded tables, in turn a read
(checks the seeded row counts, then a SELECT by customer), an insert + commit (1 customer, 1 event, 1 signal) and
an update + delete + commit (3 signals' jsonb, 1 event); every ``ddl_every``-th one an ALTER TABLE instead."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import psycopg
import pytest

BENCH: dict[str, Any] = json.loads(Path(__file__).with_name("bench.json").read_text(encoding="utf-8"))
CUSTOMERS, EVENTS, SIGNALS = BENCH["counts"]
COMMIT: bool = BENCH["commit"]
Db = psycopg.Connection[Any]

if BENCH["fixture"] == "sspp":
    pytestmark = pytest.mark.sspp(scenario=BENCH["scenario"], seed=BENCH["seed"], isolation=BENCH["isolation"])


def _finish(db: Db) -> None:
    if COMMIT:
        db.commit()


def _read(db: Db, i: int) -> None:
    with db.cursor() as cur:
        cur.execute(
            "SELECT (SELECT count(*) FROM customers), (SELECT count(*) FROM events), (SELECT count(*) FROM signals)"
        )
        assert cur.fetchone() == (CUSTOMERS, EVENTS, SIGNALS), "the seeded data is not what it should be"
        cur.execute(
            "SELECT count(*) FROM events WHERE customer_id = (SELECT customer_id FROM customers "
            "ORDER BY customer_id OFFSET %s LIMIT 1)",
            (i % CUSTOMERS,),
        )
        cur.fetchone()


def _insert(db: Db, i: int) -> None:
    customer = f"bench_{i:05d}"
    db.execute("INSERT INTO customers (customer_id, name) VALUES (%s, 'Bench Co')", (customer,))
    row = db.execute(
        "INSERT INTO events (event_type, customer_id, payload) VALUES ('page_view', %s, '{\"path\": \"/\"}') "
        "RETURNING id",
        (customer,),
    ).fetchone()
    assert row is not None
    db.execute(
        "INSERT INTO signals (event_type, customer_id, signal_data, event_id) "
        "VALUES ('page_view', %s, '{\"score\": 0.5}', %s)",
        (customer, row[0]),
    )
    _finish(db)


def _update_delete(db: Db, i: int) -> None:
    db.execute(
        "UPDATE signals SET signal_data = signal_data || '{\"bench\": 1}' "
        "WHERE id IN (SELECT id FROM signals ORDER BY id OFFSET %s LIMIT 3)",
        (i % 100,),
    )
    db.execute("DELETE FROM events WHERE id = (SELECT id FROM events ORDER BY id OFFSET %s LIMIT 1)", (i % 100,))
    _finish(db)


def _ddl(db: Db, i: int) -> None:
    _read(db, i)
    db.execute(BENCH["ddl"])
    _finish(db)


KINDS: tuple[Callable[[Db, int], None], ...] = (_read, _insert, _update_delete)


@pytest.mark.parametrize("i", range(BENCH["tests"]))
def test_bench(db: Db, i: int) -> None:
    if BENCH["test_ms"] > 0:
        time.sleep(BENCH["test_ms"] / 1000)
    ddl_every: int = BENCH["ddl_every"]
    work = _ddl if ddl_every and i % ddl_every == 0 else KINDS[i % len(KINDS)]
    work(db, i)
