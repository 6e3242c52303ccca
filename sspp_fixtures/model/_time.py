"""Time: the scenario's window, business-hour timestamps, and the worker's processing lag.

All timestamps are naive UTC (the columns are ``TIMESTAMP`` without time zone) as ``datetime64[us]``.
The window is always given by the caller, anchored on a fixed date: nothing here reads the clock.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Final

import numpy as np
import numpy.typing as npt

from ..errors import ScenarioError
from ._validate import check_positive

__all__ = [
    "HOURLY_WEIGHTS",
    "WEEKDAY_WEIGHTS",
    "Processing",
    "Window",
    "milliseconds",
    "sample_created_at",
    "sample_processing",
    "sample_processing_lag",
    "sample_timestamps",
    "sample_updated_at",
    "to_datetime",
    "to_milliseconds",
]

_US_PER_HOUR: Final = 3_600_000_000
_US_PER_DAY: Final = 24 * _US_PER_HOUR
_MAX_ROUNDS: Final = 64

# Relative activity per local hour of day: quiet nights, a morning peak, a lunch dip, a tail into the evening.
HOURLY_WEIGHTS: Final = (
    0.05, 0.03, 0.02, 0.02, 0.03, 0.06, 0.15, 0.40, 0.85, 1.00, 1.00, 0.95,
    0.75, 0.90, 0.95, 0.90, 0.80, 0.60, 0.35, 0.25, 0.20, 0.15, 0.10, 0.07,
)  # fmt: skip
# Relative activity per weekday, Monday first.
WEEKDAY_WEIGHTS: Final = (1.00, 1.05, 1.05, 1.00, 0.85, 0.20, 0.15)


def _naive_utc(field: str, value: datetime) -> datetime:
    if not isinstance(value, datetime):
        raise ScenarioError(f"{field}: expected a datetime, got {value!r}", field=field, value=value)
    if value.tzinfo is not None:
        return value.astimezone(UTC).replace(tzinfo=None)
    return value


@dataclass(frozen=True, slots=True)
class Window:
    """The half-open time range ``[start, end)`` a scenario's events fall in; aware datetimes become UTC."""

    start: datetime
    end: datetime

    def __post_init__(self) -> None:
        start = _naive_utc("window.start", self.start)
        end = _naive_utc("window.end", self.end)
        if end <= start:
            raise ScenarioError(
                f"window: end {end.isoformat()} is not after start {start.isoformat()}",
                hint="Give window.end a later time than window.start.",
                field="window",
            )
        object.__setattr__(self, "start", start)
        object.__setattr__(self, "end", end)

    @classmethod
    def ending(cls, end: datetime, days: float) -> Window:
        """The ``days`` long window that ends (exclusive) at ``end``."""
        return cls(end - timedelta(days=check_positive("window.days", days)), end)

    @property
    def start64(self) -> np.datetime64:
        """``start`` as ``datetime64[us]``."""
        return np.datetime64(self.start, "us")

    @property
    def end64(self) -> np.datetime64:
        """``end`` as ``datetime64[us]``."""
        return np.datetime64(self.end, "us")


def to_milliseconds(value: datetime) -> datetime:
    """``value`` cut to the millisecond, as a JavaScript ``Date`` (the platform's worker) holds it."""
    return value.replace(microsecond=value.microsecond - value.microsecond % 1000)


def milliseconds(values: npt.NDArray[np.datetime64]) -> npt.NDArray[np.datetime64]:
    """:func:`to_milliseconds` of each time (``datetime64[us]``)."""
    micros = values.astype("datetime64[us]").astype(np.int64)
    return (micros - micros % 1000).astype("datetime64[us]")


def to_datetime(value: np.datetime64) -> datetime:
    """A ``datetime64`` as a naive :class:`datetime` (microsecond precision)."""
    micros = int(value.astype("datetime64[us]").astype(np.int64))
    return datetime(1970, 1, 1) + timedelta(microseconds=micros)


def _profile(field: str, weights: tuple[float, ...] | npt.ArrayLike, size: int) -> npt.NDArray[np.float64]:
    array = np.asarray(weights, dtype=np.float64)
    if array.shape != (size,) or not np.all(np.isfinite(array)) or np.any(array < 0) or array.sum() <= 0:
        raise ScenarioError(
            f"{field}: expected {size} weights >= 0 with a positive sum",
            hint=f"Give {field} exactly {size} non-negative numbers.",
            field=field,
        )
    return np.asarray(array / array.sum(), dtype=np.float64)


