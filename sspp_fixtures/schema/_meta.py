"""The tool's bookkeeping inside a database: the migration history and the marker.

Both live in the schema ``sspp_meta``, apart from the application's tables. The marker says a database was
created or initialized by sspp-fixtures, which is what makes destructive commands (``reset``, ``load``) safe.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import psycopg

__all__ = [
    "HISTORY_TABLE",
    "MARKER_TABLE",
    "META_DDL",
    "META_SCHEMA",
    "AppliedMigration",
    "Marker",
    "applied_migrations",
    "ensure_meta",
    "load_purpose",
    "loaded_scenario",
    "read_marker",
    "write_marker",
]

META_SCHEMA = "sspp_meta"
HISTORY_TABLE = f"{META_SCHEMA}.schema_migrations"
MARKER_TABLE = f"{META_SCHEMA}.database_marker"

#: Idempotent DDL of the bookkeeping tables; init.sql embeds the same text.
META_DDL = f"""\
CREATE SCHEMA IF NOT EXISTS {META_SCHEMA};
COMMENT ON SCHEMA {META_SCHEMA} IS 'sspp-fixtures bookkeeping: migration history and database marker';
CREATE TABLE IF NOT EXISTS {HISTORY_TABLE} (
    version     INTEGER PRIMARY KEY,
    name        TEXT NOT NULL,
    checksum    TEXT NOT NULL,
    applied_at  TIMESTAMPTZ NOT NULL DEFAULT now(),
    duration_ms DOUBLE PRECISION NOT NULL DEFAULT 0,
    applied_by  TEXT NOT NULL DEFAULT 'sspp-seed migrate'
);
CREATE TABLE IF NOT EXISTS {MARKER_TABLE} (
    singleton    BOOLEAN PRIMARY KEY DEFAULT TRUE CHECK (singleton),
    created_by   TEXT NOT NULL,
    tool_version TEXT NOT NULL,
    purpose      TEXT NOT NULL,
    marked_at    TIMESTAMPTZ NOT NULL DEFAULT now()
);
"""


@dataclass(frozen=True)
class AppliedMigration:
    """A row of the history table."""

    version: int
    name: str
    checksum: str
    applied_at: datetime
    duration_ms: float
    applied_by: str

    @property
    def label(self) -> str:
        return f"{self.version:03d}_{self.name}"


@dataclass(frozen=True)
class Marker:
    """What the marker row says about who made this database and why."""

    created_by: str
    tool_version: str
    purpose: str
    marked_at: datetime


def _table_exists(conn: psycopg.Connection[Any], qualified: str) -> bool:
    row = conn.execute("SELECT to_regclass(%s) IS NOT NULL", (qualified,)).fetchone()
    return bool(row and row[0])


def ensure_meta(conn: psycopg.Connection[Any]) -> None:
    """Create the bookkeeping schema and tables if they are missing."""
    conn.execute(META_DDL.encode())


def applied_migrations(conn: psycopg.Connection[Any]) -> list[AppliedMigration]:
    """The history, oldest first; empty when the database never saw a migration."""
    if not _table_exists(conn, HISTORY_TABLE):
        return []
    rows = conn.execute(
        f"SELECT version, name, checksum, applied_at, duration_ms, applied_by FROM {HISTORY_TABLE} ORDER BY version"
    ).fetchall()
    return [AppliedMigration(*row) for row in rows]


def read_marker(conn: psycopg.Connection[Any]) -> Marker | None:
    """The marker of this database, or ``None`` if the tool never marked it."""
    if not _table_exists(conn, MARKER_TABLE):
        return None
    row = conn.execute(f"SELECT created_by, tool_version, purpose, marked_at FROM {MARKER_TABLE}").fetchone()
    return Marker(*row) if row else None


def write_marker(conn: psycopg.Connection[Any], *, purpose: str) -> None:
    """Mark this database as the tool's (idempotent; a later mark updates purpose and version)."""
    from .. import __version__

    ensure_meta(conn)
    conn.execute(
        f"INSERT INTO {MARKER_TABLE} (created_by, tool_version, purpose) VALUES ('sspp-fixtures', %s, %s) "
        "ON CONFLICT (singleton) DO UPDATE SET tool_version = EXCLUDED.tool_version, "
        "purpose = EXCLUDED.purpose, marked_at = now()",
        (__version__, purpose),
    )


_LOADED = re.compile(r"^sspp-seed load (?P<scenario>\S+) \(seed (?P<seed>\d+)\)$")


def load_purpose(scenario: str, seed: int) -> str:
    """The marker's purpose after a load: says which scenario and seed the database holds."""
    return f"sspp-seed load {scenario} (seed {seed})"


def loaded_scenario(marker: Marker | None) -> tuple[str, int] | None:
    """``(scenario, seed)`` a marker records (see :func:`load_purpose`), or ``None``."""
    found = _LOADED.match(marker.purpose) if marker is not None else None
    return (found["scenario"], int(found["seed"])) if found else None
