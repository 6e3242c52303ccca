"""``restore``: check the backup file against its manifest, then replay it in one verified transaction.

Nothing touches the target until the file's size and SHA-256 match the manifest: a truncated or corrupt file
is refused with the target unchanged. The replay is one ``psql --single-transaction`` fed with: the target's
SSPP schemas dropped, missing roles created, the backup's SQL (``pg_restore -f -`` for a custom archive, the
gunzipped text for a plain one), then a check that recounts and re-checksums every table against the
manifest and raises on any difference. psql stops on the first error, so the target either holds exactly
what was backed up or is left as it was. psql runs restricted (no backslash command from the file: ``\\!``
would run a shell) and the SQL is read first by :class:`~._script.ScriptGuard`, which refuses a file holding
one, or not reading like pg_dump's output.
"""

from __future__ import annotations

import contextlib
import json
import re
import secrets
import subprocess
import time
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from ..databases import ensure_database
from ..dsn import connect, database_name, mask_text
from ..errors import BackupError, DatabaseUnreachableError, LoadError
from ..schema import EMPTY_SCHEMA_STATEMENTS, refuse_unless_safe
from ..schema._meta import MARKER_TABLE, META_DDL
from ._child import ErrorOutput, Ticker
from ._manifest import Manifest, digest_file, read_manifest, row_checksum_sql, settings_sql, verify_signature
from ._script import RESTRICT_VERSIONS, ScriptGuard, restrict_line, supports_restrict
from ._tools import ClientTools, client_connection, find_client_tools

__all__ = ["RestoreReport", "restore_database", "verify_backup_file"]

#: Called with (phase, bytes done, bytes in all) while the file is checked and replayed.
RestoreProgress = Callable[[str, int, int], None]

_VERIFY_TAG = "sspp-verify"
_CHUNK = 1 << 20


@dataclass(frozen=True)
class RestoreReport:
    """What ``restore`` did."""

    path: Path
    database: str
    manifest: Manifest
    created_database: bool
    replaced_marked: bool
    seconds: float
    tools: ClientTools

    @property
    def rows_per_second(self) -> float:
        return self.manifest.total_rows / max(self.seconds, 1e-9)

    @property
    def bytes_per_second(self) -> float:
        return self.manifest.file.bytes / max(self.seconds, 1e-9)


def verify_backup_file(
    path: Path, progress: RestoreProgress | None = None, *, trust_unsigned: bool = False
) -> Manifest:
    """The manifest of ``path`` once its signature (unless ``trust_unsigned``), the file's size and its SHA-256
    match it; else a :class:`BackupError`."""
    if not path.exists():
        raise BackupError(f"backup file {path} does not exist", hint="check the path", file=str(path))
    if path.is_dir():
        raise BackupError(f"{path} is a folder, not a backup file", hint="give the backup file itself")
    manifest = read_manifest(path)
    verify_signature(manifest, path, trust_unsigned=trust_unsigned)
    size = path.stat().st_size
    if size != manifest.file.bytes:
        kind = "truncated" if size < manifest.file.bytes else "longer than it was written"
        raise BackupError(
            f"backup file {path} is {kind}: {size:,} bytes, its manifest says {manifest.file.bytes:,}",
            hint="nothing was restored; copy the backup again or use another one",
            file=str(path),
        )
    total = manifest.file.bytes
    digest = digest_file(path, (lambda done: progress("checking file", done, total)) if progress else None)
    if digest.sha256 != manifest.file.sha256:
        raise BackupError(
            f"backup file {path} is corrupt: its SHA-256 differs from the one in its manifest",
            hint="nothing was restored; copy the backup again or use another one",
            file=str(path),
        )
    return manifest


