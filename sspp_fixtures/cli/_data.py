"""Data commands: ``load``, ``export``, ``demo`` and ``scenarios list|show|validate``."""

from __future__ import annotations

import signal
import threading
from pathlib import Path
from types import FrameType
from typing import TYPE_CHECKING, Any

import click
from rich.console import Console

from .._defaults import DEFAULT_BATCH_ROWS, EXPORT_FORMATS, TABLE_ORDER
from ..databases import ensure_database
from ..dsn import mask_dsn, resolve_dsn, with_database
from ..errors import ScenarioError
from ..server.warm import start_warm_server, warm_server_status
from ._app import cli
from ._db import DEFAULT_DATABASE, dsn_option, json_option, require_dsn, wait_option
from ._output import CliState, make_table
from ._progress import row_progress

if TYPE_CHECKING:  # the engines load on first use, so `sspp-seed --help` and `migrate` start fast
    from ..export import ExportReport
    from ..loader import LoadReport
    from ..scenarios import Scenario
    from ..server import Server

__all__: list[str] = []


def _scenario_options(function: Any) -> Any:
    for option in reversed(
        [
            click.option("--seed", type=click.IntRange(min=0), help="Override the scenario's seed."),
            click.option(
                "--scale",
                type=float,
                help="Multiply the scenario's customer and event counts (e.g. 0.1, 10).",
            ),
            click.option(
                "--workers",
                type=click.IntRange(min=0, max=64),
                help="Generator processes; 0 generates in this process (default: cores - 1, or 0 for small data).",
            ),
            click.option(
                "--batch-rows",
                type=click.IntRange(min=1000, max=10_000_000),
                default=DEFAULT_BATCH_ROWS,
                show_default=True,
                help="Rows per COPY batch (the data is the same whatever the batch size).",
            ),
        ]
    ):
        function = option(function)
    return function


def _resolve(name: str, seed: int | None, scale: float | None) -> Scenario:
    from ..scenarios import load_scenario

    return load_scenario(name).with_overrides(seed=seed, scale=scale)


def _expected_rows(scenario: Scenario) -> int:
    signals = round(scenario.events * scenario.processed_share)
    return scenario.customers + len(scenario.stories) + scenario.events + scenario.story_event_count + signals


def _load_json(report: LoadReport, dsn: str) -> dict[str, Any]:
    return {
        "dsn": mask_dsn(dsn),
        "database": report.database,
        "scenario": report.scenario,
        "seed": report.seed,
        "fingerprint": report.fingerprint,
        "rows": report.rows,
        "bytes_sent": report.bytes_sent,
        "workers": report.workers,
        "seconds": {phase: round(seconds, 3) for phase, seconds in report.seconds.items()},
        "total_seconds": round(report.total_seconds, 3),
        "rows_per_second": round(report.total_rows / max(report.total_seconds, 1e-9)),
    }


def _generators(workers: int) -> str:
    if workers == 0:
        return "generated in this process"
    return f"{workers} generator {'process' if workers == 1 else 'processes'}"


def _render_load(console: Console, report: LoadReport, dsn: str) -> None:
    table = make_table(["table", "rows"])
    for name in TABLE_ORDER:
        table.add_row(name, f"{report.rows[name]:,}")
    console.print(table)
    phases = ", ".join(f"{phase} {seconds:.2f}s" for phase, seconds in report.seconds.items())
    rate = report.total_rows / max(report.total_seconds, 1e-9)
    console.print(
        f"loaded {report.scenario} (seed {report.seed}) into {report.database} in {report.total_seconds:.1f}s "
        f"({rate:,.0f} rows/s; {phases}); {_generators(report.workers)}"
    )
    console.print(f"connect with: {mask_dsn(dsn)}")


def _run_load(state: CliState, dsn: str, scenario: Scenario, **options: Any) -> LoadReport:
    from ..loader import load_scenario_into

    with row_progress(state.err, _expected_rows(scenario)) as progress:
        return load_scenario_into(dsn, scenario, progress=progress, **options)


