"""Where sspp-fixtures keeps files between runs: one cache folder, shared by the servers and the Faker pools."""

from __future__ import annotations

import os
from pathlib import Path

__all__ = ["CACHE_ENV", "cache_dir", "config_dir"]

CACHE_ENV = "SSPP_FIXTURES_CACHE"


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
