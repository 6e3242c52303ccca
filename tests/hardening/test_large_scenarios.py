"""A scenario document far larger than any scenario is refused for that reason, early, and alias bombs for theirs.

A mapping of 100,000 keys once took 29 s and 227 MB, only to be refused as if it were an alias bomb. Reading
now stops at :data:`MAX_WRITTEN` values: the error names the line where it stopped (proof that the rest was
never read) and says the document is too large; an alias bomb is still refused as one.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from sspp_fixtures.cli import run
from sspp_fixtures.errors import ScenarioError
from sspp_fixtures.scenarios import load_scenario, parse_scenario_text
from sspp_fixtures.scenarios._yaml import MAX_VALUES, MAX_WRITTEN


def _mapping(keys: int) -> str:
    return "".join(f"k{i}: {i}\n" for i in range(keys))


@pytest.mark.parametrize(
    "text",
    [_mapping(100_000), "stories:\n" + "".join(f"  - {i}\n" for i in range(100_000)), "x: {" + ", ".join(
        f"k{i}: {i}" for i in range(100_000)) + "}\n"],
    ids=["block-mapping", "list", "flow-mapping"],
)  # fmt: skip
def test_a_huge_document_is_refused_as_too_large_after_reading_only_the_limit(text: str) -> None:
    with pytest.raises(ScenarioError) as caught:
        parse_scenario_text(text, "huge.yaml")
    message = str(caught.value)
    assert f"the document holds more than {MAX_WRITTEN:,} values" in message
    assert "alias" not in message
    line = caught.value.line
    assert line <= MAX_WRITTEN, f"stopped at line {line}: it read further than the limit"


def test_the_cli_says_so_in_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "huge.yaml"
    path.write_text(_mapping(100_000), encoding="utf-8")
    assert run(["scenarios", "validate", str(path)]) == 1
    lines = [line for line in capsys.readouterr().err.splitlines() if line.strip()]
    assert len(lines) == 1
    assert f"huge.yaml:{MAX_WRITTEN // 2}: the document holds more than {MAX_WRITTEN:,} values" in lines[0]


def test_below_the_limit_the_keys_are_judged_for_what_they_are(tmp_path: Path) -> None:
    path = tmp_path / "many.yaml"
    path.write_text(_mapping(MAX_WRITTEN // 2 - 10), encoding="utf-8")
    with pytest.raises(ScenarioError, match=r"many\.yaml:1: k0: unknown field 'k0'"):
        load_scenario(path)


def test_an_alias_bomb_is_still_refused_as_one() -> None:
    bomb = "a: &a [x,x,x,x,x,x,x,x,x,x]\n" + "".join(
        f"{name}: &{name} [{', '.join([f'*{prev}'] * 10)}]\n" for prev, name in zip("abcd", "bcde", strict=True)
    )
    with pytest.raises(ScenarioError, match=f"more than {MAX_VALUES:,} values once its aliases are expanded"):
        parse_scenario_text(bomb, "bomb.yaml")