@cli.command("load")
@click.argument("scenario")
@dsn_option
@_scenario_options
@click.option("--force", is_flag=True, help="Load even into a database holding data the tool did not make.")
@wait_option
@json_option
@click.pass_obj
def load_command(
    state: CliState,
    scenario: str,
    dsn: str | None,
    seed: int | None,
    scale: float | None,
    workers: int | None,
    batch_rows: int,
    force: bool,
    wait_s: float,
    as_json: bool,
) -> None:
    """Load SCENARIO (a built-in name or a .yaml file) into a database, in one transaction.

    An empty database is initialized first; a tool-made database has its SSPP tables replaced; a database
    holding data the tool did not make is refused unless --force. Same scenario and seed, same data.

    \b
    Examples:
      sspp-seed load smoke --dsn postgresql://postgres@localhost/sspp_test
      sspp-seed load load-1m --workers 2
      sspp-seed load ./my-scenario.yaml --seed 7 --scale 0.5 --json
    """
    target = require_dsn(dsn)
    resolved = _resolve(scenario, seed, scale)
    report = _run_load(state, target, resolved, workers=workers, batch_rows=batch_rows, force=force, wait_s=wait_s)
    state.emit(as_json, _load_json(report, target), lambda console: _render_load(console, report, target))


def _export_json(report: ExportReport, scenario: Scenario) -> dict[str, Any]:
    return {
        "scenario": scenario.name,
        "seed": scenario.seed,
        "format": report.format,
        "files": {table: str(path) for table, path in report.files.items()},
        "rows": report.rows,
        "bytes": report.bytes_written,
    }


@cli.command("export")
@click.argument("scenario")
@click.option("--format", "fmt", type=click.Choice(EXPORT_FORMATS), required=True, help="Output format.")
@click.option(
    "--out",
    type=click.Path(path_type=Path),
    required=True,
    help="A file for sql; a folder for csv and jsonl (one file per table) and es-bulk (sales-signals.ndjson and "
    "its mapping).",
)
@_scenario_options
@json_option
@click.pass_obj
def export_command(
    state: CliState,
    scenario: str,
    fmt: str,
    out: Path,
    seed: int | None,
    scale: float | None,
    workers: int | None,
    batch_rows: int,
    as_json: bool,
) -> None:
    """Write SCENARIO's data to files: CSV, JSON lines, SQL (plain multi-row INSERTs), or the Elasticsearch
    _bulk NDJSON of sales_signals (the documents the platform's worker indexes, with the index mapping).

    \b
    Examples:
      sspp-seed export smoke --format sql --out sql/seed.sql
      sspp-seed export demo --format csv --out ./demo-csv
      sspp-seed export load-100k --format jsonl --out ./jsonl --workers 2
      sspp-seed export demo --format es-bulk --out ./demo-es
    """
    from ..export import export_scenario

    resolved = _resolve(scenario, seed, scale)
    with row_progress(state.err, _expected_rows(resolved)) as progress:
        report = export_scenario(resolved, fmt, out, workers=workers, batch_rows=batch_rows, progress=progress)

    def render(console: Console) -> None:
        table = make_table(["table", "rows", "file"])
        for name in TABLE_ORDER:
            if name in report.files:
                table.add_row(name, f"{report.rows[name]:,}", str(report.files[name]))
        console.print(table)
        console.print(f"wrote {report.bytes_written / 1e6:,.1f} MB of {fmt}")

    state.emit(as_json, _export_json(report, resolved), render)


def _stories_table(scenario: Scenario) -> Any:
    table = make_table(["story", "customer_id", "company", "events", "what happens"])
    for story in scenario.stories:
        count = sum(e.count for e in story.events)
        table.add_row(story.name, story.customer.customer_id, story.customer.name, str(count), story.description)
    return table


def _wait_for_interrupt(state: CliState) -> None:
    stop = threading.Event()

    def handler(signum: int, frame: FrameType | None) -> None:
        stop.set()

    previous = signal.signal(signal.SIGTERM, handler)
    try:
        state.info("the server stays up until Ctrl-C (or run with --detach to leave it running)")
        while not stop.wait(0.5):
            pass
    except KeyboardInterrupt:
        pass
    finally:
        signal.signal(signal.SIGTERM, previous)


