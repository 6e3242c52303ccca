"""Ctrl-C and SIGTERM, sent to the whole process group as a terminal or a supervisor does, mid-work.

A real ``sspp-seed load``/``export`` with generator workers is interrupted once its COPY runs (or its files are
being written). It must say so in one line (no worker traceback, no resource-tracker warning), exit 130 (Ctrl-C)
or 143 (SIGTERM), leave the database as it was and no staged file or spool folder behind, and leave no process of
its group running. An export killed with SIGKILL (which nothing can handle) leaves staged files: the next export
to the same place removes them.
"""

from __future__ import annotations

import os
import signal
import subprocess
import time
from pathlib import Path

import pytest

from sspp_fixtures._table_order import TABLE_ORDER
from sspp_fixtures.dsn import connect
from tests.fix_db import run_cli
from tests.hardening._procs import spawn_cli, wait_until

pytestmark = [pytest.mark.slow]

_UNDONE = "the work in progress was rolled back or removed; run the command again to redo it"
EXPECTED = {
    signal.SIGINT: (130, f"interrupted (Ctrl-C): {_UNDONE}"),
    signal.SIGTERM: (143, f"terminated (SIGTERM): {_UNDONE}"),
}
#: Big enough that the generator workers are busy when the signal comes (100k events, two workers).
BIG = ("load-100k", "--workers", "2")


def _group_members(pgid: int) -> list[int]:
    members = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except (OSError, IndexError):
                continue
            if int(fields[2]) == pgid and fields[0] != "Z":
                members.append(int(entry.name))
    return members


def _spools_of(pid: int) -> list[str]:
    folder = Path("/dev/shm") if Path("/dev/shm").is_dir() else Path("/tmp")
    return [p.name for p in folder.glob(f"sspp-spool-{pid}-*")]


def _interrupt(process: subprocess.Popen[str], sig: signal.Signals) -> tuple[int, str]:
    os.killpg(process.pid, sig)  # the whole group: the parent and its generator workers
    try:
        _out, err = process.communicate(timeout=30)
    except subprocess.TimeoutExpired:
        os.kill(process.pid, signal.SIGABRT)  # faulthandler (PYTHONFAULTHANDLER) prints where it hangs
        time.sleep(2)
        os.killpg(process.pid, signal.SIGKILL)
        _out, err = process.communicate(timeout=30)
        pytest.fail(f"still running 30 s after {sig.name}; stderr:\n{err}")
    return process.returncode, err


def _assert_one_line(code: int, stderr: str, sig: signal.Signals) -> None:
    expected_code, expected_line = EXPECTED[sig]
    assert "Traceback" not in stderr, stderr
    assert "resource_tracker" not in stderr, stderr
    assert stderr.splitlines() == [expected_line], stderr
    assert code == expected_code, stderr


def _counts(dsn: str) -> dict[str, int]:
    with connect(dsn) as conn:
        return {
            table: conn.execute(f"SELECT count(*) FROM {table}").fetchone()[0]  # type: ignore[index]
            for table in ("customers", "events", "signals")
        }


def _copying(dsn: str) -> bool:
    with connect(dsn) as conn:
        row = conn.execute(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND query LIKE 'COPY %%'"
        ).fetchone()
    return bool(row and row[0])


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM], ids=["ctrl-c", "sigterm"])
def test_an_interrupted_load_says_one_line_and_leaves_the_database_as_it_was(empty_db: str, sig) -> None:
    seeded = run_cli("load", "smoke", "--dsn", empty_db)
    assert seeded.returncode == 0, seeded.stderr
    before = _counts(empty_db)
    load = spawn_cli("load", *BIG, "--dsn", empty_db, env={"DATABASE_URL": ""})
    try:
        assert wait_until(lambda: _copying(empty_db), timeout_s=60, step_s=0.05), "the COPY never started"
        assert len(_group_members(load.pid)) >= 3, "the parent, the fork server and its workers"
        code, stderr = _interrupt(load, sig)
    finally:
        load.kill()
        load.communicate()
    _assert_one_line(code, stderr, sig)
    assert _counts(empty_db) == before, "nothing of the interrupted load was committed"
    assert wait_until(lambda: not _group_members(load.pid), timeout_s=10), "a worker outlived the load"
    assert _spools_of(load.pid) == []


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM], ids=["ctrl-c", "sigterm"])
def test_an_interrupted_export_says_one_line_and_leaves_no_file(tmp_path: Path, sig) -> None:
    out = tmp_path / "csv"
    export = spawn_cli("export", *BIG, "--format", "csv", "--out", str(out), env={})
    try:
        assert wait_until(
            lambda: any(p.stat().st_size > 0 for p in out.glob(".*.partial")), timeout_s=60, step_s=0.05
        ), "the export never wrote"
        code, stderr = _interrupt(export, sig)
    finally:
        export.kill()
        export.communicate()
    _assert_one_line(code, stderr, sig)
    assert not out.exists(), sorted(p.name for p in out.iterdir())
    assert wait_until(lambda: not _group_members(export.pid), timeout_s=10), "a worker outlived the export"
    assert _spools_of(export.pid) == []


def test_staged_files_and_spools_of_a_killed_export_are_swept_by_the_next_one(tmp_path: Path) -> None:
    out = tmp_path / "csv"
    out.mkdir()
    killed = spawn_cli("export", *BIG, "--format", "csv", "--out", str(out), env={})
    try:
        assert wait_until(lambda: any(p.stat().st_size > 0 for p in out.glob(".*.partial")), timeout_s=60)
        os.killpg(killed.pid, signal.SIGKILL)
    finally:
        killed.kill()
        killed.communicate()
    assert wait_until(lambda: not _group_members(killed.pid), timeout_s=10)
    left = sorted(p.name for p in out.glob(".*.partial"))
    assert left, "SIGKILL cannot be handled: its staged files are still there"
    assert _spools_of(killed.pid), "and so is its spool folder"

    again = run_cli("export", "smoke", "--format", "csv", "--out", str(out), "--workers", "2")
    assert again.returncode == 0, again.stderr
    assert sorted(p.name for p in out.iterdir()) == sorted(f"{table}.csv" for table in TABLE_ORDER)
    assert _spools_of(killed.pid) == []
