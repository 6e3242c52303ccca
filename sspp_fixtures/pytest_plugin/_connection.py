"""``sspp_db``: a psycopg connection that can put its database back to the seeded data mid-test."""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from types import TracebackType
from typing import Any

import psycopg
from psycopg.rows import TupleRow

from ..errors import UsageError

__all__ = ["SESSION_RESET", "RolledBackTest", "SsppConnection"]

#: Undoes what a test can leave on a kept session: settings and role, cursors, listens, advisory locks, temp tables.
SESSION_RESET = (
    b"SET SESSION AUTHORIZATION DEFAULT; RESET ALL; CLOSE ALL; UNLISTEN *; SELECT pg_advisory_unlock_all(); "
    b"DISCARD TEMP"
)


class SsppConnection(psycopg.Connection[TupleRow]):
    """A psycopg connection to a test's database, with :meth:`restoring` for Hypothesis examples."""

    _sspp_restoring: Callable[[], AbstractContextManager[None]] | None = None

    def bind_restore(self, restoring: Callable[[], AbstractContextManager[None]]) -> None:
        """What :meth:`restoring` wraps a block in (given by the test's isolation mode)."""
        self._sspp_restoring = restoring

    @contextmanager
    def restoring(self) -> Iterator[SsppConnection]:
        """Run the block, then put the seeded data back, so the next block (example) starts from it.

        Function-scoped fixtures are not reset between Hypothesis examples; wrap each example's body in this.
        With isolation 'transaction' the block runs in a savepoint that is rolled back.
        """
        if self._sspp_restoring is None:
            raise UsageError("restoring() works on the sspp_db fixture's connection only")
        with self._sspp_restoring():
            yield self


class RolledBackTest(psycopg.Transaction):
    """The transaction around an ``isolation='transaction'`` test: always rolled back (``commit()`` inside it
    refuses), and the kept session reset in the same round trip as the ``ROLLBACK``; with the ``BEGIN`` before
    the test, two round trips in all, as many as a hand-written rollback's.

    psycopg's own exit sends the ``BEGIN``'s ``ROLLBACK`` as a command that must return one result; the
    ``ROLLBACK; <reset>`` message returns one per statement, so it goes through a cursor after psycopg's exit
    (sent as psycopg's command it was rejected and only logged: measured 0.97 ms a test, 0.54 hand-written).
    """

    def __init__(self, connection: psycopg.Connection[Any]) -> None:
        super().__init__(connection, None, force_rollback=True)

    def _get_rollback_commands(self) -> Iterator[bytes]:
        for command in super()._get_rollback_commands():
            if command != b"ROLLBACK":  # sent with the reset by __exit__
                yield command

    def __exit__(
        self, exc_type: type[BaseException] | None, exc_val: BaseException | None, exc_tb: TracebackType | None
    ) -> bool:
        try:
            return super().__exit__(exc_type, exc_val, exc_tb)
        finally:
            conn = self.connection
            if not (conn.closed or conn.broken):
                with contextlib.suppress(psycopg.Error):  # then it is broken: the next test gets a new one
                    conn.execute(_ROLLBACK_AND_RESET)


_ROLLBACK_AND_RESET = b"ROLLBACK; " + SESSION_RESET
