"""What a database holds, as a :class:`Profile`: aggregates computed by the server, so only a few hundred numbers
cross the wire and memory stays flat whatever the tables' size.

Counts per table, the heavy tail, order amounts and the stories are exact. The distributions (event mix,
local-time heatmap, signal scores, processing lag) read a ``TABLESAMPLE SYSTEM`` page sample of a table above
:data:`SAMPLE_ABOVE_ROWS` rows (``REPEATABLE``, so a report can be run twice with the same figures); each
figure's note says which.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import numpy as np
import psycopg
from psycopg import sql

from ..errors import SchemaMismatchError
from ..model import LOCALES, USD_RATES
from ..scenarios import Scenario
from ._profile import (
    AMOUNT_BINS,
    AMOUNT_EVENT_TYPES,
    LAG_BINS,
    LAG_QUANTILES,
    Profile,
    StoryEvents,
    lorenz_of_counts,
)

__all__ = ["REPORT_TABLES", "SAMPLE_ABOVE_ROWS", "SAMPLE_ROWS", "actual_profile"]

REPORT_TABLES = ("customers", "events", "signals", "sales_signals")
#: Tables estimated above this many rows are page-sampled for the distributions.
SAMPLE_ABOVE_ROWS = 400_000
#: About this many rows are read from a sampled table: a 4-sigma band on a 1% share is then ±0.1 points.
SAMPLE_ROWS = 200_000
_REPEATABLE = 20260


@dataclass(frozen=True)
class _Source:
    """A table as a distribution's query reads it: whole, or a page sample of ``percent``."""

    table: str
    clause: sql.Composable
    percent: float | None

    def note(self) -> str:
        if self.percent is None:
            return f"all rows of {self.table}"
        return f"sampled: ~{self.percent:.2g}% of {self.table}'s pages (TABLESAMPLE SYSTEM)"


def _source(conn: psycopg.Connection[Any], table: str, alias: str) -> _Source:
    row = conn.execute("SELECT reltuples FROM pg_catalog.pg_class WHERE oid = to_regclass(%s)", (table,)).fetchone()
    estimate = float(row[0]) if row else -1.0
    name = sql.SQL("{} AS {}").format(sql.Identifier(table), sql.Identifier(alias))
    if estimate <= SAMPLE_ABOVE_ROWS:  # small, or never analysed (-1): read it whole
        return _Source(table, name, None)
    percent = round(100.0 * SAMPLE_ROWS / estimate, 4)
    clause = sql.SQL("{} TABLESAMPLE SYSTEM ({}) REPEATABLE ({})").format(
        name, sql.Literal(percent), sql.Literal(_REPEATABLE)
    )
    return _Source(table, clause, percent)


def _offsets() -> tuple[list[str], list[float]]:
    return [info.locale for info in LOCALES], [info.utc_offset_hours for info in LOCALES]


def _counts(conn: psycopg.Connection[Any]) -> dict[str, int]:
    missing = [t for t in REPORT_TABLES if conn.execute("SELECT to_regclass(%s)", (t,)).fetchone() == (None,)]
    if missing:
        raise SchemaMismatchError(
            f"the database has no {', '.join(missing)} table(s): nothing to report on",
            hint="initialize and load it first: sspp-seed init, then sspp-seed load SCENARIO",
        )
    counts = {}
    for table in REPORT_TABLES:
        row = conn.execute(sql.SQL("SELECT count(*) FROM {}").format(sql.Identifier(table))).fetchone()
        counts[table] = int(row[0]) if row else 0
    return counts


def _event_types(conn: psycopg.Connection[Any], events: _Source, total: int) -> tuple[dict[str, int], int]:
    rows = conn.execute(sql.SQL("SELECT e.event_type, count(*) FROM {} GROUP BY 1").format(events.clause)).fetchall()
    seen = sum(int(n) for _, n in rows)
    scale = total / seen if seen and events.percent is not None else 1.0
    return {str(kind): round(int(n) * scale) for kind, n in rows}, seen


