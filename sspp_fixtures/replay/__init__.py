"""Drive the platform: a scenario's events onto its Bull queue in Redis or through its API, at a set rate, then
check end to end that its worker stored every one right (``sales_signals``)."""

from __future__ import annotations

from ._api import DEFAULT_QUEUE, VerifyOutcome, expected_signals, open_queue, replay, verify
from ._bull import API_JOB_OPTS, JOB_NAME
from ._errors import QueueError, QueueUnreachableError, SinkError
from ._record import Recorder, Recording, open_recorder
from ._redis import BullQueue
from ._run import ReplayOptions, ReplayReport
from ._verify import ExpectedSignal, VerifyReport
from ._wait import DrainReport, wait_drained

__all__ = [
    "API_JOB_OPTS",
    "DEFAULT_QUEUE",
    "JOB_NAME",
    "BullQueue",
    "DrainReport",
    "ExpectedSignal",
    "QueueError",
    "QueueUnreachableError",
    "Recorder",
    "Recording",
    "ReplayOptions",
    "ReplayReport",
    "SinkError",
    "VerifyOutcome",
    "VerifyReport",
    "expected_signals",
    "open_queue",
    "open_recorder",
    "replay",
    "verify",
    "wait_drained",
]

# For the other packages of sspp-fixtures and its tests: not part of the supported API
# (README, "Python API"); they may change without notice.
from ._bull import Job as Job
from ._events import ReplayEvent as ReplayEvent
from ._events import SentEvent as SentEvent
from ._http import HttpSink as HttpSink
from ._invalid import INVALID_KINDS as INVALID_KINDS
from ._manifest import Manifest as Manifest
from ._manifest import latest_manifest as latest_manifest
from ._pace import Pacer as Pacer
from ._pace import batch_size as batch_size
from ._redis import QueueCounts as QueueCounts
from ._run import LiveStatus as LiveStatus
from ._run import run_replay as run_replay
from ._sinks import Delivery as Delivery
from ._sinks import RedisSink as RedisSink
from ._sort import SortedEvents as SortedEvents
from ._sort import sort_events as sort_events
from ._source import scenario_batches as scenario_batches
from ._source import scenario_events as scenario_events
from ._stream import StreamPlan as StreamPlan
from ._stream import sent_events as sent_events
from ._verify import verify_signals as verify_signals
