"""One replay run: the scenario's events, in order and paced, handed to a sink, recorded in a manifest."""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Final

from ..errors import UsageError
from ._events import ReplayEvent, SentEvent
from ._manifest import Manifest
from ._pace import Pacer, batch_size
from ._redis import QueueCounts
from ._sinks import Delivery, Sink
from ._stream import StreamPlan, sent_events

__all__ = ["LiveStatus", "ReplayOptions", "ReplayReport", "run_replay"]

TIME_MODES: Final = ("scenario", "now")
_LIVE_EVERY_S: Final = 0.5
_COUNTS_EVERY_S: Final = 1.0


@dataclass(frozen=True)
class ReplayOptions:
    """How to send: ``time`` (``scenario`` keeps timestamps, ``now`` shifts them so the scenario's last event is
    the start of the run), pace (``rate`` events/s or ``speed`` times the scenario's clock, or neither: full
    speed), bounds (``count`` events, ``duration_s`` seconds), ``invalid_share`` (events the API must reject)."""

    time: str = "scenario"
    rate: float | None = None
    speed: float | None = None
    count: int | None = None
    duration_s: float | None = None
    invalid_share: float = 0.0

    def __post_init__(self) -> None:
        if self.time not in TIME_MODES:
            raise UsageError(f"--time {self.time!r}: expected one of {', '.join(TIME_MODES)}")
        if self.rate is not None and self.speed is not None:
            raise UsageError("--rate and --speed both set", hint="pace by one: a steady rate, or the scenario's clock")
        if self.rate is not None and not self.rate > 0:
            raise UsageError(f"--rate {self.rate}: must be above 0")
        if self.speed is not None and not self.speed > 0:
            raise UsageError(f"--speed {self.speed}: must be above 0")
        if not 0 <= self.invalid_share < 1:
            raise UsageError(f"--invalid {self.invalid_share}: a share from 0 to below 1, e.g. 0.05")


@dataclass(frozen=True)
class LiveStatus:
    sent: int
    seconds: float
    rate: float
    counts: QueueCounts | None


@dataclass
class ReplayReport:
    manifest: Manifest
    manifest_path: Path | None
    prepare_s: float
    send_s: float

    @property
    def delivery(self) -> Delivery:
        return self.manifest.delivery

    @property
    def rate(self) -> float:
        return self.manifest.sent / self.send_s if self.send_s > 0 else 0.0


def _batches(events: Iterator[SentEvent], size: int, span_ms: float | None) -> Iterator[list[SentEvent]]:
    """Groups of up to ``size`` events; with ``span_ms`` a group also ends where scenario time moves on by it."""
    batch: list[SentEvent] = []
    for event in events:
        if batch and (len(batch) >= size or (span_ms is not None and event.time_ms - batch[0].time_ms > span_ms)):
            yield batch
            batch = []
        batch.append(event)
    if batch:
        yield batch


def run_replay(  # noqa: PLR0915  (one loop with its bookkeeping; split, it would only pass state around)
    events: Iterable[ReplayEvent],
    *,
    last_time_ms: int | None,
    sink: Sink,
    options: ReplayOptions,
    manifest: Manifest,
    manifest_path: Path | None = None,
    live: Callable[[LiveStatus], None] | None = None,
    prepare_s: float = 0.0,
    clock: Callable[[], float] = time.monotonic,
) -> ReplayReport:
    """Send ``events`` (sorted) through ``sink`` as ``options`` say; record the run in ``manifest`` (written to
    ``manifest_path`` at the end, also when interrupted or failed)."""
    now_ms = int(time.time() * 1000)
    shift = now_ms - last_time_ms if options.time == "now" and last_time_ms is not None else 0
    plan = StreamPlan(seed=manifest.seed, shift_ms=shift, invalid_share=options.invalid_share, limit=options.count)
    manifest.plan = plan
    pacer = Pacer(rate=options.rate, speed=options.speed, clock=clock)
    size = batch_size(options.rate)
    span_ms = None if options.speed is None else 10 * options.speed  # ~10 ms of wall time per batch
    invalid: Counter[str] = Counter()
    handed = 0
    start = pacer.start()
    next_live = start
    next_counts = start
    counts: QueueCounts | None = None
    manifest.stopped_by = "end"
    try:
        for batch in _batches(sent_events(events, plan), size, span_ms):
            now = clock()
            if options.duration_s is not None and now - start >= options.duration_s:
                manifest.stopped_by = "duration"
                break
            pacer.wait_for(len(batch), batch[0].time_ms)
            sink.send(batch)
            handed += len(batch)
            for event in batch:
                if event.invalid is not None:
                    invalid[event.invalid] += 1
            if live is not None and now >= next_live:
                if now >= next_counts:
                    counts = sink.counts()
                    next_counts = now + _COUNTS_EVERY_S
                elapsed = max(clock() - start, 1e-9)
                live(LiveStatus(handed, elapsed, handed / elapsed, counts))
                next_live = now + _LIVE_EVERY_S
        else:
            if options.count is not None and handed >= options.count:
                manifest.stopped_by = "count"
        manifest.delivery = sink.finish()
    except KeyboardInterrupt:
        manifest.stopped_by = "interrupted"
        manifest.delivery = sink.finish()
        raise
    except BaseException:
        manifest.stopped_by = "failed"
        manifest.delivery = getattr(sink, "delivery", manifest.delivery)
        raise
    finally:
        send_s = clock() - start
        # Cut short, what the sink confirms is the prefix that went out (a batch may be half handed over).
        manifest.sent = manifest.delivery.sent if manifest.stopped_by in ("failed", "interrupted") else handed
        manifest.invalid = dict(sorted(invalid.items()))
        manifest.finished_at = datetime.now(UTC).isoformat(timespec="milliseconds")
        if manifest_path is not None:
            manifest.write(manifest_path)
        sink.close()
    return ReplayReport(manifest, manifest_path, prepare_s, send_s)
