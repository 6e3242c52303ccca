"""What a data set looks like, in the few figures the report draws: one shape for both sides, so that what the
scenario asks for (from the model) and what a database holds (from SQL) are compared figure by figure.

Distributions are kept as counts over fixed bins (the same edges on both sides: SQL's ``width_bucket`` and
numpy's ``histogram`` agree on them), never as raw rows, so memory stays flat whatever the data's size.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

import numpy as np
import numpy.typing as npt

__all__ = [
    "AMOUNT_BINS",
    "AMOUNT_EVENT_TYPES",
    "LAG_BINS",
    "LAG_QUANTILES",
    "LORENZ_POINTS",
    "Profile",
    "StoryEvents",
    "bin_index",
    "lorenz_of_counts",
]

#: log10 of the processing lag in seconds: 0.03 s to ~9 h in quarter decades.
LAG_BINS = np.linspace(-1.5, 4.5, 25)
LAG_QUANTILES = (0.5, 0.9, 0.99)
#: log10 of an order's amount in USD: 1 USD to 10 M USD in quarter decades.
AMOUNT_BINS = np.linspace(0.0, 7.0, 29)
#: The event types whose payload carries an order's ``amount`` and ``currency``.
AMOUNT_EVENT_TYPES = ("purchase", "renewal", "upsell")
#: The Lorenz curve's points: cumulative share of events held by the lowest 0%, 1%, ..., 100% of accounts.
LORENZ_POINTS = 101


@dataclass(frozen=True)
class StoryEvents:
    """The events a story's customer has: (received_at, event_type) in time order."""

    customer_id: str
    events: tuple[tuple[datetime, str], ...]


@dataclass(frozen=True, kw_only=True)
class Profile:
    """The figures of one data set. ``*_n``: how many rows a distribution was computed from (its precision);
    ``notes``: per figure, how it was obtained (exact, sampled, model sample)."""

    counts: dict[str, int]
    event_types: dict[str, int]
    events_n: int
    segments: dict[str, int]
    locales: dict[str, int]
    heatmap: npt.NDArray[np.float64]  # 7 x 24 counts: local weekday (Monday first) x local hour
    heatmap_n: int
    top1: float
    top10: float
    lorenz: npt.NDArray[np.float64]  # LORENZ_POINTS cumulative shares, lowest accounts first
    accounts_n: int
    scores: dict[str, npt.NDArray[np.float64]]  # signal_type -> 101 counts, score 0.00 .. 1.00
    lag_hist: npt.NDArray[np.float64]  # counts over LAG_BINS
    lag_quantiles: dict[float, float]  # LAG_QUANTILES -> seconds
    lag_n: int
    amount_hist: dict[str, npt.NDArray[np.float64]]  # segment -> counts over AMOUNT_BINS
    amount_medians: dict[str, float]  # segment -> median USD
    stories: dict[str, StoryEvents]  # story name -> its customer's events
    model_n: int = 0  # events of the model sample behind the figures (the expected side); 0 for a database
    notes: dict[str, str] = field(default_factory=dict)


def bin_index(values: npt.NDArray[np.float64], edges: npt.NDArray[np.float64]) -> npt.NDArray[np.intp]:
    """0-based bin of each value over ``edges``, out-of-range values in the first or last bin (as the SQL side)."""
    return np.clip(np.searchsorted(edges, values, side="right") - 1, 0, len(edges) - 2)


def lorenz_of_counts(counts: npt.NDArray[np.float64]) -> tuple[npt.NDArray[np.float64], float, float]:
    """The Lorenz curve of events per account (every account, those without events too) and the shares of the
    top 1% and top 10% of accounts."""
    ordered = np.sort(np.asarray(counts, dtype=np.float64))
    total = float(ordered.sum())
    if total <= 0 or len(ordered) == 0:
        return np.linspace(0.0, 1.0, LORENZ_POINTS), 0.0, 0.0
    cumulative = np.concatenate(([0.0], np.cumsum(ordered))) / total
    positions = np.round(np.linspace(0, len(ordered), LORENZ_POINTS)).astype(np.intp)
    top = ordered[::-1]
    top1 = float(top[: max(1, len(top) // 100)].sum()) / total
    top10 = float(top[: max(1, len(top) // 10)].sum()) / total
    return cumulative[positions], top1, top10
