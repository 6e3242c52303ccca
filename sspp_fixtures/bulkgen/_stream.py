"""Formatted pieces of a scenario's tables, made by worker processes, delivered in order with bounded memory.

At most ``workers + 1`` batches are in flight: a consumer slower than the generator (a COPY into a busy
server) holds the workers back instead of letting finished batches pile up, so memory stays flat from 1M to
10M rows. Workers read the Faker pools from the disk cache instead of receiving a pickled copy each.
"""

from __future__ import annotations

import ctypes
import os
import shutil
import sys
import tempfile
from collections import deque
from collections.abc import Generator, Iterator
from dataclasses import dataclass
from multiprocessing.pool import AsyncResult, Pool
from pathlib import Path
from typing import Literal

from .._defaults import DEFAULT_BATCH_ROWS
from .._stale import pid_prefix, sweep_dead_owners
from .._table_order import TABLE_ORDER
from ..scenarios import Scenario
from ._binary import BINARY_HEADER, BINARY_TRAILER
from ._children import leave_signals_to_parent, start_fork_server
from ._formats import Formatter, formatter
from ._generate import CHUNK_ROWS, ChunkMaker, Columns, chunk_count
from ._string_pool_cache import ensure_pools, load_pools

__all__ = [
    "DEFAULT_BATCH_ROWS",
    "Piece",
    "Task",
    "default_workers",
    "format_columns",
    "generate",
    "plan_tasks",
    "scenario_locales",
    "task_columns",
]


@dataclass(frozen=True)
class Piece:
    """Formatted rows of one table, ready to send: COPY text, or with ``binary`` a whole binary COPY stream."""

    table: str
    data: bytes
    rows: int
    binary: bool = False


@dataclass(frozen=True)
class _Spooled:
    """A worker's piece left in a spool file: passing hundreds of MB through the pool's pipe (pickled, read by a
    result thread) cost the main process more CPU than making the data; a file in tmpfs costs two copies."""

    table: str
    offset: int
    rows: int
    size: int
    binary: bool


class _Slots:
    """Spool files reused from batch to batch, one per batch in flight.

    A worker overwrites the pages its slot already has instead of a new file's, which the kernel would have to
    allocate and zero (and free again on unlink): measured here, 0.4 ms per 3 MB piece written and read back
    against 2.2 ms with a new file each time.
    """

    def __init__(self, folder: str, count: int) -> None:
        self.paths = [os.path.join(folder, f"slot-{i}") for i in range(count)]
        self.free = deque(self.paths)

    def take(self) -> str:
        return self.free.popleft()

    def load(self, path: str, spooled: list[_Spooled]) -> Iterator[Piece]:
        """The pieces of one batch, read back from ``path``; the slot is free again once they are all read."""
        try:
            with open(path, "rb", buffering=0) as handle:
                for piece in spooled:
                    data = _read_at(handle.fileno(), piece.size, piece.offset)
                    yield Piece(piece.table, data, piece.rows, piece.binary)
        finally:
            self.free.append(path)


@dataclass(frozen=True)
class Task:
    """A batch of consecutive chunks of one table (events come with their signals), or the stories."""

    kind: Literal["customers", "events", "stories"]
    first: int = 0
    stop: int = 0


#: Below this many events, starting worker processes costs more than it saves.
_IN_PROCESS_EVENTS = 100_000


def default_workers(scenario: Scenario | None = None) -> int:
    """Generator processes: one core is left to the database (usually local) and the sender; ``0`` (in-process,
    no start-up cost) for small data. Measured here: two generators on two cores slow a local load down."""
    if scenario is not None and scenario.events + scenario.customers < _IN_PROCESS_EVENTS:
        return 0
    return max(1, (os.cpu_count() or 1) - 1)


def scenario_locales(scenario: Scenario) -> list[str]:
    used = {locale for locale, share in scenario.locale_shares.items() if share > 0}
    used |= {story.customer.locale for story in scenario.stories}
    return sorted(used)


