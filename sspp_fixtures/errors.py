"""The one exception tree of sspp-fixtures.

Every error a user can cause or meet derives from :class:`SsppError`. Each carries a message that says what
was wrong and where, a ``hint`` that says what to do, and the process exit code the CLI returns for it.
Errors keep their details as fields (file, line, table, what was tried) and survive pickling, so they cross
process boundaries (xdist workers, generator processes) intact.
"""

from __future__ import annotations

from typing import Any, ClassVar

__all__ = [
    "BackupError",
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


class SsppError(Exception):
    """Base of every error sspp-fixtures raises on purpose."""

    exit_code: ClassVar[int] = ExitCode.USER_ERROR

    def __init__(self, message: str, *, hint: str | None = None, **details: Any) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint
        self.details: dict[str, Any] = details

    def __str__(self) -> str:
        if not self.hint:
            return self.message
        message = self.message.rstrip(". ")
        separator = " " if message.endswith(("?", "!")) else ". "
        return f"{message}{separator}{self.hint[:1].upper()}{self.hint[1:]}"

    def __reduce__(self) -> tuple[Any, ...]:
        return (_rebuild, (type(self), self.message, self.hint, self.details))


def _rebuild(cls: type[SsppError], message: str, hint: str | None, details: dict[str, Any]) -> SsppError:
    error = cls.__new__(cls)
    SsppError.__init__(error, message, hint=hint, **details)
    return error


class UsageError(SsppError):
    """A command was called with arguments that cannot work together."""

    exit_code = ExitCode.USAGE


class ScenarioError(SsppError):
    """A scenario file is invalid: ``details`` hold ``file``, ``line`` and ``field``."""


class ServerUnavailableError(SsppError):
    """No PostgreSQL server could be provided; ``details['tried']`` lists what was probed and why it failed."""

    exit_code = ExitCode.UNREACHABLE


class ConnectionBudgetError(ServerUnavailableError):
    """The server has too few free connections for the run's xdist workers and the code under test; ``details``
    hold ``max_connections``, ``reserved``, ``in_use``, ``needed_per_worker`` and ``workers``."""


class DatabaseUnreachableError(SsppError):
    """A database named by a DSN did not accept a connection (host down, bad password, missing database)."""

    exit_code = ExitCode.UNREACHABLE


class UnsafeTargetError(SsppError):
    """The target database holds data the tool did not create; destructive work was refused."""

    exit_code = ExitCode.UNSAFE_TARGET


class MigrationError(SsppError):
    """A migration file is malformed or failed to apply."""

    exit_code = ExitCode.SCHEMA_CONFLICT


class MigrationDriftError(MigrationError):
    """An already-applied migration was edited, or the database holds migrations this tool does not know."""


class SchemaMismatchError(MigrationError):
    """A database holds part of what a pending migration makes, defined otherwise; nothing was changed.

    ``details['differences']`` maps each such migration's label to its differences (missing column, other type,
    missing index...).
    """


class TemplateError(SsppError):
    """A template could not be built or waited for, or a test database could not be cloned from it."""


class LoadError(SsppError):
    """Loading data failed; the load's transaction was rolled back and nothing was left behind."""

    exit_code = ExitCode.LOAD_FAILED


class BackupError(SsppError):
    """A backup could not be written, or a backup file is missing, truncated, corrupt or without its manifest.

    Raised before the target database is touched, so nothing was changed.
    """
