"""Chunk-task work for the tests, importable by the cluster's worker processes (they import it by name)."""

from __future__ import annotations

import errno
import json
import os
from pathlib import Path
from typing import Any

from fsspec.implementations.local import LocalFileSystem

from sspp_fixtures._dask import task_pieces
from sspp_fixtures._partitioned import MANIFEST
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


class DyingOnceFileSystem(LocalFileSystem):
    """Local files; a worker process about to rename partition ``victim`` into place dies instead (``os._exit``),
    once (``marker`` records it), leaving its temporary file behind. ``spare_pid`` (the test's) never dies."""

    def __init__(self, marker: str, victim: str, spare_pid: int, **options: Any) -> None:
        super().__init__(**options)
        self.marker, self.victim, self.spare_pid = marker, victim, spare_pid

    def mv(self, path1: str, path2: str, *args: Any, **kwargs: Any) -> None:
        if str(path2).endswith(self.victim) and os.getpid() != self.spare_pid and not Path(self.marker).exists():
            Path(self.marker).write_text(str(os.getpid()))
            os._exit(9)
        super().mv(path1, path2, *args, **kwargs)


class FullDiskFileSystem(LocalFileSystem):
    """Local files; writing partition ``victim`` fails as on a full disk."""

    def __init__(self, victim: str, **options: Any) -> None:
        super().__init__(**options)
        self.victim = victim

    def pipe_file(self, path: str, value: bytes, *args: Any, **kwargs: Any) -> None:
        if f"/.{self.victim.rpartition('/')[2]}." in str(path):
            raise OSError(errno.ENOSPC, "No space left on device")
        super().pipe_file(path, value, *args, **kwargs)


def manifest_at(root: Path) -> dict[str, Any]:
    """The manifest.json of an export to the folder ``root``."""
    loaded: dict[str, Any] = json.loads((root / MANIFEST).read_text())
    return loaded


def files(root: Path) -> set[str]:
    """Every file under ``root``, hidden ones included, relative to it."""
    return {str(path.relative_to(root)) for path in root.rglob("*") if path.is_file()}


def listed(manifest: dict[str, Any]) -> set[str]:
    """The files a manifest accounts for: its partitions and itself."""
    return {MANIFEST} | {p["path"] for table in manifest["tables"].values() for p in table["partitions"]}


def dask_key(scenario: Scenario, task: Task) -> str:
    """The key of the Dask task this chunk task runs in (it makes nothing)."""
    from distributed import get_worker

    return str(get_worker().get_current_task())
