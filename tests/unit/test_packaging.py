"""An installed wheel carries what a source checkout has: migrations, init.sql, scenarios, py.typed."""

from __future__ import annotations

import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.slow
def test_wheel_holds_the_sql_and_the_console_script(tmp_path: Path) -> None:
    built = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--quiet", "-w", str(tmp_path), str(ROOT)],
        capture_output=True,
        text=True,
        check=False,
        timeout=300,
    )
    assert built.returncode == 0, built.stderr
    (wheel,) = tmp_path.glob("sspp_fixtures-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    for migration in (ROOT / "sql" / "migrations").glob("*.sql"):
        assert f"sspp_fixtures/_sql/migrations/{migration.name}" in names
    assert "sspp_fixtures/_sql/init.sql" in names
    assert "sspp_fixtures/py.typed" in names
    entry_points = next(n for n in names if n.endswith(".dist-info/entry_points.txt"))
    assert "sspp-seed = sspp_fixtures.cli:main" in zipfile.ZipFile(wheel).read(entry_points).decode()
