"""Expected beside actual, figure by figure, each with a tolerance that says how far chance alone can take it.

A tolerance is four standard errors of the difference (both sides' sample sizes count: the expected side is often
a model sample) plus a small floor, so a correct database is flagged about once in ten thousand figures while a
skewed one stands out. Figures the scenario fixes exactly (rows per table, the stories) have no slack.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import replace
from datetime import datetime

import numpy as np

from ..model import LOCALES
from ._charts import Row
from ._profile import LAG_QUANTILES, Profile, StoryEvents

__all__ = [
    "BUSINESS_HOURS",
    "WEEKDAYS",
    "amount_rows",
    "count_rows",
    "heatmap_rows",
    "lag_rows",
    "row",
    "score_rows",
    "segment_rows",
    "share_rows",
    "story_rows",
    "tail_rows",
]

SIGMAS = 4.0
#: Shares are compared to within 4 standard errors plus this floor (0.3 percentage points).
SHARE_FLOOR = 0.003
#: The heavy tail's top shares: drawn data wobbles more than a binomial share (a few accounts hold much of it).
TAIL_TOLERANCE_POINTS = 3.0
#: Local business hours (Monday to Friday, 09:00-17:59), where most activity must fall.
BUSINESS_HOURS = (range(5), range(9, 18))
WEEKDAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
_REGION_OF = {info.locale: info.region for info in LOCALES}


def row(label: str, expected: float | None, actual: float | None, tolerance: float | None, unit: str = "") -> Row:
    """A :class:`Row`, flagged when both sides are known and differ by more than ``tolerance``."""
    flagged = (
        expected is not None
        and actual is not None
        and tolerance is not None
        and abs(actual - expected) > tolerance + 1e-9
    )
    return Row(label=label, expected=expected, actual=actual, tolerance=tolerance, unit=unit, flagged=flagged)


def _inverse(n: float | None) -> float:
    return 1.0 / n if n else 0.0


def _share_tolerance(p: float, n_expected: float | None, n_actual: float | None) -> float:
    return SIGMAS * math.sqrt(max(p * (1 - p), 0.0) * (_inverse(n_expected) + _inverse(n_actual))) + SHARE_FLOOR


def share_rows(
    labels: Iterable[str],
    expected: Mapping[str, float],
    actual: Mapping[str, float] | None,
    *,
    n_expected: float | None,
    n_actual: float | None,
) -> tuple[Row, ...]:
    """Each label's share of its side's total, in percent (``n_*``: the rows behind each side; ``None``: exact)."""
    total_e = sum(expected.values()) or 1.0
    total_a = (sum(actual.values()) or 1.0) if actual is not None else 1.0
    rows = []
    for label in labels:
        p = expected.get(label, 0.0) / total_e
        a = actual.get(label, 0.0) / total_a if actual is not None else None
        tolerance = 100 * _share_tolerance(p, n_expected, n_actual)
        rows.append(row(label, 100 * p, None if a is None else 100 * a, tolerance, "%"))
    return tuple(rows)


def count_rows(expected: Profile, actual: Profile | None) -> tuple[Row, ...]:
    """Rows per table: customers and events exactly; signals and sales_signals within chance of the model's
    processed shares (a model sample, so binomial slack on the expected side)."""
    rows = []
    events = expected.counts["events"]
    for table, n in expected.counts.items():
        tolerance = 0.0
        if table in ("signals", "sales_signals"):
            p = n / events if events else 0.0
            tolerance = round(events * _share_tolerance(p, expected.model_n or None, events))
        rows.append(row(table, n, None if actual is None else actual.counts.get(table, 0), tolerance))
    return tuple(rows)


def segment_rows(expected: Profile, actual: Profile | None) -> tuple[Row, ...]:
    """Customers' shares per segment and per region (of their locale)."""
    n_e = sum(expected.segments.values())
    n_a = sum(actual.segments.values()) if actual is not None else None
    regions_e: Counter[str] = Counter()
    for locale, n in expected.locales.items():
        regions_e[_REGION_OF.get(locale, "?")] += n
    regions_a: Counter[str] | None = None
    if actual is not None:
        regions_a = Counter()
        for locale, n in actual.locales.items():
            regions_a[_REGION_OF.get(locale, "?")] += n
    # the scenario's shares are exact expectations; only the actual side is a draw
    segments = share_rows(
        list(expected.segments),
        {k: float(v) for k, v in expected.segments.items()},
        None if actual is None else {k: float(v) for k, v in actual.segments.items()},
        n_expected=None,
        n_actual=n_a or n_e,
    )
    regions = share_rows(
        sorted(regions_e),
        {k: float(v) for k, v in regions_e.items()},
        None if regions_a is None else {k: float(v) for k, v in regions_a.items()},
        n_expected=None,
        n_actual=n_a or n_e,
    )
    return segments + tuple(replace(r, label=f"region {r.label}") for r in regions)


def _weekday_and_business(grid: np.ndarray) -> tuple[dict[str, float], float]:
    total = float(grid.sum()) or 1.0
    weekdays = {day: float(grid[i].sum()) for i, day in enumerate(WEEKDAYS)}
    days, hours = BUSINESS_HOURS
    business = float(grid[np.ix_(list(days), list(hours))].sum()) / total
    return weekdays, business