def _customers_by(conn: psycopg.Connection[Any], column: str) -> dict[str, int]:
    query = sql.SQL("SELECT {0}, count(*) FROM customers WHERE {0} IS NOT NULL GROUP BY 1").format(
        sql.Identifier(column)
    )
    return {str(key): int(n) for key, n in conn.execute(query).fetchall()}


def _heatmap(conn: psycopg.Connection[Any], events: _Source) -> np.ndarray[Any, np.dtype[np.float64]]:
    locales, offsets = _offsets()
    query = sql.SQL(
        "SELECT (extract(isodow FROM local)::int - 1), extract(hour FROM local)::int, count(*) FROM ("
        " SELECT e.received_at + o.hours * interval '1 hour' AS local FROM {} JOIN customers c USING (customer_id)"
        " JOIN unnest(%s::text[], %s::float8[]) AS o(locale, hours) ON o.locale = c.locale) s GROUP BY 1, 2"
    ).format(events.clause)
    grid = np.zeros((7, 24))
    for weekday, hour, n in conn.execute(query, (locales, offsets)).fetchall():
        grid[int(weekday), int(hour)] = float(n)
    return grid


def _tail(conn: psycopg.Connection[Any]) -> tuple[np.ndarray[Any, np.dtype[np.float64]], float, float, int]:
    """Events per account, every account (customers without events count as 0, accounts missing from customers
    count too), exact; only the distinct per-account counts and their multiplicities cross the wire."""
    rows = conn.execute(
        "SELECT coalesce(e.n, 0), count(*) FROM customers c"
        " FULL JOIN (SELECT customer_id, count(*) AS n FROM events GROUP BY 1) e USING (customer_id) GROUP BY 1"
    ).fetchall()
    values = np.array([float(n) for n, _ in rows])
    times = np.array([int(k) for _, k in rows], dtype=np.int64)
    lorenz, top1, top10 = lorenz_of_counts(np.repeat(values, times))
    return lorenz, top1, top10, int(times.sum())


def _scores(conn: psycopg.Connection[Any], sales: _Source) -> dict[str, np.ndarray[Any, np.dtype[np.float64]]]:
    query = sql.SQL(
        "SELECT s.signal_type, least(greatest(round(s.signal_score * 100), 0), 100)::int, count(*)"
        " FROM {} GROUP BY 1, 2"
    ).format(sales.clause)
    scores: dict[str, np.ndarray[Any, np.dtype[np.float64]]] = {}
    for kind, score, n in conn.execute(query).fetchall():
        scores.setdefault(str(kind), np.zeros(101))[int(score)] += float(n)
    return scores


def _lag(
    conn: psycopg.Connection[Any], sales: _Source
) -> tuple[np.ndarray[Any, np.dtype[np.float64]], dict[float, float], int]:
    lag = sql.SQL('extract(epoch FROM s.processed_at - s."timestamp")::float8')
    bins = len(LAG_BINS) - 1
    hist_query = sql.SQL(
        "SELECT least(greatest(width_bucket(log(greatest({lag}, 1e-6)), %s, %s, %s), 1), %s) - 1, count(*) "
        "FROM {source} GROUP BY 1"
    ).format(lag=lag, source=sales.clause)
    hist = np.zeros(bins)
    for index, n in conn.execute(hist_query, (float(LAG_BINS[0]), float(LAG_BINS[-1]), bins, bins)).fetchall():
        hist[int(index)] = float(n)
    quantile_query = sql.SQL("SELECT percentile_cont(%s::float8[]) WITHIN GROUP (ORDER BY {lag}) FROM {source}").format(
        lag=lag, source=sales.clause
    )
    row = conn.execute(quantile_query, (list(LAG_QUANTILES),)).fetchone()
    values = row[0] if row and row[0] else [0.0] * len(LAG_QUANTILES)
    return hist, dict(zip(LAG_QUANTILES, (float(v) for v in values), strict=True)), int(hist.sum())


