"""Generated rows kept on disk between loads: a second load of the same scenario, seed and wire format reads its
pieces from a file instead of making them again (what a server-side ``COPY FROM`` a file has to start with).

Making the rows is a third of a large load's CPU (load-1m: 8.6 of 34 CPU seconds); a load tester reloads the same
scenario again and again. The first load writes what it sends to ``<cache>/rows/`` under a temporary name and
renames the file into place once the generator has delivered every piece; a load that fails or stops before
leaves no entry. Each piece carries its CRC-32: a damaged entry is removed and the rows it could not give are
made again, in the same order, so a load never sends other rows than the generator's. Entries are kept within
a budget (``SSPP_FIXTURES_ROW_CACHE_MB``, default 2048; ``0`` keeps none), least recently used dropped first,
and only for scenarios large enough for it to pay.

The key holds everything that decides the bytes: the scenario's fingerprint (seed and scale included), the wire
format, the batch size (which cuts the pieces), and the source of the code and the versions of the libraries
that make the data.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import shutil
import struct
import tempfile
import zlib
from collections.abc import Generator
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from .._code_digest import source_digest, version_of
from .._kept_rows import ENTRY_SUFFIX, ROW_CACHE_ENV, row_cache_budget, row_cache_dir
from .._stale import pid_prefix, sweep_dead_owners
from .._table_order import TABLE_ORDER
from ..scenarios import Scenario
from ._stream import DEFAULT_BATCH_ROWS, Piece, generate

__all__ = [
    "ROW_CACHE_ENV",
    "RowSource",
    "row_cache_budget",
    "row_cache_dir",
    "scenario_rows",
]

#: Smaller scenarios are made in well under a second: not worth a file each.
CACHE_FROM_ROWS = 100_000
#: Fewer bytes than any table's rows take as sent (load-1m: 241 a row on average, binary COPY), to tell before
#: writing that a scenario cannot fit the budget.
_LEAST_BYTES_PER_ROW = 150
#: Writing stops (and the entry is dropped) when the disk has less than this left.
_DISK_RESERVE = 1 << 30
_FORMAT = 1
_MAGIC = b"SSPPROWS"
_HEADER = struct.Struct("<8sI")
#: table index, binary flag, rows, bytes, CRC-32 of the bytes
_RECORD = struct.Struct("<BBIQI")
_TRAILER = struct.Struct("<8sQQ")
_TRAILER_MAGIC = b"SSPPDONE"
_WRITING_PREFIX = "writing-"
_DATA_CODE = ("model", "bulkgen", "scenarios", "_table_order.py", "_defaults.py")


@dataclass
class RowSource:
    """A scenario's pieces and where they come from: ``from_cache`` when a whole kept entry was found, whose
    pieces are read (the generator then starts only if one of them turns out damaged)."""

    pieces: Generator[Piece, None, None]
    from_cache: bool


def scenario_rows(
    scenario: Scenario,
    format_name: str,
    *,
    workers: int | None,
    batch_rows: int = DEFAULT_BATCH_ROWS,
    expected_rows: int,
    use_cache: bool = True,
) -> RowSource:
    """The pieces :func:`~sspp_fixtures.bulkgen.generate` would give, read from the row cache when kept there,
    else generated (and kept, when ``use_cache``, the scenario has ``expected_rows`` >= 100k and the budget
    allows)."""
    budget = row_cache_budget() if use_cache else 0
    if budget <= 0 or expected_rows < CACHE_FROM_ROWS:
        return RowSource(generate(scenario, format_name, workers=workers, batch_rows=batch_rows), False)
    folder = row_cache_dir()
    entry = folder / f"{_key(scenario, format_name, batch_rows)}{ENTRY_SUFFIX}"
    made = _Maker(scenario, format_name, workers, batch_rows)
    records = _whole_entry(entry)
    if records is not None:
        return RowSource(_read(entry, records, made), True)
    if expected_rows * _LEAST_BYTES_PER_ROW > budget:  # would be dropped part way: not a byte written
        return RowSource(made.pieces(), False)
    return RowSource(_kept_while_made(made, folder, entry, budget), False)


def _key(scenario: Scenario, format_name: str, batch_rows: int) -> str:
    from .. import __version__

    parts = [
        f"format:{_FORMAT}",
        f"scenario:{scenario.fingerprint()}",
        f"wire:{format_name}",
        f"batch-rows:{batch_rows}",
        f"sspp-fixtures:{__version__}",
        f"code:{source_digest(_DATA_CODE)}",
        f"faker:{version_of('Faker')}",
        f"numpy:{version_of('numpy')}",
    ]
    return hashlib.sha256("\n".join(parts).encode()).hexdigest()[:32]


@dataclass(frozen=True)
class _Maker:
    """How to make the pieces again (all of them, or those after the ones a damaged entry gave)."""

    scenario: Scenario
    format_name: str
    workers: int | None
    batch_rows: int

    def pieces(self) -> Generator[Piece, None, None]:
        return generate(self.scenario, self.format_name, workers=self.workers, batch_rows=self.batch_rows)


def _whole_entry(entry: Path) -> int | None:
    """The record count of ``entry`` when it is whole (header and trailer in place, sizes adding up); a torn
    entry is removed."""
    try:
        handle = entry.open("rb", buffering=0)
    except OSError:
        return None
    try:
        with handle:
            size = os.fstat(handle.fileno()).st_size
            head = handle.read(_HEADER.size)
            if size < _HEADER.size + _TRAILER.size or _HEADER.unpack(head) != (_MAGIC, _FORMAT):
                raise ValueError(entry)
            handle.seek(size - _TRAILER.size)
            magic, records, data_bytes = _TRAILER.unpack(handle.read(_TRAILER.size))
            if magic != _TRAILER_MAGIC or data_bytes != size - _HEADER.size - _TRAILER.size:
                raise ValueError(entry)
    except (OSError, ValueError, struct.error):
        _remove(entry)
        return None
    with contextlib.suppress(OSError):
        os.utime(entry)  # the budget drops the least recently used first
    return int(records)


def _read(entry: Path, records: int, made: _Maker) -> Generator[Piece, None, None]:
    """The kept pieces; from the first damaged one on, the generator's (the ones before it skipped)."""
    given = 0
    try:
        with entry.open("rb", buffering=0) as handle:
            handle.seek(_HEADER.size)
            for _ in range(records):
                piece = _next_piece(handle)
                if piece is None:
                    break
                yield piece
                given += 1
            else:
                return
    except OSError:
        pass
    _remove(entry)
    pieces = made.pieces()
    with contextlib.closing(pieces):
        for index, piece in enumerate(pieces):
            if index >= given:
                yield piece


