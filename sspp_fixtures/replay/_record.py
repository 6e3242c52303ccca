"""A load test's numbers over time: once a second, a thread of its own records what the run has sent, the queue's
depth by state and how fast the worker finishes jobs; kept in memory (a sample a second is small) for the report's
charts, and written as JSON and CSV for machines.

The worker's rate is the change per second of the jobs finished, counted as the jobs ever added (Bull's ``id``
counter) minus those not finished (wait, paused, active, delayed): the API's jobs keep only the last 1,000
completed ones (``removeOnComplete: 1000``), so past that the size of Bull's ``completed`` set stops growing and
its change would read as a worker that stopped.
"""

from __future__ import annotations

import csv
import json
import threading
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Final

from ..errors import SsppError
from ._api import DEFAULT_QUEUE, VerifyOutcome, is_redis_url
from ._redis import JOB_STATES, BullQueue, QueueCounts, redis_errors
from ._sinks import Delivery

__all__ = ["Recorder", "Recording", "Sample", "VerifySummary", "open_recorder", "write_samples"]

SAMPLES_FORMAT: Final = "sspp-replay-samples/1"
#: A closing sample (end of sending, end of the run) closer than this share of an interval to the tick before
#: replaces it: a rate over a few milliseconds would be noise.
_MERGE_SHARE: Final = 0.25


@dataclass(frozen=True)
class Sample:
    """The run at ``seconds`` after sending began. Counts are totals so far; rates are over the last interval.
    ``queue`` and ``finished`` are None when the queue was not observed; ``accepted``/``rejected``/``gave_up``
    (the API's answers) are None for a run onto Redis."""

    seconds: float
    #: ``sending`` while events go out, ``waiting`` while the queue drains afterwards (``--wait``).
    phase: str
    sent: int
    #: None where there is no span to measure over (the first sample; one a few milliseconds after the last).
    sent_rate: float | None
    queue: QueueCounts | None = None
    #: Jobs the workers finished (completed or failed for good) since the queue began.
    finished: int | None = None
    finish_rate: float | None = None
    accepted: int | None = None
    rejected: int | None = None
    gave_up: int | None = None

    def row(self) -> dict[str, Any]:
        """The sample as one flat row (the queue's states as columns; empty when not observed)."""
        row = asdict(self)
        for key in ("sent_rate", "finish_rate"):
            row[key] = None if row[key] is None else round(row[key], 2)
        counts = row.pop("queue") or {}
        for state in JOB_STATES:
            row[state] = counts.get(state)
        return row


@dataclass(frozen=True)
class VerifySummary:
    """What ``verify`` found after the run (``--wait``): None where it did not look."""

    ok: bool
    drained: bool | None
    failed_jobs: int | None
    checked: int | None
    lost: int | None
    wrong: int | None
    duplicated: int | None

    @classmethod
    def of(cls, outcome: VerifyOutcome) -> VerifySummary:
        drain, signals = outcome.drain, outcome.signals
        return cls(
            ok=outcome.ok,
            drained=None if drain is None else drain.drained,
            failed_jobs=None if drain is None else len(drain.failed),
            checked=None if signals is None else signals.checked,
            lost=None if signals is None else signals.lost,
            wrong=None if signals is None else signals.wrong,
            duplicated=None if signals is None else signals.duplicated,
        )


@dataclass
class Recording:
    """A run's samples and what the charts say beside them."""

    sink: str
    target_rate: float | None
    speed: float | None
    #: The observed queue's name, or None; ``queue_note`` says why not, or when it could not be read.
    queue: str | None
    queue_note: str = ""
    #: What was replayed where (the page's title) and when sending began (UTC, ISO 8601).
    title: str = ""
    started_at: str = ""
    samples: list[Sample] = field(default_factory=list)
    #: How sending ended (the manifest's ``stopped_by``: end, count, duration, interrupted, failed).
    stopped_by: str = ""
    #: Set when the run was cut short (Ctrl-C, SIGTERM, an error): what happened, for the page's banner.
    stopped_early: str = ""
    verify: VerifySummary | None = None

    @property
    def sent(self) -> int:
        return self.samples[-1].sent if self.samples else 0

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["samples"] = [sample.row() for sample in self.samples]
        return {"format": SAMPLES_FORMAT, **data}


def write_samples(recording: Recording, json_path: Path, csv_path: Path) -> None:
    """The recording as JSON (with what the page says beside it) and its samples as CSV, one row a second."""
    json_path.write_text(json.dumps(recording.to_json(), indent=1) + "\n", encoding="utf-8")
    rows = [sample.row() for sample in recording.samples]
    columns = list(Sample(0.0, "", 0, 0.0).row())
    with csv_path.open("w", newline="", encoding="utf-8") as out:
        writer = csv.DictWriter(out, fieldnames=columns)
        writer.writeheader()
        writer.writerows(rows)


def _read_queue(queue: BullQueue) -> tuple[QueueCounts, int]:
    """The queue's counts and its jobs ever added, in one MULTI so that both are of the same instant."""
    with redis_errors(queue.url, "reading the queue's counts"):
        pipe = queue.client.pipeline(transaction=True)
        for state, kind in JOB_STATES.items():
            (pipe.llen if kind == "list" else pipe.zcard)(queue.keys.key(state))
        pipe.get(queue.keys.key("id"))
        *values, added = pipe.execute()
    return QueueCounts(*(int(v) for v in values)), int(added or 0)


