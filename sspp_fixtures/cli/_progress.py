"""A progress bar with rows/s for long work, shown only on a terminal (stderr), silent otherwise."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager

from rich.console import Console
from rich.progress import BarColumn, Progress, TaskID, TextColumn, TimeElapsedColumn

__all__ = ["RowProgress", "row_progress"]


class RowProgress:
    """Receives ``(table, rows)`` from the loader or exporter and keeps a bar of all rows and their rate."""

    def __init__(self, progress: Progress | None, task: TaskID | None, total: int) -> None:
        self._progress = progress
        self._task = task
        self._done = 0
        self._total = total
        self._started = time.perf_counter()
        self.phase = "generating"

    def __call__(self, table: str, rows: int) -> None:
        if table.startswith("phase:"):
            self.phase = {"copy": "copying", "indexes": "building indexes", "analyze": "analyzing"}.get(
                table.removeprefix("phase:"), table.removeprefix("phase:")
            )
        else:
            self._done += rows
        if self._progress is not None and self._task is not None:
            rate = self._done / max(time.perf_counter() - self._started, 1e-9)
            self._progress.update(
                self._task,
                completed=min(self._done, self._total),
                description=f"{self.phase:<16} {rate:>10,.0f} rows/s",
            )


@contextmanager
def row_progress(console: Console, total_rows: int) -> Iterator[RowProgress]:
    """A :class:`RowProgress` drawing a bar on ``console`` when it is a terminal."""
    if not console.is_terminal:
        yield RowProgress(None, None, total_rows)
        return
    columns = (
        TextColumn("{task.description}"),
        BarColumn(),
        TextColumn("{task.completed:>12,} / {task.total:,} rows"),
        TimeElapsedColumn(),
    )
    with Progress(*columns, console=console, transient=True) as progress:
        task = progress.add_task("starting", total=max(total_rows, 1))
        yield RowProgress(progress, task, total_rows)