@cli.command("demo")
@dsn_option
@click.option("--scenario", "scenario_name", default="demo", show_default=True, help="Scenario to load.")
@click.option("--seed", type=click.IntRange(min=0), help="Override the scenario's seed.")
@click.option("--detach", is_flag=True, help="Leave the server running and return (stop it: sspp-seed server stop).")
@click.option("--force", is_flag=True, help="Load even into a database holding data the tool did not make.")
@json_option
@click.pass_obj
def demo_command(
    state: CliState, dsn: str | None, scenario_name: str, seed: int | None, detach: bool, force: bool, as_json: bool
) -> None:
    """A PostgreSQL with the demo data, ready to show: no arguments needed.

    Without --dsn or DATABASE_URL, starts a server of its own (local PostgreSQL binaries if installed, else
    the embedded one), loads the 'demo' scenario into its database 'sspp', prints how to connect and the
    scripted stories, and keeps the server up until Ctrl-C (or returns at once with --detach).

    \b
    Examples:
      sspp-seed demo
      sspp-seed demo --detach && psql "$(sspp-seed server status --json | jq -r .dsn)"
      sspp-seed demo --dsn postgresql://postgres@localhost/sspp_demo
    """
    from ..server import get_server

    scenario = _resolve(scenario_name, seed, None)
    target = resolve_dsn(dsn)
    owned: Server | None = None
    if target is None:
        if detach:
            warm = warm_server_status() or start_warm_server()
            target = with_database(warm.dsn, DEFAULT_DATABASE)
        else:
            server = get_server("auto")
            owned = server if server.owned else None
            target = server.dsn_for(DEFAULT_DATABASE)
        ensure_database(target)
    try:
        report = _run_load(state, target, scenario, force=force)
        data = {**_load_json(report, target), "stories": [s.name for s in scenario.stories]}

        def render(console: Console) -> None:
            _render_load(console, report, target)
            if scenario.stories:
                console.print(_stories_table(scenario))
            console.print(f'try: psql "{mask_dsn(target)}" -c "SELECT event_type, count(*) FROM signals GROUP BY 1"')

        state.emit(as_json, data, render)
        if owned is not None:
            _wait_for_interrupt(state)
    finally:
        if owned is not None:
            owned.stop()
            state.info("stopped the demo server")


@cli.group("scenarios")
def scenarios_group() -> None:
    """The scenarios: built-in ones and your own YAML files.

    \b
    Examples:
      sspp-seed scenarios list
      sspp-seed scenarios show demo
      sspp-seed scenarios validate my-scenario.yaml other.yaml
    """


@scenarios_group.command("list")
@json_option
@click.pass_obj
def scenarios_list(state: CliState, as_json: bool) -> None:
    """The built-in scenarios with their sizes."""
    from ..scenarios import list_scenarios, load_scenario

    rows: list[dict[str, Any]] = []
    for name in list_scenarios():
        scenario = load_scenario(name)
        rows.append(
            {
                "name": name,
                "customers": scenario.customers,
                "events": scenario.events,
                "days": scenario.window_days,
                "stories": len(scenario.stories),
                "description": scenario.description,
            }
        )

    def render(console: Console) -> None:
        table = make_table(["scenario", "customers", "events", "days", "stories", "description"])
        for row in rows:
            table.add_row(
                row["name"],
                f"{row['customers']:,}",
                f"{row['events']:,}",
                str(row["days"]),
                str(row["stories"]),
                row["description"],
            )
        console.print(table)

    state.emit(as_json, {"scenarios": rows}, render)


@scenarios_group.command("show")
@click.argument("scenario")
@json_option
@click.pass_obj
def scenarios_show(state: CliState, scenario: str, as_json: bool) -> None:
    """SCENARIO fully resolved (extends merged, defaults filled in), and the files it comes from."""
    from ..scenarios import iter_chain_paths, load_scenario

    resolved = load_scenario(scenario)
    data = {"files": list(iter_chain_paths(scenario)), "fingerprint": resolved.fingerprint(), **resolved.to_dict()}

    def render(console: Console) -> None:
        import json

        console.print_json(json.dumps(data))

    state.emit(as_json, data, render)


@scenarios_group.command("validate")
@click.argument("files", nargs=-1, required=True, type=click.Path(path_type=Path))
@json_option
@click.pass_obj
def scenarios_validate(state: CliState, files: tuple[Path, ...], as_json: bool) -> int:
    """Check scenario FILES without touching a database; exits 1 if any is invalid."""
    from ..scenarios import load_scenario

    results: list[dict[str, Any]] = []
    for path in files:
        try:
            scenario = load_scenario(path)
        except ScenarioError as error:
            results.append({"file": str(path), "valid": False, "error": str(error)})
        else:
            results.append(
                {"file": str(path), "valid": True, "name": scenario.name, "fingerprint": scenario.fingerprint()}
            )

    def render(console: Console) -> None:
        for result in results:
            if result["valid"]:
                console.print(f"ok       {result['file']} (scenario {result['name']})")
            else:
                state.err.print(f"invalid  {result['error']}", markup=False, highlight=False)

    state.emit(as_json, {"results": results}, render)
    return 0 if all(r["valid"] for r in results) else 1
