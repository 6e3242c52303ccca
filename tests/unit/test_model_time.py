"""Timestamps: inside the window, business hours, weekdays, trend; processing lag and pending events."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import numpy as np
import pytest

from sspp_fixtures import model
from sspp_fixtures.errors import ScenarioError

WINDOW = model.Window(datetime(2025, 1, 1), datetime(2025, 4, 1))


def _local(stamps: np.ndarray, offsets: np.ndarray | float) -> np.ndarray:
    return np.asarray(stamps + (np.asarray(offsets) * 3600e6).astype("timedelta64[us]"))


def test_timestamps_stay_inside_the_window() -> None:
    offsets = np.random.default_rng(0).choice([-8.0, -5.0, 0.0, 1.0, 5.5, 9.0, 12.0], 40_000)
    stamps = model.sample_timestamps(model.derive_rng(1, "t"), 40_000, WINDOW, utc_offsets=offsets)
    assert stamps.min() >= WINDOW.start64
    assert stamps.max() < WINDOW.end64


def test_business_hours_and_weekdays_in_local_time() -> None:
    offsets = np.random.default_rng(0).choice([-5.0, 1.0, 9.0], 40_000)
    stamps = model.sample_timestamps(model.derive_rng(2, "t"), 40_000, WINDOW, utc_offsets=offsets)
    local = _local(stamps, offsets)
    hours = (local.astype("datetime64[h]").astype(np.int64)) % 24
    weekdays = (local.astype("datetime64[D]").astype(np.int64) + 3) % 7
    assert np.mean((hours >= 8) & (hours < 18)) > 0.75
    assert np.mean(weekdays < 5) > 0.88
    # the same stamps read in UTC are not in business hours nearly as often: the offsets matter
    utc_hours = stamps.astype("datetime64[h]").astype(np.int64) % 24
    assert np.mean((utc_hours >= 8) & (utc_hours < 18)) < 0.6


def test_trend_grows_activity_over_the_window() -> None:
    stamps = model.sample_timestamps(model.derive_rng(3, "t"), 40_000, WINDOW, trend=2.0)
    middle = WINDOW.start64 + (WINDOW.end64 - WINDOW.start64) / 2
    later = np.mean(stamps >= middle)
    assert 0.55 < later < 0.65


def test_short_windows_and_aware_datetimes() -> None:
    window = model.Window(datetime(2025, 1, 4, 3, tzinfo=UTC), datetime(2025, 1, 4, 3, 30, tzinfo=UTC))
    assert window.start.tzinfo is None
    stamps = model.sample_timestamps(model.derive_rng(4, "t"), 500, window)
    assert stamps.min() >= window.start64
    assert stamps.max() < window.end64
    paris = timezone(timedelta(hours=1))
    assert model.Window(datetime(2025, 1, 1, 1, tzinfo=paris), datetime(2025, 1, 2)).start == datetime(2025, 1, 1)
    with pytest.raises(ScenarioError, match="window"):
        model.Window(datetime(2025, 1, 2), datetime(2025, 1, 1))
    with pytest.raises(ScenarioError, match="trend"):
        model.sample_timestamps(model.derive_rng(4, "t"), 5, WINDOW, trend=0)


def test_processing_lag_is_positive_with_a_realistic_median_and_long_tail() -> None:
    lag = model.sample_processing_lag(model.derive_rng(5, "lag"), 50_000) / np.timedelta64(1, "s")
    assert lag.min() > 0
    assert 2.0 < np.median(lag) < 10.0
    assert np.quantile(lag, 0.99) > 60.0
    assert lag.max() <= 6 * 3600


def test_processing_leaves_a_share_pending_and_never_passes_the_window() -> None:
    received = model.sample_timestamps(model.derive_rng(6, "t"), 50_000, WINDOW)
    result = model.sample_processing(model.derive_rng(6, "p"), received, WINDOW, unprocessed_share=0.05)
    done = result.processed
    assert 0.93 < done.mean() < 0.96
    assert np.all(result.processed_at[done] > received[done])
    assert np.all(result.created_at[done] >= result.processed_at[done])
    assert np.all(result.created_at[done] < WINDOW.end64)
    assert np.all(np.isnat(result.processed_at[~done]))


def test_created_at_precedes_the_window() -> None:
    created = model.sample_created_at(model.derive_rng(7, "c"), 10_000, WINDOW, lookback_days=365)
    assert created.max() < WINDOW.start64
    assert created.min() >= np.datetime64(WINDOW.start - timedelta(days=365), "us")
