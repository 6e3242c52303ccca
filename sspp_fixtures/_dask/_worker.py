"""What a Dask worker keeps between chunk tasks, and the task that makes a batch's formatted pieces.

A worker process serves many tasks of one scenario: its chunk maker (with the Faker pools, read from the disk
cache, built there first on a machine that has none) is made once per scenario and reused.
"""

from __future__ import annotations

from ..bulkgen._formats import formatter
from ..bulkgen._generate import ChunkMaker
from ..bulkgen._stream import Piece, Task, format_columns, scenario_locales, task_columns
from ..bulkgen._string_pool_cache import ensure_pools, load_pools
from ..scenarios import Scenario

__all__ = ["task_pieces", "worker_maker"]

#: Chunk makers kept per process, by scenario fingerprint: the scenario at work and the one before it.
_KEPT = 2
_makers: dict[str, ChunkMaker] = {}


def worker_maker(scenario: Scenario) -> ChunkMaker:
    """This process's chunk maker for ``scenario``, made on first use."""
    key = scenario.fingerprint()
    maker = _makers.get(key)
    if maker is None:
        locales = scenario_locales(scenario)
        ensure_pools(locales)
        maker = ChunkMaker(scenario, load_pools(locales))
        while len(_makers) >= _KEPT:
            del _makers[next(iter(_makers))]
        _makers[key] = maker
    return maker


def task_pieces(scenario: Scenario, task: Task, format_name: str = "copy") -> list[Piece]:
    """The batch ``task`` of ``scenario`` as formatted pieces, one per table: the same bytes, in the same order,
    as :func:`~sspp_fixtures.bulkgen.generate` makes for that batch."""
    return format_columns(task_columns(worker_maker(scenario), task), formatter(format_name))
