"""The process table and the data folder, read directly: what a leak check trusts instead of the tool's status."""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest


def processes_in(folder: Path) -> dict[int, str]:
    """Every process (pid: command line) that names a path under ``folder`` or runs with its cwd there."""
    prefix = str(folder)
    found: dict[int, str] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            command = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace").strip()
            cwd = os.readlink(entry / "cwd")
        except OSError:
            continue
        if prefix in command or cwd == prefix or cwd.startswith(prefix + "/"):
            found[int(entry.name)] = command
    return found


def wait_until(condition: Callable[[], bool], timeout_s: float, step_s: float = 0.01) -> bool:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(step_s)
    return condition()


@contextmanager
def scratch_folders() -> Iterator[tuple[Path, Path]]:
    """A private scratch folder (clusters) and cache folder (warm-server state) for one test, removed after it.

    As root the scratch must be world-traversable (the server runs as an unprivileged user): under /var/tmp.
    """
    if not Path("/proc").is_dir():
        pytest.skip("needs /proc to read the process table")
    scratch = Path(tempfile.mkdtemp(prefix="sspp-harden-process-", dir="/var/tmp"))
    scratch.chmod(0o755)
    cache = Path(tempfile.mkdtemp(prefix="sspp-harden-process-cache-"))
    try:
        yield scratch, cache
    finally:
        for pid in processes_in(scratch):  # only if the test failed: never leave a server behind
            subprocess.run(["kill", "-9", str(pid)], check=False, capture_output=True)
        subprocess.run(["rm", "-rf", str(scratch), str(cache)], check=False)


def spawn_cli(*args: str, env: dict[str, str]) -> subprocess.Popen[str]:
    """``python -m sspp_fixtures ARGS`` as a real process (its own process group, like a shell job)."""
    return subprocess.Popen(
        [sys.executable, "-m", "sspp_fixtures", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "COLUMNS": "200", "PYTHONFAULTHANDLER": "1", **env},
        start_new_session=True,
    )
