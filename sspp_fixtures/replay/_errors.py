"""Errors of the replay sinks: rooted in :class:`~sspp_fixtures.errors.SsppError`, messages masked by the caller."""

from __future__ import annotations

from ..errors import ExitCode, SsppError

__all__ = ["QueueError", "QueueUnreachableError", "SinkError"]


class QueueUnreachableError(SsppError):
    """Redis (or the API) did not answer, or refused the credentials."""

    exit_code = ExitCode.UNREACHABLE


class QueueError(SsppError):
    """Redis answered but cannot take the jobs (read-only replica, out of memory, disk errors)."""


class SinkError(SsppError):
    """Events could not be delivered and were not retried further; ``details`` say how many and why."""

    exit_code = ExitCode.LOAD_FAILED
