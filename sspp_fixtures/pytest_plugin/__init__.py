"""The pytest plugin of sspp-fixtures (loaded through the ``pytest11`` entry point: see :mod:`.plugin`)."""

from ._connection import SsppConnection

__all__ = [
    "SsppConnection",
]
