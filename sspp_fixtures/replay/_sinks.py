"""Where a run's events go: the platform's Bull queue in Redis (:class:`RedisSink`) or its API (``_http``)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from ._events import SentEvent
from ._redis import BullQueue, JobWriter, QueueCounts

__all__ = ["Delivery", "RedisSink", "Sink", "merge_ranges"]


@dataclass
class Delivery:
    """What a sink did with the events it was given; nothing given to it is missing from here."""

    kind: str
    sent: int = 0
    #: The job ids, as inclusive ranges (HTTP: those the API answered with).
    job_ids: list[list[int]] = field(default_factory=list)
    paused: bool = False
    #: HTTP: answered 2xx.
    accepted: int = 0
    #: HTTP: invalid events answered 4xx, as they should be.
    rejected_as_expected: int = 0
    #: HTTP: [seq, status, the API's message] of valid events the API refused.
    rejected: list[list[Any]] = field(default_factory=list)
    #: HTTP: [seq, kind] of invalid events the API accepted (a gap in its validation).
    accepted_invalid: list[list[Any]] = field(default_factory=list)
    #: [seq, reason] of events given up after retries (5xx, connection lost).
    failed: list[list[Any]] = field(default_factory=list)
    retries: int = 0

    @property
    def not_delivered(self) -> set[int]:
        """Positions of the valid events that reached no job (refused or given up)."""
        return {int(row[0]) for row in self.rejected} | {int(row[0]) for row in self.failed}


def merge_ranges(ranges: list[list[int]], first: int, last: int) -> None:
    """Append ``[first, last]`` to ``ranges``, extending the last range when contiguous."""
    if ranges and ranges[-1][1] + 1 == first:
        ranges[-1][1] = last
    else:
        ranges.append([first, last])


class Sink(Protocol):
    kind: str
    target: str
    #: What the sink did so far (read by the recorder's thread while the run goes on).
    delivery: Delivery

    def send(self, batch: Sequence[SentEvent]) -> None: ...
    def finish(self) -> Delivery: ...
    def counts(self) -> QueueCounts | None: ...
    def close(self) -> None: ...


#: Batches sent and not answered yet: two kept a busy Redis fed best here (1: 31k/s, 2: 58k/s, 4: 53k/s, 8: 35k/s).
_IN_FLIGHT = 2


class RedisSink:
    """Adds each event as a job exactly as the API would (see :mod:`._bull`), straight onto the queue."""

    kind = "redis"

    def __init__(self, queue: BullQueue, *, pipelined: bool) -> None:
        self.queue = queue
        self.target = queue.shown_url
        self.delivery = Delivery("redis", paused=queue.is_paused())
        self._writer: JobWriter = queue.writer()
        self._in_flight = _IN_FLIGHT if pipelined else 0

    def send(self, batch: Sequence[SentEvent]) -> None:
        self._record(self._writer.send([event.body for event in batch], max_in_flight=self._in_flight))

    def _record(self, results: Sequence[Any]) -> None:
        for result in results:
            self.delivery.sent += result.count
            self.delivery.paused = self.delivery.paused or result.paused
            merge_ranges(self.delivery.job_ids, result.first_id, result.first_id + result.count - 1)

    def finish(self) -> Delivery:
        self._record(self._writer.flush())
        return self.delivery

    def counts(self) -> QueueCounts | None:
        return self.queue.counts()

    def close(self) -> None:
        self._writer.close()
