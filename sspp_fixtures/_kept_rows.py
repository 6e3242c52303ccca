"""Where the row cache keeps its entries and how much it may keep: the light half of
:mod:`sspp_fixtures.bulkgen._row_cache`, read by ``doctor`` and the loader without loading the generator."""

from __future__ import annotations

import contextlib
import os
from dataclasses import dataclass
from pathlib import Path

from ._paths import cache_dir
from .errors import UsageError

__all__ = ["ENTRY_SUFFIX", "ROW_CACHE_ENV", "RowCacheUsage", "row_cache_budget", "row_cache_dir", "row_cache_usage"]

ROW_CACHE_ENV = "SSPP_FIXTURES_ROW_CACHE_MB"
ENTRY_SUFFIX = ".rows"
_DEFAULT_BUDGET_MB = 2048


def row_cache_dir() -> Path:
    """Where kept rows live: ``rows/`` in the package's cache folder."""
    return cache_dir() / "rows"


def row_cache_budget() -> int:
    """Bytes the kept rows may take, from ``SSPP_FIXTURES_ROW_CACHE_MB`` (default 2048 MB; 0 keeps none)."""
    raw = os.environ.get(ROW_CACHE_ENV, "").strip()
    if not raw:
        return _DEFAULT_BUDGET_MB << 20
    try:
        megabytes = int(raw)
    except ValueError:
        megabytes = -1
    if megabytes < 0:
        raise UsageError(
            f"{ROW_CACHE_ENV}={raw!r} is not a number of megabytes",
            hint=f"set {ROW_CACHE_ENV} to a whole number of MB (0 keeps no rows), or unset it for 2048",
            field=ROW_CACHE_ENV,
            value=raw,
        )
    return megabytes << 20


@dataclass(frozen=True)
class RowCacheUsage:
    """What the row cache holds now: its folder, its complete entries and their bytes."""

    folder: Path
    entries: int
    bytes: int


def row_cache_usage() -> RowCacheUsage:
    """The row cache's complete entries (files being written are not counted)."""
    folder = row_cache_dir()
    entries = total = 0
    with contextlib.suppress(OSError):
        for path in folder.glob(f"*{ENTRY_SUFFIX}"):
            with contextlib.suppress(OSError):
                total += path.stat().st_size
                entries += 1
    return RowCacheUsage(folder, entries, total)
