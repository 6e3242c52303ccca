"""Which template a scenario reference named last time, remembered between runs, so that a process whose template
exists needs no scenario parsing and none of the data code (Faker, NumPy, pydantic: ~0.9 s of every pytest
process's start on this machine).

An entry is found by everything a template's fingerprint depends on except the parsed scenario: the reference as
given, the seed, the working folder (unless the reference is a built-in scenario's name, which names the same file
from any folder: a new checkout or a project in a new folder still hits), the tool's version and data code, Faker's
version, the migrations' bytes and the reuse format. It holds the fingerprint and a digest of every scenario file in
the folders the reference's chain was read from (and the built-in folder), names and bytes, so an edit, or a file
added or removed that could change what a name resolves to, misses. A miss costs what no memo would: the scenario is
loaded and fingerprinted.
The memo is only a shortcut to a name: the template found must still say it holds that fingerprint.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import json
import os
import tempfile
import time
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from .._paths import builtin_scenarios_dir, cache_dir, shipped_sql_dir
from ._fingerprint import REUSE_FORMAT, code_digest, version_of

__all__ = ["recall_fingerprint", "remember_fingerprint"]

_FILE = "template-memo.json"
_FORMAT = 1
_MAX_ENTRIES = 256
_SUFFIXES = (".yaml", ".yml")


@functools.cache
def _migrations_digest() -> str:
    digest = hashlib.sha256()
    _, folder = shipped_sql_dir()
    if folder is not None:
        for path in sorted((folder / "migrations").glob("*.sql")):
            digest.update(path.name.encode() + b"\0" + path.read_bytes() + b"\0")
    return digest.hexdigest()


def _builtin_name(reference: str) -> bool:
    """Whether ``reference`` names a built-in scenario, as :func:`~sspp_fixtures.scenarios.find_scenario` reads it
    (a name that does not look like a path, checked before any file of the working folder)."""
    if reference.endswith(_SUFFIXES) or "/" in reference or "\\" in reference:
        return False
    return reference in {path.stem for path in builtin_scenarios_dir().glob("*.yaml")}


def _key(reference: str, seed: int | None) -> str:
    from .. import __version__

    parts = [
        f"format:{_FORMAT}",
        f"reuse-format:{REUSE_FORMAT}",
        f"reference:{reference}",
        f"seed:{seed}",
        "cwd:(built-in)" if _builtin_name(reference) else f"cwd:{os.getcwd()}",
        f"sspp-fixtures:{__version__}",
        f"code:{code_digest()}",
        f"faker:{version_of('Faker')}",
        f"migrations:{_migrations_digest()}",
    ]
    return hashlib.sha256("\n".join(parts).encode()).hexdigest()


def _folders_digest(folders: Iterable[str]) -> str:
    """sha256 over the names and bytes of the scenario files directly in ``folders``."""
    digest = hashlib.sha256()
    for folder in sorted(set(folders)):
        digest.update(folder.encode() + b"\0")
        try:
            files = sorted(p for p in Path(folder).iterdir() if p.suffix in _SUFFIXES and p.is_file())
        except OSError:
            continue
        for path in files:
            with contextlib.suppress(OSError):
                digest.update(path.name.encode() + b"\0" + path.read_bytes() + b"\0")
    return digest.hexdigest()


def _path() -> Path:
    return cache_dir() / _FILE


def _read() -> dict[str, Any]:
    try:
        data = json.loads(_path().read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    entries = data.get("entries") if isinstance(data, dict) and data.get("format") == _FORMAT else None
    return entries if isinstance(entries, dict) else {}


def recall_fingerprint(reference: str, seed: int | None) -> str | None:
    """The fingerprint ``reference`` (with ``seed``) had when it was last remembered, if nothing it depends on
    changed since; else ``None``."""
    entry = _read().get(_key(reference, seed))
    if not isinstance(entry, dict):
        return None
    folders, fingerprint = entry.get("folders"), entry.get("fingerprint")
    if not isinstance(fingerprint, str) or not isinstance(folders, list):
        return None
    if not all(isinstance(folder, str) for folder in folders):
        return None
    return fingerprint if entry.get("files") == _folders_digest(folders) else None


def remember_fingerprint(reference: str, seed: int | None, chain: Iterable[str], fingerprint: str) -> None:
    """Note that ``reference`` (with ``seed``), made of the scenario files ``chain``, has ``fingerprint``.

    A memo that cannot be written is no error: the next run computes the fingerprint again.
    """
    folders = sorted({str(Path(path).parent) for path in chain} | {str(builtin_scenarios_dir())})
    entries = _read()
    entries[_key(reference, seed)] = {
        "folders": folders,
        "files": _folders_digest(folders),
        "fingerprint": fingerprint,
        "at": round(time.time(), 3),
    }
    if len(entries) > _MAX_ENTRIES:
        newest = sorted(entries.items(), key=lambda item: float(item[1].get("at", 0)), reverse=True)
        entries = dict(newest[:_MAX_ENTRIES])
    target = _path()
    with contextlib.suppress(OSError):
        target.parent.mkdir(parents=True, exist_ok=True)
        handle, temporary = tempfile.mkstemp(prefix=".template-memo-", dir=target.parent)
        try:
            with os.fdopen(handle, "w", encoding="utf-8") as out:
                json.dump({"format": _FORMAT, "entries": entries}, out, sort_keys=True)
            os.replace(temporary, target)  # atomic: xdist workers write at the same time
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(temporary)
            raise