def _literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def _prefix_sql(manifest: Manifest) -> str:
    """Empty the target's SSPP schemas and create the roles the backup grants to, inside the transaction."""
    roles = ", ".join(_literal(r) for r in manifest.roles)
    create_roles = (
        f"DO $roles$ DECLARE role_name TEXT; BEGIN FOREACH role_name IN ARRAY ARRAY[{roles}]::text[] LOOP "
        "IF NOT EXISTS (SELECT 1 FROM pg_catalog.pg_roles WHERE rolname = role_name) THEN "
        "BEGIN EXECUTE format('CREATE ROLE %I NOLOGIN', role_name); "
        "EXCEPTION WHEN duplicate_object OR unique_violation THEN NULL; END; END IF; END LOOP; END $roles$;\n"
        if manifest.roles
        else ""
    )
    empty = "".join(f"{statement};\n" for statement in EMPTY_SCHEMA_STATEMENTS)
    return f"SET lock_timeout = '10s';\n{empty}RESET lock_timeout;\n{create_roles}"


def _suffix_sql(manifest: Manifest, backup_name: str) -> str:
    """Recount and re-checksum every table inside the transaction, raise on a difference; then mark the database."""
    expected = json.dumps({name: [t.rows, t.checksum] for name, t in manifest.tables.items()}, sort_keys=True)
    tag = f"$v{secrets.token_hex(6)}$"
    check = f"""
{settings_sql(local=True)}DO {tag}
DECLARE
    expected jsonb := {_literal(expected)}::jsonb;
    entry record;
    got_rows bigint;
    got_sum text;
    problems text[] := ARRAY[]::text[];
BEGIN
    FOR entry IN SELECT key, value FROM jsonb_each(expected) LOOP
        IF to_regclass(format('%I.%I', split_part(entry.key, '.', 1), substr(entry.key, strpos(entry.key, '.') + 1)))
           IS NULL THEN
            problems := problems || format('table %s is missing', entry.key);
            CONTINUE;
        END IF;
        EXECUTE format({_literal(row_checksum_sql() + " FROM %I.%I t")},
                       split_part(entry.key, '.', 1), substr(entry.key, strpos(entry.key, '.') + 1))
            INTO got_rows, got_sum;
        IF got_rows <> (entry.value->>0)::bigint THEN
            problems := problems || format('%s has %s rows, the backup had %s', entry.key, got_rows, entry.value->>0);
        ELSIF got_sum <> entry.value->>1 THEN
            problems := problems || format('%s rows differ from the backup''s (checksum)', entry.key);
        END IF;
    END LOOP;
    IF problems <> ARRAY[]::text[] THEN
        RAISE EXCEPTION '{_VERIFY_TAG}: %', array_to_string(problems, '; ');
    END IF;
END {tag};
"""
    mark = (
        META_DDL + f"INSERT INTO {MARKER_TABLE} (created_by, tool_version, purpose) "
        f"VALUES ('sspp-fixtures', {_literal(manifest.tool_version)}, {_literal('sspp-seed restore ' + backup_name)}) "
        "ON CONFLICT (singleton) DO UPDATE SET purpose = EXCLUDED.purpose, marked_at = now();\n"
    )
    return check + mark


def _gunzip(path: Path, done: list[int]) -> Iterator[bytes]:
    decompressor = zlib.decompressobj(31)
    with path.open("rb") as handle:
        while block := handle.read(_CHUNK):
            done[0] += len(block)
            try:
                yield decompressor.decompress(block)
            except zlib.error as exc:
                raise BackupError(f"backup file {path} is not valid gzip: {exc}", file=str(path)) from None
        yield decompressor.flush()
    if not decompressor.eof:
        raise BackupError(f"backup file {path} is truncated: its gzip stream ends early", file=str(path))


def _read_position(pid: int) -> int:
    """Bytes a process has read so far (Linux ``/proc``); 0 where that is not available."""
    try:
        for line in Path(f"/proc/{pid}/io").read_text().splitlines():
            if line.startswith("rchar:"):
                return int(line.split()[1])
    except (OSError, ValueError):
        pass
    return 0


