"""How a failed load explains a lost connection: TCP's bound said so (the server stopped answering), or not."""

from __future__ import annotations

import time
from typing import Any, cast

import psycopg
import pytest

from sspp_fixtures._load_common import LoadReport, copy_waits_noted, explain_failure

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


def _failed_copy(bound_s: float | None, waited_s: float) -> psycopg.OperationalError:
    """The error a COPY in ``copy_waits_noted(bound_s)`` raises after ``waited_s``: what libpq says when the send
    that timed out was not the call that reported the loss."""
    try:
        with copy_waits_noted(bound_s):
            time.sleep(waited_s)
            raise psycopg.OperationalError("error sending copy data: server closed the connection unexpectedly")
    except psycopg.OperationalError as exc:
        return exc
    raise AssertionError("unreachable")


def test_a_copy_that_waited_out_tcps_bound_says_the_server_stopped_answering() -> None:
    line = _failure(_failed_copy(bound_s=0.05, waited_s=0.06))
    assert "stopped answering: it acknowledged nothing for 3s during the load (30,000 customers sent)" in line


@pytest.mark.parametrize("bound_s", [5.0, None])
def test_a_copy_that_failed_sooner_or_without_a_bound_lost_its_connection(bound_s: float | None) -> None:
    line = _failure(_failed_copy(bound_s=bound_s, waited_s=0.0))
    assert line.startswith("lost the connection to postgresql://loader:***@db.example:5432/sales")
    assert "stopped answering" not in line


def test_errors_that_are_not_about_the_connection_pass_unnoted() -> None:
    with pytest.raises(psycopg.errors.UniqueViolation) as raised, copy_waits_noted(0.0):
        raise psycopg.errors.UniqueViolation("duplicate key value violates unique constraint")
    assert not getattr(raised.value, "__notes__", None)
