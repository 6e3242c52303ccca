"""What "realistic" means, checked with SQL against a database loaded with the `demo` scenario."""

from __future__ import annotations

from typing import Any

import psycopg
import pytest

from sspp_fixtures.model import EVENT_TYPE_NAMES, FUNNEL, LOCALES
from sspp_fixtures.scenarios import Scenario, load_scenario


@pytest.fixture(scope="module")
def demo() -> Scenario:
    return load_scenario("demo")


# Dogfooding: each test gets its own database seeded with `demo` by the project's own pytest plugin.
pytestmark = pytest.mark.sspp(scenario="demo")


@pytest.fixture
def conn(sspp_db: psycopg.Connection[Any]) -> psycopg.Connection[Any]:
    sspp_db.autocommit = True
    return sspp_db


def one(conn: psycopg.Connection[Any], query: str, *params: object) -> Any:
    row = conn.execute(query, params or None).fetchone()
    assert row is not None
    return row[0] if len(row) == 1 else row


def test_counts_match_the_scenario(conn: psycopg.Connection[Any], demo: Scenario) -> None:
    assert one(conn, "SELECT count(*) FROM customers") == demo.customers + len(demo.stories)
    assert one(conn, "SELECT count(*) FROM events") == demo.events + demo.story_event_count
    signals, events = one(conn, "SELECT (SELECT count(*) FROM signals), (SELECT count(*) FROM events)")
    assert signals <= events
    assert abs(signals / events - demo.processed_share) < 0.03


def test_every_reference_resolves(conn: psycopg.Connection[Any]) -> None:
    assert (
        one(
            conn,
            "SELECT count(*) FROM events e "
            "WHERE NOT EXISTS (SELECT 1 FROM customers c WHERE c.customer_id = e.customer_id)",
        )
        == 0
    )
    assert (
        one(conn, "SELECT count(*) FROM signals s WHERE NOT EXISTS (SELECT 1 FROM events e WHERE e.id = s.event_id)")
        == 0
    )
    assert one(conn, "SELECT count(*) FROM signals WHERE event_id IS NULL") == 0
    mismatched = one(
        conn,
        "SELECT count(*) FROM signals s JOIN events e ON e.id = s.event_id "
        "WHERE s.customer_id <> e.customer_id OR s.event_type <> e.event_type OR s.processed_at < e.received_at",
    )
    assert mismatched == 0
    assert one(conn, "SELECT count(*) - count(DISTINCT event_id) FROM signals") == 0


def test_funnel_order_and_every_type(conn: psycopg.Connection[Any]) -> None:
    counts = dict(conn.execute("SELECT event_type, count(*) FROM events GROUP BY 1").fetchall())
    assert set(counts) == set(EVENT_TYPE_NAMES)
    funnel = [counts[t] for t in FUNNEL]
    assert funnel == sorted(funnel, reverse=True), dict(zip(FUNNEL, funnel, strict=True))
    assert counts["page_view"] > 2 * counts["email_open"]


def test_activity_is_heavy_tailed(conn: psycopg.Connection[Any]) -> None:
    top_share = one(
        conn,
        """
        WITH per AS (SELECT customer_id, count(*) AS n FROM events GROUP BY 1),
             ranked AS (SELECT n, ntile(10) OVER (ORDER BY n DESC) AS decile FROM per)
        SELECT sum(n) FILTER (WHERE decile = 1)::float / sum(n) FROM ranked
        """,
    )
    assert top_share > 0.5


def _local_time_sql() -> str:
    offsets = ", ".join(f"('{info.locale}', {info.utc_offset_hours})" for info in LOCALES)
    return (
        f"WITH offsets(locale, hours) AS (VALUES {offsets}) "
        "SELECT e.received_at + make_interval(mins => (o.hours * 60)::int) AS local "
        "FROM events e JOIN customers c USING (customer_id) JOIN offsets o ON o.locale = c.locale"
    )


def test_business_hours_and_weekdays_in_the_customers_time(conn: psycopg.Connection[Any]) -> None:
    weekday_share, office_share = conn.execute(
        f"WITH t AS ({_local_time_sql()}) SELECT "
        "avg((extract(isodow FROM local) <= 5)::int), avg((extract(hour FROM local) BETWEEN 8 AND 18)::int) FROM t"
    ).fetchone()  # type: ignore[misc]
    assert weekday_share > 0.8
    assert office_share > 0.7


