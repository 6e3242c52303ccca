"""A scenario exported as partitioned Parquet or CSV files to any fsspec URL, in this process or on a Dask
cluster, with a ``manifest.json`` written last.

Layout under the URL: ``<table>/part-NNNNN.<ext>`` (one partition per table and chunk task) and
``manifest.json``. A manifest left from an earlier export is removed first and the new one is written only once
every partition is in place and stale files are gone: a manifest means a complete export, and a failed export
leaves none (and removes the partitions it wrote).
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from .._dask._cluster import DEFAULT_RETRIES, run_tasks
from .._defaults import DEFAULT_BATCH_ROWS, PARTITIONED_FORMATS
from .._dsnmask import mask_dsn
from .._table_order import TABLE_ORDER
from ..bulkgen._stream import Task, plan_tasks
from ..errors import UsageError, WriteError
from ..scenarios import Scenario
from ._write import (
    ROW_CHECKSUM_MODULUS,
    Partition,
    is_temporary,
    temporary_name,
    write_partitions,
)

if TYPE_CHECKING:
    from distributed import Client
    from fsspec import AbstractFileSystem

__all__ = ["MANIFEST", "PartitionedReport", "export_partitioned"]

MANIFEST = "manifest.json"
_VERSION = 1
_CHECKSUMS = {
    "sha256": "sha256 of the partition file's bytes (same pyarrow version, same bytes)",
    "row_checksum": "sum modulo 2**64 of the CRC-32 of each row's PostgreSQL COPY text line, as 16 hex digits: "
    "independent of row order, partitioning, batch size and cluster size; a table's is the sum of its partitions'",
}


@dataclass
class PartitionedReport:
    """Where the files went (``url`` with credentials masked) and how much was written."""

    format: str
    url: str
    manifest: str
    partitions: list[Partition] = field(default_factory=list)
    rows: dict[str, int] = field(default_factory=lambda: dict.fromkeys(TABLE_ORDER, 0))
    bytes_written: int = 0


def _filesystem(out: str, storage_options: dict[str, Any] | None) -> tuple[AbstractFileSystem, str]:
    try:
        import fsspec
    except ImportError:
        raise UsageError(
            "exporting partitioned files needs fsspec, which is not installed",
            hint="pip install 'sspp-fixtures[files]' (or [dask])",
        ) from None
    try:
        filesystem, root = fsspec.core.url_to_fs(out, **(storage_options or {}))
    except (ImportError, ValueError) as exc:
        raise UsageError(
            f"--out {mask_dsn(out)}: {exc}",
            hint="install the fsspec backend the URL's scheme needs (s3fs for s3://, gcsfs for gs://)",
            field="--out",
        ) from None
    return filesystem, str(root).rstrip("/") or "/"


def _need_pyarrow(fmt: str) -> None:
    if fmt != "parquet":
        return
    try:
        import pyarrow  # noqa: F401
    except ImportError:
        raise UsageError(
            "the parquet format needs pyarrow, which is not installed", hint="pip install 'sspp-fixtures[files]'"
        ) from None


def export_partitioned(
    scenario: Scenario,
    fmt: str,
    out: str,
    *,
    client: Client | None = None,
    filesystem: AbstractFileSystem | None = None,
    storage_options: dict[str, Any] | None = None,
    batch_rows: int = DEFAULT_BATCH_ROWS,
    retries: int = DEFAULT_RETRIES,
    progress: Callable[[str, int], None] | None = None,
) -> PartitionedReport:
    """Write ``scenario`` as ``fmt`` (parquet or csv) partitions under ``out`` (a path or an fsspec URL: ``s3://``,
    ``gs://``, ``file://``, ``memory://``...), with a manifest of each partition's rows and checksums.

    With ``client`` the chunk tasks run on that Dask cluster, whose workers write the files (they must reach
    ``out``); without, in this process. ``filesystem`` writes through that fsspec filesystem (``out`` is then a
    path on it); ``storage_options`` go to the one the URL names (credentials, endpoint). ``progress(table,
    rows)`` hears of each partition as its task completes.
    """
    if fmt not in PARTITIONED_FORMATS:
        raise UsageError(
            f"format {fmt!r} is not written as partitioned files",
            hint=f"choose one of: {', '.join(PARTITIONED_FORMATS)}",
            field="--format",
            value=fmt,
        )
    _need_pyarrow(fmt)
    if filesystem is None:
        filesystem, root = _filesystem(out, storage_options)
    else:
        root = out.rstrip("/") or "/"
    shown = mask_dsn(out)
    if client is not None and "memory" in _protocols(filesystem):
        raise UsageError(
            f"--out {shown}: a memory:// file system lives in one process, where a cluster's workers cannot write",
            hint="give a path or URL the workers can reach (a shared folder, s3://, gs://)",
            field="--out",
        )
    report = PartitionedReport(format=fmt, url=shown, manifest=f"{shown.rstrip('/')}/{MANIFEST}")
    made_root = _prepare(filesystem, root, shown)
    notify = progress or (lambda _table, _rows: None)

    def heard(_task: Task, partitions: list[Partition]) -> None:
        for partition in partitions:
            notify(partition.table, partition.rows)

    try:
        for _, partitions in _run(scenario, fmt, filesystem, root, client, batch_rows, retries, heard):
            report.partitions.extend(partitions)
        for partition in report.partitions:
            report.rows[partition.table] += partition.rows
            report.bytes_written += partition.bytes
        _sweep(filesystem, root, keep={partition.path for partition in report.partitions})
        _write_manifest(filesystem, root, _manifest(scenario, fmt, report.partitions))
    except BaseException as exc:
        with contextlib.suppress(OSError):  # best effort: the error that stopped the export is the one to tell
            _sweep(filesystem, root, keep=set())
            if made_root:
                filesystem.rm(root, recursive=True)
        if isinstance(exc, OSError):
            raise WriteError(
                f"writing {shown} failed: {exc.strerror or exc}; no manifest was written and the partitions "
                "written were removed",
                hint="check that --out is writable (and reachable by every worker with --dask)",
                errno=exc.errno,
            ) from None
        raise
    return report


def _protocols(filesystem: AbstractFileSystem) -> tuple[str, ...]:
    protocol = filesystem.protocol
    return (protocol,) if isinstance(protocol, str) else tuple(protocol)


def _prepare(filesystem: AbstractFileSystem, root: str, shown: str) -> bool:
    """Check ``root`` is a folder (or nothing yet), remove an earlier manifest; whether the root was made."""
    try:
        if filesystem.isfile(root):
            raise UsageError(
                f"--out {shown} is a file", hint="partitioned formats write a folder of files: give a folder"
            )
        made = not filesystem.exists(root)
        filesystem.makedirs(root, exist_ok=True)
        manifest = f"{root}/{MANIFEST}"
        if filesystem.exists(manifest):
            filesystem.rm(manifest)
    except OSError as exc:
        raise WriteError(
            f"using --out {shown} failed: {exc.strerror or exc}; nothing was written",
            hint="choose a writable --out location",
            errno=exc.errno,
        ) from None
    return made


def _run(
    scenario: Scenario,
    fmt: str,
    filesystem: AbstractFileSystem,
    root: str,
    client: Client | None,
    batch_rows: int,
    retries: int,
    heard: Callable[[Task, list[Partition]], None],
) -> Iterator[tuple[Task, list[Partition]]]:
    if client is not None:
        yield from run_tasks(
            client, scenario, write_partitions, filesystem, root, fmt, batch_rows=batch_rows, retries=retries,
            progress=heard,
        )  # fmt: skip
        return
    for task in plan_tasks(scenario, batch_rows):
        partitions = write_partitions(scenario, task, filesystem, root, fmt)
        heard(task, partitions)
        yield task, partitions


def _sweep(filesystem: AbstractFileSystem, root: str, *, keep: set[str]) -> None:
    """Remove, in each table's folder, the partitions and temporary files not in ``keep`` (paths from root):
    those of an earlier export with other batches, of a failed export, or left by a killed task."""
    for table in TABLE_ORDER:
        folder = f"{root}/{table}"
        if not filesystem.isdir(folder):
            continue
        for path in filesystem.ls(folder, detail=False):
            name = str(path).rstrip("/").rpartition("/")[2]
            ours = name.startswith("part-") or is_temporary(name)
            if ours and f"{table}/{name}" not in keep:
                with contextlib.suppress(FileNotFoundError):
                    filesystem.rm(str(path))
        if not keep:
            with contextlib.suppress(OSError):
                filesystem.rmdir(folder)


def _manifest(scenario: Scenario, fmt: str, partitions: list[Partition]) -> dict[str, Any]:
    tables: dict[str, dict[str, Any]] = {}
    for table in TABLE_ORDER:
        own = [partition for partition in partitions if partition.table == table]
        tables[table] = {
            "rows": sum(partition.rows for partition in own),
            "row_checksum": _hex(sum(partition.row_checksum for partition in own) % ROW_CHECKSUM_MODULUS),
            "partitions": [
                {
                    "path": partition.path,
                    "rows": partition.rows,
                    "bytes": partition.bytes,
                    "sha256": partition.sha256,
                    "row_checksum": _hex(partition.row_checksum),
                }
                for partition in sorted(own, key=lambda p: p.path)
            ],
        }
    return {
        "version": _VERSION,
        "format": fmt,
        "scenario": scenario.name,
        "seed": scenario.seed,
        "fingerprint": scenario.fingerprint(),
        "checksums": _CHECKSUMS,
        "tables": tables,
    }


def _hex(value: int) -> str:
    return f"{value:016x}"


def _write_manifest(filesystem: AbstractFileSystem, root: str, manifest: dict[str, Any]) -> None:
    path = f"{root}/{MANIFEST}"
    staged = temporary_name(path)
    filesystem.pipe_file(staged, (json.dumps(manifest, indent=2) + "\n").encode())
    filesystem.mv(staged, path)
