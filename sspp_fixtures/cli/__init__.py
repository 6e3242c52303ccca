"""The ``sspp-seed`` command line: thin commands over the library, rich or JSON output, meaningful exit codes."""

from __future__ import annotations

from . import _backup, _data, _db, _doctor, _replay, _report, _server  # noqa: F401  (registers the subcommands)
from ._app import cli, main, run

__all__ = ["cli", "main", "run"]
