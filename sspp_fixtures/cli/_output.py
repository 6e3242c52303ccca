"""How ``sspp-seed`` speaks: rich tables on a terminal, JSON for machines, one masked line per error on stderr."""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any, Literal

import click
from rich.console import Console
from rich.table import Table

from ..dsn import mask_text
from ..errors import SsppError

__all__ = ["CliState", "error_console", "make_table", "render_error"]


def _json_default(value: object) -> object:
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return float(value)
    if isinstance(value, Path):
        return str(value)
    raise TypeError(f"cannot serialize {type(value).__name__}")


#: Width of output that goes to a file or pipe (a terminal's own width is used otherwise).
_PIPE_WIDTH = 160


def _styles_off() -> bool:
    """https://no-color.org: a non-empty ``NO_COLOR`` turns off every style, bold and dim included (rich alone
    drops only the colours)."""
    return bool(os.environ.get("NO_COLOR"))


def error_console() -> Console:
    return Console(stderr=True, highlight=False, soft_wrap=True, color_system=None if _styles_off() else "auto")


def output_console() -> Console:
    """stdout for people: the terminal's width, or a wide fixed one when piped, so tables don't wrap."""
    color_system: Literal["auto"] | None = None if _styles_off() else "auto"
    console = Console(highlight=False, soft_wrap=True, color_system=color_system)
    if not console.is_terminal:
        console = Console(highlight=False, soft_wrap=True, width=_PIPE_WIDTH, color_system=color_system)
    return console


@dataclass
class CliState:
    """The root command's state, handed to every subcommand through ``ctx.obj``."""

    debug: bool = False
    #: -1 with --quiet (only results and errors), 1 with --verbose (also where the time went and why), else 0.
    verbosity: int = 0
    console: Console = field(default_factory=output_console)
    err: Console = field(default_factory=error_console)

    def emit(self, as_json: bool, data: dict[str, Any], render: Callable[[Console], None]) -> None:
        """Print ``data`` as one JSON document, or call ``render`` to print it for people."""
        if as_json:
            click.echo(json.dumps(data, default=_json_default, indent=2, sort_keys=False))
        else:
            render(self.console)

    def info(self, message: str) -> None:
        """A progress or diagnostic line for people: on stderr, so stdout stays clean for --json; not with --quiet."""
        if self.verbosity >= 0:
            self.err.print(message, markup=False)

    def problem(self, message: str) -> None:
        """A line saying what failed: on stderr, even with --quiet."""
        self.err.print(message, markup=False, highlight=False)

    def detail(self, message: str) -> None:
        """A line only --verbose prints: how a choice was made, how long a step took."""
        if self.verbosity > 0:
            self.err.print(message, markup=False)


def make_table(columns: list[str]) -> Table:
    table = Table(show_edge=False, header_style="bold")
    for column in columns:
        table.add_column(column)
    return table


def render_error(error: SsppError, *, debug: bool, dsns: Sequence[str] = ()) -> None:
    """One line naming what was wrong and what to do; details follow only with --debug. ``dsns``: the DSNs
    the user gave, whose passwords are hidden wherever they stand."""
    stream = sys.stderr
    stream.write(f"error: {mask_text(str(error), *dsns)}\n")
    if debug and error.details:
        stream.write(f"details: {mask_text(json.dumps(error.details, default=str), *dsns)}\n")
    stream.flush()
