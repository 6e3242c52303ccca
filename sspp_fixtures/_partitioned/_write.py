"""One chunk task's partitions: each table's rows of the batch in one Parquet or CSV file, written through fsspec.

Runs on a Dask worker or in-process. A partition is written under a hidden temporary name (``.part-...tmp``,
which Spark, Hive and pyarrow's dataset reader skip) and renamed into place once complete. Its name comes from
the batch's first chunk, so a task that Dask runs again (retried, or after its worker died) writes the same
name with the same bytes: never a second copy. What a killed task left half-written stays hidden and is swept
at the end of the export.
"""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt

from .._dask._worker import worker_maker
from ..bulkgen._formats import _NEVER_ESCAPED, CopyText, Csv
from ..bulkgen._generate import Columns, chunk_count, timestamp_bytes
from ..bulkgen._stream import Task, task_columns
from ..bulkgen._tables import TABLES
from ..scenarios import Scenario
from ._crc import crc32

if TYPE_CHECKING:
    from fsspec import AbstractFileSystem

__all__ = [
    "ROW_CHECKSUM_MODULUS",
    "Partition",
    "arrow_type",
    "is_temporary",
    "partition_name",
    "row_checksum",
    "temporary_name",
    "write_partitions",
]

#: Row checksums add up modulo this: order-independent, and within a JSON number's exact range as hex text.
ROW_CHECKSUM_MODULUS = 1 << 64
_TEMPORARY = ".tmp"
#: The escapes :class:`~sspp_fixtures.bulkgen._formats.CopyText` applies to the kinds it escapes (backslash first).
_SPECIAL_BYTES = (b"\\", b"\t", b"\n", b"\r")
_COPY_ESCAPES = (("\\", "\\\\"), ("\t", "\\t"), ("\n", "\\n"), ("\r", "\\r"))

#: Parquet types of the generator's ``number`` columns, as the migrations declare them (sql/migrations).
_NUMBER_TYPES: dict[tuple[str, str], tuple[str, int, int]] = {
    ("customers", "annual_value"): ("decimal", 14, 2),
    ("sales_signals", "signal_score"): ("decimal", 3, 2),
    ("sales_signals", "id"): ("int64", 0, 0),
}
#: Kinds written without compression: snappy hardly shrinks random hex, microsecond timestamps and ids. Measured
#: here on load-100k: a quarter less CPU in the Parquet writer, files 6 % larger (25.2 to 26.6 MB, the uuids).
_UNCOMPRESSED = frozenset({"uuid", "timestamp", "number"})
#: Rows the Parquet writer encodes at a time (pyarrow's default is 1,024): fewer, larger batches cost a little less.
_WRITE_BATCH_ROWS = 1 << 16
#: Kinds given min/max statistics: typed values a reader prunes row groups on. Text, uuids and JSON are in no
#: order within a partition (every partition's min and max would span nearly everything): 9 % less CPU in the writer.
_STATISTICS = frozenset({"timestamp", "number"})


@dataclass(frozen=True)
class Partition:
    """One partition file: ``path`` relative to the export's root, its rows and bytes, the sha256 of its bytes,
    and the order-independent checksum of its rows (see :func:`row_checksum`)."""

    table: str
    path: str
    rows: int
    bytes: int
    sha256: str
    row_checksum: int


def row_checksum(copy_text: bytes) -> int:
    """Sum, modulo 2**64, of the CRC-32 of each row's PostgreSQL COPY text line (without its newline).

    The same rows give the same sum in any order and however they are cut into partitions or batches, so a
    table's checksum is the sum of its partitions'. COPY text has one line per row (newlines in values are
    escaped). Measured here: 0.3 us a row (split and CRC-32), against 1 us for a BLAKE2b of each row.
    """
    lines = copy_text.split(b"\n")
    if lines and not lines[-1]:
        lines.pop()
    return sum(map(crc32, lines)) % ROW_CHECKSUM_MODULUS


def partition_name(scenario: Scenario, task: Task, table: str, extension: str) -> str:
    """``<table>/part-NNNNN.<extension>``, numbered by the batch's first chunk; the stories come last."""
    if task.kind == "stories":
        number = chunk_count(scenario.customers if table == "customers" else scenario.events)
    else:
        number = task.first
    return f"{table}/part-{number:05d}.{extension}"


