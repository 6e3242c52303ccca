"""What a scenario asks for, as a :class:`Profile`: straight from the scenario where it says a figure (counts,
mixes, shares, the stories), from the model where the figure follows from its rules (heavy tail, local business
hours, signal scores, processing lag, amounts by segment).

The model's figures come from a sample of the scenario's own events, drawn by the same functions the engines use
(``sample_events`` on the scenario's window, customers, mix and shares) but with a stream of its own, so they
are what the scenario *means*, not a copy of one database. The heavy tail is drawn at full size (it depends on
how many events fall on how many accounts).
"""

from __future__ import annotations

import json
from collections import Counter

import numpy as np
import numpy.typing as npt

from ..model import (
    PLATFORM_SIGNAL_TYPES,
    USD_RATES,
    Window,
    activity_weights,
    customer_traits,
    derive_rng,
    sample_active_customers,
    sample_events,
)
from ..model import EventBatch as _EventBatch
from ..scenarios import Scenario
from ._profile import (
    AMOUNT_BINS,
    AMOUNT_EVENT_TYPES,
    LAG_BINS,
    LAG_QUANTILES,
    Profile,
    StoryEvents,
    bin_index,
    lorenz_of_counts,
)

__all__ = ["MODEL_SAMPLE_EVENTS", "TAIL_SAMPLE_EVENTS", "expected_profile"]

#: Events drawn from the model for its distributions: ~0.3 s; a 4-sigma band on a 1% share is then ±0.2 points.
MODEL_SAMPLE_EVENTS = 50_000
#: Up to this many events, the heavy tail is drawn event by event (1.4 s for 10M, 0.3 s for 2M here); beyond,
#: it is the model's activity weights themselves (the draw's top shares converge to them).
TAIL_SAMPLE_EVENTS = 2_000_000
_US_PER_HOUR = 3_600_000_000


def _model_sample(scenario: Scenario) -> _EventBatch:
    total = sum(scenario.event_mix.values())
    return sample_events(
        derive_rng(scenario.seed, "report", "expected"),
        min(scenario.events, MODEL_SAMPLE_EVENTS),
        Window(scenario.window_start, scenario.window_end),
        seed=scenario.seed,
        n_customers=scenario.customers,
        mix={name: weight / total for name, weight in scenario.event_mix.items()},
        segment_shares=scenario.segment_shares,
        locale_shares=scenario.locale_shares,
        activity_exponent=scenario.activity_skew,
        trend=scenario.trend,
        unprocessed_share=1.0 - scenario.processed_share,
    )


def _scaled(shares: dict[str, float], total: int) -> dict[str, int]:
    weight = sum(shares.values())
    return {name: round(total * share / weight) for name, share in shares.items() if share > 0}


def _story_counts(scenario: Scenario) -> tuple[Counter[str], int, int]:
    """Events per type of the stories, and how many of them are processed (all, platform types only)."""
    types: Counter[str] = Counter()
    processed = platform = 0
    for story in scenario.stories:
        for event in story.events:
            types[event.type] += event.count
            if event.processed:
                processed += event.count
                platform += event.count if event.type in PLATFORM_SIGNAL_TYPES else 0
    return types, processed, platform


