"""``sales_signals`` as the platform runs it: the schema its services use, and data the worker would have written.

The schema is checked against the platform's facts written out here (not read from our migrations); every row
of a loaded ``demo`` is re-scored by an implementation of the worker's rules written in this file (independent of
``sspp_fixtures.model``); and the platform API's own query shapes are run against the data.
"""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

import psycopg
import pytest

from sspp_fixtures.scenarios import load_scenario

pytestmark = pytest.mark.sspp(scenario="demo")

# The platform's init.sql, as facts: (column, type, NOT NULL, default).
COLUMNS = [
    ("id", "integer", True, "nextval('sales_signals_id_seq'::regclass)"),
    ("account_id", "character varying(255)", True, None),
    ("user_id", "character varying(255)", True, None),
    ("event_type", "character varying(100)", True, None),
    ("signal_type", "character varying(100)", True, None),
    ("signal_score", "numeric(3,2)", True, None),
    ("timestamp", "timestamp without time zone", True, None),
    ("processed_at", "timestamp without time zone", True, "now()"),
    ("metadata", "jsonb", False, None),
    ("created_at", "timestamp without time zone", True, "now()"),
    ("updated_at", "timestamp without time zone", True, "now()"),
]
INDEXES = {
    "sales_signals_pkey": "CREATE UNIQUE INDEX sales_signals_pkey ON public.sales_signals USING btree (id)",
    "idx_sales_signals_account_id": "CREATE INDEX idx_sales_signals_account_id ON public.sales_signals "
    "USING btree (account_id)",
    "idx_sales_signals_user_id": "CREATE INDEX idx_sales_signals_user_id ON public.sales_signals USING btree (user_id)",
    "idx_sales_signals_event_type": "CREATE INDEX idx_sales_signals_event_type ON public.sales_signals "
    "USING btree (event_type)",
    "idx_sales_signals_signal_type": "CREATE INDEX idx_sales_signals_signal_type ON public.sales_signals "
    "USING btree (signal_type)",
    "idx_sales_signals_timestamp": "CREATE INDEX idx_sales_signals_timestamp ON public.sales_signals "
    'USING btree ("timestamp" DESC)',
    "idx_sales_signals_processed_at": "CREATE INDEX idx_sales_signals_processed_at ON public.sales_signals "
    "USING btree (processed_at DESC)",
    "idx_sales_signals_account_timestamp": "CREATE INDEX idx_sales_signals_account_timestamp ON public.sales_signals "
    'USING btree (account_id, "timestamp" DESC)',
}
SIGNAL_TYPE = {
    "email_sent": "outreach",
    "email_opened": "engagement",
    "email_clicked": "high_engagement",
    "meeting_booked": "intent",
    "call_made": "outreach",
    "demo_completed": "high_intent",
}
BASE_CENTS = {
    "email_sent": 10,
    "email_opened": 30,
    "email_clicked": 60,
    "meeting_booked": 80,
    "call_made": 50,
    "demo_completed": 90,
}


def worker_score(event_type: str, metadata: dict[str, Any]) -> Decimal:
    """The worker's rules in integer cents, for the numbers the generator writes (and any positive number)."""
    cents = BASE_CENTS.get(event_type, 10)
    hours = metadata.get("responseTimeHours")
    if isinstance(hours, int | float) and hours and hours < 24:
        cents += 10
    count = metadata.get("interactionCount")
    if isinstance(count, int | float) and count and count > 3:
        cents += 15
    return Decimal(min(cents, 100)) / 100


@pytest.fixture
def conn(sspp_db: psycopg.Connection[Any]) -> psycopg.Connection[Any]:
    sspp_db.autocommit = True
    return sspp_db


def one(conn: psycopg.Connection[Any], query: str, *params: object) -> Any:
    row = conn.execute(query, params or None).fetchone()
    assert row is not None
    return row[0] if len(row) == 1 else row


def test_columns_types_defaults_are_the_platforms(conn: psycopg.Connection[Any]) -> None:
    rows = conn.execute(
        "SELECT a.attname, format_type(a.atttypid, a.atttypmod), a.attnotnull, pg_get_expr(d.adbin, d.adrelid) "
        "FROM pg_attribute a LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum "
        "WHERE a.attrelid = 'sales_signals'::regclass AND a.attnum > 0 AND NOT a.attisdropped ORDER BY a.attnum"
    ).fetchall()
    assert [tuple(r) for r in rows] == COLUMNS


