"""``sspp-seed report`` on the command line: a scenario's preview without a database, and the errors that say
what is missing."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

pytest.importorskip("matplotlib", reason="the report extra is not installed: pip install 'sspp-fixtures[report]'")

from sspp_fixtures.report._draw import CHART_TITLES
from tests.fix_cli import cli_here


def test_a_scenario_is_previewed_without_a_database(tmp_path: Path) -> None:
    out, png_dir = tmp_path / "preview.html", tmp_path / "slides"
    result = cli_here(
        "report", "smoke", "--out", str(out), "--png", str(png_dir), "--json", unset=["DATABASE_URL", "PGDATABASE"]
    )
    assert result.returncode == 0, result.stderr
    summary = json.loads(result.stdout)
    assert (summary["scenario"], summary["source"], summary["flags"]) == ("smoke", "preview", 0)
    assert sorted(summary["png"]) == sorted(str(png_dir / f"{key}.png") for key in CHART_TITLES)
    assert all((png_dir / f"{key}.png").read_bytes().startswith(b"\x89PNG") for key in CHART_TITLES)
    page = out.read_text(encoding="utf-8")
    for key in CHART_TITLES:
        assert f'id="chart-{key}"' in page
    assert "actual (database)" not in page  # nothing to compare: only what the scenario asks for is drawn
    assert "load it and report on the database to compare" in page


def test_a_database_that_records_no_scenario_needs_one_named(empty_db: str, tmp_path: Path) -> None:
    result = cli_here("report", "--dsn", empty_db, "--out", str(tmp_path / "r.html"))
    assert result.returncode == 2
    assert "does not record which scenario it holds" in result.stderr
    assert "sspp-seed report SCENARIO --dsn URL" in result.stderr


def test_a_database_without_the_tables_says_to_load_it(empty_db: str, tmp_path: Path) -> None:
    result = cli_here("report", "smoke", "--dsn", empty_db, "--out", str(tmp_path / "r.html"))
    assert result.returncode == 5
    assert "nothing to report on" in result.stderr
    assert "sspp-seed load SCENARIO" in result.stderr
    assert not (tmp_path / "r.html").exists()


def test_a_scenario_of_stories_only_previews_without_a_warning(tmp_path: Path) -> None:
    """No generated events: nothing to expect of hours, lag or scores, and no empty legend (warnings are errors)."""
    scenario = tmp_path / "stories-only.yaml"
    scenario.write_text("name: stories-only\nextends: demo\ncustomers: 10\nevents: 0\n", encoding="utf-8")
    result = cli_here("report", str(scenario), "--out", str(tmp_path / "r.html"), "--json")
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["flags"] == 0
