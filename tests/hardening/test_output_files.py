"""Output files, hostile: unwritable places, a folder where a file should be, a disk that fills up.

Every failure exits with its fixed code, says in one line what happened and what to do, and leaves nothing
behind: no partial file, no temporary file, no folder the export made, and an older file at the target intact.
Root ignores file modes, so "not writable" here means a read-only mount or a path through a regular file.
"""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.hardening._cli import assert_refused
from tests.hardening._here import sspp_seed_here


def _mount_tmpfs(where: Path, options: str) -> None:
    if shutil.which("mount") is None:
        pytest.skip("no mount command")
    done = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", options, "tmpfs", str(where)], capture_output=True, text=True, check=False
    )
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here (needs root and a permitting container): {done.stderr.strip()}")


def _unmount(where: Path) -> None:
    if subprocess.run(["umount", str(where)], capture_output=True, check=False).returncode != 0:
        subprocess.run(["umount", "-l", str(where)], capture_output=True, check=False)


@pytest.fixture
def read_only_dir(tmp_path: Path) -> Iterator[Path]:
    """A folder on a read-only tmpfs: writing there fails with EROFS even for root."""
    folder = tmp_path / "ro"
    folder.mkdir()
    _mount_tmpfs(folder, "ro,size=64k")
    try:
        yield folder
    finally:
        _unmount(folder)


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    """A 512 KiB tmpfs: the demo scenario's few MB do not fit."""
    folder = tmp_path / "small"
    folder.mkdir()
    _mount_tmpfs(folder, "size=512k")
    try:
        yield folder
    finally:
        _unmount(folder)


def _entries(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir())


@pytest.mark.parametrize(
    ("fmt", "out", "fragment"),
    [
        ("csv", "new-folder", "creating folder {out} failed: the file system is read-only"),
        ("csv", ".", "creating a file in {dir} failed: the file system is read-only"),
        ("sql", "smoke.sql", "creating a file in {dir} failed: the file system is read-only"),
    ],
)
def test_read_only_folder_exits_1(read_only_dir: Path, fmt: str, out: str, fragment: str) -> None:
    target = read_only_dir / out if out != "." else read_only_dir
    outcome = sspp_seed_here("export", "smoke", "--format", fmt, "--out", str(target))
    assert_refused(
        outcome,
        1,
        fragment.format(out=target, dir=read_only_dir),
        "nothing was left behind",
        "Choose a writable --out location",
    )
    assert _entries(read_only_dir) == []


@pytest.mark.parametrize("fmt", ["sql", "csv"])
def test_a_path_through_a_regular_file_exits_1_or_2(tmp_path: Path, fmt: str) -> None:
    a_file = tmp_path / "notes.txt"
    a_file.write_text("keep me")
    target = a_file / "deeper" / ("x.sql" if fmt == "sql" else "folder")
    outcome = sspp_seed_here("export", "smoke", "--format", fmt, "--out", str(target))
    if fmt == "sql":  # the parent is checked up front: a usage error
        assert_refused(outcome, 2, f"{target.parent} does not exist")
    else:
        assert_refused(outcome, 1, f"creating folder {target} failed: a part of the path is a file, not a folder")
    assert a_file.read_text() == "keep me"
    assert _entries(tmp_path) == ["notes.txt"]


def test_sql_into_a_file_inside_a_regular_file_exits_2(tmp_path: Path) -> None:
    a_file = tmp_path / "notes.txt"
    a_file.write_text("keep me")
    outcome = sspp_seed_here("export", "smoke", "--format", "sql", "--out", str(a_file / "x.sql"))
    assert_refused(outcome, 2, f"{a_file} is a file, not a folder")
    assert _entries(tmp_path) == ["notes.txt"]


def test_existing_folder_given_as_the_sql_file_exits_2(tmp_path: Path) -> None:
    (tmp_path / "out").mkdir()
    outcome = sspp_seed_here("export", "smoke", "--format", "sql", "--out", str(tmp_path / "out"))
    assert_refused(outcome, 2, "is a folder", "The sql format writes one file: give a file name")
    assert _entries(tmp_path / "out") == []


def test_existing_file_given_as_the_csv_folder_exits_2(tmp_path: Path) -> None:
    (tmp_path / "out.csv").write_text("old")
    outcome = sspp_seed_here("export", "smoke", "--format", "csv", "--out", str(tmp_path / "out.csv"))
    assert_refused(outcome, 2, "is a file", "give a folder")
    assert (tmp_path / "out.csv").read_text() == "old"


def test_missing_parent_folder_exits_2(tmp_path: Path) -> None:
    outcome = sspp_seed_here("export", "smoke", "--format", "sql", "--out", str(tmp_path / "nowhere" / "x.sql"))
    assert_refused(outcome, 2, f"folder {tmp_path / 'nowhere'} does not exist", "Create it first")
    assert _entries(tmp_path) == []


def test_a_path_the_os_refuses_exits_1(tmp_path: Path) -> None:
    outcome = sspp_seed_here("export", "smoke", "--format", "sql", "--out", str(tmp_path / ("x" * 300) / "a.sql"))
    assert_refused(outcome, 1, "the path is too long")


def test_disk_full_during_sql_export_leaves_the_old_file_and_nothing_else(small_disk: Path) -> None:
    old = small_disk / "demo.sql"
    old.write_text("-- yesterday's export\n")
    outcome = sspp_seed_here("export", "demo", "--format", "sql", "--out", str(old))
    assert_refused(
        outcome,
        1,
        f"writing {old} failed",
        "no space left on the device; nothing was left behind",
        "Free disk space there",
    )
    assert _entries(small_disk) == ["demo.sql"], "no partial or temporary file"
    assert old.read_text() == "-- yesterday's export\n", "the previous file is untouched"


@pytest.mark.parametrize("fmt", ["csv", "jsonl"])
def test_disk_full_during_table_export_removes_every_file_and_the_folders_it_made(small_disk: Path, fmt: str) -> None:
    target = small_disk / "exports" / fmt
    outcome = sspp_seed_here("export", "demo", "--format", fmt, "--out", str(target))
    assert_refused(outcome, 1, f"writing {target} failed", "no space left on the device")
    assert _entries(small_disk) == [], "no table file, no temporary file, no folder made by the export"


def test_an_export_that_fits_still_lands_whole(small_disk: Path) -> None:
    outcome = sspp_seed_here(
        "export", "smoke", "--format", "sql", "--out", str(small_disk / "smoke.sql"), "--scale", "0.1"
    )
    assert outcome.code == 0, outcome.stderr
    assert _entries(small_disk) == ["smoke.sql"]
    assert (small_disk / "smoke.sql").read_text().rstrip().endswith("COMMIT;")