def test_indexes_have_the_platforms_names_and_definitions(conn: psycopg.Connection[Any]) -> None:
    rows = dict(conn.execute("SELECT indexname, indexdef FROM pg_indexes WHERE tablename = 'sales_signals'").fetchall())
    assert rows == INDEXES


def test_the_trigger_sets_updated_at_on_update(conn: psycopg.Connection[Any]) -> None:
    trigger = one(
        conn,
        "SELECT pg_get_triggerdef(oid) FROM pg_trigger WHERE tgrelid = 'sales_signals'::regclass AND NOT tgisinternal",
    )
    assert trigger == (
        "CREATE TRIGGER update_sales_signals_updated_at BEFORE UPDATE ON public.sales_signals "
        "FOR EACH ROW EXECUTE FUNCTION update_updated_at_column()"
    )
    row_id, before = one(conn, "SELECT id, updated_at FROM sales_signals ORDER BY id LIMIT 1")
    conn.execute("UPDATE sales_signals SET signal_score = signal_score WHERE id = %s", (row_id,))
    after = one(conn, "SELECT updated_at FROM sales_signals WHERE id = %s", row_id)
    assert after > before
    assert one(conn, "SELECT now()::timestamp - %s < interval '1 minute'", after)


def test_the_view_aggregates_per_account_day_and_type(conn: psycopg.Connection[Any]) -> None:
    columns = [r[0] for r in conn.execute("SELECT * FROM signal_analytics LIMIT 0").description or []]
    assert columns == ["account_id", "date", "signal_type", "signal_count", "avg_score", "max_score"]
    mismatches = one(
        conn,
        """
        SELECT count(*) FROM signal_analytics v
        FULL JOIN (SELECT account_id, timestamp::date AS date, signal_type, count(*) AS n,
                          avg(signal_score) AS avg_score, max(signal_score) AS max_score
                   FROM sales_signals GROUP BY 1, 2, 3) m USING (account_id, date, signal_type)
        WHERE v.signal_count IS DISTINCT FROM m.n OR v.avg_score IS DISTINCT FROM m.avg_score
           OR v.max_score IS DISTINCT FROM m.max_score
        """,
    )
    assert mismatches == 0
    assert one(conn, "SELECT count(*) FROM signal_analytics") > 1000
    assert one(conn, "SELECT max(signal_count) FROM signal_analytics") > 1


def test_every_row_follows_the_workers_rules(conn: psycopg.Connection[Any]) -> None:
    rows = conn.execute("SELECT event_type, signal_type, signal_score, metadata FROM sales_signals").fetchall()
    assert len(rows) > 10_000
    wrong = [
        (event_type, signal_type, score, metadata)
        for event_type, signal_type, score, metadata in rows
        if signal_type != SIGNAL_TYPE[event_type] or score != worker_score(event_type, metadata or {})
    ]
    assert not wrong, wrong[:5]


def test_modifiers_are_earned_by_realistic_shares(conn: psycopg.Connection[Any]) -> None:
    quick, many, both, total = one(
        conn,
        """
        SELECT count(*) FILTER (WHERE (metadata->>'responseTimeHours')::float < 24),
               count(*) FILTER (WHERE (metadata->>'interactionCount')::int > 3),
               count(*) FILTER (WHERE (metadata->>'responseTimeHours')::float < 24
                                  AND (metadata->>'interactionCount')::int > 3),
               count(*)
        FROM sales_signals
        """,
    )
    assert 0.15 < quick / total < 0.7
    assert 0.1 < many / total < 0.6
    assert both > 0
    capped = one(conn, "SELECT count(*) FROM sales_signals WHERE signal_score = 1.00")
    assert capped > 0  # meetings and demos with both modifiers reach the cap
    assert one(conn, "SELECT count(DISTINCT signal_score) FROM sales_signals") >= 10


