"""A database holding objects the tool did not make, of any kind, is not "empty": `reset`, `restore` and `init`
refuse it (exit 4) naming the objects, and leave it as it was; `--force` still replaces it.

Each case is a database holding one object that is not a table (a sequence that counted to 1000, a function,
an enum...), which the tool once took for empty and dropped with ``DROP SCHEMA public CASCADE``.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from sspp_fixtures.doctor import run_doctor
from sspp_fixtures.dsn import connect
from sspp_fixtures.schema import init_database
from tests.hardening._cli import assert_refused
from tests.hardening._here import sspp_seed_here

MakeDb = Callable[..., str]

#: DDL of one object, the label the refusal must show, and a query proving the object is still there.
OBJECTS: dict[str, tuple[str, str, str]] = {
    "sequence": (
        "CREATE SEQUENCE hd_counter; SELECT setval('hd_counter', 1000)",
        "sequence public.hd_counter",
        "SELECT last_value = 1000 FROM hd_counter",
    ),
    "function": (
        "CREATE FUNCTION hd_answer(n integer) RETURNS integer LANGUAGE sql AS 'SELECT 42'",
        "function public.hd_answer(n integer)",
        "SELECT hd_answer(1) = 42",
    ),
    "procedure": (
        "CREATE PROCEDURE hd_proc() LANGUAGE sql AS 'SELECT 1'",
        "procedure public.hd_proc()",
        "SELECT to_regproc('hd_proc') IS NOT NULL",
    ),
    "enum": (
        "CREATE TYPE hd_mood AS ENUM ('calm', 'angry')",
        "enum public.hd_mood",
        "SELECT 'calm'::hd_mood IS NOT NULL",
    ),
    "domain": (
        "CREATE DOMAIN hd_positive AS integer CHECK (VALUE > 0)",
        "domain public.hd_positive",
        "SELECT 1::hd_positive = 1",
    ),
    "composite-type": (
        "CREATE TYPE hd_pair AS (a integer, b text)",
        "type public.hd_pair",
        "SELECT to_regtype('hd_pair') IS NOT NULL",
    ),
    "view": ("CREATE VIEW hd_view AS SELECT 1 AS one", "public.hd_view", "SELECT one = 1 FROM hd_view"),
    "materialized-view": (
        "CREATE MATERIALIZED VIEW hd_matview AS SELECT 1 AS one WITH NO DATA",
        "public.hd_matview",
        "SELECT to_regclass('hd_matview') IS NOT NULL",
    ),
    "extension": (
        "CREATE EXTENSION hstore",
        "extension hstore",
        "SELECT 'a=>1'::hstore IS NOT NULL",
    ),
    "bookkeeping-schema-table": (
        "CREATE SCHEMA sspp_meta; CREATE TABLE sspp_meta.hd_notes (note text)",
        "table sspp_meta.hd_notes",
        "SELECT to_regclass('sspp_meta.hd_notes') IS NOT NULL",
    ),
}


def _with_object(database_factory: MakeDb, case: str) -> str:
    dsn = database_factory("harden_data")
    with connect(dsn) as conn:
        conn.execute(OBJECTS[case][0])
    return dsn


def _still_there(dsn: str, case: str) -> bool:
    with connect(dsn) as conn:
        row = conn.execute(OBJECTS[case][2]).fetchone()
    return bool(row and row[0])


@pytest.fixture(autouse=True)
def _no_database_url(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("DATABASE_URL", raising=False)
    monkeypatch.delenv("SSPP_DEBUG", raising=False)


@pytest.mark.parametrize("case", sorted(OBJECTS))
def test_a_database_holding_any_object_is_refused_and_kept(
    database_factory: MakeDb, backup_file: Path, case: str
) -> None:
    dsn = _with_object(database_factory, case)
    for command in ("reset", "restore", "init"):  # a refusal leaves the database as it was: one serves all three
        args = ["restore", str(backup_file), "--dsn", dsn] if command == "restore" else [command, "--dsn", dsn]
        outcome = sspp_seed_here(*args)
        action = {"reset": "reset", "restore": "restore into", "init": "init"}[command]
        line = assert_refused(outcome, 4, f"refusing to {action} database", OBJECTS[case][1])
        assert "not marked as made by sspp-fixtures" in line
        assert _still_there(dsn, case), command


def test_refusal_lists_the_first_objects_and_counts_the_rest(database_factory: MakeDb) -> None:
    dsn = database_factory("harden_data")
    with connect(dsn) as conn:
        conn.execute("; ".join(f"CREATE SEQUENCE hd_seq_{n}" for n in range(7)))
    line = assert_refused(sspp_seed_here("reset", "--dsn", dsn), 4, "objects sspp-fixtures did not make")
    assert "(sequence public.hd_seq_0, sequence public.hd_seq_1," in line
    assert "and 2 more)" in line


def test_force_still_replaces_it(database_factory: MakeDb) -> None:
    dsn = _with_object(database_factory, "sequence")
    outcome = sspp_seed_here("reset", "--dsn", dsn, "--force")
    assert outcome.code == 0, outcome.stderr
    with connect(dsn) as conn:
        assert conn.execute("SELECT to_regclass('public.hd_counter')").fetchone() == (None,)


def test_what_the_tool_makes_is_not_foreign(database_factory: MakeDb) -> None:
    """A database holding only the SSPP schema (its tables' indexes, row types and bookkeeping), never marked,
    is still adopted: only what the tool did not make counts."""
    dsn = database_factory("harden_data")
    init_database(dsn)
    with connect(dsn) as conn:
        conn.execute("DELETE FROM sspp_meta.database_marker")
    outcome = sspp_seed_here("reset", "--dsn", dsn)
    assert outcome.code == 0, outcome.stderr


def test_an_extension_in_another_schema_with_nothing_here_is_not_in_the_way(database_factory: MakeDb) -> None:
    """Objects outside the replaced schemas (public, sspp_meta) survive a reset, so they do not block it."""
    dsn = database_factory("harden_data")
    with connect(dsn) as conn:
        conn.execute("CREATE SCHEMA hd_ext; CREATE EXTENSION hstore SCHEMA hd_ext")
    outcome = sspp_seed_here("reset", "--dsn", dsn)
    assert outcome.code == 0, outcome.stderr
    with connect(dsn) as conn:
        assert conn.execute("SELECT 'a=>1'::hd_ext.hstore IS NOT NULL").fetchone() == (True,)


def test_the_doctor_names_them_too(database_factory: MakeDb) -> None:
    """The doctor no longer calls such a database empty and suggests adopting it with init (which refuses)."""
    report = run_doctor(_with_object(database_factory, "sequence"), docker_timeout_s=0.1)
    marked = next(check for check in report.database or () if check.name == "marked")
    assert marked.status == "warn"
    assert "objects it did not make (sequence public.hd_counter)" in marked.detail
