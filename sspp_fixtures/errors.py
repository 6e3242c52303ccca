"""The one exception tree of sspp-fixtures.

Every error a user can cause or meet derives from :class:`SsppError`. Each carries a message that says what
was wrong and where, a ``hint`` that says what to do, and the process exit code the CLI returns for it.
Each kind of error keeps its details as typed fields of its own (``ScenarioError.file``/``.line``/``.field``,
``TemplateError.template``, ...), all optional; ``details`` gathers those that are set (for ``--debug``). Errors
survive pickling, so they cross process boundaries (xdist workers, generator processes) intact.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

__all__ = [
    "BackupError",
    "ClusterError",
    "ClusterUnreachableError",
    "ConnectionBudgetError",
    "DatabaseUnreachableError",
    "ExitCode",
    "LoadError",
    "MigrationDriftError",
    "MigrationError",
    "ScenarioError",
    "SchemaMismatchError",
    "ServerUnavailableError",
    "SsppError",
    "TemplateError",
    "UnsafeTargetError",
    "UsageError",
    "WriteError",
]


class ExitCode:
    """Process exit codes of ``sspp-seed``; each names one kind of failure a script can react to."""

    OK = 0
    USER_ERROR = 1
    USAGE = 2
    UNREACHABLE = 3
    UNSAFE_TARGET = 4
    SCHEMA_CONFLICT = 5
    LOAD_FAILED = 6
    INTERRUPTED = 130  # Ctrl-C (SIGINT)
    TERMINATED = 143  # SIGTERM: 128 + 15, what a shell reports for a process SIGTERM ended


@dataclass(eq=False)
class SsppError(Exception):
    """Base of every error sspp-fixtures raises on purpose."""

    exit_code: ClassVar[int] = ExitCode.USER_ERROR

    message: str
    hint: str | None = dataclasses.field(default=None, kw_only=True)

    def __post_init__(self) -> None:
        super().__init__(self.message)

    @property
    def details(self) -> dict[str, Any]:
        """The fields of this kind of error that are set (not ``message`` and ``hint``; a false flag is not set)."""
        return {
            f.name: value
            for f in dataclasses.fields(self)
            if f.name not in ("message", "hint") and (value := getattr(self, f.name)) not in (None, False)
        }

    def __str__(self) -> str:
        if not self.hint:
            return self.message
        message = self.message.rstrip(". ")
        separator = " " if message.endswith(("?", "!")) else ". "
        return f"{message}{separator}{self.hint[:1].upper()}{self.hint[1:]}"

    def __reduce__(self) -> tuple[Any, ...]:
        return (_rebuild, (type(self), {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}))


def _rebuild(cls: type[SsppError], values: dict[str, Any]) -> SsppError:
    return cls(**values)


@dataclass(eq=False, kw_only=True)
class UsageError(SsppError):
    """A command or function was called with arguments that cannot work together.

    ``field``/``value``: the setting at fault; ``dsn`` (masked), ``database``, ``kind``: what it named.
    """

    exit_code = ExitCode.USAGE

    field: str | None = None
    value: object = None
    dsn: str | None = None
    database: str | None = None
    kind: str | None = None


@dataclass(eq=False, kw_only=True)
class WriteError(SsppError):
    """A file could not be written (``errno`` says why); nothing was left behind."""

    errno: int | None = None


@dataclass(eq=False, kw_only=True)
class ScenarioError(SsppError):
    """A scenario (a file, or values given in code) is invalid.

    ``file``/``line``/``field``: where; ``value``/``allowed``/``total``: what was found and what is allowed;
    ``problems``: every problem of a file, each a dict with ``file``, ``line``, ``field`` and ``problem``.
    """

    file: str | None = None
    line: int | None = None
    field: str | None = None
    value: object = None
    allowed: Sequence[object] | None = None
    total: float | None = None
    problems: list[dict[str, Any]] | None = None


@dataclass(eq=False, kw_only=True)
class ServerUnavailableError(SsppError):
    """No PostgreSQL server could be provided: ``tried`` lists each way probed and why it failed; ``stderr`` and
    ``log`` hold what a server that failed to start printed; ``dsn`` (masked) the server that did not answer."""

    exit_code = ExitCode.UNREACHABLE

    tried: list[tuple[str, str]] | None = None
    stderr: str | None = None
    log: str | None = None
    dsn: str | None = None


@dataclass(eq=False, kw_only=True)
class ConnectionBudgetError(ServerUnavailableError):
    """The server has too few free connections for the run's xdist workers and the code under test:
    ``max_connections``, ``reserved`` and ``in_use`` (by other clients) as seen, ``workers`` and what each needs
    (``needed_per_worker``)."""

    max_connections: int | None = None
    reserved: int | None = None
    in_use: int | None = None
    workers: int | None = None
    needed_per_worker: int | None = None


@dataclass(eq=False, kw_only=True)
class DatabaseUnreachableError(SsppError):
    """A database named by a DSN did not accept a connection (host down, bad password, missing database).

    ``dsn`` is masked; ``missing_database``: the server is up but has no database of that name.
    """

    exit_code = ExitCode.UNREACHABLE

    dsn: str | None = None
    missing_database: bool = False


@dataclass(eq=False, kw_only=True)
class UnsafeTargetError(SsppError):
    """The target database holds data the tool did not create; destructive work was refused."""

    exit_code = ExitCode.UNSAFE_TARGET

    database: str | None = None
    tables: list[str] | None = None


@dataclass(eq=False, kw_only=True)
class MigrationError(SsppError):
    """A migration file is malformed or failed to apply (``version``, ``file``, the server's ``sqlstate``)."""

    exit_code = ExitCode.SCHEMA_CONFLICT

    version: int | None = None
    file: str | None = None
    sqlstate: str | None = None


class MigrationDriftError(MigrationError):
    """An already-applied migration was edited, or the database holds migrations this tool does not know."""


@dataclass(eq=False, kw_only=True)
class SchemaMismatchError(MigrationError):
    """A database holds part of what a pending migration makes, defined otherwise; nothing was changed.

    ``differences`` maps each such migration's label to its differences (missing column, other type, missing
    index...).
    """

    database: str | None = None
    differences: Mapping[str, Sequence[str]] | None = None


@dataclass(eq=False, kw_only=True)
class TemplateError(SsppError):
    """A template could not be built or waited for, or a test database could not be cloned from it or restored.

    ``holder_pid``: the process building the template that was waited for ``timeout_s``; ``reason``: why a
    database cannot be restored in place.
    """

    template: str | None = None
    database: str | None = None
    reason: str | None = None
    holder_pid: int | None = None
    timeout_s: float | None = None
    sqlstate: str | None = None


@dataclass(eq=False, kw_only=True)
class LoadError(SsppError):
    """Loading data failed; the load's transaction was rolled back and nothing was left behind."""

    exit_code = ExitCode.LOAD_FAILED

    database: str | None = None
    table: str | None = None
    column: str | None = None
    sqlstate: str | None = None


@dataclass(eq=False, kw_only=True)
class BackupError(SsppError):
    """A backup could not be written, or a backup file is missing, truncated, corrupt or without its manifest.

    Raised before the target database is touched, so nothing was changed. ``file``/``line``/``field``: where in
    the backup or its manifest.
    """

    file: str | None = None
    line: int | None = None
    field: str | None = None
    database: str | None = None


@dataclass(eq=False, kw_only=True)
class ClusterError(SsppError):
    """A Dask cluster could not be used: dask is not installed, or a chunk task failed on it for good.

    ``address`` (credentials masked): the scheduler, or ``local:N``; ``task``: the chunk task that failed.
    """

    address: str | None = None
    task: str | None = None


@dataclass(eq=False, kw_only=True)
class ClusterUnreachableError(ClusterError):
    """The Dask scheduler named by ``--dask`` did not answer, or a local cluster could not start."""

    exit_code = ExitCode.UNREACHABLE
