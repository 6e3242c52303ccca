"""``sspp_db``: a psycopg connection that can put its database back to the seeded data mid-test."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, Protocol

import psycopg
from psycopg.rows import TupleRow

from ..errors import UsageError

__all__ = ["SsppConnection"]


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
