"""``sspp_queue``: a Bull queue of the test's own on a real Redis, for services that put jobs on the platform's
queue or consume them. The name is unique per test (worker id, pid, a counter), so tests and xdist workers never
share one; every key of the queue is removed after the test.

The Redis comes from ``--sspp-redis``, else the ini key ``sspp_redis``, else ``$REDIS_URL``, else
``redis://127.0.0.1:6379/0``.
"""

from __future__ import annotations

import itertools
import os
import time
import uuid
from collections.abc import Iterable, Iterator, Mapping
from typing import TYPE_CHECKING, Any, Final

import pytest

from ..errors import SsppError

if TYPE_CHECKING:  # redis-py and the replay package load when a test first asks for a queue
    from ..replay import BullQueue, Job, QueueCounts

__all__ = ["QueueFixture", "add_queue_options", "sspp_queue"]

REDIS_URL_ENV: Final = "REDIS_URL"
DEFAULT_REDIS_URL: Final = "redis://127.0.0.1:6379/0"
#: Queue names of tests start with this (their keys are ``bull:sspp-test-...``).
TEST_QUEUE_PREFIX: Final = "sspp-test-"
_counter = itertools.count()


def add_queue_options(parser: pytest.Parser) -> None:
    text = f"Redis for sspp_queue (default: ${REDIS_URL_ENV}, else {DEFAULT_REDIS_URL})"
    parser.getgroup("sspp").addoption("--sspp-redis", dest="sspp_redis", default=None, help=text)
    parser.addini("sspp_redis", help=text, default=None)


def _redis_url(config: pytest.Config) -> str:
    given = config.getoption("sspp_redis") or config.getini("sspp_redis") or os.environ.get(REDIS_URL_ENV, "")
    return str(given).strip() or DEFAULT_REDIS_URL


def _body(event: Mapping[str, Any] | str) -> str:
    from ..replay._events import event_body, json_string

    if isinstance(event, str):
        return event
    keys = ("accountId", "userId", "eventType", "timestamp", "metadata")
    if list(event) == list(keys) and isinstance(event["metadata"], Mapping):
        return event_body(
            str(event["accountId"]),
            str(event["userId"]),
            str(event["eventType"]),
            str(event["timestamp"]),
            json_string(event["metadata"]),
        )
    return json_string(dict(event))


class QueueFixture:
    """A test's Bull queue: ``name`` and ``url`` for the code under test, and helpers to drive and inspect it."""

    def __init__(self, queue: BullQueue) -> None:
        self.queue = queue

    @property
    def name(self) -> str:
        """The queue's name (what the platform's services read from ``QUEUE_NAME``)."""
        return self.queue.name

    @property
    def url(self) -> str:
        """The Redis URL (with its password: give it to the code under test, never print it)."""
        return self.queue.url

    def add(self, events: Iterable[Mapping[str, Any] | str]) -> list[str]:
        """Add each event (the API's body: a mapping or JSON text) as a ``process-event`` job, exactly as the
        platform's API does; returns the job ids in order."""
        return self.queue.add([_body(event) for event in events])

    def jobs(self, state: str = "wait") -> list[Job]:
        """The jobs in ``state`` (wait, paused, active, delayed, completed, failed), oldest first."""
        return self.queue.jobs(state)

    def counts(self) -> QueueCounts:
        return self.queue.counts()

    def drain(self, timeout: float = 30.0, *, poll: float = 0.05) -> QueueCounts:
        """Wait until a consumer has finished every job (nothing waiting, active or delayed); returns the counts.

        Raises ``TimeoutError`` naming what is left (and whether the queue is paused) after ``timeout`` seconds.
        """
        deadline = time.monotonic() + timeout
        while True:
            counts = self.queue.counts()
            if counts.pending == 0:
                return counts
            if time.monotonic() >= deadline:
                paused = " (the queue is paused)" if self.queue.is_paused() else ""
                raise TimeoutError(f"queue {self.name} not drained after {timeout:g}s{paused}: {counts}")
            time.sleep(poll)


def _queue_name(config: pytest.Config) -> str:
    worker = str(getattr(config, "workerinput", {}).get("workerid", "main"))
    return f"{TEST_QUEUE_PREFIX}{worker}-{os.getpid()}-{next(_counter)}-{uuid.uuid4().hex[:6]}"


@pytest.fixture
def sspp_queue(request: pytest.FixtureRequest) -> Iterator[QueueFixture]:
    """A Bull queue of this test's own on the session's Redis; its keys are removed after the test."""
    from ..replay import BullQueue

    url = _redis_url(request.config)
    try:
        queue = BullQueue(url, _queue_name(request.config))
        queue.mark_owned()
    except SsppError as error:
        pytest.fail(f"{request.node.nodeid}: sspp_queue: {error}", pytrace=False)
    try:
        yield QueueFixture(queue)
    finally:
        try:
            queue.purge()
        finally:
            queue.close()