def arrow_type(table: str, column: str) -> Any:
    """The Parquet column type: timestamps (naive, as the tables' ``TIMESTAMP``), ids and decimals typed; uuids,
    JSON and text as strings (JSON as its text)."""
    import pyarrow as pa

    kind = TABLES[table].kind(column)
    if kind == "timestamp":
        return pa.timestamp("us")
    if kind == "number":
        name, precision, scale = _NUMBER_TYPES[(table, column)]
        return pa.decimal128(precision, scale) if name == "decimal" else pa.int64()
    return pa.string()


def _strings(table: str, chunks: Sequence[Columns]) -> list[Any]:
    """The batch's columns of ``table`` as Arrow string arrays (NULL for ``None``), in the table's column order.

    Timestamp columns whose ``datetime64`` values every chunk has are made from those, as fixed-width text, without
    the chunks' Python strings (never made then): 0.2 us a row less on load-100k."""
    import pyarrow as pa

    made: dict[tuple[int, ...], Any] = {}  # a column two share (created_at, updated_at) is converted once

    def column(name: str) -> Any:
        if all(name in chunk.times for chunk in chunks):
            stamps = [chunk.times[name] for chunk in chunks]
            return converted(stamps, lambda: [_stamp_strings(values) for values in stamps])
        lists = [chunk.values[name] for chunk in chunks]
        return converted(lists, lambda: [pa.array(values, pa.string()) for values in lists])

    def converted(sources: Sequence[object], convert: Callable[[], list[Any]]) -> Any:
        key = tuple(map(id, sources))
        if key not in made:
            arrays = convert()
            made[key] = arrays[0] if len(arrays) == 1 else pa.concat_arrays(arrays)
        return made[key]

    return [column(name) for name in TABLES[table].columns]


def _stamp_strings(values: npt.NDArray[np.datetime64]) -> Any:
    """Timestamps as an Arrow string array of their PostgreSQL text (NULL for ``NaT``), built on the bytes of
    :func:`timestamp_bytes`: no Python string per value."""
    import pyarrow as pa

    text, missing = timestamp_bytes(values)
    rows, width = text.shape
    offsets = np.arange(0, (rows + 1) * width, width, dtype=np.int32)
    nulls = int(np.count_nonzero(missing))
    validity = pa.py_buffer(np.packbits(~missing, bitorder="little")) if nulls else None
    buffers = [validity, pa.py_buffer(offsets), pa.py_buffer(text)]
    return pa.Array.from_buffers(pa.string(), rows, buffers, null_count=nulls)


def _has_specials(array: Any) -> bool:
    """Whether any string of ``array`` holds a character COPY text escapes (a byte search, not a regex)."""
    data = array.buffers()[2]
    if data is None:
        return False
    text = data.to_pybytes()
    return any(special in text for special in _SPECIAL_BYTES)


def _arrow_row_checksum(table: str, chunks: Sequence[Columns], strings: list[Any]) -> int:
    """:func:`row_checksum` of the rows, their COPY text lines made by Arrow (the same bytes :class:`CopyText`
    writes: specials escaped in text and JSON, NULL as ``\\N``) and only the CRC-32 of each taken in Python, on
    the bytes objects Arrow makes of the lines. Measured here on load-100k: 0.32 us a row, against 0.45 with
    :func:`zlib.crc32` on memoryview slices of the joined lines (what is left: the join, 0.1 us, and one CRC
    call per row)."""
    import pyarrow as pa
    import pyarrow.compute as pc

    spec = TABLES[table]
    clean = frozenset.intersection(*(chunk.clean for chunk in chunks))
    escaped = []
    for array, name, kind in zip(strings, spec.columns, spec.kinds, strict=True):
        text = array
        if kind not in _NEVER_ESCAPED and name not in clean and _has_specials(text):
            for special, escape in _COPY_ESCAPES:
                text = pc.replace_substring(text, special, escape)
        escaped.append(text)
    lines = pc.binary_join_element_wise(*escaped, "\t", null_handling="replace", null_replacement="\\N")
    return sum(map(crc32, lines.cast(pa.binary()).to_numpy(zero_copy_only=False))) % ROW_CHECKSUM_MODULUS


