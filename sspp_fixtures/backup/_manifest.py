"""The manifest written beside every backup: what the file must be, and what the database held when it was taken.

``<backup>.manifest.json`` records the backup file's size and SHA-256 (a truncated or corrupt file is refused
before anything is touched) and, per table, the row count and an order-independent checksum of its rows,
computed in the same snapshot ``pg_dump`` read. A restore recomputes them inside its own transaction and
rolls back on any difference, so a restore that commits holds exactly what was backed up.
"""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import json
import os
import secrets
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

import psycopg
from psycopg import sql

from .._paths import config_dir
from ..errors import BackupError
from ..schema import META_SCHEMA

__all__ = [
    "MANIFEST_SUFFIX",
    "SIGNING_KEY_ENV",
    "FileDigest",
    "Manifest",
    "TableFingerprint",
    "digest_file",
    "fingerprint_tables",
    "granted_roles",
    "manifest_path",
    "read_manifest",
    "row_checksum_sql",
    "settings_sql",
    "sign_manifest",
    "verify_signature",
    "write_manifest",
]

MANIFEST_SUFFIX = ".manifest.json"
MANIFEST_VERSION = 1
#: A secret shared by the machines that back up and restore. Without it, each user has a key of their own
#: (:func:`key_file`). Backups are always signed; restores refuse a backup whose manifest does not carry the
#: signature of the key in force (anyone can recompute a SHA-256, not this).
SIGNING_KEY_ENV = "SSPP_BACKUP_KEY"
_SIGNATURE = "signature"

#: Session settings under which a row's text, and so its checksum, is the same on every server.
_SETTINGS = {
    "TimeZone": "UTC",
    "DateStyle": "ISO, MDY",
    "IntervalStyle": "postgres",
    "extra_float_digits": "1",
    "bytea_output": "hex",
    "standard_conforming_strings": "on",
}

#: The database marker says who made *this* database; it is rewritten by a restore and not part of the data.
_NOT_DATA = {f"{META_SCHEMA}.database_marker"}

_TABLES = """
SELECT n.nspname, c.relname
FROM pg_catalog.pg_class c
JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
WHERE c.relkind = 'r'
  AND n.nspname NOT IN ('pg_catalog', 'information_schema')
  AND n.nspname NOT LIKE 'pg\\_toast%%' AND n.nspname NOT LIKE 'pg\\_temp\\_%%'
  AND NOT EXISTS (
      SELECT 1 FROM pg_catalog.pg_depend d
      WHERE d.classid = 'pg_catalog.pg_class'::regclass AND d.objid = c.oid AND d.deptype = 'e'
  )
ORDER BY 1, 2
"""

#: Roles named in the privileges of the dumped tables, sequences and schemas: a restore creates missing ones.
_GRANTED_ROLES = """
SELECT DISTINCT r.rolname
FROM (
    SELECT (aclexplode(c.relacl)).grantee FROM pg_catalog.pg_class c
    JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
    WHERE c.relacl IS NOT NULL AND n.nspname NOT IN ('pg_catalog', 'information_schema')
    UNION
    SELECT (aclexplode(n.nspacl)).grantee FROM pg_catalog.pg_namespace n
    WHERE n.nspacl IS NOT NULL AND n.nspname NOT IN ('pg_catalog', 'information_schema')
) g
JOIN pg_catalog.pg_roles r ON r.oid = g.grantee
WHERE NOT r.rolsuper AND r.rolname NOT LIKE 'pg\\_%%' AND r.rolname <> current_user
ORDER BY 1
"""


def row_checksum_sql(alias: str = "t") -> str:
    """SQL for ``(count, checksum)`` of a table aliased ``alias``: a sum of 60-bit row hashes, order-independent."""
    return f"SELECT count(*), coalesce(sum(('x' || substr(md5({alias}::text), 1, 15))::bit(60)::bigint), 0)::text"


def settings_sql(*, local: bool = False) -> str:
    """``SET`` statements making row text identical on every server (``SET LOCAL`` inside a transaction)."""
    verb = "SET LOCAL" if local else "SET"
    return "".join(f"{verb} {name} = '{value}';\n" for name, value in _SETTINGS.items())


@dataclass(frozen=True)
class TableFingerprint:
    """One table's row count and checksum."""

    rows: int
    checksum: str


@dataclass(frozen=True)
class FileDigest:
    """Size and SHA-256 of a file."""

    bytes: int
    sha256: str