def sample_timestamps(
    rng: np.random.Generator,
    n: int,
    window: Window,
    *,
    utc_offsets: float | npt.ArrayLike = 0.0,
    trend: float = 1.5,
    weekday_weights: tuple[float, ...] | npt.ArrayLike = WEEKDAY_WEIGHTS,
    hourly_weights: tuple[float, ...] | npt.ArrayLike = HOURLY_WEIGHTS,
) -> npt.NDArray[np.datetime64]:
    """``n`` UTC timestamps in ``[window.start, window.end)`` following local business hours and weekdays.

    ``utc_offsets`` (hours, one per row or one for all) puts each row's business day in its own region;
    ``trend`` is the activity at the window's end relative to its start (1.5: half as much again).
    """
    trend = check_positive("trend", trend)
    weekdays = _profile("weekday_weights", weekday_weights, 7)
    hours = _profile("hourly_weights", hourly_weights, 24)
    offsets = np.broadcast_to(np.asarray(utc_offsets, dtype=np.float64), (n,))
    offsets_us = np.round(offsets * _US_PER_HOUR).astype(np.int64)
    start_us = int(window.start64.astype(np.int64))
    end_us = int(window.end64.astype(np.int64))
    if n == 0:
        return np.empty(0, dtype="datetime64[us]")
    first_day = (start_us + int(offsets_us.min())) // _US_PER_DAY
    last_day = (end_us - 1 + int(offsets_us.max())) // _US_PER_DAY
    days = np.arange(first_day, last_day + 1, dtype=np.int64)
    position = np.clip(((days * _US_PER_DAY + _US_PER_DAY // 2) - start_us) / (end_us - start_us), 0.0, 1.0)
    day_weights = weekdays[(days + 3) % 7] * (1.0 + (trend - 1.0) * position)  # 1970-01-01 was a Thursday
    day_weights /= day_weights.sum()

    result = np.empty(n, dtype=np.int64)
    pending = np.arange(n)
    for _ in range(_MAX_ROUNDS):
        m = len(pending)
        local = (
            days[rng.choice(len(days), size=m, p=day_weights)] * _US_PER_DAY
            + rng.choice(24, size=m, p=hours) * _US_PER_HOUR
            + rng.integers(0, _US_PER_HOUR, size=m)
        )
        utc = local - offsets_us[pending]
        inside = (utc >= start_us) & (utc < end_us)
        result[pending[inside]] = utc[inside]
        pending = pending[~inside]
        if len(pending) == 0:
            break
    else:  # a window far shorter than a day: fall back to uniform times inside it
        result[pending] = rng.integers(start_us, end_us, size=len(pending))
    return result.astype("datetime64[us]")


def sample_created_at(
    rng: np.random.Generator, n: int, window: Window, *, lookback_days: float = 730.0
) -> npt.NDArray[np.datetime64]:
    """Customer creation times in the ``lookback_days`` before the window, so they precede all their events."""
    history = Window(window.start - timedelta(days=check_positive("lookback_days", lookback_days)), window.start)
    return sample_timestamps(rng, n, history, trend=2.0)


def sample_updated_at(
    rng: np.random.Generator, created_at: npt.NDArray[np.datetime64], window: Window
) -> npt.NDArray[np.datetime64]:
    """Last-update times between each ``created_at`` and the window's end."""
    created = created_at.astype("datetime64[us]").astype(np.int64)
    end_us = int(window.end64.astype(np.int64))
    span = np.maximum(end_us - created, 1)
    return (created + (rng.random(len(created)) * span).astype(np.int64)).astype("datetime64[us]")


def sample_processing_lag(
    rng: np.random.Generator,
    n: int,
    *,
    median_seconds: float = 4.0,
    sigma: float = 1.4,
    max_seconds: float = 6 * 3600.0,
) -> npt.NDArray[np.timedelta64]:
    """Worker lags from receipt to processing: log-normal, seconds typically, minutes in the long tail."""
    median_seconds = check_positive("median_seconds", median_seconds)
    sigma = check_positive("sigma", sigma, allow_zero=True)
    max_seconds = check_positive("max_seconds", max_seconds)
    seconds = np.exp(np.log(median_seconds) + sigma * rng.standard_normal(n))
    micros = np.asarray(np.clip(np.round(seconds * 1e6), 50_000, max_seconds * 1e6), dtype=np.int64)
    return np.asarray(micros, dtype="timedelta64[us]")


@dataclass(frozen=True, slots=True, eq=False)
class Processing:
    """What the worker did with each event: ``processed`` rows have a signal made at ``processed_at``."""

    processed: npt.NDArray[np.bool_]
    processed_at: npt.NDArray[np.datetime64]
    created_at: npt.NDArray[np.datetime64]


def sample_processing(
    rng: np.random.Generator,
    received_at: npt.NDArray[np.datetime64],
    window: Window,
    *,
    unprocessed_share: float = 0.02,
    median_seconds: float = 4.0,
) -> Processing:
    """Processing of events received at ``received_at``, seen from the window's end.

    A share of events is still queued or failed, and events whose lag would run past the window's end are not
    processed yet: signals never outnumber events and never postdate the window. Unprocessed rows hold NaT.
    """
    if not 0.0 <= unprocessed_share < 1.0:
        raise ScenarioError(
            f"unprocessed_share: must be in [0, 1), got {unprocessed_share!r}", field="unprocessed_share"
        )
    n = len(received_at)
    lag = sample_processing_lag(rng, n, median_seconds=median_seconds)
    processed_at = received_at.astype("datetime64[us]") + lag
    write_delay = rng.integers(200, 50_000, size=n).astype("timedelta64[us]")
    created_at = processed_at + write_delay
    processed = (rng.random(n) >= unprocessed_share) & (created_at < window.end64)
    not_a_time = np.datetime64("NaT", "us")
    return Processing(
        processed=processed,
        processed_at=np.where(processed, processed_at, not_a_time),
        created_at=np.where(processed, created_at, not_a_time),
    )
