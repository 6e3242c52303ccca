"""The row cache: a second load of a scenario reads the rows an earlier one kept, the same bytes the generator
makes; a damaged, torn or abandoned entry never changes what is sent; the budget holds."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from sspp_fixtures._load_common import expected_table_rows
from sspp_fixtures._paths import cache_dir
from sspp_fixtures.bulkgen import Piece, generate, scenario_locales
from sspp_fixtures.bulkgen import _row_cache as row_cache
from sspp_fixtures.bulkgen._row_cache import ROW_CACHE_ENV, scenario_rows
from sspp_fixtures.bulkgen._string_pool_cache import ensure_pools
from sspp_fixtures.loader import load_scenario_into
from sspp_fixtures.scenarios import Scenario, load_scenario
from tests.db.test_load import checksums
from tests.fix_db import run_cli

MakeDb = Callable[..., str]
_BATCH = 1000  # many pieces from a small scenario


@pytest.fixture
def cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A row cache of its own, with the default budget, that keeps even small scenarios."""
    folder = tmp_path / "rows"
    monkeypatch.setattr(row_cache, "row_cache_dir", lambda: folder)
    monkeypatch.delenv(ROW_CACHE_ENV, raising=False)
    monkeypatch.setattr(row_cache, "CACHE_FROM_ROWS", 0)
    return folder


def _cache_beside_the_pools(tmp_path: Path) -> Path:
    """A cache folder for a subprocess: rows of its own, the Faker pools the session's (built once)."""
    ensure_pools(scenario_locales(load_scenario("demo")))
    folder = tmp_path / "cache"
    folder.mkdir()
    (folder / "pools").symlink_to(cache_dir() / "pools")
    return folder


def _smoke(seed: int = 7) -> Scenario:
    return load_scenario("smoke").with_overrides(seed=seed)


def _made(scenario: Scenario) -> list[Piece]:
    return list(generate(scenario, "copy-binary", workers=0, batch_rows=_BATCH))


def _rows(scenario: Scenario, *, use_cache: bool = True, expected_rows: int | None = None) -> tuple[list[Piece], bool]:
    expected = sum(expected_table_rows(scenario).values()) if expected_rows is None else expected_rows
    source = scenario_rows(
        scenario, "copy-binary", workers=0, batch_rows=_BATCH, expected_rows=expected, use_cache=use_cache
    )
    return list(source.pieces), source.from_cache


def _entries(cache: Path) -> list[Path]:
    return sorted(cache.glob("*.rows")) if cache.exists() else []


def test_a_second_read_gives_the_generators_pieces_from_the_kept_file(cache: Path) -> None:
    scenario = _smoke()
    expected = _made(scenario)
    assert len(expected) > 5
    first, first_cached = _rows(scenario)
    second, second_cached = _rows(scenario)
    assert (first_cached, second_cached) == (False, True)
    assert first == expected
    assert second == expected
    assert len(_entries(cache)) == 1
    assert not list(cache.glob("*.tmp"))


def test_another_seed_scale_wire_or_batch_size_is_another_entry(cache: Path) -> None:
    _rows(_smoke())
    assert _rows(_smoke(seed=8))[1] is False
    assert _rows(_smoke().with_overrides(scale=0.5))[1] is False
    source = scenario_rows(_smoke(), "copy", workers=0, batch_rows=_BATCH, expected_rows=2_700)
    assert source.from_cache is False
    assert list(source.pieces) == list(generate(_smoke(), "copy", workers=0, batch_rows=_BATCH))
    assert len(_entries(cache)) == 4


