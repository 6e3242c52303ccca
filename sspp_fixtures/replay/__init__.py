"""Drive the platform: a scenario's events onto its Bull queue in Redis or through its API, at a set rate, then
check end to end that its worker stored every one right (``sales_signals``)."""

from __future__ import annotations

from ._api import DEFAULT_QUEUE, VerifyOutcome, expected_signals, open_queue, replay, verify
from ._bull import API_JOB_OPTS, JOB_NAME, Job, QueueKeys
from ._errors import QueueError, QueueUnreachableError, SinkError
from ._events import EventBatch, ReplayEvent, SentEvent, event_body
from ._http import HttpSink
from ._invalid import INVALID_KINDS
from ._manifest import Manifest, latest_manifest, manifest_dir
from ._pace import Pacer, batch_size
from ._redis import JOB_STATES, BullQueue, QueueCounts
from ._run import LiveStatus, ReplayOptions, ReplayReport, run_replay
from ._sinks import Delivery, RedisSink
from ._sort import SortedEvents, sort_events
from ._source import scenario_batches, scenario_events
from ._stream import StreamPlan, sent_events
from ._verify import ExpectedSignal, VerifyReport, expected_signal, verify_signals
from ._wait import DrainReport, wait_drained

__all__ = [
    "API_JOB_OPTS",
    "DEFAULT_QUEUE",
    "INVALID_KINDS",
    "JOB_NAME",
    "JOB_STATES",
    "BullQueue",
    "Delivery",
    "DrainReport",
    "EventBatch",
    "ExpectedSignal",
    "HttpSink",
    "Job",
    "LiveStatus",
    "Manifest",
    "Pacer",
    "QueueCounts",
    "QueueError",
    "QueueKeys",
    "QueueUnreachableError",
    "RedisSink",
    "ReplayEvent",
    "ReplayOptions",
    "ReplayReport",
    "SentEvent",
    "SinkError",
    "SortedEvents",
    "StreamPlan",
    "VerifyOutcome",
    "VerifyReport",
    "batch_size",
    "event_body",
    "expected_signal",
    "expected_signals",
    "latest_manifest",
    "manifest_dir",
    "open_queue",
    "replay",
    "run_replay",
    "scenario_batches",
    "scenario_events",
    "sent_events",
    "sort_events",
    "verify",
    "verify_signals",
    "wait_drained",
]
