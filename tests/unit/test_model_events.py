"""Event batches: funnel frequencies, references, signals <= events, reproducible per (seed, batch)."""

from __future__ import annotations

import json
from datetime import datetime

import numpy as np

from sspp_fixtures import model

WINDOW = model.Window.ending(datetime(2025, 6, 30), 60)


def test_sampled_event_types_follow_the_funnel() -> None:
    types = model.sample_event_types(model.derive_rng(31, "types"), 100_000)
    counts = [int(np.sum(types == name)) for name in model.FUNNEL]
    assert counts == sorted(counts, reverse=True)
    for name, share in model.DEFAULT_EVENT_MIX.items():
        assert abs(np.mean(types == name) - share) < 0.01


def test_event_batch_is_consistent() -> None:
    batch = model.sample_events(model.derive_rng(32, "events", 0), 6000, WINDOW, seed=32, n_customers=300)
    assert len(batch) == 6000
    assert batch.customer_number.min() >= 1
    assert batch.customer_number.max() <= 300
    assert batch.processed.sum() < len(batch)
    events = list(batch.events())
    signals = list(batch.signals())
    assert len(signals) == int(batch.processed.sum()) <= len(events)
    by_id = {event.id: event for event in events}
    assert len(by_id) == len(events)
    limits = model.COLUMN_LIMITS
    for event in events:
        assert WINDOW.start <= event.received_at < WINDOW.end
        assert len(event.event_type) <= limits["events"]["event_type"]
        assert len(event.source) <= 50
    for signal in signals:
        event = by_id[signal.event_id]  # type: ignore[index]
        assert (signal.event_type, signal.customer_id) == (event.event_type, event.customer_id)
        assert signal.processed_at is not None
        assert event.received_at < signal.processed_at < WINDOW.end
        assert signal.signal_data == model.derive_signal_data(event.event_type, event.payload)
    counts = np.bincount(batch.customer_number, minlength=301)[1:]
    assert np.sort(counts)[::-1][:30].sum() > 0.5 * len(batch)


def test_amounts_follow_the_customers_traits() -> None:
    batch = model.sample_events(
        model.derive_rng(33, "events", 0), 20_000, WINDOW, seed=33, n_customers=300,
        mix={"purchase": 0.5, "renewal": 0.5},
    )  # fmt: skip
    traits = model.customer_traits(33, batch.customer_number)
    for currency, text in zip(traits.currency.tolist(), batch.payload, strict=True):
        assert json.loads(text)["currency"] == currency


def test_batches_are_reproducible_and_independent() -> None:
    def make(seed: int, k: int) -> model.EventBatch:
        return model.sample_events(model.derive_rng(seed, "events", k), 2000, WINDOW, seed=seed, n_customers=100)

    first, again = make(34, 3), make(34, 3)
    assert first.id == again.id
    assert first.payload == again.payload
    assert first.signal_data == again.signal_data
    assert np.array_equal(first.received_at, again.received_at)
    assert make(34, 4).id != first.id
    assert make(35, 3).payload != first.payload
    assert len(set(first.id) | set(make(34, 4).id)) == 4000


def test_uuids_are_version_4() -> None:
    ids = model.sample_uuids(model.derive_rng(36, "ids"), 1000)
    assert len(set(ids)) == 1000
    assert all(len(value) == 36 and value[14] == "4" and value[19] in "89ab" for value in ids)