def _next_piece(handle: BinaryIO) -> Piece | None:
    """The next record as a piece, or ``None`` when it is damaged (short, unknown table, CRC mismatch)."""
    try:
        head = handle.read(_RECORD.size)
        table_index, binary, rows, size, crc = _RECORD.unpack(head)
        data = handle.read(size)
    except (OSError, struct.error):
        return None
    if len(data) != size or table_index >= len(TABLE_ORDER) or binary > 1 or zlib.crc32(data) != crc:
        return None
    return Piece(TABLE_ORDER[table_index], data, rows, bool(binary))


def _kept_while_made(made: _Maker, folder: Path, entry: Path, budget: int) -> Generator[Piece, None, None]:
    """The generator's pieces, written to a temporary file as they pass, renamed to ``entry`` once all have."""
    writer = _Writer.start(folder, budget)
    pieces = made.pieces()
    try:
        with contextlib.closing(pieces):
            for piece in pieces:
                if writer is not None and not writer.add(piece):
                    writer = None
                yield piece
        if writer is not None:
            writer.finish(entry)
            writer = None
            _keep_within(folder, budget, entry)
    finally:
        if writer is not None:
            writer.abandon()


class _Writer:
    """A temporary file receiving the pieces; any failure to write (a full disk, the budget) drops it quietly:
    the load goes on, only nothing is kept."""

    def __init__(self, folder: Path, path: Path, handle: BinaryIO, budget: int) -> None:
        self.folder = folder
        self.path = path
        self.handle = handle
        self.budget = budget
        self.records = 0
        self.written = 0

    @classmethod
    def start(cls, folder: Path, budget: int) -> _Writer | None:
        try:
            folder.mkdir(mode=0o700, parents=True, exist_ok=True)
            sweep_dead_owners(folder, _WRITING_PREFIX, "-", ".tmp")
            if shutil.disk_usage(folder).free < _DISK_RESERVE:
                return None
            descriptor, name = tempfile.mkstemp(prefix=pid_prefix(_WRITING_PREFIX, "-"), suffix=".tmp", dir=folder)
        except OSError:
            return None
        handle = os.fdopen(descriptor, "wb", buffering=0)
        writer = cls(folder, Path(name), handle, budget)
        if not writer._write(_HEADER.pack(_MAGIC, _FORMAT)):
            return None
        return writer

    def add(self, piece: Piece) -> bool:
        """Write ``piece``; ``False`` (and the file removed) when it cannot or may not be kept."""
        size = _RECORD.size + len(piece.data)
        if self.written + size + _TRAILER.size > self.budget:
            self.abandon()
            return False
        try:
            low_disk = shutil.disk_usage(self.folder).free - size < _DISK_RESERVE
        except OSError:
            low_disk = True
        if low_disk:
            self.abandon()
            return False
        record = _RECORD.pack(
            TABLE_ORDER.index(piece.table), piece.binary, piece.rows, len(piece.data), zlib.crc32(piece.data)
        )
        if not (self._write(record) and self._write(piece.data)):
            return False
        self.records += 1
        return True

    def finish(self, entry: Path) -> None:
        if not self._write(_TRAILER.pack(_TRAILER_MAGIC, self.records, self.written - _HEADER.size)):
            return
        try:
            self.handle.close()
            os.replace(self.path, entry)
        except OSError:
            self.abandon()

    def abandon(self) -> None:
        with contextlib.suppress(OSError):
            self.handle.close()
        _remove(self.path)

    def _write(self, data: bytes) -> bool:
        try:
            view = memoryview(data)
            while view:
                written = self.handle.write(view)
                view = view[written or 0 :]
        except OSError:
            self.abandon()
            return False
        self.written += len(data)
        return True


def _keep_within(folder: Path, budget: int, newest: Path) -> None:
    """Remove the least recently used entries until the kept rows fit ``budget`` (``newest`` stays)."""
    entries: list[tuple[float, int, Path]] = []
    with contextlib.suppress(OSError):
        for path in folder.glob(f"*{ENTRY_SUFFIX}"):
            with contextlib.suppress(OSError):
                stat = path.stat()
                entries.append((stat.st_mtime, stat.st_size, path))
    total = sum(size for _, size, _ in entries)
    for _, size, path in sorted(entries):
        if total <= budget:
            return
        if path != newest:
            _remove(path)
            total -= size


def _remove(path: Path) -> None:
    with contextlib.suppress(OSError):
        path.unlink()
