"""Events and their signals as columns: who (heavy-tailed), what (the funnel mix), when, and the worker's output.

:func:`sample_events` composes the model for one batch: it needs only the generator, the seed (for the
customers' traits) and the number of customers, so batch ``k`` can be made anywhere from ``derive_rng(seed,
"events", k)`` and still agree with the customers table.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from uuid import UUID

import numpy as np
import numpy.typing as npt

from ._customers import customer_ids, sample_active_customers, trait_codes, traits_of_codes
from ._payloads import payloads_and_signals_of_codes
from ._random import categorical, sample_uuids
from ._rows import Event, Signal
from ._time import Window, sample_processing, sample_timestamps, to_datetime
from ._validate import check_shares, check_weights
from ._vocab import (
    ACTIVITY_EXPONENT,
    DEFAULT_EVENT_MIX,
    DEFAULT_LOCALE_SHARES,
    DEFAULT_SEGMENT_SHARES,
    DEFAULT_SOURCE_WEIGHTS,
    EVENT_TYPE_NAMES,
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
    """Columns of ``events`` rows and of the ``signals`` derived from the processed ones.

    Event columns have one entry per event; ``signal_*`` columns too, meaningful where ``processed``
    (:meth:`signals` yields only those).
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
    segments, locales = trait_codes(seed, numbers, segment_shares=segment_shares, locale_shares=locale_shares)
    types = categorical(rng, n, check_shares("event_mix", mix, EVENT_TYPE_NAMES))  # as sample_event_types draws
    received_at = sample_timestamps(
        rng, n, window, utc_offsets=traits_of_codes(segments, locales).utc_offset, trend=trend
    )
    payloads, signal_data = payloads_and_signals_of_codes(rng, types, segments, locales)
    processing = sample_processing(rng, received_at, window, unprocessed_share=unprocessed_share)
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
    )