class _Replay:
    """``psql --single-transaction`` reading the restore script from our pipe."""

    def __init__(self, tools: ClientTools, dsn: str) -> None:
        conninfo, env = client_connection(dsn)
        command = [
            tools.path("psql"), "--no-psqlrc", "--quiet", "--single-transaction",
            "--set", "ON_ERROR_STOP=1", "--dbname", conninfo, "--file", "-",
        ]  # fmt: skip
        self.process = subprocess.Popen(
            command, env=env, stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
        )
        self._errors = ErrorOutput(self.process.stderr)

    def send(self, data: bytes) -> bool:
        """Write to psql; ``False`` once psql has stopped reading (it hit an error)."""
        assert self.process.stdin is not None
        try:
            self.process.stdin.write(data)
        except (BrokenPipeError, ConnectionResetError):
            return False
        return True

    def finish(self) -> tuple[int, str]:
        assert self.process.stdin is not None
        with contextlib.suppress(BrokenPipeError, ConnectionResetError, OSError):
            self.process.stdin.close()
        code = self.process.wait()
        return code, self._errors.text()

    def kill(self) -> None:
        with contextlib.suppress(OSError):
            self.process.kill()


class _OlderServerFilter:
    """Drops the settings PostgreSQL 17+ tools write that older servers reject (as pg_restore does when connected)."""

    _NEWER_SETTINGS = re.compile(rb"^SET transaction_timeout = \d+;\n", re.MULTILINE)

    def __init__(self, tools_major: int, server_major: int) -> None:
        self._active = tools_major >= 17 > server_major
        self._carry = b""

    def __call__(self, block: bytes) -> bytes:
        if not self._active:
            return block
        data = self._carry + block
        cut = data.rfind(b"\n") + 1
        self._carry = data[cut:]
        return self._NEWER_SETTINGS.sub(b"", data[:cut])

    def flush(self) -> bytes:
        rest, self._carry = self._carry, b""
        return rest


def _pump(source: IO[bytes], replay: _Replay, guard: ScriptGuard, adapt: _OlderServerFilter) -> bool:
    while block := source.read(_CHUNK):
        if not replay.send(adapt(guard(block))):
            return False
    return True


