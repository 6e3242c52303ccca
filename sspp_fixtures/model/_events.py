"""Events and their signals as columns: who (heavy-tailed), what (the funnel mix), when, and the worker's output.

:func:`sample_events` composes the model for one batch: it needs only the generator, the seed (for the
customers' traits) and the number of customers, so batch ``k`` can be made anywhere from ``derive_rng(seed,
"events", k)`` and still agree with the customers table.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from decimal import Decimal
from uuid import UUID

import numpy as np
import numpy.typing as npt

from ._customers import customer_ids, sample_active_customers, trait_codes, traits_of_codes
from ._journeys import PLATFORM_STAGE_OF_CODE, order_journeys, sample_event_users, sample_stages, user_count, user_ids
from ._payload_json import payloads_signals_and_scores_of_codes
from ._platform_rules import platform_signal_type, score_text
from ._random import categorical, sample_uuids
from ._rows import Event, SalesSignal, Signal
from ._time import Window, sample_processing, sample_timestamps, to_datetime, to_milliseconds
from ._validate import check_shares, check_weights
from ._vocab import (
    ACTIVITY_EXPONENT,
    DEFAULT_EVENT_MIX,
    DEFAULT_LOCALE_SHARES,
    DEFAULT_SEGMENT_SHARES,
    DEFAULT_SOURCE_WEIGHTS,
    EVENT_TYPE_NAMES,
    PLATFORM_FUNNEL,
    SOURCES,
)

__all__ = ["EventBatch", "sample_event_types", "sample_events", "sample_sources"]


def sample_event_types(
    rng: np.random.Generator, n: int, mix: Mapping[str, float] = DEFAULT_EVENT_MIX
) -> npt.NDArray[np.str_]:
    """``n`` event types drawn with ``mix`` (shares over the known types, summing to 1)."""
    return np.asarray(EVENT_TYPE_NAMES)[categorical(rng, n, check_shares("event_mix", mix, EVENT_TYPE_NAMES))]


def sample_sources(
    rng: np.random.Generator, n: int, weights: Mapping[str, float] = DEFAULT_SOURCE_WEIGHTS
) -> npt.NDArray[np.str_]:
    """``n`` values of ``events.source`` (how the event reached the API) drawn with relative ``weights``."""
    return np.asarray(SOURCES)[categorical(rng, n, check_weights("source_weights", weights, SOURCES))]


@dataclass(frozen=True, slots=True, eq=False)
class EventBatch:
    """Columns of ``events`` rows and of the ``signals`` (and ``sales_signals``) derived from the processed ones.

    Event columns have one entry per event; ``signal_*`` columns too, meaningful where ``processed``
    (:meth:`signals` yields only those). ``platform`` marks the events of the platform's six types: those have a
    ``user_id`` and, when processed, a ``sales_signals`` row scored ``signal_score``.
    """

    id: list[str]
    event_type: npt.NDArray[np.str_]
    customer_number: npt.NDArray[np.int64]
    customer_id: list[str]
    payload: list[str]
    source: npt.NDArray[np.str_]
    received_at: npt.NDArray[np.datetime64]
    processed: npt.NDArray[np.bool_]
    signal_id: list[str]
    signal_data: list[str]
    processed_at: npt.NDArray[np.datetime64]
    signal_created_at: npt.NDArray[np.datetime64]
    user_id: list[str | None]
    platform: npt.NDArray[np.bool_]
    signal_score: npt.NDArray[np.float64]

    def __len__(self) -> int:
        return len(self.id)

    def events(self) -> Iterator[Event]:
        """The events as :class:`Event` objects."""
        for i in range(len(self)):
            yield Event(
                id=UUID(self.id[i]),
                event_type=str(self.event_type[i]),
                customer_id=self.customer_id[i],
                payload=json.loads(self.payload[i]),
                source=str(self.source[i]),
                received_at=to_datetime(self.received_at[i]),
                user_id=self.user_id[i],
            )

    def signals(self) -> Iterator[Signal]:
        """The signals of the processed events as :class:`Signal` objects."""
        for i in np.flatnonzero(self.processed).tolist():
            yield Signal(
                id=UUID(self.signal_id[i]),
                event_type=str(self.event_type[i]),
                customer_id=self.customer_id[i],
                signal_data=json.loads(self.signal_data[i]),
                processed_at=to_datetime(self.processed_at[i]),
                created_at=to_datetime(self.signal_created_at[i]),
                event_id=UUID(self.id[i]),
            )

    def sales_signals(self, first_id: int) -> Iterator[SalesSignal]:
        """The ``sales_signals`` rows of the processed platform events; event ``i`` gets id ``first_id + i``."""
        for i in np.flatnonzero(self.processed & self.platform).tolist():
            processed_at = to_datetime(self.processed_at[i])
            created_at = to_datetime(self.signal_created_at[i])
            yield SalesSignal(
                id=first_id + i,
                account_id=self.customer_id[i],
                user_id=str(self.user_id[i]),
                event_type=str(self.event_type[i]),
                signal_type=platform_signal_type(str(self.event_type[i])),
                signal_score=Decimal(score_text(float(self.signal_score[i]))),
                timestamp=to_datetime(self.received_at[i]),
                processed_at=to_milliseconds(processed_at),
                metadata=json.loads(self.payload[i]),
                created_at=created_at,
                updated_at=created_at,
            )


def sample_events(
    rng: np.random.Generator,
    n: int,
    window: Window,
    *,
    seed: int,
    n_customers: int,
    mix: Mapping[str, float] = DEFAULT_EVENT_MIX,
    segment_shares: Mapping[str, float] = DEFAULT_SEGMENT_SHARES,
    locale_shares: Mapping[str, float] = DEFAULT_LOCALE_SHARES,
    source_weights: Mapping[str, float] = DEFAULT_SOURCE_WEIGHTS,
    activity_exponent: float = ACTIVITY_EXPONENT,
    trend: float = 1.5,
    unprocessed_share: float = 0.02,
) -> EventBatch:
    """``n`` events of customers 1..``n_customers`` in ``window``, with the signals the worker made of them.

    Customers are picked heavy-tailed; timestamps follow each customer's business hours; payload amounts
    follow the customer's segment and currency (its traits, from ``seed``, as :func:`sample_customers` has them).
    """
    numbers = sample_active_customers(rng, n, n_customers, exponent=activity_exponent, seed=seed)
    shares = check_shares("event_mix", mix, EVENT_TYPE_NAMES)
    types = categorical(rng, n, shares)  # as sample_event_types draws
    platform = tuple(float(shares[EVENT_TYPE_NAMES.index(name)]) for name in PLATFORM_FUNNEL)
    family = sum(platform)
    types, numbers = sample_stages(
        rng,
        seed,
        types,
        numbers,
        n_customers=n_customers,
        exponent=activity_exponent,
        shares=tuple(share / family for share in platform) if family > 0 else platform,
    )
    segments, locales = trait_codes(seed, numbers, segment_shares=segment_shares, locale_shares=locale_shares)
    offsets = traits_of_codes(segments, locales).utc_offset
    received_at = sample_timestamps(rng, n, window, utc_offsets=offsets, trend=trend)
    received_at = order_journeys(
        rng,
        seed,
        types,
        numbers,
        received_at,
        window,
        utc_offsets=offsets,
        n_customers=n_customers,
        exponent=activity_exponent,
        trend=trend,
    )
    payloads, signal_data, scores = payloads_signals_and_scores_of_codes(rng, types, segments, locales)
    processing = sample_processing(rng, received_at, window, unprocessed_share=unprocessed_share)
    users = sample_event_users(rng, seed, numbers, segments, types, user_count(n_customers))
    return EventBatch(
        id=sample_uuids(rng, n),
        event_type=np.asarray(EVENT_TYPE_NAMES)[types],
        customer_number=numbers,
        customer_id=customer_ids(numbers),
        payload=payloads,
        source=sample_sources(rng, n, source_weights),
        received_at=received_at,
        processed=processing.processed,
        signal_id=sample_uuids(rng, n),
        signal_data=signal_data,
        processed_at=processing.processed_at,
        signal_created_at=processing.created_at,
        user_id=user_ids(users),
        platform=PLATFORM_STAGE_OF_CODE[types] >= 0,
        signal_score=scores,
    )