def test_only_the_six_types_and_exactly_one_row_per_processed_event(conn: psycopg.Connection[Any]) -> None:
    assert {r[0] for r in conn.execute("SELECT DISTINCT event_type FROM sales_signals")} == set(SIGNAL_TYPE)
    # Each processed event of the six types has its row: same account, user, type, time and metadata.
    unmatched_events, unmatched_rows, rows, processed = one(
        conn,
        """
        WITH ev AS (
            SELECT e.* FROM events e JOIN signals s ON s.event_id = e.id WHERE e.event_type = ANY(%s)
        )
        SELECT (SELECT count(*) FROM ev WHERE NOT EXISTS (
                    SELECT 1 FROM sales_signals ss WHERE ss.account_id = ev.customer_id AND ss.user_id = ev.user_id
                    AND ss.event_type = ev.event_type AND ss.timestamp = ev.received_at AND ss.metadata = ev.payload)),
               (SELECT count(*) FROM sales_signals ss WHERE NOT EXISTS (
                    SELECT 1 FROM ev WHERE ss.account_id = ev.customer_id AND ss.user_id = ev.user_id
                    AND ss.event_type = ev.event_type AND ss.timestamp = ev.received_at AND ss.metadata = ev.payload)),
               (SELECT count(*) FROM sales_signals),
               (SELECT count(*) FROM ev)
        """,
        list(SIGNAL_TYPE),
    )
    assert (unmatched_events, unmatched_rows) == (0, 0)
    assert rows == processed
    # Unprocessed events of the six types have no row; other types never reach the table.
    assert (
        one(conn, "SELECT count(*) FROM events WHERE event_type = ANY(%s) AND user_id IS NULL", list(SIGNAL_TYPE)) == 0
    )
    assert (
        one(
            conn,
            "SELECT count(*) FROM events WHERE NOT event_type = ANY(%s) AND user_id IS NOT NULL",
            list(SIGNAL_TYPE),
        )
        == 0
    )


def test_accounts_are_customers_with_stable_teams(conn: psycopg.Connection[Any]) -> None:
    assert (
        one(
            conn,
            "SELECT count(*) FROM sales_signals s WHERE NOT EXISTS "
            "(SELECT 1 FROM customers c WHERE c.customer_id = s.account_id)",
        )
        == 0
    )
    users_per_account = conn.execute(
        "SELECT count(DISTINCT user_id) FROM sales_signals GROUP BY account_id HAVING count(*) >= 30"
    ).fetchall()
    sizes = [r[0] for r in users_per_account]
    assert sizes
    assert max(sizes) <= 5
    assert min(sizes) >= 1
    assert one(conn, "SELECT count(DISTINCT user_id) FROM sales_signals") >= 50
    # An account's owner does most of its work.
    owner_share = one(
        conn,
        """
        WITH per AS (SELECT account_id, user_id, count(*) AS n FROM sales_signals GROUP BY 1, 2),
             top AS (SELECT account_id, max(n) AS top, sum(n) AS total FROM per GROUP BY 1 HAVING sum(n) >= 30)
        SELECT avg(top::float / total) FROM top
        """,
    )
    assert owner_share > 0.5
    assert one(conn, "SELECT bool_and(user_id ~ '^user_[0-9]{3,}$') FROM sales_signals")