def _replay_body(
    path: Path,
    manifest: Manifest,
    tools: ClientTools,
    replay: _Replay,
    adapt: _OlderServerFilter,
    progress: RestoreProgress | None,
) -> tuple[bool, str]:
    """Send the backup's SQL to psql; whether psql took all of it, and pg_restore's errors if any."""
    total = manifest.file.bytes
    if manifest.format == "plain":
        guard = ScriptGuard(path, manifest.dump_tool_version)
        done = [0]
        for block in _gunzip(path, done):
            if not replay.send(adapt(guard(block))):
                return False, ""
            if progress is not None:
                progress("restoring", done[0], total)
        return replay.send(adapt(guard.flush()) + adapt.flush()), ""
    guard = ScriptGuard(path, manifest.dump_tool_version, source="the SQL pg_restore reads from it")
    reader = subprocess.Popen(
        [tools.path("pg_restore"), "--no-owner", "--file", "-", str(path)],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    assert reader.stdout is not None
    errors = ErrorOutput(reader.stderr)
    ticker = Ticker(
        (lambda: progress("restoring", min(_read_position(reader.pid), total), total)) if progress is not None else None
    )
    complete = False
    try:
        complete = _pump(reader.stdout, replay, guard, adapt)
    finally:
        if not complete:
            with contextlib.suppress(OSError):
                reader.kill()
        reader.wait()
        reader.stdout.close()
        ticker.stop()
    said = errors.text().strip()
    if reader.returncode != 0:
        return complete, said  # pg_restore's own reason comes first (a file that is no archive at all)
    return complete and replay.send(adapt(guard.flush()) + adapt.flush()), ""


def _psql_error(stderr: str, dsn: str) -> str:
    lines = [line.strip() for line in stderr.splitlines() if line.strip()]
    errors = [line for line in lines if "ERROR:" in line or "FATAL:" in line or "error:" in line]
    chosen = errors[0] if errors else (lines[-1] if lines else "psql stopped without a message")
    chosen = chosen.split("ERROR:", 1)[-1].split("FATAL:", 1)[-1].strip()
    return mask_text(chosen, dsn)


def restore_database(
    path: Path,
    dsn: str,
    *,
    force: bool = False,
    wait_s: float = 0.0,
    progress: RestoreProgress | None = None,
    trust_unsigned: bool = False,
) -> RestoreReport:
    """Restore the backup at ``path`` into the database at ``dsn`` and prove it equals the manifest.

    Only a backup signed with this machine's key is restored unless ``trust_unsigned`` (see
    :func:`~._manifest.verify_signature`); psql meta-commands in the file are refused either way.
    """
    started = time.perf_counter()
    manifest = verify_backup_file(path, progress, trust_unsigned=trust_unsigned)
    database = database_name(dsn)
    created = _ensure_target(dsn, wait_s)
    with connect(dsn, wait_s=wait_s) as conn:
        server_major = int(conn.info.server_version) // 10000
        marker = refuse_unless_safe(conn, action="restore into", force=force)
    tools = find_client_tools(min_major=max(server_major, manifest.dump_tool_major), purpose="restore")
    if not supports_restrict(tools.version):
        releases = ", ".join(f"{major}.{minor}" for major, minor in RESTRICT_VERSIONS.items())
        raise BackupError(
            f"cannot restore safely with psql {tools.version} ({tools.bin_dir}): it cannot be kept from running "
            "psql commands a backup file may hold (\\restrict)",
            hint=f"install newer PostgreSQL client programs ({releases} or later of their major, or 18+); nothing "
            "was changed",
        )
    replay = _Replay(tools, dsn)
    try:
        sent = replay.send(restrict_line() + _prefix_sql(manifest).encode())
        restore_failure = ""
        if sent:
            adapt = _OlderServerFilter(tools.major, server_major)
            sent, restore_failure = _replay_body(path, manifest, tools, replay, adapt, progress)
        if restore_failure:
            replay.kill()  # psql must never reach the end of a partial script: it would commit it
        elif sent:
            if progress is not None:
                progress("verifying tables", manifest.file.bytes, manifest.file.bytes)
            replay.send(_suffix_sql(manifest, path.name).encode())
        # else: psql stopped reading on an error and rolled back; finish() collects what it said
    except BaseException:
        replay.kill()
        replay.finish()
        raise
    code, stderr = replay.finish()
    if restore_failure:
        raise BackupError(
            f"pg_restore cannot read {path}: {mask_text(restore_failure.splitlines()[-1], dsn)}",
            hint=f"nothing was changed in {database!r}; the archive is damaged or not a pg_dump custom archive",
            file=str(path),
        )
    if code != 0:
        reason = _psql_error(stderr, dsn)
        if "backslash commands are restricted" in reason:
            raise BackupError(
                f"backup file {path} was not written by sspp-seed backup: psql refused a meta-command in it",
                hint="nothing was restored; do not restore this file: it was altered or made by something else",
                file=str(path),
            )
        if reason.startswith(_VERIFY_TAG):
            raise LoadError(
                f"restored data does not match the backup's manifest: {reason.removeprefix(_VERIFY_TAG + ': ')}",
                hint=f"nothing was changed in {database!r}; the backup or its manifest was altered",
                database=database,
            )
        raise LoadError(
            f"restore into {database!r} failed: {reason}",
            hint=f"nothing was changed in {database!r}; fix the cause above and run the restore again",
            database=database,
        )
    with connect(dsn) as conn:
        if progress is not None:
            progress("analyzing", manifest.file.bytes, manifest.file.bytes)
        conn.execute("ANALYZE")
    return RestoreReport(path, database, manifest, created, marker is not None, time.perf_counter() - started, tools)


def _ensure_target(dsn: str, wait_s: float) -> bool:
    """Wait for the server if asked, and create the target database when it does not exist yet."""
    try:
        connect(dsn, wait_s=wait_s).close()
    except DatabaseUnreachableError as exc:
        if "does not exist" not in exc.message:
            raise
        return ensure_database(dsn)
    return False
