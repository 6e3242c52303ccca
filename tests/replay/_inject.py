"""Replay's event source replaced by events built in the test (the scenario still names the run)."""

from __future__ import annotations

from collections.abc import Callable

from sspp_fixtures.bulkgen import PlatformEvents
from sspp_fixtures.replay import SortedEvents, sort_events
from tests.replay._events import make_batches


def events_of(batches: list[PlatformEvents]) -> Callable[[object], SortedEvents]:
    def source(_scenario: object) -> SortedEvents:
        return sort_events(batches)

    return source


def built(total: int, **options: int) -> Callable[[object], SortedEvents]:
    return events_of(make_batches(total, **options))