def test_the_sales_funnel_narrows_and_runs_in_order(conn: psycopg.Connection[Any]) -> None:
    funnel = ["email_sent", "email_opened", "email_clicked", "call_made", "meeting_booked", "demo_completed"]
    counts = dict(conn.execute("SELECT event_type, count(*) FROM events GROUP BY 1").fetchall())
    assert [counts[t] for t in funnel] == sorted((counts[t] for t in funnel), reverse=True)
    accounts = dict(
        conn.execute("SELECT event_type, count(DISTINCT account_id) FROM sales_signals GROUP BY 1").fetchall()
    )
    assert [accounts[t] for t in funnel] == sorted((accounts[t] for t in funnel), reverse=True)
    # Per account, each stage's first event comes after the first event of the stage before it (but for accounts
    # whose cycle began before the window: their early stages fell before it).
    in_order, pairs = one(
        conn,
        """
        WITH firsts AS (SELECT account_id, event_type, min(timestamp) AS first FROM sales_signals GROUP BY 1, 2),
             steps AS (SELECT a.first < b.first AS ordered FROM firsts a JOIN firsts b USING (account_id)
                       WHERE (a.event_type, b.event_type) IN (('email_sent', 'email_opened'),
                             ('email_opened', 'email_clicked'), ('email_clicked', 'call_made'),
                             ('call_made', 'meeting_booked'), ('meeting_booked', 'demo_completed')))
        SELECT count(*) FILTER (WHERE ordered), count(*) FROM steps
        """,
    )
    assert pairs > 500
    assert in_order / pairs > 0.8
    # Most accounts that saw a demo were emailed (the rest had only a handful of events in the window).
    emailed, demoed = one(
        conn,
        "SELECT count(*) FILTER (WHERE EXISTS (SELECT 1 FROM sales_signals s WHERE s.account_id = d.account_id "
        "AND s.event_type = 'email_sent')), count(*) "
        "FROM (SELECT DISTINCT account_id FROM sales_signals WHERE event_type = 'demo_completed') d",
    )
    assert demoed > 100
    assert emailed / demoed > 0.7


def test_times_are_the_workers(conn: psycopg.Connection[Any]) -> None:
    demo = load_scenario("demo")
    late, sub_ms, bad_created, outside = one(
        conn,
        """
        SELECT count(*) FILTER (WHERE processed_at < timestamp),
               count(*) FILTER (WHERE date_trunc('milliseconds', timestamp) <> timestamp
                                   OR date_trunc('milliseconds', processed_at) <> processed_at),
               count(*) FILTER (WHERE created_at < processed_at OR updated_at <> created_at),
               count(*) FILTER (WHERE timestamp < %s OR created_at >= %s)
        FROM sales_signals
        """,
        demo.window_start,
        demo.window_end,
    )
    assert (late, sub_ms, bad_created, outside) == (0, 0, 0, 0)
    # No pile-up at the window's edges, and no two events of one account, user and type at one instant.
    at_edges = one(
        conn,
        "SELECT count(*) FROM sales_signals WHERE timestamp IN "
        "((SELECT min(timestamp) FROM sales_signals), (SELECT max(timestamp) FROM sales_signals))",
    )
    assert at_edges <= 4
    same_instant = one(
        conn,
        "SELECT count(*) FROM (SELECT 1 FROM sales_signals GROUP BY account_id, user_id, event_type, timestamp "
        "HAVING count(*) > 1) d",
    )
    assert same_instant <= 2
    # The worker wrote the rows in order: the id sequence continues after them.
    assert one(conn, "SELECT last_value = (SELECT max(id) FROM sales_signals) FROM sales_signals_id_seq")


def test_the_platform_apis_query_shapes_return_data(conn: psycopg.Connection[Any]) -> None:
    select = (
        "SELECT id, account_id, user_id, event_type, signal_type, signal_score, timestamp, processed_at, metadata "
        "FROM sales_signals"
    )
    account, user = one(conn, "SELECT account_id, user_id FROM sales_signals GROUP BY 1, 2 ORDER BY count(*) DESC")
    for where, params in [
        ("", ()),
        (" WHERE account_id = $1", (account,)),
        (" WHERE user_id = $1", (user,)),
        (" WHERE event_type = $1", ("email_sent",)),
        (" WHERE signal_type = $1", ("outreach",)),
        (" WHERE account_id = $1 AND event_type = $2", (account, "email_sent")),
    ]:
        total = one(
            conn, "SELECT COUNT(*) as total FROM sales_signals" + where.replace("$1", "%s").replace("$2", "%s"), *params
        )
        assert total > 0, where
        page = conn.execute(
            select + where.replace("$1", "%s").replace("$2", "%s") + " ORDER BY processed_at DESC LIMIT %s OFFSET %s",
            (*params, 20, 0),
        ).fetchall()
        assert len(page) == min(20, total)
        times = [r[7] for r in page]
        assert times == sorted(times, reverse=True)
    for sort in ("processed_at", "timestamp", "signal_score", "id"):
        assert conn.execute(f"{select} ORDER BY {sort} ASC LIMIT 5").fetchall()
    stats = conn.execute(
        "SELECT COUNT(*)::bigint, COUNT(DISTINCT account_id)::bigint, COUNT(DISTINCT user_id)::bigint, "
        "COALESCE(AVG(signal_score), 0) FROM sales_signals"
    ).fetchone()
    assert stats is not None
    assert stats[0] > 0
    assert stats[1] > 100
    assert 0.1 < stats[3] < 1
    by_type = dict(conn.execute("SELECT signal_type, COUNT(*)::bigint FROM sales_signals GROUP BY signal_type"))
    assert set(by_type) == set(SIGNAL_TYPE.values())
    found = conn.execute(select + " WHERE id = %s", (one(conn, "SELECT min(id) FROM sales_signals"),)).fetchone()
    assert found is not None
    assert isinstance(found[8], dict)


