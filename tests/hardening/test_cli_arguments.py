"""Command-line arguments, hostile: the exit codes `sspp-seed --help` documents, one clear line, no traceback.

Usage mistakes exit 2 (click's convention, and the documented "2 usage"), whether click or the tool finds
them; a scenario that does not exist is a user error (1) with a "did you mean". Most cases run in-process
through ``run()`` (the same entry point as the console script); a few go through a real subprocess.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from sspp_fixtures.dsn import LIBPQ_TARGET_ENV
from tests.hardening._cli import PASSWORD, assert_refused, assert_usage, sspp_seed
from tests.hardening._here import sspp_seed_here

UNREACHABLE = f"postgresql://app:{PASSWORD}@127.0.0.1:1/sspp"


@pytest.fixture(autouse=True)
def _no_database_url(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.delenv("DATABASE_URL", raising=False)
    monkeypatch.delenv("SSPP_DEBUG", raising=False)
    for name in LIBPQ_TARGET_ENV:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("SSPP_FIXTURES_CACHE", str(tmp_path / "no-server-here"))  # a warm server would be used


def test_help_documents_the_exit_codes_these_tests_check() -> None:
    outcome = sspp_seed("--help")
    assert outcome.code == 0
    assert "Exit codes: 0 ok, 1 user error, 2 usage, 3 database unreachable" in " ".join(outcome.stdout.split())


@pytest.mark.parametrize(
    ("scale", "fragment"),
    [
        ("-1", "--scale -1: must be greater than 0 and finite"),
        ("0", "--scale 0: must be greater than 0 and finite"),
        ("-0.0", "--scale -0: must be greater than 0 and finite"),
        ("nan", "--scale nan: must be greater than 0 and finite"),
        ("inf", "--scale inf: must be greater than 0 and finite"),
        ("-inf", "--scale -inf: must be greater than 0 and finite"),
        ("1e308", "--scale 1e+308 makes more than 1e308 customers"),
        ("1e6", "--scale 1e+06 makes 60,000,000 customers and 1,200,000,000 events"),
    ],
)
@pytest.mark.parametrize("command", ["export", "load"])
def test_bad_scale_exits_2(tmp_path: Path, command: str, scale: str, fragment: str) -> None:
    target = ["--format", "sql", "--out", str(tmp_path / "x.sql")] if command == "export" else ["--dsn", UNREACHABLE]
    outcome = sspp_seed_here(command, "smoke", *target, "--scale", scale)
    assert_refused(outcome, 2, fragment)
    assert not (tmp_path / "x.sql").exists()


def test_scale_that_is_not_a_number_is_a_click_usage_error() -> None:
    outcome = sspp_seed_here("load", "smoke", "--dsn", UNREACHABLE, "--scale", "lots")
    assert_usage(outcome, "Invalid value for '--scale': 'lots' is not a valid float")


@pytest.mark.parametrize(
    ("args", "fragment"),
    [
        (["--seed", "-1"], "Invalid value for '--seed': -1 is not in the range x>=0"),
        (["--seed", "seven"], "Invalid value for '--seed': 'seven' is not a valid integer"),
        (["--workers", "65"], "Invalid value for '--workers': 65 is not in the range 0<=x<=64"),
        (["--workers", "-1"], "Invalid value for '--workers': -1 is not in the range 0<=x<=64"),
        (["--batch-rows", "5"], "Invalid value for '--batch-rows': 5 is not in the range 1000<=x<=10000000"),
        (["--bogus"], "No such option '--bogus'"),
        (["--scal", "2"], "No such option '--scal'. Did you mean '--scale'?"),
        (["--wait", "-5"], "Invalid value for '--wait': -5.0 is not in the range 0<=x<=3600"),
    ],
)
def test_bad_load_options_exit_2(args: list[str], fragment: str) -> None:
    outcome = sspp_seed_here("load", "smoke", "--dsn", UNREACHABLE, *args)
    assert_usage(outcome, fragment)


def test_an_option_missing_its_value_exits_2() -> None:
    outcome = sspp_seed_here("load", "smoke", "--dsn")
    assert_usage(outcome, "error: Option '--dsn' requires an argument", usage_line=False)


def test_huge_seed_is_a_usage_error(tmp_path: Path) -> None:
    outcome = sspp_seed_here("export", "smoke", "--format", "sql", "--out", str(tmp_path / "x.sql"), "--seed", "9" * 30)
    assert_refused(outcome, 2, f"--seed {'9' * 30}: out of range", "0 to 2**63-1")


@pytest.mark.parametrize(
    ("args", "fragment"),
    [
        (["export", "smoke", "--format", "xml", "--out", "x"], "'xml' is not one of 'csv', 'jsonl', 'sql'"),
        (["export", "smoke", "--format", "sql"], "Missing option '--out'"),
        (["load"], "Missing argument 'SCENARIO'"),
        (["scenarios", "validate"], "Missing argument 'FILES...'"),
        (["scenarios", "shwo", "demo"], "No such command 'shwo'"),
        (["lod", "smoke"], "No such command 'lod'"),
    ],
)
def test_usage_mistakes_exit_2(args: list[str], fragment: str) -> None:
    outcome = sspp_seed_here(*args)
    assert_usage(outcome, fragment)


def test_load_without_a_database_exits_2() -> None:
    assert_refused(
        sspp_seed_here("load", "smoke"),
        2,
        "no database given: no --dsn, $DATABASE_URL is not set, none of $PGSERVICE, $PGHOST",
        "own server is not running",
        "Pass --dsn URL, set DATABASE_URL, or start the tool's server with its database: sspp-seed demo --detach",
    )


@pytest.mark.parametrize(
    ("args", "fragment"),
    [
        (["load", "smok", "--dsn", UNREACHABLE], "unknown scenario 'smok' (did you mean 'smoke'?)"),
        (
            ["export", "demoo", "--format", "sql", "--out", "{tmp}/x.sql"],
            "unknown scenario 'demoo' (did you mean 'demo'?)",
        ),
        (["scenarios", "show", "lod-1m"], "unknown scenario 'lod-1m' (did you mean 'load-1m'?)"),
        (["demo", "--scenario", "smoek", "--dsn", UNREACHABLE], "unknown scenario 'smoek' (did you mean 'smoke'?)"),
        (["scenarios", "show", "./smoke.yml"], "does not exist (did you mean the built-in scenario 'smoke'?)"),
    ],
)
def test_unknown_scenario_names_exit_1_with_did_you_mean(tmp_path: Path, args: list[str], fragment: str) -> None:
    outcome = sspp_seed_here(*[a.replace("{tmp}", str(tmp_path)) for a in args])
    line = assert_refused(outcome, 1, fragment)
    assert "Built-in scenarios: demo, load-100k, load-10m, load-1m, sample, smoke" in line or "Check the path" in line
    assert not (tmp_path / "x.sql").exists()


@pytest.mark.parametrize(
    ("args", "code", "fragment"),
    [
        (["load", "smok", "--dsn", UNREACHABLE], 1, "(did you mean 'smoke'?)"),
        (
            ["load", "smoke", "--dsn", UNREACHABLE, "--scale", "inf"],
            2,
            "--scale inf: must be greater than 0 and finite",
        ),
        (["export", "demo", "--format", "sql", "--out", "{tmp}/never.sql", "--scale", "-3"], 2, "--scale -3"),
    ],
)
def test_the_same_through_a_real_process(tmp_path: Path, args: list[str], code: int, fragment: str) -> None:
    assert_refused(sspp_seed(*[a.replace("{tmp}", str(tmp_path)) for a in args]), code, fragment)
    assert list(tmp_path.iterdir()) == []


def test_click_usage_errors_through_a_real_process() -> None:
    outcome = sspp_seed("load", "smoke", "--dsn", UNREACHABLE, "--workers", "1000")
    assert_usage(outcome, "Invalid value for '--workers': 1000 is not in the range 0<=x<=64")
    assert PASSWORD not in outcome.output
