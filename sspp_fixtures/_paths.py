"""Where sspp-fixtures keeps files: the cache folder between runs (shared by the servers, the Faker pools and the
template memo), and the SQL and scenarios it ships (packaged in a wheel, beside the package in a checkout).

This module imports nothing heavy: the plugin finds its files here before any data code is loaded.
"""

from __future__ import annotations

import os
from pathlib import Path

__all__ = ["CACHE_ENV", "builtin_scenarios_dir", "cache_dir", "config_dir", "shipped_sql_dir"]

CACHE_ENV = "SSPP_FIXTURES_CACHE"
_PACKAGE_DIR = Path(__file__).resolve().parent


def cache_dir() -> Path:
    """The package's cache folder: ``$SSPP_FIXTURES_CACHE``, else ``$XDG_CACHE_HOME`` or ``~/.cache``."""
    override = os.environ.get(CACHE_ENV, "").strip()
    if override:
        return Path(override).expanduser()
    xdg = os.environ.get("XDG_CACHE_HOME", "").strip()
    base = Path(xdg).expanduser() if xdg else Path.home() / ".cache"
    return base / "sspp-fixtures"


def config_dir() -> Path:
    """Where the user's own settings and secrets live (not a cache: never swept): ``$XDG_CONFIG_HOME`` or
    ``~/.config``, then ``sspp-fixtures``."""
    xdg = os.environ.get("XDG_CONFIG_HOME", "").strip()
    base = Path(xdg).expanduser() if xdg else Path.home() / ".config"
    return base / "sspp-fixtures"


def shipped_sql_dir() -> tuple[Path, Path | None]:
    """(where the packaged copy of ``sql/`` would be, the folder holding ``migrations/`` or ``None``): the
    packaged copy, else the checkout's."""
    packaged = _PACKAGE_DIR / "_sql"
    for folder in (packaged, _PACKAGE_DIR.parent / "sql"):
        if (folder / "migrations").is_dir():
            return packaged, folder
    return packaged, None


def builtin_scenarios_dir() -> Path:
    """The scenarios shipped with the tool: the packaged copy, else the checkout's ``scenarios/``."""
    packaged = _PACKAGE_DIR / "_scenarios"
    return packaged if packaged.is_dir() else _PACKAGE_DIR.parent / "scenarios"
