"""Chunk-task work for the tests, importable by the cluster's worker processes (they import it by name)."""

from __future__ import annotations

import os
from pathlib import Path

from sspp_fixtures._dask import task_pieces
from sspp_fixtures.bulkgen import Piece
from sspp_fixtures.bulkgen._stream import Task
from sspp_fixtures.scenarios import Scenario


def pieces_dying_once(scenario: Scenario, task: Task, marker: str, victim: int) -> list[Piece]:
    """:func:`task_pieces`, except that the worker running events chunk ``victim`` first dies (SIGKILL-like
    ``os._exit``), once: ``marker`` records that it did, so the task's rerun on another worker goes through."""
    if task.kind == "events" and task.first == victim and not Path(marker).exists():
        Path(marker).write_text(str(os.getpid()))
        os._exit(9)
    return task_pieces(scenario, task)


def failing(scenario: Scenario, task: Task) -> int:
    """Always fails for the stories, to see a task's failure reach the caller after its retries."""
    if task.kind == "stories":
        raise RuntimeError("this task always fails")
    return task.first