def test_a_damaged_piece_is_made_again_and_the_entry_removed(cache: Path) -> None:
    scenario = _smoke()
    expected = _made(scenario)
    _rows(scenario)
    (entry,) = _entries(cache)
    data = bytearray(entry.read_bytes())
    data[len(data) // 2] ^= 0xFF
    entry.write_bytes(bytes(data))
    pieces, from_cache = _rows(scenario)
    assert from_cache is True  # the pieces before the damage came from the file
    assert pieces == expected
    assert not entry.exists()
    assert _rows(scenario) == (expected, False)  # made and kept again
    assert _rows(scenario) == (expected, True)


def test_a_torn_entry_is_not_read(cache: Path) -> None:
    scenario = _smoke()
    expected = _made(scenario)
    _rows(scenario)
    (entry,) = _entries(cache)
    entry.write_bytes(entry.read_bytes()[:-10])
    assert _rows(scenario) == (expected, False)
    assert _rows(scenario) == (expected, True)


def test_a_load_that_stops_early_keeps_nothing(cache: Path) -> None:
    source = scenario_rows(_smoke(), "copy-binary", workers=0, batch_rows=_BATCH, expected_rows=2_700)
    next(source.pieces)
    next(source.pieces)
    source.pieces.close()
    assert _entries(cache) == []
    assert list(cache.iterdir()) == []


def test_what_a_killed_writer_left_is_swept(cache: Path) -> None:
    cache.mkdir(parents=True)
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    left = cache / f"writing-{dead.pid}-abc123.tmp"
    left.write_bytes(b"half")
    _rows(_smoke())
    assert not left.exists()


def test_the_budget_keeps_the_most_recently_used(cache: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _rows(_smoke(seed=1))
    _rows(_smoke(seed=2))
    older, newer = sorted(_entries(cache), key=lambda p: p.stat().st_mtime)
    os.utime(older, (1, 1))
    os.utime(newer, (2, 2))
    assert _rows(_smoke(seed=1))[1] is True  # a read makes an entry the most recently used
    monkeypatch.setattr(row_cache, "row_cache_budget", lambda: older.stat().st_size * 5 // 2)
    _rows(_smoke(seed=3))
    assert older.exists()
    assert not newer.exists()
    assert len(_entries(cache)) == 2


def test_nothing_is_kept_over_the_budget_or_with_the_cache_off(cache: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    expected = _made(_smoke())
    real_budget = row_cache.row_cache_budget
    monkeypatch.setattr(row_cache, "row_cache_budget", lambda: 10_000)
    assert _rows(_smoke(), expected_rows=1) == (expected, False)  # written, then dropped at 10 kB
    assert _entries(cache) == []
    assert not list(cache.glob("*.tmp"))
    monkeypatch.setattr(row_cache, "row_cache_budget", real_budget)
    monkeypatch.setenv(ROW_CACHE_ENV, "0")
    assert _rows(_smoke()) == (expected, False)
    monkeypatch.delenv(ROW_CACHE_ENV)
    assert _rows(_smoke(), use_cache=False) == (expected, False)
    assert _entries(cache) == []


def test_a_scenario_too_large_for_the_budget_writes_nothing(cache: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(ROW_CACHE_ENV, "1")
    source = scenario_rows(_smoke(), "copy-binary", workers=0, batch_rows=_BATCH, expected_rows=10_000)
    next(source.pieces)
    assert not cache.exists()  # not even a temporary file: 10k rows cannot fit in 1 MB
    assert list(source.pieces)
    assert not cache.exists()


def test_small_scenarios_are_not_kept(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    cache = tmp_path / "rows"
    monkeypatch.setattr(row_cache, "row_cache_dir", lambda: cache)
    monkeypatch.delenv(ROW_CACHE_ENV, raising=False)
    source = scenario_rows(_smoke(), "copy-binary", workers=0, batch_rows=_BATCH, expected_rows=99_999)
    list(source.pieces)
    assert not cache.exists()


def test_loads_from_the_cache_hold_the_same_tables(cache: Path, database_factory: MakeDb) -> None:
    scenario = load_scenario("demo").with_overrides(scale=0.3)
    made, one, two = database_factory("made"), database_factory("one"), database_factory("two")
    first = load_scenario_into(made, scenario, connections=1)
    from_one = load_scenario_into(one, scenario, connections=1)
    from_two = load_scenario_into(two, scenario, connections=2)
    assert [r.rows_from_cache for r in (first, from_one, from_two)] == [False, True, True]
    assert from_one.workers == 0
    assert from_one.rows == first.rows == from_two.rows
    assert checksums(made) == checksums(one) == checksums(two)


def test_the_cli_says_where_the_rows_came_from(tmp_path: Path, database_factory: MakeDb) -> None:
    dsn = database_factory()
    env = {"SSPP_FIXTURES_CACHE": str(_cache_beside_the_pools(tmp_path)), ROW_CACHE_ENV: ""}
    made = run_cli("load", "demo", "--dsn", dsn, "--json", env=env)
    kept = run_cli("load", "demo", "--dsn", dsn, env=env)
    again = run_cli("load", "demo", "--dsn", dsn, "--json", "--no-row-cache", env=env)
    assert [r.returncode for r in (made, kept, again)] == [0, 0, 0], [r.stderr for r in (made, kept, again)]
    assert json.loads(made.stdout)["rows_from_cache"] is False
    assert "rows read from the row cache" in kept.stdout
    assert json.loads(again.stdout)["rows_from_cache"] is False
    bad = run_cli("load", "demo", "--dsn", dsn, env={**env, ROW_CACHE_ENV: "lots"})
    assert bad.returncode == 2
    assert f"{ROW_CACHE_ENV}='lots' is not a number of megabytes" in bad.stderr
    assert "Traceback" not in bad.stderr
