"""The one place that asks the generator for a scenario's platform events (the six types the API accepts).

The bulk generator makes them per events chunk (``ChunkMaker.platform_events(k)``) plus one chunk for the stories
(``ChunkMaker.story_platform_events()``); :func:`scenario_events` sorts them all into the scenario's order.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from ..scenarios import Scenario
from ._events import EventBatch
from ._sort import SortedEvents, sort_events

__all__ = ["scenario_batches", "scenario_events"]


def scenario_batches(scenario: Scenario) -> Iterator[EventBatch]:
    """Every platform event of ``scenario``, chunk by chunk (any order: :func:`sort_events` orders them)."""
    from ..bulkgen import ChunkMaker, chunk_count, load_pools, scenario_locales

    maker = ChunkMaker(scenario, load_pools(scenario_locales(scenario)))
    for k in range(chunk_count(scenario.events)):
        yield maker.platform_events(k)
    yield maker.story_platform_events()


def scenario_events(scenario: Scenario, *, spool_dir: Path | None = None) -> SortedEvents:
    """The scenario's platform events in timestamp order (spooled to disk when large: flat memory)."""
    return sort_events(scenario_batches(scenario), spool_dir=spool_dir)