def _parquet(table: str, chunks: Sequence[Columns]) -> tuple[bytes, int]:
    import pyarrow as pa
    import pyarrow.parquet as pq

    spec = TABLES[table]
    strings = _strings(table, chunks)
    arrays = [_typed(table, name, chunks, text) for text, name in zip(strings, spec.columns, strict=True)]
    sink = pa.BufferOutputStream()  # Arrow's own buffer, not a Python file's write() per page: 15 % less CPU
    # Without dictionary pages: measured here on demo, 15 % less CPU for files 1 % larger (snappy finds the repeats).
    pq.write_table(
        pa.Table.from_arrays(arrays, names=list(spec.columns)),
        sink,
        use_dictionary=False,
        write_batch_size=_WRITE_BATCH_ROWS,
        compression={name: "none" if kind in _UNCOMPRESSED else "snappy" for name, kind in _kinds(table)},
        write_statistics=[name for name, kind in _kinds(table) if kind in _STATISTICS],
    )
    return sink.getvalue().to_pybytes(), _arrow_row_checksum(table, chunks, strings)


def _typed(table: str, column: str, chunks: Sequence[Columns], text: Any) -> Any:
    """The column as its Parquet type: timestamps from the chunks' ``datetime64`` values where they all have them
    (the values their text was made from; half the cost of parsing the text), else the text cast."""
    import pyarrow as pa

    kind = arrow_type(table, column)
    if pa.types.is_timestamp(kind) and all(column in chunk.times for chunk in chunks):
        arrays = [pa.array(chunk.times[column].astype("datetime64[us]", copy=False), kind) for chunk in chunks]
        return arrays[0] if len(arrays) == 1 else pa.concat_arrays(arrays)
    return text.cast(kind)


def _kinds(table: str) -> zip[tuple[str, str]]:
    spec = TABLES[table]
    return zip(spec.columns, spec.kinds, strict=True)


def _csv(table: str, chunks: Sequence[Columns]) -> tuple[bytes, int]:
    writer, copy_text = Csv(), CopyText()
    data = writer.header(TABLES[table]) + b"".join(writer.rows(chunk) for chunk in chunks)
    return data, sum(row_checksum(copy_text.rows(chunk)) for chunk in chunks) % ROW_CHECKSUM_MODULUS


def write_partitions(
    scenario: Scenario, task: Task, filesystem: AbstractFileSystem, root: str, fmt: str
) -> list[Partition]:
    """Write the batch ``task`` as one ``fmt`` partition per table under ``root``; what was written."""
    by_table: dict[str, list[Columns]] = {}
    for chunk in task_columns(worker_maker(scenario), task):
        by_table.setdefault(chunk.table, []).append(chunk)
    written = []
    for table, chunks in by_table.items():
        data, checksum = _parquet(table, chunks) if fmt == "parquet" else _csv(table, chunks)
        relative = partition_name(scenario, task, table, fmt)
        _put(filesystem, f"{root}/{relative}", data)
        written.append(
            Partition(
                table=table,
                path=relative,
                rows=sum(chunk.rows for chunk in chunks),
                bytes=len(data),
                sha256=hashlib.sha256(data).hexdigest(),
                row_checksum=checksum,
            )
        )
    return written


def temporary_name(path: str) -> str:
    """A hidden name beside ``path``, unique to this write."""
    folder, _, name = path.rpartition("/")
    return f"{folder}/.{name}.{uuid.uuid4().hex}{_TEMPORARY}"


def is_temporary(name: str) -> bool:
    return name.startswith(".") and name.endswith(_TEMPORARY)


def _put(filesystem: AbstractFileSystem, path: str, data: bytes) -> None:
    """``data`` at ``path``, appearing there only once complete."""
    filesystem.makedirs(path.rpartition("/")[0], exist_ok=True)
    staged = temporary_name(path)
    try:
        filesystem.pipe_file(staged, data)
        filesystem.mv(staged, path)
    except BaseException:
        if filesystem.exists(staged):
            filesystem.rm(staged)
        raise