class Recorder:
    """Samples a run once per ``interval_s`` on a daemon thread, from :meth:`start` to :meth:`stop`.

    ``queue`` (closed by :meth:`stop`) is read with a connection of its own, so the sender's pacing loop never
    waits for it; without a queue, ``queue_note`` says why it was not observed.
    """

    def __init__(
        self,
        queue: BullQueue | None,
        *,
        sink: str,
        target_rate: float | None = None,
        speed: float | None = None,
        queue_note: str = "",
        interval_s: float = 1.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.recording = Recording(
            sink=sink,
            target_rate=target_rate,
            speed=speed,
            queue=None if queue is None else queue.name,
            queue_note=queue_note if queue is None else "",
        )
        self._queue = queue
        self._interval_s = interval_s
        self._clock = clock
        self._delivery: Callable[[], Delivery] | None = None
        self._phase = "sending"
        self._start = 0.0
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None

    def start(self, delivery: Callable[[], Delivery]) -> None:
        """Begin sampling now (the run's first event is about to go); ``delivery`` gives the sink's counts."""
        self._delivery = delivery
        self._start = self._clock()
        self.recording.started_at = datetime.now(UTC).isoformat(timespec="seconds")
        self._sample()
        self._thread = threading.Thread(target=self._run, name="sspp-replay-recorder", daemon=True)
        self._thread.start()

    @property
    def started(self) -> bool:
        return self._delivery is not None

    def waiting(self) -> None:
        """Sending is over (a sample marks the moment); what follows is the queue draining."""
        if self._delivery is not None:
            self._sample(last=True)
        self._phase = "waiting"

    def stop(self, *, stopped_by: str = "", stopped_early: str = "") -> Recording:
        """Stop sampling, take a last sample (so that totals are the run's final ones) and return the recording."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
            self._thread = None
            self._sample(last=True)
        if self._queue is not None:
            self._queue.close()
            self._queue = None
        self.recording.stopped_by = stopped_by or self.recording.stopped_by
        self.recording.stopped_early = stopped_early
        return self.recording

    def _run(self) -> None:
        tick = 1
        while not self._stop.wait(max(0.0, self._start + tick * self._interval_s - self._clock())):
            self._sample()
            tick = int((self._clock() - self._start) / self._interval_s) + 1  # a late wake-up skips, never bunches

    def _sample(self, *, last: bool = False) -> None:
        assert self._delivery is not None
        with self._lock:  # the thread's sample and the caller's (waiting, stop) never interleave
            seconds = self._clock() - self._start
            delivery = self._delivery()
            counts, finished = self._observe_queue()
            samples = self.recording.samples
            if (
                last
                and len(samples) > 1
                and samples[-1].phase == self._phase  # the end of sending stays, however close
                and seconds - samples[-1].seconds < _MERGE_SHARE * self._interval_s
            ):
                samples.pop()
            before = samples[-1] if samples else None
            span = seconds - before.seconds if before is not None else 0.0
            if span < _MERGE_SHARE * self._interval_s:
                span = 0.0  # no rate over a few milliseconds: it would be noise
            http = delivery.kind == "http"
            samples.append(
                Sample(
                    seconds=round(seconds, 3),
                    phase=self._phase,
                    sent=delivery.sent,
                    sent_rate=_rate(delivery.sent, None if before is None else before.sent, span),
                    queue=counts,
                    finished=finished,
                    finish_rate=_rate(finished, None if before is None else before.finished, span),
                    accepted=delivery.accepted if http else None,
                    rejected=delivery.rejected_as_expected + len(delivery.rejected) if http else None,
                    gave_up=len(delivery.failed) if http else None,
                )
            )

    def _observe_queue(self) -> tuple[QueueCounts | None, int | None]:
        if self._queue is None:
            return None, None
        try:
            counts, added = _read_queue(self._queue)
        except SsppError as error:
            if not self.recording.queue_note:
                self.recording.queue_note = f"not observed from {self._clock() - self._start:.0f}s on: {error}"
            return None, None
        return counts, added - counts.pending


def _rate(now: int | None, before: int | None, span: float) -> float | None:
    if now is None or before is None or span <= 0:
        return None
    return max(0, now - before) / span


def open_recorder(
    to: str,
    *,
    queue: str = DEFAULT_QUEUE,
    redis_url: str | None = None,
    target_rate: float | None = None,
    speed: float | None = None,
) -> Recorder:
    """A recorder for a run sent to ``to``, watching ``queue`` on that Redis, or on ``redis_url`` when ``to`` is
    the API (without it, the queue is not observed and the recording says so). Connects now: a wrong URL fails
    before the run."""
    url = to if is_redis_url(to) else redis_url
    bull = None if url is None else BullQueue(url, queue)
    return Recorder(
        bull,
        sink="redis" if is_redis_url(to) else "http",
        target_rate=target_rate,
        speed=speed,
        queue_note="not observed: the run went through the API and the queue's Redis was not given (--redis)",
    )
