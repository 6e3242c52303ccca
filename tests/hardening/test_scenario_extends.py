"""``extends:`` reads only scenarios: a built-in name, or a .yaml file under the including file's folder (or a
folder the caller allows). Any other file is refused before it is opened, and no message quotes what a file
that is not a scenario holds."""

from __future__ import annotations

from pathlib import Path

import pytest

from sspp_fixtures.cli import run
from sspp_fixtures.errors import ScenarioError
from sspp_fixtures.scenarios import load_scenario

SECRET = "hunter2-never-shown"
CHILD = "name: child\ncustomers: 5\n"


@pytest.fixture
def secret_file(tmp_path: Path) -> Path:
    """A file outside the scenario's folder that must never be read: its first line is a secret."""
    outside = tmp_path / "outside"
    outside.mkdir()
    secret = outside / "secret.yaml"
    secret.write_text(f"{SECRET}: 1\nroot:x:0:0:root:/root:/bin/bash\n", encoding="utf-8")
    return secret


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    inside = tmp_path / "scenarios"
    (inside / "parents").mkdir(parents=True)
    (inside / "parents" / "base.yaml").write_text("extends: smoke\nseed: 11\n", encoding="utf-8")
    (inside / "notes.txt").write_text(f"{SECRET}: yes\n", encoding="utf-8")
    return inside


def _child(folder: Path, extends: str) -> Path:
    child = folder / "child.yaml"
    child.write_text(f"extends: {extends}\n{CHILD}", encoding="utf-8")
    return child


def _refused(child: Path, fragment: str) -> str:
    with pytest.raises(ScenarioError) as caught:
        load_scenario(child)
    message = str(caught.value)
    assert fragment in message, message
    assert SECRET not in message, message
    assert "root:x" not in message, message
    assert f"{child}:1: extends:" in message
    return message


@pytest.mark.parametrize("how", ["absolute", "dot-dot", "dot-dot-inside-first", "symlink-out", "symlinked-folder"])
def test_a_file_outside_the_folder_is_refused_unread(folder: Path, secret_file: Path, how: str) -> None:
    if how == "absolute":
        ref = str(secret_file)
    elif how == "dot-dot":
        ref = "../outside/secret.yaml"
    elif how == "dot-dot-inside-first":
        ref = "parents/../../outside/secret.yaml"
    elif how == "symlink-out":
        (folder / "link.yaml").symlink_to(secret_file)
        ref = "link.yaml"
    else:
        (folder / "elsewhere").symlink_to(secret_file.parent, target_is_directory=True)
        ref = "elsewhere/secret.yaml"
    secret_file.chmod(0o000)  # were it opened, root could still read it: the message would show it
    try:
        _refused(_child(folder, ref), "is outside the folder of the scenario that extends it")
    finally:
        secret_file.chmod(0o600)


@pytest.mark.parametrize("ref", ["/etc/passwd", "../../../../../../etc/passwd", "/etc/shadow"])
def test_system_files_are_refused(folder: Path, ref: str) -> None:
    _refused(_child(folder, ref), "is outside the folder")


def test_a_file_in_the_folder_that_is_not_yaml_is_refused_unread(folder: Path) -> None:
    _refused(_child(folder, "notes.txt"), "is not a scenario file (.yaml or .yml)")


def test_built_in_names_and_files_below_the_folder_still_work(folder: Path) -> None:
    assert load_scenario(_child(folder, "parents/base.yaml")).seed == 11
    assert load_scenario(_child(folder, "./parents/base.yaml")).seed == 11
    assert load_scenario(_child(folder, "smoke")).customers == 5
    (folder / "sibling.yaml").write_text("extends: smoke\nseed: 12\n", encoding="utf-8")
    assert load_scenario(_child(folder, "sibling")).seed == 12


def test_the_library_can_allow_more_folders(folder: Path, tmp_path: Path) -> None:
    shared = tmp_path / "shared"
    shared.mkdir()
    (shared / "team.yaml").write_text("extends: smoke\nseed: 13\n", encoding="utf-8")
    child = _child(folder, str(shared / "team.yaml"))
    with pytest.raises(ScenarioError, match="is outside the folder"):
        load_scenario(child)
    assert load_scenario(child, extends_roots=[shared]).seed == 13


def test_the_cli_shows_no_content_of_a_file_that_is_not_a_scenario(
    capsys: pytest.CaptureFixture[str], folder: Path, secret_file: Path
) -> None:
    code = run(["scenarios", "validate", str(_child(folder, "../outside/secret.yaml"))])
    captured = capsys.readouterr()
    assert code == 1
    assert SECRET not in captured.out + captured.err
    assert "is outside the folder" in captured.out + captured.err


def test_a_top_level_file_that_is_no_mapping_is_not_quoted(tmp_path: Path) -> None:
    """Given directly, a file that is not a scenario is refused without showing its text."""
    passwd_like = tmp_path / "passwd.yaml"
    passwd_like.write_text("root:x:0:0:root:/root:/bin/bash\n", encoding="utf-8")
    with pytest.raises(ScenarioError, match=r"the top level is a single value \(a text\)") as caught:
        load_scenario(passwd_like)
    assert "root:x" not in str(caught.value)