def plan_tasks(scenario: Scenario, batch_rows: int = DEFAULT_BATCH_ROWS) -> list[Task]:
    """The batches, in the order their pieces are delivered: customers, events (+ signals), stories."""
    per_batch = max(1, round(batch_rows / CHUNK_ROWS))
    tasks: list[Task] = []
    for kind, chunks in (("customers", chunk_count(scenario.customers)), ("events", chunk_count(scenario.events))):
        for first in range(0, chunks, per_batch):
            tasks.append(Task(kind, first, min(first + per_batch, chunks)))  # type: ignore[arg-type]
    if scenario.stories:
        tasks.append(Task("stories"))
    return tasks


@dataclass
class _WorkerState:
    """What one process needs to make batches, set once by the pool's initializer."""

    maker: ChunkMaker | None = None
    formatter: Formatter | None = None
    spool_dir: str | None = None


_worker = _WorkerState()


def _init(scenario: Scenario, format_name: str, spool_dir: str | None = None) -> None:
    if spool_dir is not None:  # a worker
        leave_signals_to_parent()
    _worker.maker = ChunkMaker(scenario, load_pools(scenario_locales(scenario)))
    _worker.formatter = formatter(format_name)
    _worker.spool_dir = spool_dir
    if spool_dir is not None:
        _keep_heap()


#: glibc ``mallopt`` parameters (malloc.h) and the values a worker sets.
_M_TRIM_THRESHOLD, _M_MMAP_THRESHOLD = -1, -3
_HEAP_KEPT = 32 << 20
_MMAP_ABOVE = 16 << 20


def _keep_heap() -> None:
    """Let this worker's allocator keep freed memory for the next batch (glibc only; elsewhere nothing changes).

    Every batch allocates and frees strings of several MB. By default glibc gives such memory back to the
    kernel (``munmap``, heap trimming) and takes it again for the next batch, one page fault per 4 KB: measured
    here on load-1m, three times the page faults of the same work in-process and 0.7 s more system time (15 %
    more CPU). A worker is our own process, so it may keep up to ``_HEAP_KEPT`` of free heap; its peak (VmHWM)
    stays the same. 8 MB was too little here (as many faults again), 16 MB enough.
    """
    if not sys.platform.startswith("linux"):
        return
    try:
        mallopt = ctypes.CDLL("libc.so.6").mallopt
    except (OSError, AttributeError):  # not glibc
        return
    mallopt.argtypes = (ctypes.c_int, ctypes.c_int)
    mallopt(_M_MMAP_THRESHOLD, _MMAP_ABOVE)
    mallopt(_M_TRIM_THRESHOLD, _HEAP_KEPT)


def _spool_task(task: Task, path: str) -> list[_Spooled]:
    """:func:`run_task` in a worker: the batch's pieces written one after the other to the slot file ``path``."""
    spooled = []
    offset = 0
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT, 0o600)
    try:
        for piece in run_task(task):
            _write_at(descriptor, piece.data, offset)
            spooled.append(_Spooled(piece.table, offset, piece.rows, len(piece.data), piece.binary))
            offset += len(piece.data)
        os.ftruncate(descriptor, offset)
    finally:
        os.close(descriptor)
    return spooled


def _write_at(descriptor: int, data: bytes, offset: int) -> None:
    view = memoryview(data)
    while view:
        written = os.pwrite(descriptor, view, offset)
        view, offset = view[written:], offset + written


def _read_at(descriptor: int, size: int, offset: int) -> bytes:
    data = os.pread(descriptor, size, offset)
    if len(data) == size:
        return data
    parts = [data]  # a read is capped at 2 GB on Linux
    while size > (got := sum(map(len, parts))):
        part = os.pread(descriptor, size - got, offset + got)
        if not part:
            raise OSError(f"spool file ended early at byte {offset + got} (expected {size} bytes from {offset})")
        parts.append(part)
    return b"".join(parts)


_SPOOL_PREFIX = "sspp-spool-"


def _spool_dir() -> str:
    """A private folder for spooled pieces, in RAM (``/dev/shm``) where the machine has it.

    Its name carries our pid: :func:`generate` removes the folders of killed runs (a few hundred MB of RAM each).
    """
    return tempfile.mkdtemp(prefix=pid_prefix(_SPOOL_PREFIX, "-"), dir=_spool_base())


