"""Files and folders a killed process left behind, recognised by the pid their name carries, and removed.

A name is ``<prefix><pid><sep><random><suffix>`` (what ``tempfile`` makes from a prefix ending in the pid and
``sep``): the entry is stale when no process ``pid`` runs any more. Names without a pid (older versions) are
never touched: nothing says whose they are.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
from pathlib import Path

__all__ = ["pid_alive", "pid_prefix", "sweep_dead_owners"]


def pid_prefix(prefix: str, sep: str) -> str:
    """The name prefix that marks an entry as this process's: ``<prefix><pid><sep>``."""
    return f"{prefix}{os.getpid()}{sep}"


def pid_alive(pid: int) -> bool:
    """Whether a process ``pid`` exists on this host (another user's counts); 0 and below never do (to
    ``kill`` they mean a process group)."""
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def sweep_dead_owners(folder: Path, prefix: str, sep: str, suffix: str = "") -> list[Path]:
    """Remove the entries of ``folder`` named ``<prefix><pid><sep><random><suffix>`` whose process is gone."""
    pattern = re.compile(rf"{re.escape(prefix)}(\d+){re.escape(sep)}[^{re.escape(sep)}/]+{re.escape(suffix)}")
    removed: list[Path] = []
    try:
        entries = list(folder.iterdir())
    except OSError:
        return removed
    for entry in entries:
        match = pattern.fullmatch(entry.name)
        if match is None or int(match.group(1)) == os.getpid() or pid_alive(int(match.group(1))):
            continue
        with contextlib.suppress(OSError):
            if entry.is_dir() and not entry.is_symlink():
                shutil.rmtree(entry)
            else:
                entry.unlink()
            removed.append(entry)
    return removed
