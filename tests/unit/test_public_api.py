"""The public API is the README's "Python API" table: each module's ``__all__`` is exactly its row."""

from __future__ import annotations

import importlib
import pkgutil
import re
from pathlib import Path

import pytest

import sspp_fixtures

ROOT = Path(__file__).resolve().parents[2]


def _documented() -> dict[str, list[str]]:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    section = text.split("## Python API", 1)[1].split("\n## ", 1)[0]
    rows = re.findall(r"^\| `(sspp_fixtures[\w.]*)` \| .*? \| (.*) \|$", section, re.MULTILINE)
    assert rows, "README.md has no Python API table"
    return {module: re.findall(r"`(\w+)`", names) for module, names in rows}


DOCUMENTED = _documented()


def test_every_public_module_has_a_row() -> None:
    modules = {"sspp_fixtures"} | {
        f"sspp_fixtures.{info.name}" for info in pkgutil.iter_modules(sspp_fixtures.__path__) if info.name[0] != "_"
    }
    assert set(DOCUMENTED) == modules


@pytest.mark.parametrize("module", sorted(DOCUMENTED))
def test_all_is_the_documented_row(module: str) -> None:
    imported = importlib.import_module(module)
    assert sorted(imported.__all__) == sorted(DOCUMENTED[module])
    assert len(set(imported.__all__)) == len(imported.__all__)
    for name in imported.__all__:
        assert hasattr(imported, name), f"{module}.{name} is documented but missing"