def heatmap_rows(expected: Profile, actual: Profile | None) -> tuple[Row, ...]:
    """Share of events per local weekday, and the share in local business hours."""
    weekdays_e, business_e = _weekday_and_business(expected.heatmap)
    weekdays_a, business_a = _weekday_and_business(actual.heatmap) if actual is not None else ({}, None)
    n_a = actual.heatmap_n if actual is not None else None
    rows = share_rows(
        WEEKDAYS,
        weekdays_e,
        weekdays_a if actual is not None else None,
        n_expected=expected.heatmap_n,
        n_actual=n_a,
    )
    tolerance = 100 * _share_tolerance(business_e, expected.heatmap_n, n_a)
    business = row(
        "business hours (Mon-Fri 09-18 local)",
        100 * business_e,
        None if business_a is None else 100 * business_a,
        tolerance,
        "%",
    )
    if not expected.heatmap_n:  # the scenario generates no events (stories only): nothing to expect of their hours
        return tuple(row(r.label, None, r.actual, None, r.unit) for r in (*rows, business))
    return (*rows, business)


def tail_rows(expected: Profile, actual: Profile | None) -> tuple[Row, ...]:
    """The share of all events that the top 1% and top 10% of accounts produce."""
    return (
        row("top 1% of accounts", 100 * expected.top1, None if actual is None else 100 * actual.top1,
            TAIL_TOLERANCE_POINTS, "%"),
        row("top 10% of accounts", 100 * expected.top10, None if actual is None else 100 * actual.top10,
            TAIL_TOLERANCE_POINTS, "%"),
    )  # fmt: skip


def _mean_sd(hist: np.ndarray) -> tuple[float, float, float]:
    n = float(hist.sum())
    if n <= 0:
        return 0.0, 0.0, 0.0
    scores = np.arange(len(hist)) / 100.0
    mean = float((hist * scores).sum() / n)
    return mean, math.sqrt(float((hist * (scores - mean) ** 2).sum() / n)), n


def score_rows(expected: Profile, actual: Profile | None) -> tuple[Row, ...]:
    """Mean ``signal_score`` per ``signal_type``."""
    rows = []
    for kind, hist in expected.scores.items():
        mean_e, sd, n_e = _mean_sd(hist)
        mean_a, _, n_a = _mean_sd(actual.scores.get(kind, np.zeros(101))) if actual is not None else (None, 0.0, 0.0)
        tolerance = SIGMAS * sd * math.sqrt(_inverse(n_e) + _inverse(n_a)) + 0.01
        rows.append(row(f"mean score, {kind}", mean_e if n_e else None, mean_a if n_a else None, tolerance))
    return tuple(rows)


def _relative_tolerance(value: float, n: float) -> float:
    """Slack for a quantile or median of a log-normal-ish sample of ``n``: 10% plus 2.5 relative standard errors."""
    return abs(value) * (0.10 + 2.5 / math.sqrt(max(n, 1.0)))


def lag_rows(expected: Profile, actual: Profile | None) -> tuple[Row, ...]:
    """Processing lag quantiles (``processed_at - timestamp`` of ``sales_signals``), seconds."""
    rows = []
    for q in LAG_QUANTILES:
        e = expected.lag_quantiles.get(q)
        a = actual.lag_quantiles.get(q) if actual is not None and actual.lag_n else None
        n = min(expected.lag_n, actual.lag_n if actual is not None else expected.lag_n) * (1 - q)
        rows.append(row(f"p{round(q * 100)} lag", e, a, None if e is None else _relative_tolerance(e, n), "s"))
    return tuple(rows)


def amount_rows(expected: Profile, actual: Profile | None) -> tuple[Row, ...]:
    """Median order amount (USD) per segment."""
    rows = []
    for segment, median in expected.amount_medians.items():
        n_e = float(expected.amount_hist[segment].sum())
        a = actual.amount_medians.get(segment) if actual is not None else None
        n_a = float(actual.amount_hist.get(segment, np.zeros(1)).sum()) if actual is not None else n_e
        tolerance = abs(median) * (0.10 + 5.0 / math.sqrt(max(min(n_e, n_a), 1.0)))
        rows.append(row(f"median order, {segment}", median, a, tolerance, "USD"))
    return tuple(rows)


def _minute(value: datetime) -> datetime:
    return value.replace(second=0, microsecond=0)


def _matched(expected: StoryEvents, actual: StoryEvents) -> int:
    wanted = Counter((_minute(when), kind) for when, kind in expected.events)
    found = Counter((_minute(when), kind) for when, kind in actual.events)
    return sum((wanted & found).values())


def story_rows(expected: Profile, actual: Profile | None) -> tuple[Row, ...]:
    """Per story: its scripted events found at their scripted minute, and its customer's events in all."""
    rows = []
    for name, story in expected.stories.items():
        found = actual.stories.get(name) if actual is not None else None
        n = len(story.events)
        rows.append(row(f"{name}: at the scripted time", n, None if found is None else _matched(story, found), 0.0))
        rows.append(row(f"{name}: events in all", n, None if found is None else len(found.events), 0.0))
    return tuple(rows)