def _heatmap(batch: _EventBatch, offsets: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
    local_us = batch.received_at.astype("datetime64[us]").astype(np.int64) + np.round(offsets * _US_PER_HOUR).astype(
        np.int64
    )
    hours = local_us // _US_PER_HOUR
    weekday = (hours // 24 + 3) % 7  # 1970-01-01 was a Thursday; Monday is 0
    grid = np.zeros((7, 24))
    np.add.at(grid, (weekday, hours % 24), 1.0)
    return grid


def _tail(scenario: Scenario) -> tuple[npt.NDArray[np.float64], float, float]:
    """Events per account: the scenario's customers as the model spreads its events, then each story's account."""
    if scenario.events <= TAIL_SAMPLE_EVENTS:
        numbers = sample_active_customers(
            derive_rng(scenario.seed, "report", "tail"),
            scenario.events,
            scenario.customers,
            exponent=scenario.activity_skew,
            seed=scenario.seed,
        )
        counts = np.bincount(numbers - 1, minlength=scenario.customers).astype(np.float64)
    else:
        weights = activity_weights(scenario.customers, exponent=scenario.activity_skew, seed=scenario.seed)
        counts = weights * scenario.events
    stories = [float(sum(event.count for event in story.events)) for story in scenario.stories]
    return lorenz_of_counts(np.concatenate([counts, np.asarray(stories, dtype=np.float64)]))


def _amounts(
    batch: _EventBatch, segments: npt.NDArray[np.str_]
) -> tuple[dict[str, npt.NDArray[np.float64]], dict[str, float]]:
    usd: dict[str, list[float]] = {}
    for i in np.flatnonzero(np.isin(batch.event_type, AMOUNT_EVENT_TYPES)):
        payload = json.loads(batch.payload[i])
        rate = USD_RATES.get(str(payload.get("currency")))
        if rate and isinstance(payload.get("amount"), int | float):
            usd.setdefault(str(segments[i]), []).append(float(payload["amount"]) / rate)
    hist = {
        segment: np.bincount(
            bin_index(np.log10(np.maximum(values, 1e-9)), AMOUNT_BINS), minlength=len(AMOUNT_BINS) - 1
        ).astype(np.float64)
        for segment, values in usd.items()
    }
    return hist, {segment: float(np.median(values)) for segment, values in usd.items()}


def _stories(scenario: Scenario) -> dict[str, StoryEvents]:
    return {
        story.name: StoryEvents(
            story.customer.customer_id,
            tuple(
                sorted((when, event.type) for event in story.events for when in event.timestamps(scenario.window_start))
            ),
        )
        for story in scenario.stories
    }


def expected_profile(scenario: Scenario) -> Profile:
    """The figures ``scenario`` asks for (see the module's docstring for where each comes from)."""
    batch = _model_sample(scenario)
    n = len(batch)
    traits = customer_traits(
        scenario.seed,
        batch.customer_number,
        segment_shares=scenario.segment_shares,
        locale_shares=scenario.locale_shares,
    )
    story_types, story_processed, story_platform = _story_counts(scenario)
    processed = batch.processed
    live = processed & batch.platform
    share_processed = float(processed.mean()) if n else scenario.processed_share
    share_live = float(live.mean()) if n else 0.0
    event_types = Counter(_scaled(scenario.event_mix, scenario.events))
    event_types.update(story_types)

    signal_types = np.array([PLATFORM_SIGNAL_TYPES.get(str(t), "") for t in batch.event_type[live]])
    score_bins = np.clip(np.round(batch.signal_score[live] * 100).astype(np.intp), 0, 100)
    scores = {
        kind: np.bincount(score_bins[signal_types == kind], minlength=101).astype(np.float64)
        for kind in dict.fromkeys(PLATFORM_SIGNAL_TYPES.values())
    }
    lag_s = (batch.processed_at[live] - batch.received_at[live]).astype("timedelta64[us]").astype(np.float64) / 1e6
    lag_hist = np.bincount(bin_index(np.log10(np.maximum(lag_s, 1e-6)), LAG_BINS), minlength=len(LAG_BINS) - 1)
    lorenz, top1, top10 = _tail(scenario)
    amount_hist, amount_medians = _amounts(batch, traits.segment)
    story_segments = Counter(story.customer.segment for story in scenario.stories)
    story_locales = Counter(story.customer.locale for story in scenario.stories)
    sampled = f"model sample of {n:,} events"
    return Profile(
        counts={
            "customers": scenario.customers + len(scenario.stories),
            "events": scenario.events + sum(story_types.values()),
            "signals": round(scenario.events * share_processed) + story_processed,
            "sales_signals": round(scenario.events * share_live) + story_platform,
        },
        event_types=dict(event_types),
        events_n=scenario.events + sum(story_types.values()),
        segments=dict(Counter(_scaled(scenario.segment_shares, scenario.customers)) + story_segments),
        locales=dict(Counter(_scaled(scenario.locale_shares, scenario.customers)) + story_locales),
        heatmap=_heatmap(batch, np.asarray(traits.utc_offset, dtype=np.float64)),
        heatmap_n=n,
        top1=top1,
        top10=top10,
        lorenz=lorenz,
        accounts_n=scenario.customers + len(scenario.stories),
        scores=scores,
        lag_hist=lag_hist.astype(np.float64),
        lag_quantiles={q: float(np.quantile(lag_s, q)) for q in LAG_QUANTILES} if len(lag_s) else {},
        lag_n=len(lag_s),
        amount_hist=amount_hist,
        amount_medians=amount_medians,
        stories=_stories(scenario),
        model_n=n,
        notes={
            "counts": "the scenario's counts; signals and sales_signals at the model's processed shares",
            "event_types": "the scenario's event mix and stories",
            "segments": "the scenario's segment and locale shares",
            "heatmap": sampled,
            "tail": "drawn at full size from the model's activity law"
            if scenario.events <= TAIL_SAMPLE_EVENTS
            else "the model's activity weights",
            "scores": sampled,
            "lag": sampled,
            "amounts": sampled,
        },
    )