def _spool_base() -> str:
    shm = "/dev/shm"
    return shm if os.path.isdir(shm) and os.access(shm, os.W_OK) else tempfile.gettempdir()


def _format(pieces: list[Columns]) -> list[Piece]:
    writer = _worker.formatter
    assert writer is not None
    return format_columns(pieces, writer)


def format_columns(pieces: list[Columns], writer: Formatter) -> list[Piece]:
    """One piece per table of ``pieces`` (in their order), its chunks formatted by ``writer`` and joined (a
    binary piece framed as a whole COPY stream)."""
    by_table: dict[str, list[Columns]] = {}
    for chunk in pieces:
        by_table.setdefault(chunk.table, []).append(chunk)
    formatted = []
    for table, chunks in by_table.items():
        parts = [writer.rows(c) for c in chunks]
        binary = table in writer.binary_tables
        if binary:
            parts = [BINARY_HEADER, *parts, BINARY_TRAILER]
        formatted.append(Piece(table, b"".join(parts), sum(c.rows for c in chunks), binary))
    return formatted


def task_columns(maker: ChunkMaker, task: Task) -> list[Columns]:
    """The chunks of one batch, unformatted, grouped by table in :data:`TABLE_ORDER` (stable within a table)."""
    chunks: list[Columns] = []
    if task.kind == "customers":
        chunks = [maker.customers(k) for k in range(task.first, task.stop)]
    elif task.kind == "events":
        for k in range(task.first, task.stop):
            chunks.extend(maker.events(k))
        # All events of the batch go out before its signals: one COPY statement per table and batch, not per chunk.
        chunks.sort(key=lambda c: TABLE_ORDER.index(c.table))
    else:
        chunks = list(maker.stories())
    return chunks


def run_task(task: Task) -> list[Piece]:
    """Make and format one batch (in a worker, or in-process when running with one worker)."""
    maker = _worker.maker
    assert maker is not None
    return _format(task_columns(maker, task))


def generate(
    scenario: Scenario,
    format_name: str = "copy",
    *,
    workers: int | None = None,
    batch_rows: int = DEFAULT_BATCH_ROWS,
) -> Generator[Piece, None, None]:
    """The scenario's rows as formatted pieces, in a fixed order, whatever ``workers`` and ``batch_rows``.

    ``workers`` generator processes make the batches while the caller consumes them; ``0`` makes them in this
    process (no start-up cost, no overlap). Default: :func:`default_workers`.
    """
    count = default_workers(scenario) if workers is None else max(0, workers)
    sweep_dead_owners(Path(_spool_base()), _SPOOL_PREFIX, "-")
    ensure_pools(scenario_locales(scenario), workers=max(1, os.cpu_count() or 1))
    tasks = plan_tasks(scenario, batch_rows)
    if count == 0 or len(tasks) <= 1:
        _init(scenario, format_name)
        for task in tasks:
            yield from run_task(task)
        return
    context = start_fork_server(["sspp_fixtures.bulkgen._stream"])
    spool = _spool_dir()
    try:
        with context.Pool(count, initializer=_init, initargs=(scenario, format_name, spool)) as pool:
            in_flight = count + 1
            try:
                yield from _ordered(pool, tasks, _Slots(spool, in_flight), max_in_flight=in_flight)
            finally:
                # Done, interrupted or abandoned: the workers end on their own once the batches in hand are made
                # (a second or two), never by a signal, so none dies holding the task queue's lock (see _children).
                pool.close()
                pool.join()
    finally:
        shutil.rmtree(spool, ignore_errors=True)


def _ordered(pool: Pool, tasks: list[Task], slots: _Slots, *, max_in_flight: int) -> Iterator[Piece]:
    pending: deque[tuple[str, AsyncResult[list[_Spooled]]]] = deque()
    queue = deque(tasks)
    while queue or pending:
        while queue and len(pending) < max_in_flight:
            path = slots.take()
            pending.append((path, pool.apply_async(_spool_task, (queue.popleft(), path))))
        path, result = pending.popleft()
        yield from slots.load(path, result.get())
