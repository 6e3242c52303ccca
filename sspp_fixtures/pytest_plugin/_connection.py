"""``sspp_db``: a psycopg connection that can put its database back to the seeded data mid-test."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, Protocol

import psycopg
from psycopg.rows import TupleRow

from ..errors import UsageError

__all__ = ["SESSION_RESET", "RolledBackTest", "SsppConnection"]

#: Undoes what a test can leave on a kept session: settings and role, cursors, listens, advisory locks, temp tables.
SESSION_RESET = (
    b"SET SESSION AUTHORIZATION DEFAULT; RESET ALL; CLOSE ALL; UNLISTEN *; SELECT pg_advisory_unlock_all(); "
    b"DISCARD TEMP"
)


class _Restorer(Protocol):
    spec: Any

    def restore_keeping(self, conn: psycopg.Connection[Any]) -> None: ...


class SsppConnection(psycopg.Connection[TupleRow]):
    """A psycopg connection to a test's database, with :meth:`restoring` for Hypothesis examples."""

    _sspp_restorer: _Restorer | None = None

    def bind_restore(self, restorer: _Restorer) -> None:
        self._sspp_restorer = restorer

    @contextmanager
    def restoring(self) -> Iterator[SsppConnection]:
        """Run the block, then put the seeded data back, so the next block (example) starts from it.

        Function-scoped fixtures are not reset between Hypothesis examples; wrap each example's body in this.
        With isolation 'transaction' the block runs in a savepoint that is rolled back.
        """
        restorer = self._sspp_restorer
        if restorer is None:
            raise UsageError("restoring() works on the sspp_db fixture's connection only")
        if restorer.spec.isolation == "transaction":
            with self.transaction(force_rollback=True):
                yield self
            return
        try:
            yield self
        finally:
            if not self.closed:
                self.rollback()
            restorer.restore_keeping(self)


class RolledBackTest(psycopg.Transaction):
    """The transaction around an ``isolation='transaction'`` test: always rolled back, and the session reset
    in the same round trip as the ``ROLLBACK`` (one message of several statements), so a test costs two
    round trips in all: ``BEGIN`` before it and this after it.
    """

    def __init__(self, connection: psycopg.Connection[Any]) -> None:
        super().__init__(connection, None, force_rollback=True)

    def _get_rollback_commands(self) -> Iterator[bytes]:
        for command in super()._get_rollback_commands():
            yield command + b"; " + SESSION_RESET if command == b"ROLLBACK" else command
