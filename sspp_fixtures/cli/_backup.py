"""``backup`` and ``restore``: pg_dump with a manifest, and a restore verified against it in one transaction."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import click
from rich.console import Console
from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

from ..dsn import mask_dsn
from ._app import cli
from ._db import dsn_option, json_option, wait_option
from ._output import CliState, make_table
from ._target import require_target

__all__: list[str] = []

_FORMATS = ("custom", "plain")


@contextmanager
def _byte_progress(console: Console, label: str, *, quiet: bool) -> Iterator[Callable[[str, int, int], None]]:
    """A spinner line ``phase  MB  MB/s`` on a terminal (stderr); silent when piped or ``quiet``."""
    if quiet or not console.is_terminal:
        yield lambda phase, done, total: None
        return
    started = time.perf_counter()
    columns = (SpinnerColumn(), TextColumn("{task.description}"), TimeElapsedColumn())
    with Progress(*columns, console=console, transient=True) as progress:
        task = progress.add_task(label)

        def update(phase: str, done: int, total: int) -> None:
            rate = done / max(time.perf_counter() - started, 1e-9) / 1e6
            share = f" of {total / 1e6:,.1f} MB" if total else ""
            progress.update(task, description=f"{phase:<17} {done / 1e6:>9,.1f} MB{share} {rate:>8,.1f} MB/s")

        yield update


def _tables_table(tables: dict[str, Any]) -> Any:
    table = make_table(["table", "rows"])
    for name, fingerprint in tables.items():
        table.add_row(name, f"{fingerprint.rows:,}")
    return table


@cli.command("backup")
@dsn_option
@click.option(
    "--out",
    type=click.Path(),
    required=True,
    help="The backup file, or an existing folder (or a path ending in /) to name one in: sspp-DB-TIMESTAMP.dump.",
)
@click.option(
    "--format",
    "fmt",
    type=click.Choice(_FORMATS),
    help="custom: pg_dump's compressed archive (default); plain: SQL text, gzip'd (.sql.gz implies it).",
)
@click.option(
    "--keep",
    type=click.IntRange(min=1),
    metavar="N",
    help="Afterwards, keep only the N newest sspp-named backups of this database in the --out folder.",
)
@wait_option
@json_option
@click.pass_obj
def backup_command(
    state: CliState,
    dsn: str | None,
    out: str,
    fmt: str | None,
    keep: int | None,
    wait_s: float,
    as_json: bool,
) -> None:
    """Back up a database with pg_dump, and write a manifest of its tables next to the file.

    The dump and the manifest (row counts and checksums per table) come from one consistent snapshot, so
    writes during the backup are either wholly in both or in neither. `restore` checks the file against the
    manifest before touching anything, and the restored tables against it before committing.

    \b
    Examples:
      sspp-seed backup --dsn "$(sspp-seed server dsn)" --out ./sspp.dump
      sspp-seed backup --out ./backups/ --keep 14         # nightly: timestamped names, 14 kept
      sspp-seed backup --out ./sspp.sql.gz --json          # gzip'd plain SQL
    """
    from ..backup import backup_database

    target = require_target(state, dsn)
    with _byte_progress(state.err, "backing up", quiet=state.verbosity < 0) as update:
        report = backup_database(
            target, out, fmt=fmt, keep=keep, wait_s=wait_s, progress=lambda done: update("dumping", done, 0)
        )
    manifest = report.manifest
    data = {
        "file": str(report.path),
        "manifest": str(report.manifest_path),
        "format": manifest.format,
        "database": manifest.database,
        "bytes": manifest.file.bytes,
        "sha256": manifest.file.sha256,
        "seconds": round(report.seconds, 3),
        "rows": manifest.total_rows,
        "rows_per_second": round(report.rows_per_second),
        "megabytes_per_second": round(report.bytes_per_second / 1e6, 2),
        "tables": {name: {"rows": t.rows, "checksum": t.checksum} for name, t in manifest.tables.items()},
        "pg_dump": {"version": report.tools.version, "path": str(report.tools.bin_dir)},
        "pruned": [str(p) for p in report.pruned],
    }

    def render(console: Console) -> None:
        console.print(_tables_table(manifest.tables))
        console.print(
            f"backed up {manifest.database} ({mask_dsn(target)}) to {report.path}: {manifest.file.bytes / 1e6:,.1f} MB "
            f"{manifest.format}, {manifest.total_rows:,} rows in {report.seconds:.1f}s "
            f"({report.rows_per_second:,.0f} rows/s, {report.bytes_per_second / 1e6:,.1f} MB/s; "
            f"pg_dump {report.tools.version})"
        )
        console.print(f"manifest: {report.manifest_path}")
        if report.pruned:
            console.print(f"removed {len(report.pruned)} older backups: {', '.join(p.name for p in report.pruned)}")

    state.emit(as_json, data, render)


@cli.command("restore")
@click.argument("file", type=click.Path(path_type=Path))
@dsn_option
@click.option(
    "--force",
    is_flag=True,
    help="Restore even into a database holding data the tool did not make (its public schema is replaced).",
)
@click.option(
    "--trust-unsigned",
    is_flag=True,
    help="Restore a backup this machine's key did not sign (made elsewhere, or by an older version); its psql "
    "meta-commands are still refused.",
)
@wait_option
@json_option
@click.pass_obj
def restore_command(
    state: CliState, file: Path, dsn: str | None, force: bool, trust_unsigned: bool, wait_s: float, as_json: bool
) -> None:
    """Restore FILE (made by `sspp-seed backup`) into a database, and prove it equals the backup.

    FILE's signature, size and SHA-256 are checked against its manifest first: a file this machine's backup key
    ($SSPP_BACKUP_KEY, else ~/.config/sspp-fixtures/backup-key) did not sign, a truncated or a corrupt one is
    refused and nothing is touched. The target must be empty, made by the tool, or missing (it is created); one
    holding data the tool did not make is refused (exit 4) unless --force. Everything happens in one
    transaction that recounts and re-checksums every table against the manifest before it commits.

    \b
    Examples:
      sspp-seed restore ./sspp.dump --dsn "$(sspp-seed server dsn --database sspp_copy)"
      sspp-seed restore "$(ls -t ./backups/*.dump | head -n 1)" --json
    """
    from ..backup import restore_database

    target = require_target(state, dsn)
    with _byte_progress(state.err, "restoring", quiet=state.verbosity < 0) as update:
        report = restore_database(
            file, target, force=force, wait_s=wait_s, progress=update, trust_unsigned=trust_unsigned
        )
    manifest = report.manifest
    data = {
        "file": str(report.path),
        "database": report.database,
        "created_database": report.created_database,
        "replaced_tool_made_database": report.replaced_marked,
        "verified": True,
        "rows": manifest.total_rows,
        "seconds": round(report.seconds, 3),
        "rows_per_second": round(report.rows_per_second),
        "megabytes_per_second": round(report.bytes_per_second / 1e6, 2),
        "tables": {name: {"rows": t.rows, "checksum": t.checksum} for name, t in manifest.tables.items()},
        "backup": {"database": manifest.database, "created_at": manifest.created_at, "format": manifest.format},
        "tools": {"version": report.tools.version, "path": str(report.tools.bin_dir)},
    }

    def render(console: Console) -> None:
        console.print(_tables_table(manifest.tables))
        console.print(
            f"restored {report.path.name} (backup of {manifest.database}, {manifest.created_at}) into "
            f"{report.database} in {report.seconds:.1f}s ({report.rows_per_second:,.0f} rows/s); "
            "every table's row count and checksum match the manifest"
        )
        console.print(f"connect with: {mask_dsn(target)}")

    state.emit(as_json, data, render)
