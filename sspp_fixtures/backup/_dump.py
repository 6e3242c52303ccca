"""``backup``: ``pg_dump`` of a consistent snapshot, plus a manifest of what that snapshot held.

One read-only, repeatable-read transaction exports its snapshot; ``pg_dump --snapshot`` dumps exactly that
snapshot while the same transaction counts and checksums every table, so the manifest describes the very data
in the file, even while the platform keeps writing. The file is written under a temporary name and renamed
when complete, so a failed or interrupted backup never leaves a file that looks whole.
"""

from __future__ import annotations

import contextlib
import os
import re
import subprocess
import threading
import time
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import IO

from .. import __version__
from ..dsn import connect, database_name, mask_text
from ..errors import BackupError
from ..schema import applied_migrations
from ._child import ErrorOutput, Ticker
from ._manifest import (
    Manifest,
    digest_file,
    fingerprint_tables,
    granted_roles,
    manifest_path,
    sign_manifest,
    write_manifest,
)
from ._tools import ClientTools, client_connection, find_client_tools

__all__ = ["BACKUP_FORMATS", "BackupReport", "backup_database", "backup_file_name", "prune_backups"]

BACKUP_FORMATS = ("custom", "plain")
_SUFFIXES = {"custom": ".dump", "plain": ".sql.gz"}
_NAME = re.compile(r"^sspp-(?P<db>.+)-(?P<stamp>\d{8}T\d{6}Z)(?:\.dump|\.sql\.gz)$")
_PLAIN_GZIP_LEVEL = 3  # 3x faster than gzip's default 6 on pg_dump's text, for a file about 10% larger

#: Called with the backup file's bytes written so far.
ByteProgress = Callable[[int], None]


@dataclass(frozen=True)
class BackupReport:
    """What ``backup`` wrote and how long it took."""

    path: Path
    manifest_path: Path
    manifest: Manifest
    seconds: float
    tools: ClientTools
    pruned: tuple[Path, ...]

    @property
    def bytes_per_second(self) -> float:
        return self.manifest.file.bytes / max(self.seconds, 1e-9)

    @property
    def rows_per_second(self) -> float:
        return self.manifest.total_rows / max(self.seconds, 1e-9)


def format_of(path: Path, requested: str | None) -> str:
    """The format asked for, else the one the file name implies (``.sql.gz``/``.gz``: plain; else custom)."""
    if requested is not None:
        return requested
    return "plain" if path.name.endswith(".gz") else "custom"


def _file_safe(database: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]", "_", database)


def backup_file_name(database: str, fmt: str, when: datetime) -> str:
    """``sspp-<database>-<UTC timestamp><suffix>``: sorts by time; ``prune_backups`` recognises it."""
    return f"sspp-{_file_safe(database)}-{when.strftime('%Y%m%dT%H%M%SZ')}{_SUFFIXES[fmt]}"


def _resolve_target(out: Path | str, database: str, fmt: str | None, when: datetime) -> tuple[Path, str]:
    """The file to write: ``out`` itself, or a tool-named file in it when it is a folder or ends with ``/``."""
    folder = str(out).endswith(("/", os.sep))  # a pathlib.Path has already lost the trailing slash; a str has not
    path = Path(out)
    if path.is_dir() or folder:
        if folder and not path.exists():
            _make_folder(path)
        chosen = fmt or "custom"
        return path / backup_file_name(database, chosen, when), chosen
    return path, format_of(path, fmt)


def _make_folder(folder: Path) -> None:
    """``--out DIR/`` names a folder to keep backups in: made when missing (and its parents), like ``mkdir -p``."""
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise BackupError(
            f"cannot write the backup: cannot create folder {folder}: {exc.strerror}", hint="choose another --out"
        ) from None


def _check_writable(folder: Path) -> None:
    if not folder.is_dir():
        raise BackupError(
            f"cannot write the backup: folder {folder} does not exist",
            hint="create it first, or give --out a path in an existing folder",
        )
    if not os.access(folder, os.W_OK | os.X_OK):
        raise BackupError(f"cannot write the backup: folder {folder} is not writable", hint="choose another --out")


def _stderr_tail(text: str, dsn: str) -> str:
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    return mask_text(lines[-1] if lines else "no message", dsn)


def _gzip_stream(source: IO[bytes], target: IO[bytes], written: list[int], failures: list[OSError]) -> None:
    compressor = zlib.compressobj(_PLAIN_GZIP_LEVEL, zlib.DEFLATED, 31)
    try:
        while block := source.read(1 << 20):
            data = compressor.compress(block)
            target.write(data)
            written[0] += len(data)
        target.write(compressor.flush())
        target.flush()
        os.fsync(target.fileno())
    except OSError as exc:
        failures.append(exc)
        source.close()  # pg_dump stops on the closed pipe