def _amounts(
    conn: psycopg.Connection[Any],
) -> tuple[dict[str, np.ndarray[Any, np.dtype[np.float64]]], dict[str, float]]:
    """Orders' amounts in USD by the customer's segment: exact (orders are a few percent of events, read through
    the event-type index)."""
    bins = len(AMOUNT_BINS) - 1
    orders = (
        "WITH o AS (SELECT c.segment, (e.payload->>'amount')::float8 / r.rate AS usd FROM events e"
        " JOIN customers c USING (customer_id) JOIN unnest(%s::text[], %s::float8[]) AS r(currency, rate)"
        " ON r.currency = e.payload->>'currency'"
        " WHERE e.event_type = ANY(%s) AND jsonb_typeof(e.payload->'amount') = 'number') "
    )
    params = (list(USD_RATES), list(USD_RATES.values()), list(AMOUNT_EVENT_TYPES))
    hist: dict[str, np.ndarray[Any, np.dtype[np.float64]]] = {}
    for segment, index, n in conn.execute(
        orders + "SELECT segment, least(greatest(width_bucket(log(greatest(usd, 1e-9)), %s, %s, %s), 1), %s) - 1,"
        " count(*) FROM o GROUP BY 1, 2",
        (*params, float(AMOUNT_BINS[0]), float(AMOUNT_BINS[-1]), bins, bins),
    ).fetchall():
        hist.setdefault(str(segment), np.zeros(bins))[int(index)] += float(n)
    medians = {
        str(segment): float(median)
        for segment, median in conn.execute(
            orders + "SELECT segment, percentile_cont(0.5) WITHIN GROUP (ORDER BY usd) FROM o GROUP BY 1", params
        ).fetchall()
    }
    return hist, medians


def _stories(conn: psycopg.Connection[Any], scenario: Scenario) -> dict[str, StoryEvents]:
    ids = [story.customer.customer_id for story in scenario.stories]
    found: dict[str, list[tuple[datetime, str]]] = {customer: [] for customer in ids}
    for customer, received_at, event_type in conn.execute(
        "SELECT customer_id, received_at, event_type FROM events WHERE customer_id = ANY(%s) ORDER BY received_at",
        (ids,),
    ).fetchall():
        found[str(customer)].append((received_at, str(event_type)))
    return {
        story.name: StoryEvents(story.customer.customer_id, tuple(found[story.customer.customer_id]))
        for story in scenario.stories
    }


def actual_profile(conn: psycopg.Connection[Any], scenario: Scenario) -> Profile:
    """The figures of the database behind ``conn`` (autocommit or not; it only reads). ``scenario`` names the
    stories' customers to look up."""
    counts = _counts(conn)
    events, sales = _source(conn, "events", "e"), _source(conn, "sales_signals", "s")
    event_types, events_seen = _event_types(conn, events, counts["events"])
    lorenz, top1, top10, accounts = _tail(conn)
    lag_hist, lag_quantiles, lag_n = _lag(conn, sales)
    scores = _scores(conn, sales)
    heatmap = _heatmap(conn, events)
    amount_hist, amount_medians = _amounts(conn)
    return Profile(
        counts=counts,
        event_types=event_types,
        events_n=events_seen,
        segments=_customers_by(conn, "segment"),
        locales=_customers_by(conn, "locale"),
        heatmap=heatmap,
        heatmap_n=int(heatmap.sum()),
        top1=top1,
        top10=top10,
        lorenz=lorenz,
        accounts_n=accounts,
        scores=scores,
        lag_hist=lag_hist,
        lag_quantiles=lag_quantiles,
        lag_n=lag_n,
        amount_hist=amount_hist,
        amount_medians=amount_medians,
        stories=_stories(conn, scenario),
        notes={
            "counts": "exact: count(*) of each table",
            "event_types": "exact" if events.percent is None else events.note() + ", scaled to the exact total",
            "heatmap": events.note(),
            "tail": "exact: events per account over every account",
            "scores": sales.note(),
            "lag": sales.note(),
            "amounts": "exact: every purchase, renewal and upsell",
            "segments": "exact",
        },
    )
