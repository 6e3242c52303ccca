"""Progress of a load or export: one line per phase with its own live clock, shown on a terminal (stderr).

The loader reports ``("phase:<name>", 0)`` when a phase starts, ``("index:<name>", 0)`` before each index it
builds and ``(table, rows)`` as rows go out. The copy phase draws a bar of rows and their rate (counted from the
first row, so time spent generating the first batch is said as such, not shown as 0 rows/s); every other phase
shows what it works on. A finished phase keeps its line and its time. Off a terminal nothing is drawn; with
``--verbose`` each finished phase is written as a line instead.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from rich.console import Console
from rich.progress import BarColumn, Progress, TaskID, TextColumn, TimeElapsedColumn

__all__ = ["RowProgress", "row_progress"]

#: What each phase is called on screen; a phase not listed shows its own name.
PHASE_LABELS = {
    "generate": "generating",
    "prepare": "preparing",
    "copy": "generating and copying",
    "indexes": "building indexes",
    "analyze": "analyzing",
    "commit": "committing",
}
_LABEL_WIDTH = max(len(label) for label in PHASE_LABELS.values())


class RowProgress:
    """Receives the loader's or exporter's events and keeps one line per phase (see the module's docstring)."""

    def __init__(
        self,
        progress: Progress | None,
        total_rows: int,
        *,
        note: Callable[[str], None] | None = None,
        clock: Callable[[], float] = time.perf_counter,
    ) -> None:
        self._progress = progress
        self._total = max(total_rows, 1)
        self._note = note
        self._clock = clock
        self._done = 0
        self._phase = ""
        self._task: TaskID | None = None
        self._started = 0.0
        self._first_row_at: float | None = None
        self._rows_in_phase = 0
        self._items: list[str] = []
        self._start_phase("generate")  # exporters send rows without naming a phase

    @property
    def phase(self) -> str:
        """The current phase's name (``copy``, ``indexes``, ...)."""
        return self._phase

    def __call__(self, event: str, rows: int) -> None:
        if event.startswith("phase:"):
            name = event.removeprefix("phase:")
            if name != self._phase:
                self._start_phase(name)
        elif event.startswith("index:"):
            self._items.append(event.removeprefix("index:"))
            self._show(f"{self._label()}  {self._items[-1]} ({len(self._items)})")
        else:
            self._rows(rows)

    def close(self) -> None:
        """End the last phase, freezing its clock."""
        self._finish_phase()

    def _label(self) -> str:
        return f"{PHASE_LABELS.get(self._phase, self._phase):<{_LABEL_WIDTH}}"

    def _start_phase(self, name: str) -> None:
        if self._phase == "generate" and self._rows_in_phase == 0:  # a loader names its phases: drop the default
            if self._progress is not None and self._task is not None:
                self._progress.remove_task(self._task)
            self._task = None
            self._phase = ""
        self._finish_phase()
        self._phase = name
        self._started = self._clock()
        self._first_row_at = None
        self._rows_in_phase = 0
        self._items = []
        rows_phase = name in ("copy", "generate")
        if self._progress is not None:
            self._task = self._progress.add_task(
                self._label(),
                total=self._total if rows_phase else None,
                completed=self._done if rows_phase else 0,
                rows=self._count() if rows_phase else "",
            )
        if name == "copy":
            self._show(f"{self._label()}  generating the first rows")

    def _finish_phase(self) -> None:
        if not self._phase:
            return
        seconds = self._clock() - self._started
        what = f"{self._rows_in_phase:,} rows" if self._rows_in_phase else ""
        if self._items:
            what = f"{len(self._items)} indexes"
        summary = f"{self._label()}  {what + ', ' if what else ''}done in {seconds:.1f}s"
        if self._progress is not None and self._task is not None:
            self._progress.update(self._task, description=summary, total=1, completed=1)
        if self._note is not None:
            self._note(" ".join(summary.split()))
        self._phase = ""
        self._task = None

    def _rows(self, rows: int) -> None:
        now = self._clock()
        if self._first_row_at is None:
            self._first_row_at = now
        self._done += rows
        self._rows_in_phase += rows
        rate = self._rows_in_phase / max(now - self._started, 1e-9)
        if self._progress is not None and self._task is not None:
            self._progress.update(
                self._task,
                completed=min(self._done, self._total),
                description=f"{self._label()}  {rate:>10,.0f} rows/s",
                rows=self._count(),
            )

    def _count(self) -> str:
        return f"{self._done:>12,} / {self._total:,} rows"

    def _show(self, description: str) -> None:
        if self._progress is not None and self._task is not None:
            self._progress.update(self._task, description=description)


@contextmanager
def row_progress(console: Console, total_rows: int, *, verbosity: int = 0) -> Iterator[RowProgress]:
    """A :class:`RowProgress` drawing its lines on ``console`` when it is a terminal (not with ``verbosity`` -1,
    ``--quiet``); off a terminal, ``verbosity`` 1 (``--verbose``) writes each finished phase as a line."""
    if verbosity < 0 or not console.is_terminal:
        note = (lambda line: console.print(line, markup=False, highlight=False)) if verbosity > 0 else None
        tracker = RowProgress(None, total_rows, note=note)
        yield tracker
        tracker.close()
        return
    columns = (
        TextColumn("{task.description}"),
        BarColumn(),
        TextColumn("{task.fields[rows]}"),
        TimeElapsedColumn(),
    )
    with Progress(*columns, console=console, transient=False) as progress:
        tracker = RowProgress(progress, total_rows)
        yield tracker
        tracker.close()
