"""How a failed load explains a lost connection: TCP's bound said so (the server stopped answering), or not."""

from __future__ import annotations

from typing import Any, cast

import psycopg
import pytest

from sspp_fixtures._load_common import LoadReport, explain_failure

DSN = "postgresql://loader:s3cret@db.example:5432/sales?tcp_user_timeout=3000"


def _failure(raised: BaseException) -> str:
    report = LoadReport(database="sales", scenario="load-1m", seed=1, fingerprint="f", workers=1)
    report.rows["customers"] = 30_000
    # Neither message looks at the connection (only a lock timeout asks it who holds the locks).
    return str(explain_failure(cast(psycopg.Error, raised), report, DSN, cast(Any, None)))


def _raised_while_handling(first: BaseException, then: BaseException) -> BaseException:
    """``then`` as Python leaves it when raised in an ``except`` block of ``first`` (its ``__context__``)."""
    try:
        try:
            raise first
        except BaseException:
            raise then  # noqa: B904 - the implicit chaining psycopg leaves is what is tested
    except BaseException as exc:
        return exc
    raise AssertionError("unreachable")


def test_a_send_that_timed_out_says_the_server_stopped_answering() -> None:
    line = _failure(psycopg.OperationalError("error sending copy data: Connection timed out"))
    assert "stopped answering: it acknowledged nothing for 3s" in line
    assert "s3cret" not in line


def test_the_timeout_is_found_behind_the_error_that_ended_the_copy() -> None:
    ended = _raised_while_handling(
        psycopg.OperationalError("error sending copy data: Connection timed out"),
        psycopg.OperationalError("consuming input failed: server closed the connection unexpectedly"),
    )
    line = _failure(ended)
    assert "stopped answering: it acknowledged nothing for 3s during the load (30,000 customers sent)" in line


@pytest.mark.parametrize("message", ["server closed the connection unexpectedly", "connection refused"])
def test_a_connection_lost_without_a_timeout_says_so(message: str) -> None:
    line = _failure(_raised_while_handling(ValueError("unrelated"), psycopg.OperationalError(message)))
    assert line.startswith("lost the connection to postgresql://loader:***@db.example:5432/sales")
    assert "stopped answering" not in line
