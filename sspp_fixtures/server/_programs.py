"""Asking a PostgreSQL program its version, as a given OS user, in bounded time and without raising.

One probe for every caller: the local provider (``postgres``), backup's client programs (``pg_dump``) and the
doctor (``initdb`` as the service user, the embedded ``postgres``).
"""

from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path

__all__ = ["major_of", "program_version"]

_VERSION = re.compile(r"\(PostgreSQL\)\s+(\d+)(?:\.(\d+))?\S*")
TIMEOUT_S = 2.0


def program_version(
    path: Path, *, user: tuple[int, int] | None = None, timeout_s: float = TIMEOUT_S
) -> tuple[str | None, str]:
    """``(version, error)`` of ``path --version``, run as ``user`` (uid, gid) when given; never raises."""
    extra: dict[str, object] = {}
    if user is not None:
        extra = {"user": user[0], "group": user[1], "extra_groups": [], "cwd": "/"}
    try:
        proc = subprocess.run(
            [str(path), "--version"],
            capture_output=True,
            text=True,
            timeout=timeout_s,
            check=False,
            stdin=subprocess.DEVNULL,
            env={**os.environ, "LC_ALL": "C"},
            **extra,  # type: ignore[call-overload]
        )
    except subprocess.TimeoutExpired:
        return None, f"{path} --version did not answer within {timeout_s:g}s"
    except (OSError, subprocess.SubprocessError) as exc:
        return None, f"{path}: {getattr(exc, 'strerror', None) or exc}"
    output = (proc.stdout + proc.stderr).strip()
    match = _VERSION.search(proc.stdout)
    if proc.returncode != 0 or match is None:
        first = output.splitlines()[0] if output else "no output"
        return None, f"{path} --version exited {proc.returncode}: {first}"
    return match.group(0).split()[-1], ""


def major_of(version: str) -> int:
    """The major number of a version string such as ``15.20`` or ``18beta1``."""
    found = re.match(r"\d+", version)
    return int(found.group(0)) if found else 0
