"""The factories' random state: one numpy stream per field, factory-boy's random (shared with Faker), and the
numbering of customers and ``sales_signals`` ids; :func:`reseed` starts it all again from one seed."""

# factory-boy's reseed_random has no annotations.
# mypy: disable-error-code="no-untyped-call"
from __future__ import annotations

import itertools
import secrets
import threading
from collections.abc import Callable
from typing import Any, Final

import faker
import numpy as np
from factory.random import reseed_random

from ..errors import UsageError
from ..model import derive_rng

__all__ = ["FACTORY_CUSTOMER_BASE", "FACTORY_SALES_SIGNAL_BASE", "reseed", "state"]

#: Factory customers are numbered from here (``cust_900000001``…), above any scenario's customers (at most
#: 50 million), so rows a test creates never collide with a scenario loaded into the same database.
FACTORY_CUSTOMER_BASE: Final = 900_000_000
#: Factory ``sales_signals`` ids start above this, far above a scenario's (one per event, at most 50 million) and
#: below the column's INTEGER limit; the table's sequence is left alone, so the worker's own inserts never collide.
FACTORY_SALES_SIGNAL_BASE: Final = 1_900_000_000

_BLOCK: Final = 256


class _Stream:
    """One field's values, drawn :data:`_BLOCK` at a time from the field's own generator.

    A vectorised model call per block costs what one call per row would, and a field's values do not shift
    when a test overrides another field.
    """

    def __init__(self, rng: np.random.Generator, draw: Callable[[np.random.Generator, int], list[Any]]) -> None:
        self._rng = rng
        self._draw = draw
        self._values: list[Any] = []
        self._next = 0
        self._lock = threading.Lock()

    def __call__(self) -> Any:
        with self._lock:  # threads building at once never get the same value (two equal UUIDs)
            if self._next == len(self._values):
                self._values = self._draw(self._rng, _BLOCK)
                self._next = 0
            self._next += 1
            return self._values[self._next - 1]


class RandomState:
    """Everything the factories draw from; :meth:`reset` starts it all again from one seed."""

    def __init__(self, seed: int) -> None:
        self.fakers: dict[str, faker.Faker] = {}
        self.lock = threading.Lock()
        self.reset(seed)

    def reset(self, seed: int) -> None:
        self.seed = seed
        self.streams: dict[tuple[str, ...], _Stream] = {}
        self.rng = derive_rng(seed, "factories", "rows")  # draws that depend on other fields (payloads)
        self.numbers = itertools.count(FACTORY_CUSTOMER_BASE + 1)
        self.sales_signal_ids = itertools.count(FACTORY_SALES_SIGNAL_BASE + 1)

    def draw(self, key: tuple[str, ...], sample: Callable[[np.random.Generator, int], list[Any]]) -> Any:
        stream = self.streams.get(key)
        if stream is None:
            with self.lock:
                stream = self.streams.setdefault(key, _Stream(derive_rng(self.seed, "factories", *key), sample))
        return stream()


state = RandomState(secrets.randbits(63))  # unseeded, like factory-boy and Faker, until reseed()


def reseed(seed: int) -> None:
    """Make the factories reproducible: the same ``seed`` gives the same objects, in the same order.

    Reseeds factory-boy's shared random (which Faker draws from), the numpy generators the model's functions
    draw from, and restarts customer numbering at ``cust_900000001``. Call it at the start of a test (on a
    fresh database: customers created after a reseed reuse the ids of those created before it).
    """
    if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
        raise UsageError(f"reseed: expected an integer >= 0, got {seed!r}", hint="pass a seed such as 42")
    reseed_random(seed)
    state.reset(seed)