class _DumpJob:
    """A running ``pg_dump`` of one snapshot, its output drained (and gzip'd for ``plain``) in the background."""

    def __init__(
        self, tools: ClientTools, dsn: str, snapshot: str, fmt: str, partial: Path, progress: ByteProgress | None
    ) -> None:
        conninfo, env = client_connection(dsn)
        command = [tools.path("pg_dump"), "--dbname", conninfo, "--snapshot", snapshot, "--no-owner"]
        self._fmt, self._partial, self._written = fmt, partial, [0]
        self.write_failures: list[OSError] = []
        if fmt == "custom":
            command += ["--format", "custom", "--file", str(partial)]
            self._process = subprocess.Popen(command, env=env, stdin=subprocess.DEVNULL, stderr=subprocess.PIPE)
            self._pump: threading.Thread | None = None
        else:
            command += ["--format", "plain"]
            self._process = subprocess.Popen(
                command, env=env, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE
            )
            self._target = partial.open("wb")
            self._pump = threading.Thread(
                target=_gzip_stream,
                args=(self._process.stdout, self._target, self._written, self.write_failures),
                daemon=True,
            )
            self._pump.start()
        self._errors = ErrorOutput(self._process.stderr)
        self._ticker = Ticker((lambda: progress(self.written())) if progress is not None else None)

    def written(self) -> int:
        if self._pump is not None:
            return self._written[0]
        try:
            return self._partial.stat().st_size
        except OSError:
            return 0

    def wait(self) -> tuple[int, str]:
        """Wait for ``pg_dump`` and its output to finish; its exit code and error output."""
        self._process.wait()
        if self._pump is not None:
            self._pump.join()
            self._target.close()
            if self._process.stdout is not None:
                self._process.stdout.close()
        self._ticker.stop()
        return self._process.returncode, self._errors.text()

    def kill(self) -> None:
        with contextlib.suppress(OSError):
            self._process.kill()


def backup_database(
    dsn: str,
    out: Path | str,
    *,
    fmt: str | None = None,
    keep: int | None = None,
    wait_s: float = 0.0,
    progress: ByteProgress | None = None,
) -> BackupReport:
    """Back up the database at ``dsn`` to ``out`` (a file, or a folder to name one in) with its manifest.

    ``out`` given as a ``str`` ending with ``/`` is a folder even before it exists (then refused as missing).
    """
    if fmt is not None and fmt not in BACKUP_FORMATS:
        raise BackupError(f"unknown backup format {fmt!r}", hint=f"use one of: {', '.join(BACKUP_FORMATS)}")
    started = time.perf_counter()
    when = datetime.now(UTC)
    database = database_name(dsn)
    target, chosen = _resolve_target(out, database, fmt, when)
    if target.is_dir():
        raise BackupError(f"cannot write the backup to {target}: it is a folder", hint="give a file name")
    _check_writable(target.parent)
    with connect(dsn, wait_s=wait_s) as conn:
        server_major = int(conn.info.server_version) // 10000
        tools = find_client_tools(min_major=server_major, purpose="back up")
        partial = target.with_name(f".{target.name}.partial-{os.getpid()}")
        try:
            with conn.transaction():
                conn.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
                row = conn.execute("SELECT pg_catalog.pg_export_snapshot(), current_setting('server_version')")
                snapshot, server_version = row.fetchone() or ("", "")
                job = _DumpJob(tools, dsn, snapshot, chosen, partial, progress)
                try:
                    tables = fingerprint_tables(conn)
                    roles = granted_roles(conn)
                    applied = applied_migrations(conn)
                except BaseException:
                    job.kill()
                    job.wait()
                    raise
                code, stderr = job.wait()
            if job.write_failures:
                failure = job.write_failures[0]
                raise BackupError(
                    f"cannot write the backup {target}: {failure.strerror or failure}",
                    hint="nothing was kept; free space or choose another --out, and run the backup again",
                )
            if code != 0:
                raise BackupError(
                    f"pg_dump failed for database {database!r}: {_stderr_tail(stderr, dsn)}",
                    hint="nothing was written; fix the cause above and run the backup again",
                    database=database,
                )
            digest = digest_file(partial)
            manifest = Manifest(
                file_name=target.name,
                file=digest,
                format=chosen,
                database=database,
                server_version=str(server_version).split()[0],
                dump_tool_version=tools.version,
                tool_version=__version__,
                created_at=when.isoformat(timespec="seconds"),
                schema_version=max((a.version for a in applied), default=None),
                tables=tables,
                roles=roles,
            )
            manifest = sign_manifest(manifest)
            partial.replace(target)
        except BaseException:
            with contextlib.suppress(OSError):
                partial.unlink()
            raise
    manifest_file = manifest_path(target)
    try:
        write_manifest(manifest, manifest_file)
    except OSError as exc:
        with contextlib.suppress(OSError):
            target.unlink()
        raise BackupError(f"cannot write the backup manifest {manifest_file}: {exc.strerror or exc}") from None
    pruned = prune_backups(target.parent, database, keep) if keep is not None else ()
    return BackupReport(target, manifest_file, manifest, time.perf_counter() - started, tools, pruned)


def prune_backups(folder: Path, database: str, keep: int) -> tuple[Path, ...]:
    """Delete all but the ``keep`` newest tool-named backups of ``database`` in ``folder`` (with manifests)."""
    if keep < 1:
        raise BackupError(f"--keep must be at least 1, not {keep}", hint="keep at least the backup just made")
    safe = _file_safe(database)
    ours = sorted(
        (p for p in folder.iterdir() if (m := _NAME.match(p.name)) and m["db"] == safe and p.is_file()),
        key=lambda p: (_NAME.match(p.name)["stamp"], p.name),  # type: ignore[index]
        reverse=True,
    )
    removed: list[Path] = []
    for old in ours[keep:]:
        for path in (old, manifest_path(old)):
            with contextlib.suppress(FileNotFoundError):
                path.unlink()
        removed.append(old)
    return tuple(removed)