def test_signal_data_keeps_the_events_fields_at_the_top(conn: psycopg.Connection[Any]) -> None:
    missing_amount = one(
        conn, "SELECT count(*) FROM signals WHERE event_type = 'purchase' AND signal_data->>'amount' IS NULL"
    )
    assert missing_amount == 0
    row = one(conn, "SELECT signal_data FROM signals WHERE event_type = 'purchase' LIMIT 1")
    assert {"amount", "product", "currency", "signal", "score", "priority", "action", "value_usd"} <= set(row)
    assert "event" not in row
    matches = one(
        conn,
        "SELECT count(*) FROM signals s JOIN events e ON e.id = s.event_id WHERE e.event_type = 'purchase' "
        "AND (s.signal_data->'amount' <> e.payload->'amount' OR s.signal_data->'product' <> e.payload->'product')",
    )
    assert matches == 0
    # The platform's types: the signal's score is the worker's.
    assert (
        one(
            conn,
            "SELECT count(*) FROM signals s JOIN sales_signals ss ON ss.account_id = s.customer_id "
            "AND ss.event_type = s.event_type AND ss.metadata = (SELECT payload FROM events WHERE id = s.event_id) "
            "WHERE (s.signal_data->>'score')::numeric <> ss.signal_score",
        )
        == 0
    )


def test_story_rows_follow_the_rules_too(conn: psycopg.Connection[Any]) -> None:
    rows = conn.execute(
        "SELECT event_type, signal_score, metadata FROM sales_signals WHERE account_id = 'cust_demo_harbor' "
        "ORDER BY timestamp"
    ).fetchall()
    assert [r[0] for r in rows][:3] == ["email_sent", "email_opened", "email_clicked"]
    assert "demo_completed" in [r[0] for r in rows]
    for event_type, score, metadata in rows:
        assert score == worker_score(event_type, metadata), (event_type, metadata)
    assert json.loads(json.dumps(rows[-1][2]))  # metadata is an object


def test_the_services_roles_can_do_their_jobs(conn: psycopg.Connection[Any]) -> None:
    def can(role: str, privilege: str, relation: str = "sales_signals") -> bool:
        return bool(one(conn, "SELECT has_table_privilege(%s, %s, %s)", role, relation, privilege))

    assert all(can("sspp_worker", privilege) for privilege in ("INSERT", "SELECT", "UPDATE"))
    assert one(conn, "SELECT has_sequence_privilege('sspp_worker', 'sales_signals_id_seq', 'USAGE')")
    for reader in ("sspp_api", "sspp_readonly"):
        assert can(reader, "SELECT")
        assert can(reader, "SELECT", "signal_analytics")
        assert not can(reader, "INSERT")
    assert not can("sspp_worker", "DELETE")
    # The worker's own INSERT, as the worker's role, takes the next id from the sequence.
    conn.execute("SET ROLE sspp_worker")
    try:
        new_id = one(
            conn,
            "INSERT INTO sales_signals (account_id, user_id, event_type, signal_type, signal_score, timestamp, "
            "processed_at, metadata) VALUES ('cust_000001', 'user_001', 'email_sent', 'outreach', 0.1, now(), now(), "
            "'{}') RETURNING id",
        )
    finally:
        conn.execute("RESET ROLE")
    assert new_id == one(conn, "SELECT max(id) FROM sales_signals")
