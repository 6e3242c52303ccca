"""``sspp-seed server start|stop|status``: one warm PostgreSQL kept between runs."""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

import click
from rich.console import Console

from ..dsn import mask_dsn, with_database
from ..errors import ServerUnavailableError
from ..server._warm import WarmServerState, start_warm_server, stop_warm_server, warm_server_status
from ._app import cli
from ._db import json_option
from ._output import CliState
from ._target import DEFAULT_DATABASE

__all__: list[str] = []


def _state_json(state: WarmServerState) -> dict[str, Any]:
    data = asdict(state)
    data["dsn"] = mask_dsn(str(data["dsn"]))
    return data


def _render_state(console: Console, warm: WarmServerState, verb: str) -> None:
    console.print(f"{verb} {warm.provider} PostgreSQL {warm.version} (pid {warm.pid})")
    console.print(f"connect with: {mask_dsn(warm.dsn)}")
    console.print(f"data: {warm.data_dir}")


@cli.group("server")
def server_group() -> None:
    """Keep one PostgreSQL server warm between runs, so repeated test runs skip initdb.

    \b
    Examples:
      sspp-seed server start                  # local binaries if found, else the embedded server
      sspp-seed server start --provider embedded
      sspp-seed server status --json
      sspp-seed server dsn                    # URL of its database 'sspp', for psql "$(sspp-seed server dsn)"
      sspp-seed server stop
    """


@server_group.command("start")
@click.option(
    "--provider",
    type=click.Choice(["auto", "local", "embedded"]),
    default="auto",
    show_default=True,
    help="Where the server comes from.",
)
@json_option
@click.pass_obj
def start_command(state: CliState, provider: str, as_json: bool) -> None:
    """Start the warm server, or report the one already running."""
    running = warm_server_status()
    warm = running if running is not None else start_warm_server(provider)
    verb = "already running:" if running is not None else "started"
    state.emit(as_json, {"started": running is None, **_state_json(warm)}, lambda c: _render_state(c, warm, verb))


@server_group.command("stop")
@json_option
@click.pass_obj
def stop_command(state: CliState, as_json: bool) -> None:
    """Stop the warm server and remove its data."""
    stopped = stop_warm_server()
    state.emit(
        as_json,
        {"stopped": stopped},
        lambda c: c.print("stopped the warm server" if stopped else "no warm server was running"),
    )


@server_group.command("status")
@json_option
@click.pass_obj
def status_command(state: CliState, as_json: bool) -> int:
    """Show the warm server; exits 3 when none is running."""
    warm = warm_server_status()
    if warm is None:
        state.emit(as_json, {"running": False}, lambda c: c.print("no warm server is running"))
        return 3
    state.emit(as_json, {"running": True, **_state_json(warm)}, lambda c: _render_state(c, warm, "running:"))
    return 0


@server_group.command("dsn")
@click.option(
    "--database", default=DEFAULT_DATABASE, show_default=True, metavar="NAME", help="The database the URL names."
)
def dsn_command(database: str) -> None:
    """Print the URL of a database on the running server (the demo's 'sspp' by default); exits 3 when none runs.

    The tool's own server takes connections from this machine only and has no password, so the URL is complete.

    \b
    Examples:
      psql "$(sspp-seed server dsn)" -c "SELECT count(*) FROM customers"
      sspp-seed server dsn --database postgres
    """
    warm = warm_server_status()
    if warm is None:
        raise ServerUnavailableError(
            "no warm server is running", hint="start one: sspp-seed demo --detach (or sspp-seed server start)"
        )
    click.echo(mask_dsn(with_database(warm.dsn, database)))
