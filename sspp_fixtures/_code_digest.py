"""What the package's own code and the libraries it builds data with look like, hashed: keys of things kept on
disk or in the server (templates, kept rows) change when that code does, even in an editable install whose
version stays the same."""

from __future__ import annotations

import functools
import hashlib
from importlib.metadata import PackageNotFoundError
from importlib.metadata import version as package_version
from pathlib import Path

__all__ = ["source_digest", "version_of"]

_PACKAGE = Path(__file__).resolve().parent


@functools.cache
def source_digest(parts: tuple[str, ...]) -> str:
    """sha256 over the source of ``parts`` (sub-packages or modules of sspp_fixtures, as relative paths)."""
    digest = hashlib.sha256()
    for part in parts:
        path = _PACKAGE / part
        files = sorted(path.rglob("*.py")) if path.is_dir() else [path]
        for file in files:
            digest.update(file.relative_to(_PACKAGE).as_posix().encode() + b"\0")
            digest.update(file.read_bytes())
    return digest.hexdigest()


def version_of(package: str) -> str:
    """The installed version of ``package``, or ``unknown``."""
    try:
        return package_version(package)
    except PackageNotFoundError:
        return "unknown"
