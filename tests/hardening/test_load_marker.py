"""A load changes the database's marker only in its own transaction: one that does not complete leaves the
marker saying what the database still holds."""

from __future__ import annotations

import pytest

from sspp_fixtures.dsn import connect
from sspp_fixtures.loader import load_scenario_into
from sspp_fixtures.scenarios import load_scenario
from sspp_fixtures.schema import load_purpose, read_marker


class _Interrupted(Exception):
    """Stands for Ctrl-C or a lost connection once the load's transaction has begun."""


def _interrupt_at_copy(phase: str, _rows: int) -> None:
    if phase == "phase:copy":
        raise _Interrupted


def test_an_interrupted_load_leaves_the_marker_of_the_data_still_there(empty_db: str) -> None:
    smoke = load_scenario("smoke")
    load_scenario_into(empty_db, smoke, workers=0)
    with connect(empty_db) as conn:
        before = read_marker(conn)
        counts = conn.execute("SELECT count(*) FROM events").fetchone()
    assert before is not None
    assert before.purpose == load_purpose("smoke", smoke.seed)
    with pytest.raises(_Interrupted):
        load_scenario_into(empty_db, smoke.with_overrides(seed=smoke.seed + 1), workers=0, progress=_interrupt_at_copy)
    with connect(empty_db) as conn:
        assert read_marker(conn) == before  # purpose, version and time: untouched
        assert conn.execute("SELECT count(*) FROM events").fetchone() == counts


def test_a_first_load_that_fails_leaves_no_marker(empty_db: str) -> None:
    """An empty database gets its schema before the load; its marker comes with the load's commit, so a load
    that never commits leaves it unmarked (and, holding only the empty SSPP tables, still usable)."""
    with pytest.raises(_Interrupted):
        load_scenario_into(empty_db, load_scenario("smoke"), workers=0, progress=_interrupt_at_copy)
    with connect(empty_db) as conn:
        assert read_marker(conn) is None
    report = load_scenario_into(empty_db, load_scenario("smoke"), workers=0)
    assert report.total_rows > 0
    with connect(empty_db) as conn:
        marker = read_marker(conn)
    assert marker is not None
    assert marker.purpose == load_purpose("smoke", load_scenario("smoke").seed)
