"""A server start killed with SIGKILL at any point leaves nothing that ``server stop`` cannot find and remove.

The starter (``server start``, ``demo --detach``) is really killed once its ``initdb`` or its postmaster shows in
the process table; then ``server status`` must show the postmaster that runs, and ``server stop`` must leave no
process in the cluster folders (counted in /proc, not with the tool's status) and no cluster or half-built
pristine directory on disk.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from sspp_fixtures.server._local import find_binaries
from tests.hardening._procs import processes_in, scratch_folders, spawn_cli, wait_until

pytestmark = [pytest.mark.slow]

_needs_local = pytest.mark.skipif(find_binaries() is None, reason="no PostgreSQL server binaries")


def _cli(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "sspp_fixtures", *args],
        capture_output=True,
        text=True,
        env={**os.environ, **env},
        timeout=120,
        check=False,
    )


def _is_postmaster(command: str) -> bool:
    """A server's postmaster (``postgres -D``), not initdb's bootstrap backend or pg_ctl's ``postgres -C`` probe."""
    words = command.split()
    return (
        bool(words) and words[0].endswith("/postgres") and "-D" in words and not {"--boot", "--single", "-C"} & {*words}
    )


def _leftovers(scratch: Path) -> list[str]:
    """Cluster directories and half-built pristine copies; the finished pristine copy is a cache and may stay."""
    left = []
    for provider in scratch.iterdir():
        for entry in provider.iterdir():
            if entry.name != "_pristine":
                left.append(f"{provider.name}/{entry.name}")
                continue
            left.extend(f"{provider.name}/_pristine/{e.name}" for e in entry.iterdir() if e.name.startswith("."))
    return sorted(left)


@pytest.mark.parametrize(
    ("command", "kill_when"),
    [
        pytest.param(
            ("server", "start", "--provider", "local"),
            "initdb",
            marks=[_needs_local, pytest.mark.local],
            id="local-initdb",
        ),
        pytest.param(("server", "start", "--provider", "local"), "postmaster", marks=[_needs_local, pytest.mark.local]),
        pytest.param(
            ("demo", "--detach"), "postmaster", marks=[_needs_local, pytest.mark.local], id="demo-detach-postmaster"
        ),
        pytest.param(
            ("server", "start", "--provider", "embedded"), "initdb", marks=pytest.mark.embedded, id="embedded-initdb"
        ),
        pytest.param(
            ("server", "start", "--provider", "embedded"),
            "postmaster",
            marks=pytest.mark.embedded,
            id="embedded-postmaster",
        ),
    ],
)
def test_a_starter_killed_mid_start_leaves_a_server_that_status_shows_and_stop_removes(
    command: tuple[str, ...], kill_when: str
) -> None:
    with scratch_folders() as (scratch, cache):
        env = {"SSPP_FIXTURES_SCRATCH": str(scratch), "SSPP_FIXTURES_CACHE": str(cache), "DATABASE_URL": ""}
        starter = spawn_cli(*command, env=env)
        try:

            def reached() -> bool:
                commands = processes_in(scratch).values()
                if kill_when == "initdb":
                    return any("initdb" in c for c in commands)
                return any(_is_postmaster(c) for c in commands)

            assert wait_until(reached, timeout_s=60), f"never saw {kill_when}; stderr: {starter.stderr}"
            os.kill(starter.pid, signal.SIGKILL)  # kill -9 of the command alone, as a user would
        finally:
            starter.kill()
            starter.communicate(timeout=30)

        if kill_when == "postmaster":
            status = _cli(env, "server", "status", "--json")
            assert status.returncode == 0, status.stdout + status.stderr
            shown = json.loads(status.stdout)
            assert shown["running"] is True
            assert shown["pid"] in processes_in(scratch), "status names the postmaster that runs"

        stopped = _cli(env, "server", "stop")
        assert stopped.returncode == 0, stopped.stderr
        assert wait_until(lambda: not processes_in(scratch), timeout_s=10), processes_in(scratch)
        assert _leftovers(scratch) == []
        after = _cli(env, "server", "status")
        assert after.returncode == 3
        assert not processes_in(scratch)
