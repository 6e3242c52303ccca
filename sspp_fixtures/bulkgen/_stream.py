"""Formatted pieces of a scenario's tables, made by worker processes, delivered in order with bounded memory.

At most ``workers + 1`` batches are in flight: a consumer slower than the generator (a COPY into a busy
server) holds the workers back instead of letting finished batches pile up, so memory stays flat from 1M to
10M rows. Workers read the Faker pools from the disk cache instead of receiving a pickled copy each.
"""

from __future__ import annotations

import multiprocessing
import os
import shutil
import tempfile
from collections import deque
from collections.abc import Generator, Iterator
from dataclasses import dataclass
from multiprocessing.pool import AsyncResult, Pool
from typing import Literal

from .._defaults import DEFAULT_BATCH_ROWS
from ..scenarios import Scenario
from ._formats import Formatter, formatter
from ._generate import CHUNK_ROWS, ChunkMaker, Columns, chunk_count
from ._pools_cache import ensure_pools, load_pools

__all__ = ["DEFAULT_BATCH_ROWS", "Piece", "Task", "default_workers", "generate", "plan_tasks", "scenario_locales"]


@dataclass(frozen=True)
class Piece:
    """Formatted rows of one table, ready to send."""

    table: str
    data: bytes
    rows: int


@dataclass(frozen=True)
class _Spooled:
    """A worker's piece left in a file: passing hundreds of MB through the pool's pipe (pickled, read by a
    result thread) cost the main process more CPU than making the data; a file in tmpfs costs two copies."""

    table: str
    path: str
    rows: int

    def load(self) -> Piece:
        with open(self.path, "rb") as handle:
            data = handle.read()
        os.unlink(self.path)
        return Piece(self.table, data, self.rows)


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
    spooled: int = 0


_worker = _WorkerState()


def _init(scenario: Scenario, format_name: str, spool_dir: str | None = None) -> None:
    _worker.maker = ChunkMaker(scenario, load_pools(scenario_locales(scenario)))
    _worker.formatter = formatter(format_name)
    _worker.spool_dir = spool_dir


def _spool_task(task: Task) -> list[_Spooled]:
    """:func:`run_task` in a worker: each piece written to a file in the spool folder."""
    assert _worker.spool_dir is not None
    spooled = []
    for piece in run_task(task):
        _worker.spooled += 1
        path = os.path.join(_worker.spool_dir, f"{os.getpid()}-{_worker.spooled}")
        with open(path, "wb") as handle:
            handle.write(piece.data)
        spooled.append(_Spooled(piece.table, path, piece.rows))
    return spooled


def _spool_dir() -> str:
    """A private folder for spooled pieces, in RAM (``/dev/shm``) where the machine has it."""
    shm = "/dev/shm"
    base = shm if os.path.isdir(shm) and os.access(shm, os.W_OK) else None
    return tempfile.mkdtemp(prefix="sspp-spool-", dir=base)


def _format(pieces: list[Columns]) -> list[Piece]:
    writer = _worker.formatter
    assert writer is not None
    by_table: dict[str, list[Columns]] = {}
    for chunk in pieces:
        by_table.setdefault(chunk.table, []).append(chunk)
    return [
        Piece(table, b"".join(writer.rows(c) for c in chunks), sum(c.rows for c in chunks))
        for table, chunks in by_table.items()
    ]


def run_task(task: Task) -> list[Piece]:
    """Make and format one batch (in a worker, or in-process when running with one worker)."""
    maker = _worker.maker
    assert maker is not None
    chunks: list[Columns] = []
    if task.kind == "customers":
        chunks = [maker.customers(k) for k in range(task.first, task.stop)]
    elif task.kind == "events":
        for k in range(task.first, task.stop):
            chunks.extend(maker.events(k))
        # All events of the batch go out before its signals: two COPY statements per batch, not per chunk.
        chunks.sort(key=lambda c: c.table == "signals")
    else:
        chunks = list(maker.stories())
    return _format(chunks)


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
    ensure_pools(scenario_locales(scenario), workers=max(1, os.cpu_count() or 1))
    tasks = plan_tasks(scenario, batch_rows)
    if count == 0 or len(tasks) <= 1:
        _init(scenario, format_name)
        for task in tasks:
            yield from run_task(task)
        return
    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload(["sspp_fixtures.bulkgen._stream"])
    spool = _spool_dir()
    try:
        with context.Pool(count, initializer=_init, initargs=(scenario, format_name, spool)) as pool:
            yield from _ordered(pool, tasks, max_in_flight=count + 1)
    finally:
        shutil.rmtree(spool, ignore_errors=True)


def _ordered(pool: Pool, tasks: list[Task], *, max_in_flight: int) -> Iterator[Piece]:
    pending: deque[AsyncResult[list[_Spooled]]] = deque()
    queue = deque(tasks)
    while queue or pending:
        while queue and len(pending) < max_in_flight:
            pending.append(pool.apply_async(_spool_task, (queue.popleft(),)))
        for spooled in pending.popleft().get():
            yield spooled.load()
