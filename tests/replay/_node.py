"""Bull from the npm registry, installed once into a cache folder the tests own, for Node consumers in tests.

``python -m tests.replay._node`` installs it ahead (``.ci/run`` does), so no test pays for the download.
"""

from __future__ import annotations

import fcntl
import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from sspp_fixtures._paths import cache_dir

BULL_VERSION = "4.16.5"


def npm_dir() -> Path:
    return cache_dir() / "npm" / f"bull-{BULL_VERSION}"


def install_bull() -> Path:
    """The folder whose node_modules holds bull (installed on first use, under a lock for xdist workers)."""
    folder = npm_dir()
    folder.mkdir(parents=True, exist_ok=True)
    marker = folder / "node_modules" / "bull" / "package.json"
    with (folder / ".lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not marker.is_file() or json.loads(marker.read_text())["version"] != BULL_VERSION:
            subprocess.run(
                [
                    "npm",
                    "install",
                    "--silent",
                    "--no-audit",
                    "--no-fund",
                    "--prefix",
                    str(folder),
                    f"bull@{BULL_VERSION}",
                ],
                check=True,
                capture_output=True,
                timeout=300,
            )
    return folder


def bull_or_skip() -> Path:
    missing = [tool for tool in ("node", "npm") if shutil.which(tool) is None]
    if missing:
        pytest.skip(f"{' and '.join(missing)} not on PATH: the Bull consumer tests need Node.js and npm")
    return install_bull()


if __name__ == "__main__":
    if shutil.which("npm") is None:
        sys.exit(0)
    print(install_bull())
