"""The report's figures, checked against SQL written here and against the scenario; a skewed database is flagged."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import psycopg
import pytest

pytest.importorskip("matplotlib", reason="the report extra is not installed: pip install 'sspp-fixtures[report]'")

from sspp_fixtures.model import LOCALES, USD_RATES
from sspp_fixtures.report import DataReport, Row, data_report
from sspp_fixtures.scenarios import load_scenario
from tests.fix_cli import cli_here

pytestmark = pytest.mark.sspp(scenario="demo")

_OFFSETS = ", ".join(f"('{info.locale}', {info.utc_offset_hours})" for info in LOCALES)
_RATES = ", ".join(f"('{code}', {rate})" for code, rate in USD_RATES.items())


@pytest.fixture
def conn(sspp_db: psycopg.Connection[Any]) -> psycopg.Connection[Any]:
    sspp_db.autocommit = True
    return sspp_db


def one(conn: psycopg.Connection[Any], query: str) -> Any:
    row = conn.execute(query).fetchone()
    assert row is not None
    return row[0] if len(row) == 1 else row


def rows_of(report: DataReport, key: str) -> dict[str, Row]:
    [chart] = [chart for chart in report.charts if chart.key == key]
    return {row.label: row for row in chart.rows}


def test_the_figures_are_what_sql_says_and_what_the_scenario_asks(conn: psycopg.Connection[Any], sspp_dsn: str) -> None:
    demo = load_scenario("demo")
    report = data_report(dsn=sspp_dsn)
    assert (report.scenario, report.seed, report.flags) == ("demo", demo.seed, ())

    counts = rows_of(report, "counts")
    for table in ("customers", "events", "signals", "sales_signals"):
        assert counts[table].actual == one(conn, f"SELECT count(*) FROM {table}")
    assert counts["customers"].expected == demo.customers + len(demo.stories)
    assert counts["events"].expected == demo.events + demo.story_event_count

    total = one(conn, "SELECT count(*) FROM events")
    funnel = rows_of(report, "funnel")
    for event_type in ("page_view", "purchase", "email_sent", "demo_completed"):
        n = one(conn, f"SELECT count(*) FROM events WHERE event_type = '{event_type}'")
        assert funnel[event_type].actual == pytest.approx(100 * n / total)
        stories = sum(e.count for s in demo.stories for e in s.events if e.type == event_type)
        share = demo.event_mix[event_type] / sum(demo.event_mix.values())
        assert funnel[event_type].expected == pytest.approx(100 * (share * demo.events + stories) / total, abs=1e-3)

    segments = rows_of(report, "segments")
    smb = one(conn, "SELECT avg((segment = 'smb')::int)::float8 FROM customers")
    assert segments["smb"].actual == pytest.approx(100 * smb)
    assert segments["smb"].expected == pytest.approx(100 * demo.segment_shares["smb"], abs=0.2)

    top1, top10 = one(
        conn,
        "WITH per AS (SELECT coalesce(e.n, 0) AS n FROM customers c FULL JOIN "
        "  (SELECT customer_id, count(*) AS n FROM events GROUP BY customer_id) e USING (customer_id)), "
        "ranked AS (SELECT n, row_number() OVER (ORDER BY n DESC) AS r, count(*) OVER () AS accounts FROM per) "
        "SELECT (sum(n) FILTER (WHERE r <= greatest(1, accounts / 100)))::float8 / sum(n), "
        "       (sum(n) FILTER (WHERE r <= greatest(1, accounts / 10)))::float8 / sum(n) FROM ranked",
    )
    tail = rows_of(report, "tail")
    assert tail["top 1% of accounts"].actual == pytest.approx(100 * top1)
    assert tail["top 10% of accounts"].actual == pytest.approx(100 * top10)

    weekend, business = one(
        conn,
        "WITH local AS (SELECT e.received_at + o.hours * interval '1 hour' AS t FROM events e "
        f"  JOIN customers c ON c.customer_id = e.customer_id JOIN (VALUES {_OFFSETS}) o(locale, hours) "
        "  ON o.locale = c.locale) "
        "SELECT avg((extract(isodow FROM t) = 7)::int)::float8, "
        "       avg((extract(isodow FROM t) <= 5 AND extract(hour FROM t) BETWEEN 9 AND 17)::int)::float8 FROM local",
    )
    heatmap = rows_of(report, "heatmap")
    assert heatmap["Sun"].actual == pytest.approx(100 * weekend)
    assert heatmap["business hours (Mon-Fri 09-18 local)"].actual == pytest.approx(100 * business)

    scores = rows_of(report, "scores")
    means = conn.execute("SELECT signal_type, avg(signal_score)::float8 FROM sales_signals GROUP BY 1").fetchall()
    for signal_type, mean in means:
        assert scores[f"mean score, {signal_type}"].actual == pytest.approx(mean)

    p50 = one(
        conn,
        "SELECT percentile_cont(0.5) WITHIN GROUP (ORDER BY extract(epoch FROM processed_at - timestamp)) "
        "FROM sales_signals",
    )
    assert rows_of(report, "lag")["p50 lag"].actual == pytest.approx(float(p50))

    amounts = rows_of(report, "amounts")
    for segment, median in conn.execute(
        "SELECT c.segment, percentile_cont(0.5) WITHIN GROUP (ORDER BY (e.payload->>'amount')::float8 / r.rate) "
        f"FROM events e JOIN customers c USING (customer_id) JOIN (VALUES {_RATES}) r(currency, rate) "
        "ON r.currency = e.payload->>'currency' WHERE e.event_type IN ('purchase', 'renewal', 'upsell') GROUP BY 1"
    ):
        assert amounts[f"median order, {segment}"].actual == pytest.approx(median)

    stories = rows_of(report, "stories")
    for story in demo.stories:
        n = one(conn, f"SELECT count(*) FROM events WHERE customer_id = '{story.customer.customer_id}'")
        assert stories[f"{story.name}: events in all"].actual == n
        assert stories[f"{story.name}: at the scripted time"].actual == sum(e.count for e in story.events)


def test_a_skewed_database_is_flagged(conn: psycopg.Connection[Any], sspp_dsn: str, tmp_path: Path) -> None:
    conn.execute("UPDATE events SET customer_id = 'cust_000001' WHERE id::text < '8'")  # half of all events
    conn.execute(
        "UPDATE customers SET segment = 'enterprise' WHERE customer_id IN "
        "(SELECT customer_id FROM customers WHERE segment = 'smb' ORDER BY customer_id LIMIT 600)"
    )
    conn.execute("UPDATE sales_signals SET processed_at = processed_at + interval '2 minutes'")
    conn.execute("DELETE FROM events WHERE customer_id = 'cust_demo_harbor' AND event_type = 'purchase'")

    result = cli_here("report", "--dsn", sspp_dsn, "--out", str(tmp_path / "skewed.html"), "--check", "--json")
    assert result.returncode == 1, result.stderr
    flagged = {
        (chart["key"], flag["label"]) for chart in json.loads(result.stdout)["charts"] for flag in chart["flags"]
    }
    assert {
        ("tail", "top 1% of accounts"),
        ("tail", "top 10% of accounts"),
        ("segments", "smb"),
        ("segments", "enterprise"),
        ("lag", "p50 lag"),
        ("stories", "trial-converts: events in all"),
        ("stories", "trial-converts: at the scripted time"),
    } <= flagged
    assert ("counts", "customers") not in flagged