@dataclass(frozen=True)
class Manifest:
    """Everything a restore checks: the file itself, then the tables it must produce."""

    file_name: str
    file: FileDigest
    format: str
    database: str
    server_version: str
    dump_tool_version: str
    tool_version: str
    created_at: str
    schema_version: int | None
    tables: dict[str, TableFingerprint]
    roles: tuple[str, ...] = ()
    manifest_version: int = MANIFEST_VERSION
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def total_rows(self) -> int:
        return sum(t.rows for t in self.tables.values())

    @property
    def dump_tool_major(self) -> int:
        head = self.dump_tool_version.split(".")[0]
        return int(head) if head.isdigit() else 0

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["roles"] = list(self.roles)
        return data


def _signed_text(manifest: Manifest) -> bytes:
    data = manifest.to_json()
    data["extra"] = {key: value for key, value in manifest.extra.items() if key != _SIGNATURE}
    return json.dumps(data, sort_keys=True, separators=(",", ":"), default=str).encode()


def _signature(manifest: Manifest, key: str) -> str:
    return "hmac-sha256:" + hmac.new(key.encode(), _signed_text(manifest), hashlib.sha256).hexdigest()


def key_file() -> Path:
    """This user's backup key, made on the first backup (mode 0600) when ``$SSPP_BACKUP_KEY`` is not set."""
    return config_dir() / "backup-key"


def signing_key(*, create: bool) -> tuple[str, str] | None:
    """The key that signs and checks backups here, and where it comes from: ``$SSPP_BACKUP_KEY``, else this user's
    key file (made now when ``create``); ``None`` when there is none."""
    given = os.environ.get(SIGNING_KEY_ENV, "")
    if given:
        return given, f"${SIGNING_KEY_ENV}"
    path = key_file()
    if create and not path.exists():
        with contextlib.suppress(OSError):  # a read-only home: the caller says what to do
            _make_key_file(path)
    try:
        key = path.read_text().strip()
    except OSError:
        return None
    return (key, str(path)) if key else None


