"""Events in timestamp order in flat memory: an external merge sort of the generator's batches.

The generator makes events chunk by chunk, each chunk spread over the whole window, so the scenario's order is
only known once every chunk is made. Holding tens of millions of events to sort them would cost gigabytes; instead
batches are gathered into runs of ``run_events`` events, each run is sorted (NumPy, by time then index) and
spooled to a file as pickled blocks, and the runs are merged lazily with :func:`heapq.merge`, holding one block
per run. When there are more runs than ``fan_in``, groups of them are merged into longer runs first (one more
pass over the data on disk). Memory is bounded by ``run_events`` while spooling and by ``fan_in x block`` while
merging, whatever the number of events.
"""

from __future__ import annotations

import heapq
import operator
import pickle
import tempfile
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from itertools import islice
from pathlib import Path
from types import TracebackType
from typing import IO

import numpy as np

from ._events import EventBatch, ReplayEvent

__all__ = ["SortedEvents", "sort_events"]

#: Events per in-memory run (~0.5 KB each as Python objects: ~50 MB).
RUN_EVENTS = 100_000
#: Runs merged at once, and events per block read from each (together: ~25 MB of buffers).
FAN_IN = 96
BLOCK_EVENTS = 512

_Block = tuple[list[int], list[int], list[str], list[str], list[str], list[str]]


@dataclass
class SortedEvents:
    """The scenario's events in (time, index) order; iterate once. A context manager: leaving it removes the spool."""

    count: int
    first_ms: int | None
    last_ms: int | None
    _memory: list[ReplayEvent] | None
    _runs: list[Path]
    _spool: tempfile.TemporaryDirectory[str] | None = field(default=None, repr=False)

    def __iter__(self) -> Iterator[ReplayEvent]:
        if self._memory is not None:
            return iter(self._memory)
        return heapq.merge(*(_read_run(path) for path in self._runs))

    def close(self) -> None:
        if self._spool is not None:
            self._spool.cleanup()
            self._spool = None

    def __enter__(self) -> SortedEvents:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()


def sort_events(
    batches: Iterable[EventBatch],
    *,
    spool_dir: Path | None = None,
    run_events: int = RUN_EVENTS,
    fan_in: int = FAN_IN,
    block_events: int = BLOCK_EVENTS,
) -> SortedEvents:
    """Sort every event of ``batches`` by (timestamp, index); spool to ``spool_dir`` (a temporary folder) if large."""
    pending: list[EventBatch] = []
    pending_rows = 0
    runs: list[Path] = []
    spool: tempfile.TemporaryDirectory[str] | None = None
    count, first, last = 0, None, None
    try:
        for batch in batches:
            rows = len(batch.index)
            if rows == 0:
                continue
            pending.append(batch)
            pending_rows += rows
            if pending_rows >= run_events:
                if spool is None:
                    spool = tempfile.TemporaryDirectory(prefix="sspp-replay-", dir=spool_dir)
                block = _sorted_block(pending)
                count, first, last = _extend_bounds(block, count, first, last)
                runs.append(_write_run(Path(spool.name), _blocks_of(block, block_events)))
                pending, pending_rows = [], 0
        if pending:
            block = _sorted_block(pending)
            count, first, last = _extend_bounds(block, count, first, last)
            if not runs:
                return SortedEvents(count, first, last, list(map(ReplayEvent._make, zip(*block, strict=True))), [])
            assert spool is not None
            runs.append(_write_run(Path(spool.name), _blocks_of(block, block_events)))
        if spool is None:
            return SortedEvents(0, None, None, [], [])
        while len(runs) > fan_in:
            runs = _merge_pass(Path(spool.name), runs, fan_in, block_events)
        return SortedEvents(count, first, last, None, runs, spool)
    except BaseException:
        if spool is not None:
            spool.cleanup()
        raise


def _extend_bounds(block: _Block, count: int, first: int | None, last: int | None) -> tuple[int, int, int]:
    times = block[0]
    low = times[0] if first is None else min(first, times[0])
    high = times[-1] if last is None else max(last, times[-1])
    return count + len(times), low, high


def _sorted_block(batches: list[EventBatch]) -> _Block:
    """The events of ``batches`` as columns sorted by (time, index)."""
    times = np.concatenate([b.timestamp.astype("datetime64[ms]").astype(np.int64) for b in batches])
    indexes = np.concatenate([np.asarray(b.index, dtype=np.int64) for b in batches])
    order = np.lexsort((indexes, times))
    pick = operator.itemgetter(*order.tolist()) if len(order) > 1 else None

    def column(name: str) -> list[str]:
        values: list[str] = []
        for b in batches:
            values.extend(getattr(b, name))
        return list(pick(values)) if pick is not None else values

    return (
        times[order].tolist(),
        indexes[order].tolist(),
        column("account_id"),
        column("user_id"),
        column("event_type"),
        column("metadata"),
    )


def _blocks_of(block: _Block, size: int) -> Iterator[_Block]:
    for start in range(0, len(block[0]), size):
        yield tuple(column[start : start + size] for column in block)  # type: ignore[misc]


def _write_run(folder: Path, blocks: Iterable[_Block]) -> Path:
    handle, name = tempfile.mkstemp(dir=folder, suffix=".run")
    path = Path(name)
    with open(handle, "wb", buffering=1 << 20) as out:
        for block in blocks:
            pickle.dump(block, out, protocol=pickle.HIGHEST_PROTOCOL)
    return path


def _read_blocks(stream: IO[bytes]) -> Iterator[_Block]:
    while True:
        try:
            yield pickle.load(stream)
        except EOFError:
            return


def _read_run(path: Path) -> Iterator[ReplayEvent]:
    with path.open("rb", buffering=1 << 16) as stream:
        for block in _read_blocks(stream):
            yield from map(ReplayEvent._make, zip(*block, strict=True))


def _rebatch(events: Iterator[ReplayEvent], size: int) -> Iterator[_Block]:
    while True:
        chunk = list(islice(events, size))
        if not chunk:
            return
        yield tuple(map(list, zip(*chunk, strict=True)))  # type: ignore[misc]


def _merge_pass(folder: Path, runs: list[Path], fan_in: int, block_events: int) -> list[Path]:
    merged: list[Path] = []
    for start in range(0, len(runs), fan_in):
        group = runs[start : start + fan_in]
        events = heapq.merge(*(_read_run(path) for path in group))
        merged.append(_write_run(folder, _rebatch(events, block_events)))
        for path in group:
            path.unlink()
    return merged
