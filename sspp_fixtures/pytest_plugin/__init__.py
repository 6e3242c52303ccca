"""The pytest plugin of sspp-fixtures (loaded through the ``pytest11`` entry point: see :mod:`.plugin`).

``SsppConnection`` is imported on first use: pytest imports this package in every run, and psycopg should load
only when a test asks for a database.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ._connection import SsppConnection

__all__ = ["SsppConnection"]


def __getattr__(name: str) -> Any:
    if name == "SsppConnection":
        from ._connection import SsppConnection

        return SsppConnection
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
