"""The root ``sspp-seed`` command and the process entry point that turns errors into exit codes."""

from __future__ import annotations

import contextlib
import os
import signal
import sys
import threading
import traceback
from collections.abc import Iterator, Sequence
from types import FrameType
from typing import NoReturn

import click

from .. import __version__
from ..dsn import DATABASE_URL_ENV, mask_text
from ..errors import DatabaseUnreachableError, ExitCode, SsppError
from ._output import CliState, render_error

__all__ = ["Terminated", "cli", "main", "run"]

_INTERNAL_ERROR = 70

#: The one line an interrupted command prints, after what interrupted it.
_UNDONE = "the work in progress was rolled back or removed; run the command again to redo it"

CONTEXT_SETTINGS = {"help_option_names": ["-h", "--help"], "max_content_width": 100}


class Terminated(KeyboardInterrupt):
    """SIGTERM, raised where Ctrl-C's KeyboardInterrupt would be, so that it takes every clean-up path Ctrl-C
    takes (a load rolled back, an export's staged files removed, generator workers stopped)."""


class _Interrupted(Exception):
    """An interrupt that reached the root command, its clean-up done; carries whether it was SIGTERM."""

    def __init__(self, terminated: bool) -> None:
        super().__init__("terminated" if terminated else "interrupted")
        self.terminated = terminated


class _RootGroup(click.Group):
    """The root group: an interrupt leaves click as :class:`_Interrupted`, not as click's Abort with a blank line."""

    def invoke(self, ctx: click.Context) -> object:
        try:
            return super().invoke(ctx)
        except KeyboardInterrupt as interrupt:
            raise _Interrupted(isinstance(interrupt, Terminated)) from None


@click.group(cls=_RootGroup, context_settings=CONTEXT_SETTINGS)
@click.version_option(__version__, "--version", "-V", prog_name="sspp-seed")
@click.option("--debug", is_flag=True, help="Show tracebacks and error details.")
@click.option("-q", "--quiet", is_flag=True, help="Print only results and errors: no progress, no notes on stderr.")
@click.option("-v", "--verbose", is_flag=True, help="Also say how choices were made and how long each step took.")
@click.pass_context
def cli(ctx: click.Context, debug: bool, quiet: bool, verbose: bool) -> None:
    """Test fixtures and seed data for the SSPP PostgreSQL database.

    \b
    Examples:
      sspp-seed demo --detach                 # the tool's own server, database 'sspp' with the demo data
      sspp-seed status --json
      sspp-seed --quiet load smoke
      sspp-seed server status

    The database comes from --dsn, else $DATABASE_URL, else the PG* variables (PGHOST, PGPORT, PGUSER,
    PGDATABASE, ... as psql reads them), else database 'sspp' on the tool's own running server; which one is
    said on stderr. Exit codes: 0 ok, 1 user error, 2 usage, 3 database unreachable, 4 unsafe target refused,
    5 schema conflict, 6 load failed, 130 interrupted
    (Ctrl-C), 143 terminated (SIGTERM).
    """
    if quiet and verbose:
        raise click.UsageError("--quiet and --verbose contradict each other: pass one")
    ctx.obj = CliState(debug=debug, verbosity=-1 if quiet else 1 if verbose else 0)


def _debug_requested(args: Sequence[str]) -> bool:
    return "--debug" in args or os.environ.get("SSPP_DEBUG", "") not in ("", "0")


def _given_dsns(args: Sequence[str]) -> list[str]:
    """The DSNs this run was given (``--dsn``, ``$DATABASE_URL``): their passwords are hidden in all it prints."""
    found = [os.environ.get(DATABASE_URL_ENV, "").strip()]
    for index, arg in enumerate(args):
        if arg == "--dsn" and index + 1 < len(args):
            found.append(args[index + 1])
        elif arg.startswith("--dsn="):
            found.append(arg.removeprefix("--dsn="))
    return [dsn for dsn in found if dsn]


def _print_traceback(dsns: Sequence[str]) -> None:
    """--debug: the traceback, masked like every other line."""
    sys.stderr.write(mask_text(traceback.format_exc(), *dsns))
    sys.stderr.flush()


def _show_click_error(error: click.ClickException, dsns: Sequence[str]) -> None:
    """click's usage errors, in the one form every error has here: ``error: ...`` (click writes ``Error:``)."""
    if isinstance(error, click.UsageError) and error.ctx is not None:
        click.echo(error.ctx.get_usage(), err=True)
        click.echo(f"Try '{error.ctx.command_path} --help' for help.\n", err=True)
    click.echo(f"error: {mask_text(error.format_message(), *dsns)}", err=True)


@contextlib.contextmanager
def _sigterm_as_interrupt() -> Iterator[None]:
    """While the block runs, SIGTERM interrupts like Ctrl-C (once: a second one does not cut the clean-up short)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def terminate(signum: int, frame: FrameType | None) -> None:
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        raise Terminated

    previous = signal.signal(signal.SIGTERM, terminate)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def _name_this_commands_create(error: SsppError, argv: list[str]) -> None:
    """A missing database's hint names the ``--create`` of the command the user ran, where it has one (the library
    can only suggest ``init --create``)."""
    name = next((word for word in argv if not word.startswith("-")), "")
    command = cli.commands.get(name)
    creates = command is not None and any(param.name == "create" for param in command.params)
    missing = isinstance(error, DatabaseUnreachableError) and error.missing_database
    if missing and creates and "--create" not in argv:
        error.hint = (
            f"create it: run the same sspp-seed {name} with --create (or createdb NAME), or check the database "
            "name in the DSN"
        )


def run(args: Sequence[str] | None = None) -> int:
    """Run ``sspp-seed`` with ``args`` and return its exit code; errors are printed, never raised."""
    argv = list(sys.argv[1:] if args is None else args)
    debug = _debug_requested(argv)
    dsns = _given_dsns(argv)
    try:
        with _sigterm_as_interrupt():
            result = cli.main(args=argv, prog_name="sspp-seed", standalone_mode=False)
    except SsppError as error:
        if debug:
            _print_traceback(dsns)
        _name_this_commands_create(error, argv)
        render_error(error, debug=debug, dsns=dsns)
        return error.exit_code
    except click.exceptions.Exit as stop:
        return stop.exit_code
    except click.ClickException as error:
        _show_click_error(error, dsns)
        return error.exit_code
    except (_Interrupted, click.Abort, KeyboardInterrupt) as stop:
        terminated = isinstance(stop, Terminated) or (isinstance(stop, _Interrupted) and stop.terminated)
        if sys.stderr.isatty():
            sys.stderr.write("\n")  # after the terminal's ^C echo, which may sit on the progress bar's line
        if terminated:
            sys.stderr.write(f"terminated (SIGTERM): {_UNDONE}\n")
            return ExitCode.TERMINATED
        sys.stderr.write(f"interrupted (Ctrl-C): {_UNDONE}\n")
        return ExitCode.INTERRUPTED
    except Exception as error:
        if debug:
            _print_traceback(dsns)
        sys.stderr.write(
            f"internal error: {type(error).__name__}: {mask_text(str(error), *dsns)}. "
            "Re-run with --debug for the traceback, and report it.\n"
        )
        return _INTERNAL_ERROR
    return result if isinstance(result, int) else ExitCode.OK


def main() -> NoReturn:
    """Console-script entry point."""
    sys.exit(run())
