"""``sspp_db``: a psycopg connection that can put its database back to the seeded data mid-test."""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from types import TracebackType

import psycopg
from psycopg.rows import TupleRow

from ..errors import UsageError
from ..templates._reuse import ROLLED_BACK, UNMARKED

__all__ = ["ROLLBACK_OPTIONS", "SESSION_RESET", "RolledBackTest", "SsppConnection"]

#: Undoes what a test can leave on a kept session: settings and role, cursors, listens, advisory locks, temp tables.
SESSION_RESET = (
    b"SET SESSION AUTHORIZATION DEFAULT; RESET ALL; CLOSE ALL; UNLISTEN *; SELECT pg_advisory_unlock_all(); "
    b"DISCARD TEMP"
)


#: The session setting of a connection whose transactions are all rolled back (isolation 'transaction'): the reuse
#: machinery's triggers mark none of its writes (measured on a clone, five writes: 0.18 ms a test with the marks);
#: one that is committed all the same sets :data:`UNMARKED`, which the teardown reads. RESET ALL keeps it (a
#: startup option is the session's default).
ROLLBACK_OPTIONS = {ROLLED_BACK: "on"}


class SsppConnection(psycopg.Connection[TupleRow]):
    """A psycopg connection to a test's database, with :meth:`restoring` for Hypothesis examples."""

    _sspp_restoring: Callable[[], AbstractContextManager[None]] | None = None
    #: Set while an ``isolation='transaction'`` test runs: ``commit()`` and ``rollback()`` refuse.
    _sspp_rolled_back: bool = False

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

    def commit(self) -> None:
        self._refuse_in_rolled_back_test("commit")
        super().commit()

    def rollback(self) -> None:
        self._refuse_in_rolled_back_test("rollback")
        super().rollback()

    def _refuse_in_rolled_back_test(self, what: str) -> None:
        if self._sspp_rolled_back:
            raise psycopg.ProgrammingError(
                f"{what}() is refused with isolation='transaction': the test runs in one transaction that is rolled "
                "back after it (use 'with sspp_db.transaction():' for a savepoint, or isolation='database')"
            )


class RolledBackTest:
    """The transaction around an ``isolation='transaction'`` test on a kept autocommit connection: rolled back
    after the test, and the session reset, in one message.

    ``begin_ahead``: that message also opens the next test's transaction (``ROLLBACK; <reset>; BEGIN``), so a test
    costs one round trip in all, against two for a hand-written fixture (``BEGIN`` sent by the test's first
    statement, ``ROLLBACK`` after it). Only where the server has no ``idle_in_transaction_session_timeout``:
    between two tests the connection is idle in that transaction. Otherwise ``BEGIN`` is sent before the test.

    The open transaction is what keeps the test inside it: psycopg makes ``transaction()`` blocks savepoints and
    refuses to switch autocommit off, and the connection refuses ``commit()`` and ``rollback()``. On a connection
    started with :data:`ROLLBACK_OPTIONS` the reuse machinery marks no write for a restore; ``escaped`` says,
    after the block, that the test committed some all the same (a raw ``COMMIT``): its database must then be put
    back whole.
    """

    def __init__(self, conn: SsppConnection, *, begin_ahead: bool) -> None:
        self.conn = conn
        self.begin_ahead = begin_ahead
        self.escaped = False

    def __enter__(self) -> SsppConnection:
        if self.conn.info.transaction_status == psycopg.pq.TransactionStatus.IDLE:
            self.conn.execute(_BEGIN, prepare=False)
        self.conn._sspp_rolled_back = True
        return self.conn

    def __exit__(
        self, exc_type: type[BaseException] | None, exc_val: BaseException | None, exc_tb: TracebackType | None
    ) -> None:
        conn = self.conn
        conn._sspp_rolled_back = False
        if not (conn.closed or conn.broken):
            with contextlib.suppress(psycopg.Error):  # then it is broken: the next test gets a new one
                cur = conn.execute(_ROLLBACK_RESET_BEGIN if self.begin_ahead else _ROLLBACK_RESET, prepare=False)
                cur.nextset()  # the unmarked-writes check, after the ROLLBACK
                row = cur.fetchone()
                self.escaped = row is not None and row[0] == "on"
            _forget_statements(conn)


def _forget_statements(conn: SsppConnection) -> None:
    """What psycopg's own ``rollback()`` does after its ROLLBACK: forget how often each statement ran. Else the
    counts add up across tests, and every few tests a statement reaches ``prepare_threshold``, is prepared (a round
    trip) and deallocated by the next ROLLBACK (another): a hand-written ``rollback()`` per test never prepares a
    statement run fewer times than that in one test. (Statements prepared in the test are deallocated already:
    psycopg does it when it sees the ROLLBACK.)"""
    prepared = getattr(conn, "_prepared", None)  # psycopg's statement cache: no public way to reset its counts
    if prepared is not None:
        prepared.clear()


_BEGIN = b"BEGIN"
#: The reset, with the check of the session setting a write unmarked under ROLLED_BACK leaves only when its
#: transaction committed (``on``) put in the advisory-lock statement's row: after the ROLLBACK, before RESET ALL.
_ROLLBACK_RESET = (
    f"ROLLBACK; SELECT pg_catalog.current_setting('{UNMARKED}', true), pg_catalog.pg_advisory_unlock_all(); "
    "SET SESSION AUTHORIZATION DEFAULT; RESET ALL; CLOSE ALL; UNLISTEN *; DISCARD TEMP"
).encode()
#: After a BEGIN in a multi-statement message the statements before it join the new transaction: harmless here,
#: they only reset what the ROLLBACK already undid or what is not transactional (advisory locks).
_ROLLBACK_RESET_BEGIN = _ROLLBACK_RESET + b"; " + _BEGIN
