"""``replay`` and ``verify`` as library calls (the CLI only parses and renders)."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Final
from urllib.parse import urlsplit

from ..dsn import mask_text
from ..errors import UnsafeTargetError, UsageError
from ..scenarios import Scenario, load_scenario
from ._http import HttpSink
from ._manifest import Manifest, default_manifest_path
from ._redis import BullQueue, QueueCounts, check_redis_url
from ._run import LiveStatus, ReplayOptions, ReplayReport, run_replay
from ._sinks import Delivery, RedisSink, Sink
from ._sort import SortedEvents
from ._source import scenario_events
from ._stream import StreamPlan, sent_events
from ._verify import ExpectedSignal, VerifyReport, expected_signal, verify_signals
from ._wait import DrainReport, wait_drained

if TYPE_CHECKING:
    from ._record import Recorder

__all__ = ["DEFAULT_QUEUE", "VerifyOutcome", "expected_signals", "is_redis_url", "open_queue", "replay", "verify"]

#: The platform's queue (``QUEUE_NAME`` of its API and worker).
DEFAULT_QUEUE: Final = "sales-events"

EventSource = Callable[[Scenario], SortedEvents]


def is_redis_url(url: str) -> bool:
    """Whether ``url`` names a Redis (redis:// or rediss://), not the API."""
    return urlsplit(url).scheme.lower() in ("redis", "rediss") if "://" in url else False


def open_queue(url: str, queue: str, *, purge: bool = False, force: bool = False) -> BullQueue:
    """Connect to ``queue`` on the Redis at ``url``, refusing a replica; with ``purge``, empty it first, which
    is refused on a queue this tool did not create unless ``force``. A queue that did not exist is marked as
    the tool's (so later runs may purge it)."""
    bull = BullQueue(check_redis_url(url), queue)
    try:
        bull.check_writable()
        existed = bull.exists()
        owned = bull.is_owned()
        if purge and existed:
            if not owned and not force:
                raise UnsafeTargetError(
                    f"queue {queue!r} on {bull.shown_url} was not created by sspp-fixtures: refusing to purge it",
                    hint="drop --purge, pick another --queue, or add --force to delete its jobs anyway",
                )
            bull.purge()
        if not existed or (purge and owned):  # a foreign queue purged with --force stays foreign
            bull.mark_owned()
    except BaseException:
        bull.close()
        raise
    return bull


def _sink(to: str, queue: str, options: ReplayOptions, concurrency: int, purge: bool, force: bool) -> Sink:
    if is_redis_url(to):
        if options.invalid_share > 0:
            raise UsageError(
                "--invalid needs the API (--to http://HOST:3000/api/v1/events): only the API rejects invalid events; "
                "on the queue they would reach the worker",
            )
        return RedisSink(open_queue(to, queue, purge=purge, force=force), pipelined=True)
    if purge:
        raise UsageError("--purge works on a Redis queue (--to redis://...), not through the API")
    sink = HttpSink(to, concurrency=concurrency)
    try:
        sink.probe()
    except BaseException:
        sink.close()
        raise
    return sink


def replay(
    scenario_ref: str,
    to: str,
    *,
    queue: str = DEFAULT_QUEUE,
    seed: int | None = None,
    scale: float | None = None,
    options: ReplayOptions | None = None,
    concurrency: int = 16,
    purge: bool = False,
    force: bool = False,
    manifest_path: Path | None = None,
    live: Callable[[LiveStatus], None] | None = None,
    prepared: Callable[[SortedEvents, float], None] | None = None,
    events: EventSource | None = None,
    recorder: Recorder | None = None,
) -> ReplayReport:
    """Send the platform events of a scenario to ``to`` (a Redis queue, or the API's ``/events`` URL); a
    ``recorder`` starts sampling as the first event goes (its caller stops it)."""
    options = options or ReplayOptions()
    scenario = load_scenario(scenario_ref).with_overrides(seed=seed, scale=scale)
    sink = _sink(to, queue, options, concurrency, purge, force)  # connect first: a wrong URL fails fast
    try:
        started = time.monotonic()
        sorted_events = (events or scenario_events)(scenario)
    except BaseException:
        sink.close()
        raise
    with sorted_events:
        prepare_s = time.monotonic() - started
        if prepared is not None:
            prepared(sorted_events, prepare_s)
        redis = is_redis_url(to)
        manifest = Manifest(
            scenario=str(Path(scenario_ref).resolve()) if Path(scenario_ref).is_file() else scenario_ref,
            scenario_name=scenario.name,
            fingerprint=scenario.fingerprint(),
            seed=scenario.seed,
            scale=scale,
            plan=StreamPlan(seed=scenario.seed),
            sent=0,
            sink=sink.kind,
            target=sink.target,
            url=to if mask_text(to, to) == to else None,
            queue=queue if redis else None,
            prefix="bull",
            time_mode=options.time,
            rate=options.rate,
            speed=options.speed,
            delivery=Delivery(sink.kind),
            started_at=datetime.now(UTC).isoformat(timespec="milliseconds"),
        )
        path = manifest_path or default_manifest_path(queue if redis else urlsplit(to).netloc)
        if recorder is not None:
            recorder.start(lambda: sink.delivery)
        return run_replay(
            sorted_events,
            last_time_ms=sorted_events.last_ms,
            sink=sink,
            options=options,
            manifest=manifest,
            manifest_path=path,
            live=live,
            prepare_s=prepare_s,
        )


def expected_signals(manifest: Manifest, events: EventSource | None = None) -> Iterator[ExpectedSignal]:
    """The ``sales_signals`` rows a run should have produced, regenerated from its scenario and plan."""
    scenario = load_scenario(manifest.scenario).with_overrides(seed=manifest.seed, scale=manifest.scale)
    if scenario.fingerprint() != manifest.fingerprint:
        raise UsageError(
            f"scenario {manifest.scenario!r} changed since the run (fingerprint {scenario.fingerprint()[:12]}, "
            f"recorded {manifest.fingerprint[:12]})",
            hint="verify with the scenario file as it was when replay ran",
        )
    skipped = manifest.delivery.not_delivered
    with (events or scenario_events)(scenario) as sorted_events:
        for event in sent_events(sorted_events, replace(manifest.plan, limit=manifest.sent)):
            if event.invalid is None and event.seq not in skipped:
                yield expected_signal(event.seq, event.body)


@dataclass
class VerifyOutcome:
    manifest: Manifest
    drain: DrainReport | None
    signals: VerifyReport | None

    @property
    def ok(self) -> bool:
        drained = self.drain is None or (self.drain.drained and not self.drain.failed)
        return drained and (self.signals is None or self.signals.ok)


def verify(
    manifest: Manifest,
    *,
    dsn: str | None = None,
    to: str | None = None,
    wait: bool = True,
    timeout_s: float = 300,
    worker_tz: str = "UTC",
    live: Callable[[QueueCounts, float], None] | None = None,
    events: EventSource | None = None,
) -> VerifyOutcome:
    """Wait for the queue to drain (``wait``; a Redis run, or ``to`` naming the API's Redis), then check the
    database at ``dsn`` holds exactly the run's signals."""
    drain = None
    url = to or manifest.url
    if wait:
        if url is None or not is_redis_url(url):
            raise UsageError(
                "waiting needs the queue's Redis", hint="pass --to redis://HOST:6379 (the run's URL held a password)"
            )
        bull = BullQueue(url, manifest.queue or DEFAULT_QUEUE, prefix=manifest.prefix)
        try:
            ids = manifest.delivery.job_ids or None
            drain = wait_drained(bull, ids, timeout_s=timeout_s, live=live)
        finally:
            bull.close()
    signals = None
    if dsn is not None:
        since = datetime.fromisoformat(manifest.started_at)
        signals = verify_signals(dsn, expected_signals(manifest, events), since=since, worker_tz=worker_tz)
    return VerifyOutcome(manifest, drain, signals)
