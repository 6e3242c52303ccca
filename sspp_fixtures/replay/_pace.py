"""When to send: a token bucket on the monotonic clock (``--rate``), the scenario's own clock sped up
(``--speed``), or as fast as the sink takes them; plus the batch size that suits each."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Final

__all__ = ["Pacer", "batch_size"]

#: A batch carries ~10 ms of a set rate: at 10k/s that is 100 jobs per round trip; at 100/s, one.
_BATCH_SECONDS: Final = 0.01
#: The bucket holds up to a second of credit (at least two batches): a late wake-up or a stall of the sender (a
#: busy machine deschedules it for tens of ms) is made up, so the rate over a minute stays within 1% (measured
#: by bench_replay.py: with 50 ms of credit a busy 2-core machine lost 0.4-2.2%); a longer stall is not made up.
_SLACK_SECONDS: Final = 1.0
#: The largest batch: one Lua call of this many jobs keeps Redis busy ~1-2 ms; 250 was the fastest of 100-1000 here.
MAX_BATCH: Final = 250


def batch_size(rate: float | None) -> int:
    """Events per batch for a rate (``None``: full speed)."""
    if rate is None:
        return MAX_BATCH
    return max(1, min(MAX_BATCH, int(rate * _BATCH_SECONDS)))


@dataclass
class Pacer:
    """Tells how long to wait before the next batch may go.

    ``rate``: a token bucket refilled at ``rate`` tokens/s holding at most a second of credit, so the average rate
    over any window is the set rate, a late wake-up costs nothing and a stall is made up by a burst of at most
    one second's events.
    ``speed``: an event of scenario time ``t`` is due at ``start + (t - first) / speed``. Neither: never waits.
    """

    rate: float | None = None
    speed: float | None = None
    clock: Callable[[], float] = time.monotonic
    sleep: Callable[[float], None] = time.sleep

    def __post_init__(self) -> None:
        self._start: float | None = None
        self._tokens = 0.0
        self._last = 0.0
        self._first_ms: int | None = None

    def start(self) -> float:
        self._start = self._last = self.clock()
        self._tokens = float(batch_size(self.rate))
        return self._start

    def wait_for(self, events: int, first_time_ms: int) -> None:
        """Block until a batch of ``events`` whose first event has scenario time ``first_time_ms`` may go."""
        if self._start is None:
            self.start()
        assert self._start is not None
        if self.rate is not None:
            self._wait_tokens(events)
        elif self.speed is not None:
            if self._first_ms is None:
                self._first_ms = first_time_ms
            due = self._start + (first_time_ms - self._first_ms) / 1000 / self.speed
            delay = due - self.clock()
            if delay > 0:
                self.sleep(delay)

    def _wait_tokens(self, events: int) -> None:
        assert self.rate is not None
        capacity = max(float(events), 2.0 * batch_size(self.rate), self.rate * _SLACK_SECONDS)
        while True:
            now = self.clock()
            self._tokens = min(capacity, self._tokens + (now - self._last) * self.rate)
            self._last = now
            if self._tokens >= events:
                self._tokens -= events
                return
            self.sleep((events - self._tokens) / self.rate)
