"""sspp-fixtures: test fixtures and seed data for the Sales Signal Processing Platform's PostgreSQL database."""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version

from .errors import SsppError

try:
    __version__ = version("sspp-fixtures")
except PackageNotFoundError:  # running from a source tree that was never installed
    __version__ = "0.0.0+unknown"

__all__ = [
    "SsppError",
    "__version__",
]