def _make_key_file(path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    draft = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}")
    fd = os.open(draft, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as out:
        out.write(secrets.token_hex(32) + "\n")
    try:
        with contextlib.suppress(FileExistsError):  # another backup made it first: use theirs
            os.link(draft, path)  # whole or not at all: nobody reads a half-written key
    finally:
        draft.unlink()


def sign_manifest(manifest: Manifest, key: str | None = None) -> Manifest:
    """``manifest`` signed with ``key`` (default: :func:`signing_key`, made if missing): an HMAC of everything it
    says, the backup file's SHA-256 included, so a restore can tell a file this tool wrote from one edited since."""
    if key is None:
        found = signing_key(create=True)
        if found is None:
            raise BackupError(
                f"cannot make a backup key at {key_file()}",
                hint=f"make that folder writable, or set ${SIGNING_KEY_ENV} to a secret of your own",
            )
        key = found[0]
    return replace(manifest, extra={**manifest.extra, _SIGNATURE: _signature(manifest, key)})


def verify_signature(manifest: Manifest, backup: Path, key: str | None = None, *, trust_unsigned: bool = False) -> None:
    """Refuse a backup whose manifest is not signed with this machine's key (:func:`signing_key`), unless
    ``trust_unsigned``: anyone can recompute a SHA-256, not this signature."""
    found = (key, "the given key") if key is not None else signing_key(create=False)
    given = manifest.extra.get(_SIGNATURE)
    if found is not None and isinstance(given, str) and hmac.compare_digest(given, _signature(manifest, found[0])):
        return
    if trust_unsigned:
        return
    if given is None:
        why = "it carries no signature, so nothing shows sspp-seed backup wrote it (anyone can recompute a SHA-256)"
    elif found is None:
        why = f"it is signed, but this machine has no key to check it with (no ${SIGNING_KEY_ENV}, no {key_file()})"
    else:
        why = (
            f"its signature does not match the key in {found[1]}: another machine's key signed it, or the file or "
            "its manifest was changed since"
        )
    raise BackupError(
        f"backup file {backup} cannot be shown to be written by sspp-seed backup: {why}",
        hint=f"nothing was restored; for a backup made elsewhere set ${SIGNING_KEY_ENV} to the key that signed it "
        "(that machine's $SSPP_BACKUP_KEY or backup-key file), or restore with --trust-unsigned if you trust the file "
        "(its psql meta-commands stay refused)",
        file=str(backup),
    )


def manifest_path(backup: Path) -> Path:
    """Where the manifest of ``backup`` lives: beside it, named after it."""
    return backup.with_name(backup.name + MANIFEST_SUFFIX)


def fingerprint_tables(conn: psycopg.Connection[Any]) -> dict[str, TableFingerprint]:
    """Row count and checksum of every table holding data (in the connection's current snapshot)."""
    for statement in settings_sql(local=not conn.autocommit).splitlines():
        conn.execute(statement)
    result: dict[str, TableFingerprint] = {}
    for schema, table in conn.execute(_TABLES).fetchall():
        name = f"{schema}.{table}"
        if name in _NOT_DATA:
            continue
        query = sql.SQL(row_checksum_sql() + " FROM {}.{} t").format(sql.Identifier(schema), sql.Identifier(table))
        row = conn.execute(query).fetchone()
        assert row is not None
        result[name] = TableFingerprint(int(row[0]), str(row[1]))
    return result


def granted_roles(conn: psycopg.Connection[Any]) -> tuple[str, ...]:
    """Roles the database's privileges name (besides superusers and the connecting user)."""
    return tuple(str(r[0]) for r in conn.execute(_GRANTED_ROLES).fetchall())


def digest_file(path: Path, progress: Callable[[int], None] | None = None, *, chunk: int = 1 << 20) -> FileDigest:
    """Size and SHA-256 of ``path``, reading it in chunks (``progress`` gets the bytes read so far)."""
    sha = hashlib.sha256()
    done = 0
    with path.open("rb") as handle:
        while block := handle.read(chunk):
            sha.update(block)
            done += len(block)
            if progress is not None:
                progress(done)
    return FileDigest(done, sha.hexdigest())


def write_manifest(manifest: Manifest, path: Path) -> None:
    """Write the manifest atomically (a temporary file renamed over ``path``)."""
    partial = path.with_name(f".{path.name}.partial")
    partial.write_text(json.dumps(manifest.to_json(), indent=2) + "\n", encoding="utf-8")
    partial.replace(path)


def _field(data: dict[str, Any], name: str, kind: type | tuple[type, ...], where: Path) -> Any:
    value = data.get(name)
    if not isinstance(value, kind) or (isinstance(value, bool) and kind is int):
        raise BackupError(
            f"{where}: field {name!r} is missing or invalid in the backup manifest",
            hint="the manifest was edited or damaged; use the manifest written with the backup",
            file=str(where),
            field=name,
        )
    return value


def read_manifest(backup: Path) -> Manifest:
    """The manifest beside ``backup``; a missing, unreadable or malformed one is refused with what to do."""
    path = manifest_path(backup)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise BackupError(
            f"{backup}: no manifest beside the backup (expected {path.name})",
            hint="restore needs the manifest sspp-seed backup writes next to the file, to verify what it restores; "
            "copy both files together",
            file=str(backup),
        ) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise BackupError(f"{path}: cannot read the backup manifest: {exc}", file=str(path)) from None
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise BackupError(
            f"{path}:{exc.lineno}: the backup manifest is not valid JSON ({exc.msg})",
            hint="the manifest was edited or damaged; use the manifest written with the backup",
            file=str(path),
            line=exc.lineno,
        ) from None
    if not isinstance(data, dict):
        raise BackupError(f"{path}: the backup manifest is not a JSON object", file=str(path))
    version = _field(data, "manifest_version", int, path)
    if version > MANIFEST_VERSION:
        raise BackupError(
            f"{path}: manifest version {version} is newer than this sspp-fixtures understands ({MANIFEST_VERSION})",
            hint="upgrade sspp-fixtures to restore this backup",
        )
    file = _field(data, "file", dict, path)
    tables = _field(data, "tables", dict, path)
    try:
        fingerprints = {str(name): TableFingerprint(int(t["rows"]), str(t["checksum"])) for name, t in tables.items()}
        digest = FileDigest(int(file["bytes"]), str(file["sha256"]))
    except (KeyError, TypeError, ValueError) as exc:
        raise BackupError(
            f"{path}: field 'tables' or 'file' of the backup manifest is malformed ({exc})",
            hint="the manifest was edited or damaged; use the manifest written with the backup",
            file=str(path),
        ) from None
    schema_version = data.get("schema_version")
    return Manifest(
        file_name=_field(data, "file_name", str, path),
        file=digest,
        format=_field(data, "format", str, path),
        database=_field(data, "database", str, path),
        server_version=_field(data, "server_version", str, path),
        dump_tool_version=_field(data, "dump_tool_version", str, path),
        tool_version=_field(data, "tool_version", str, path),
        created_at=_field(data, "created_at", str, path),
        schema_version=schema_version if isinstance(schema_version, int) else None,
        tables=fingerprints,
        roles=tuple(str(r) for r in data.get("roles", []) if isinstance(r, str)),
        extra=extra if isinstance(extra := data.get("extra"), dict) else {},
    )
