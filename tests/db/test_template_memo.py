"""The template memo: ``ensure_scenario_template`` finds the same template as loading the scenario would, notes
its fingerprint, and never trusts a note that anything since may have made wrong (a scenario edited, a file added
beside it, a template dropped, a memo file broken)."""

from __future__ import annotations

import random
from collections.abc import Iterator
from pathlib import Path

import pytest

from sspp_fixtures.scenarios import load_scenario
from sspp_fixtures.server import Server
from sspp_fixtures.templates import drop_templates, ensure_scenario_template, template_fingerprint
from sspp_fixtures.templates._memo import recall_fingerprint, remember_fingerprint


@pytest.fixture
def cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    folder = tmp_path / "cache"
    monkeypatch.setenv("SSPP_FIXTURES_CACHE", str(folder))
    return folder


@pytest.fixture
def made_templates(pg_server: Server) -> Iterator[list[str]]:
    names: list[str] = []
    yield names
    drop_templates(pg_server.dsn, names=names)


def write_scenario(folder: Path, seed: int, *, customers: int = 8) -> Path:
    """A tiny scenario of its own (a new seed: its template is new to the server), extending the built-in smoke."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "tiny.yaml"
    path.write_text(f"extends: smoke\nname: tiny\nseed: {seed}\ncustomers: {customers}\nevents: 60\n", encoding="utf-8")
    return path


def test_the_memo_names_the_template_loading_the_scenario_would(
    pg_server: Server, cache: Path, tmp_path: Path, made_templates: list[str]
) -> None:
    seed = random.randrange(10**9)
    path = write_scenario(tmp_path / "scenarios", seed)
    reference = str(path)
    assert recall_fingerprint(reference, None) is None
    first = ensure_scenario_template(pg_server.dsn, reference)
    made_templates.append(first.name)
    assert first.fingerprint == template_fingerprint(load_scenario(path))
    assert recall_fingerprint(reference, None) == first.fingerprint
    again = ensure_scenario_template(pg_server.dsn, reference)
    assert (again.name, again.fingerprint, again.built_now) == (first.name, first.fingerprint, False)
    # The seed given with the reference is part of the note; an edit of the file makes it miss.
    assert recall_fingerprint(reference, 7) is None
    write_scenario(tmp_path / "scenarios", seed, customers=9)
    assert recall_fingerprint(reference, None) is None


def test_a_file_added_beside_the_scenario_makes_the_note_miss(tmp_path: Path, cache: Path) -> None:
    """``extends: base`` finds ``base.yml``; a ``base.yaml`` added later would win, so any change there misses."""
    folder = tmp_path / "scenarios"
    folder.mkdir()
    (folder / "base.yml").write_text("extends: smoke\nname: base\n", encoding="utf-8")
    child = folder / "child.yaml"
    child.write_text("extends: base\nname: child\n", encoding="utf-8")
    remember_fingerprint(str(child), None, [str(folder / "base.yml"), str(child)], "f" * 64)
    assert recall_fingerprint(str(child), None) == "f" * 64
    (folder / "base.yaml").write_text("extends: smoke\nname: base\ncustomers: 5\n", encoding="utf-8")
    assert recall_fingerprint(str(child), None) is None


def test_a_note_naming_a_template_that_is_not_there_is_not_trusted(pg_server: Server, cache: Path) -> None:
    """The memo is only a shortcut to a name: the server decides (a dropped template, or a wrong note)."""
    remember_fingerprint("smoke", None, [], "0" * 64)
    assert recall_fingerprint("smoke", None) == "0" * 64
    info = ensure_scenario_template(pg_server.dsn, "smoke")  # the suite's own template: usually there already
    assert info.fingerprint == template_fingerprint(load_scenario("smoke"))
    assert recall_fingerprint("smoke", None) == info.fingerprint


@pytest.mark.parametrize("text", ["", "not json", '{"format": 1, "entries": []}', '{"format": 99, "entries": {}}'])
def test_a_broken_memo_file_is_ignored_and_replaced(tmp_path: Path, cache: Path, text: str) -> None:
    cache.mkdir(parents=True)
    (cache / "template-memo.json").write_text(text, encoding="utf-8")
    child = write_scenario(tmp_path / "scenarios", 1)
    assert recall_fingerprint(str(child), None) is None
    remember_fingerprint(str(child), None, [str(child)], "e" * 64)
    assert recall_fingerprint(str(child), None) == "e" * 64


def test_a_memo_that_cannot_be_written_is_no_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("", encoding="utf-8")
    monkeypatch.setenv("SSPP_FIXTURES_CACHE", str(blocker / "cache"))  # a folder under a file: mkdir fails
    child = write_scenario(tmp_path / "scenarios", 1)
    remember_fingerprint(str(child), None, [str(child)], "d" * 64)
    assert recall_fingerprint(str(child), None) is None


def test_a_builtin_name_is_recalled_from_any_folder_and_a_relative_path_is_not(
    tmp_path: Path, cache: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A built-in name names the same file wherever pytest runs (a fresh checkout, another project folder); a
    relative path names a file of the working folder, and so does a bare name that is not built in."""
    first, other = tmp_path / "first", tmp_path / "other"
    for folder in (first, other):
        write_scenario(folder / "scenarios", 1)
        (folder / "mine.yaml").write_text("extends: smoke\nname: mine\n", encoding="utf-8")
    monkeypatch.chdir(first)
    remember_fingerprint("smoke", 3, [], "a" * 64)
    remember_fingerprint("scenarios/tiny.yaml", None, [str(first / "scenarios" / "tiny.yaml")], "b" * 64)
    remember_fingerprint("mine", None, [str(first / "mine.yaml")], "c" * 64)
    monkeypatch.chdir(other)
    assert recall_fingerprint("smoke", 3) == "a" * 64
    assert recall_fingerprint("smoke", 4) is None
    assert recall_fingerprint("scenarios/tiny.yaml", None) is None
    assert recall_fingerprint("mine", None) is None
    monkeypatch.chdir(first)
    assert recall_fingerprint("scenarios/tiny.yaml", None) == "b" * 64
    assert recall_fingerprint("mine", None) == "c" * 64
