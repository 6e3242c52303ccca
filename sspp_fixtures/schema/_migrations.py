"""Migration files: finding, reading and checksumming ``NNN_name.sql``.

The files under ``sql/migrations`` are the schema's source of truth. In a source checkout they are read from
there; an installed wheel carries the same files as ``sspp_fixtures/_sql``.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from pathlib import Path

from .._paths import shipped_sql_dir
from ..errors import MigrationError

__all__ = ["Migration", "load_migrations", "migrations_checksum", "migrations_dir", "sql_dir"]

_FILENAME = re.compile(r"^(?P<version>\d{3,})_(?P<name>[a-z0-9][a-z0-9_]*)\.sql$")


@dataclass(frozen=True)
class Migration:
    """One migration file: its version, name, SQL text and checksum of that text."""

    version: int
    name: str
    sql: str
    path: Path | None = None

    @property
    def checksum(self) -> str:
        """sha256 of the SQL with line endings normalized, so a checkout on Windows does not look edited."""
        normalized = self.sql.replace("\r\n", "\n").encode("utf-8")
        return hashlib.sha256(normalized).hexdigest()

    @property
    def filename(self) -> str:
        return f"{self.version:03d}_{self.name}.sql"

    @property
    def label(self) -> str:
        return f"{self.version:03d}_{self.name}"


def sql_dir() -> Path:
    """The folder holding ``migrations/``, ``init.sql`` and ``seed.sql``: the packaged copy, else the checkout's."""
    packaged, found = shipped_sql_dir()
    if found is not None:
        return found
    raise MigrationError(
        f"no migrations found: neither {packaged} nor {packaged.parent.parent / 'sql'} holds a migrations folder",
        hint="reinstall sspp-fixtures (pip install --force-reinstall sspp-fixtures)",
    )


def migrations_dir() -> Path:
    return sql_dir() / "migrations"


def load_migrations(directory: Path | None = None) -> tuple[Migration, ...]:
    """Read every migration in ``directory`` (default: the project's), ordered by version.

    Refuses files that do not follow ``NNN_name.sql``, duplicate versions and empty files, naming the file.
    """
    folder = directory if directory is not None else migrations_dir()
    if not folder.is_dir():
        raise MigrationError(f"migrations folder {folder} does not exist", hint="pass an existing folder")
    found: dict[int, Migration] = {}
    for path in sorted(folder.iterdir()):
        if path.suffix != ".sql" or not path.is_file():
            continue
        match = _FILENAME.match(path.name)
        if match is None:
            raise MigrationError(
                f"{path}: migration file name does not follow NNN_name.sql",
                hint="rename it to a three-digit version, an underscore and a lower-case name, e.g. 005_add_x.sql",
                file=str(path),
            )
        version = int(match["version"])
        if version in found:
            raise MigrationError(
                f"{path}: version {version} is also used by {found[version].filename}",
                hint="give each migration its own version number",
                file=str(path),
            )
        text = path.read_text(encoding="utf-8")
        if not _has_statements(text):
            raise MigrationError(f"{path}: migration holds no SQL statement", hint="add SQL or remove the file")
        found[version] = Migration(version=version, name=match["name"], sql=text, path=path)
    if not found:
        raise MigrationError(f"{folder} holds no migration files", hint="add NNN_name.sql files")
    return tuple(found[v] for v in sorted(found))


def _has_statements(text: str) -> bool:
    without_comments = re.sub(r"--[^\n]*", "", text)
    without_comments = re.sub(r"/\*.*?\*/", "", without_comments, flags=re.DOTALL)
    return bool(without_comments.strip().strip(";").strip())


def migrations_checksum(migrations: tuple[Migration, ...]) -> str:
    """One checksum over every migration's version, name and checksum: a schema's identity."""
    digest = hashlib.sha256()
    for migration in migrations:
        digest.update(f"{migration.version}:{migration.name}:{migration.checksum}\n".encode())
    return digest.hexdigest()