def test_trend_rises_across_the_window(conn: psycopg.Connection[Any], demo: Scenario) -> None:
    first, last = conn.execute(
        "SELECT count(*) FILTER (WHERE received_at < %s), count(*) FILTER (WHERE received_at >= %s) FROM events",
        (
            demo.window_start + (demo.window_end - demo.window_start) / 3,
            demo.window_end - (demo.window_end - demo.window_start) / 3,
        ),
    ).fetchone()  # type: ignore[misc]
    assert last > first


def test_no_timestamp_outside_the_window_or_before_its_customer(conn: psycopg.Connection[Any], demo: Scenario) -> None:
    latest = one(
        conn,
        "SELECT greatest((SELECT max(received_at) FROM events), (SELECT max(processed_at) FROM signals), "
        "(SELECT max(created_at) FROM signals), (SELECT max(updated_at) FROM customers))",
    )
    assert latest < demo.window_end
    assert one(conn, "SELECT min(received_at) FROM events") >= demo.window_start
    early = one(
        conn,
        "SELECT count(*) FROM events e JOIN customers c USING (customer_id) WHERE e.received_at <= c.created_at",
    )
    assert early == 0


def test_values_are_plausible(conn: psycopg.Connection[Any]) -> None:
    assert (
        one(conn, "SELECT count(*) FROM events WHERE event_type = 'purchase' AND (payload->>'amount')::numeric <= 0")
        == 0
    )
    assert one(conn, "SELECT min(annual_value) FROM customers") >= 0
    medians = dict(
        conn.execute(
            "SELECT segment, percentile_cont(0.5) WITHIN GROUP (ORDER BY annual_value) FROM customers GROUP BY 1"
        ).fetchall()
    )
    assert medians["smb"] < medians["mid_market"] < medians["enterprise"]
    lag = one(
        conn,
        "SELECT percentile_cont(0.5) WITHIN GROUP (ORDER BY extract(epoch FROM s.processed_at - e.received_at)) "
        "FROM signals s JOIN events e ON e.id = s.event_id",
    )
    assert 0.5 < lag < 120


def test_names_are_diverse_and_consistent(conn: psycopg.Connection[Any]) -> None:
    distinct, total = conn.execute("SELECT count(DISTINCT name), count(*) FROM customers").fetchone()  # type: ignore[misc]
    assert distinct / total >= 0.99
    countries = {info.locale: info.country for info in LOCALES}
    for locale, country in conn.execute("SELECT DISTINCT locale, country FROM customers").fetchall():
        assert countries[locale] == country
    assert one(conn, "SELECT count(*) FROM customers WHERE contact_email NOT LIKE '%_@_%._%'") == 0


def test_stories_are_there_as_scripted(conn: psycopg.Connection[Any], demo: Scenario) -> None:
    for story in demo.stories:
        customer = story.customer
        assert one(conn, "SELECT name FROM customers WHERE customer_id = %s", customer.customer_id) == customer.name
        types = [
            r[0]
            for r in conn.execute(
                "SELECT event_type FROM events WHERE customer_id = %s ORDER BY received_at", (customer.customer_id,)
            )
        ]
        assert types == [e.type for e in story.events for _ in range(e.count)]
    harbor = one(
        conn,
        "SELECT payload FROM events WHERE customer_id = 'cust_demo_harbor' AND event_type = 'purchase'",
    )
    assert (harbor["product"], harbor["quantity"], harbor["currency"]) == ("lead_router", 40, "EUR")
    unprocessed = one(
        conn,
        "SELECT count(*) FROM events e WHERE customer_id = 'cust_demo_sakura' AND event_type = 'inquiry' "
        "AND NOT EXISTS (SELECT 1 FROM signals s WHERE s.event_id = e.id)",
    )
    assert unprocessed == 1


def test_indexes_are_back_and_tables_analyzed(conn: psycopg.Connection[Any]) -> None:
    names = {r[0] for r in conn.execute("SELECT indexname FROM pg_indexes WHERE schemaname = 'public'")}
    assert {
        "idx_signals_customer",
        "idx_signals_event_type",
        "idx_signals_processed_at",
        "idx_signals_type_time",
        "idx_signals_data",
        "signals_pkey",
        "events_pkey",
        "customers_pkey",
    } <= names
    # Planner statistics live in the catalog (pg_statistic), so they survive cloning the template.
    analyzed = one(
        conn,
        "SELECT count(DISTINCT tablename) FROM pg_stats WHERE schemaname = 'public' "
        "AND tablename IN ('customers', 'events', 'signals')",
    )
    assert analyzed == 3
