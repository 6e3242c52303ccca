"""After a run: wait until the platform's worker has drained the queue, then say how fast it consumed and what
failed. Bull scores its ``completed`` and ``failed`` sets by ``finishedOn``, and the API's jobs keep the last
1,000 completed ones (``removeOnComplete: 1000``) and every failed one, so the consumer's rate is measured on the
completed jobs Redis still holds, and every failure is listed with its ``failedReason``."""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from ._redis import BullQueue, QueueCounts

__all__ = ["DrainReport", "in_ranges", "wait_drained"]


def in_ranges(job_id: str, ranges: Sequence[Sequence[int]]) -> bool:
    """Whether ``job_id`` (Bull's numeric id as text) lies in one of the inclusive ``ranges``."""
    if not job_id.isdigit():
        return False
    number = int(job_id)
    return any(first <= number <= last for first, last in ranges)


@dataclass
class DrainReport:
    drained: bool
    seconds: float
    counts: QueueCounts
    paused: bool
    #: Jobs per second over the completed jobs Redis still holds (by their finishedOn), or None.
    consumer_rate: float | None
    consumer_sample: int
    #: Completed jobs of the run still held, and the span of their finishedOn (ms since epoch).
    first_finished_ms: int | None
    last_finished_ms: int | None
    #: [job id, failedReason, attemptsMade] of every failed job of the run.
    failed: list[list[Any]] = field(default_factory=list)


def _rate(times: list[int]) -> float | None:
    if len(times) < 2 or times[-1] <= times[0]:
        return None
    return (len(times) - 1) / ((times[-1] - times[0]) / 1000)


def wait_drained(
    queue: BullQueue,
    job_ids: Sequence[Sequence[int]] | None,
    *,
    timeout_s: float,
    poll_s: float = 0.5,
    live: Callable[[QueueCounts, float], None] | None = None,
) -> DrainReport:
    """Poll until nothing waits, runs or is delayed on ``queue`` (or ``timeout_s``); then report on the jobs of
    ``job_ids`` (all jobs when None)."""
    start = time.monotonic()
    while True:
        counts = queue.counts()
        elapsed = time.monotonic() - start
        if live is not None:
            live(counts, elapsed)
        drained = counts.wait + counts.active + counts.delayed == 0 and counts.paused == 0
        if drained or elapsed >= timeout_s:
            break
        time.sleep(poll_s)

    def ours(job_id: str) -> bool:
        return job_ids is None or in_ranges(job_id, job_ids)

    finished = sorted(ms for job_id, ms in queue.finished_times("completed") if ours(job_id))
    failed_ids = [job_id for job_id, _ms in queue.finished_times("failed") if ours(job_id)]
    failed = [[job.id, job.failed_reason, job.attempts_made] for job in queue.read_jobs(failed_ids)]
    return DrainReport(
        drained=drained,
        seconds=elapsed,
        counts=counts,
        paused=queue.is_paused(),
        consumer_rate=_rate(finished),
        consumer_sample=len(finished),
        first_finished_ms=finished[0] if finished else None,
        last_finished_ms=finished[-1] if finished else None,
        failed=failed,
    )
