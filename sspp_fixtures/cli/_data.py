"""Data commands: ``load``, ``export``, ``demo`` and ``scenarios list|show|validate``."""

from __future__ import annotations

import signal
import threading
from pathlib import Path
from types import FrameType
from typing import TYPE_CHECKING, Any

import click
from rich.console import Console

from .._defaults import DEFAULT_BATCH_ROWS, EXPORT_FORMATS, PARTITIONED_FORMATS
from .._stallwatch import DEFAULT_STALL_TIMEOUT_S
from .._table_order import TABLE_ORDER
from ..databases import ensure_database
from ..dsn import database_name, mask_dsn, with_database
from ..errors import ScenarioError, UsageError
from ..server._warm import WarmServerState, start_warm_server, warm_server_status
from ._app import cli
from ._dask import dask_option
from ._db import dsn_option, json_option, wait_option
from ._output import CliState, make_table
from ._progress import row_progress
from ._target import DEFAULT_DATABASE, announce, find_target, require_target

if TYPE_CHECKING:  # the engines load on first use, so `sspp-seed --help` and `migrate` start fast
    from .._dask import DaskTarget
    from ..export import ExportReport, PartitionedReport
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
    """Rows a load or export of ``scenario`` writes, about (for the progress bar's total)."""
    from ..model import PLATFORM_SIGNAL_TYPES

    signals = round(scenario.events * scenario.processed_share)
    total = sum(scenario.event_mix.values()) or 1.0
    platform = sum(weight for name, weight in scenario.event_mix.items() if name in PLATFORM_SIGNAL_TYPES) / total
    events = scenario.events + scenario.story_event_count
    return scenario.customers + len(scenario.stories) + events + signals + round(signals * platform)


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
        "rows_from_cache": report.rows_from_cache,
        "connections": report.connections,
        "dask": report.dask,
        "seconds": {phase: round(seconds, 3) for phase, seconds in report.seconds.items()},
        "total_seconds": round(report.total_seconds, 3),
        "rows_per_second": round(report.total_rows / max(report.total_seconds, 1e-9)),
    }


def _generators(workers: int) -> str:
    if workers == 0:
        return "generated in this process"
    return f"{workers} generator {'process' if workers == 1 else 'processes'}"


def _connections(connections: int) -> str:
    if connections == 1:
        return "one connection, one transaction"
    return f"{connections} connections into a shadow schema, swapped in"


def _made_by(report: LoadReport) -> str:
    if report.dask is not None:
        built = f"{report.connections} connection{'s' if report.connections > 1 else ''} of this process"
        return (
            f"generated and copied into a shadow schema by the Dask workers of {report.dask}; {built} built the "
            "indexes and swapped it in"
        )
    made = "rows read from the row cache" if report.rows_from_cache else _generators(report.workers)
    return f"{made}; {_connections(report.connections)}"


def _render_load(console: Console, report: LoadReport, dsn: str) -> None:
    table = make_table(["table", "rows"])
    for name in TABLE_ORDER:
        table.add_row(name, f"{report.rows[name]:,}")
    console.print(table)
    phases = ", ".join(f"{phase} {seconds:.2f}s" for phase, seconds in report.seconds.items())
    rate = report.total_rows / max(report.total_seconds, 1e-9)
    console.print(
        f"loaded {report.scenario} (seed {report.seed}) into {report.database} in {report.total_seconds:.1f}s "
        f"({rate:,.0f} rows/s; {phases}); {_made_by(report)}"
    )
    console.print(f"connect with: {mask_dsn(dsn)}")


def _run_load(state: CliState, dsn: str, scenario: Scenario, **options: Any) -> LoadReport:
    from ..loader import load_scenario_into

    with row_progress(state.err, _expected_rows(scenario), verbosity=state.verbosity) as progress:
        return load_scenario_into(dsn, scenario, progress=progress, **options)


def _parse_dask(spec: str | None) -> DaskTarget | None:
    """``--dask``, checked before anything else is done (a typo is a usage error, exit 2)."""
    if spec is None:
        return None
    from .._dask import parse_dask

    return parse_dask(spec)


@cli.command("load")
@click.argument("scenario")
@dsn_option
@_scenario_options
@click.option("--force", is_flag=True, help="Load even into a database holding data the tool did not make.")
@click.option("--create", is_flag=True, help="Create the database first if it does not exist.")
@click.option(
    "--stall-timeout",
    "stall_timeout_s",
    type=click.FloatRange(min=0, min_open=True),
    default=DEFAULT_STALL_TIMEOUT_S,
    show_default=True,
    metavar="SECONDS",
    help="Stop the load when the server shows no sign of work for this long (a frozen or paused server).",
)
@click.option(
    "--connections",
    type=click.IntRange(min=1, max=64),
    default=None,
    metavar="N",
    help="Load over N connections into a shadow schema, swapped in at the end (atomic all the same); 1 is one "
    "transaction. Default: 1 for small scenarios, else min(4, cores, the server's free connections / 2).",
)
@dask_option(
    "its workers COPY into a shadow schema, swapped in at the end; --connections then builds the indexes. Same data"
)
@click.option(
    "--row-cache/--no-row-cache",
    default=True,
    show_default=True,
    help="Read the rows from the row cache when an earlier load of the same scenario and seed kept them there "
    "(100k rows or more), else keep them for the next load; within $SSPP_FIXTURES_ROW_CACHE_MB (default 2048, "
    "0 keeps none). Same data either way.",
)
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
    create: bool,
    stall_timeout_s: float,
    connections: int | None,
    dask: str | None,
    row_cache: bool,
    wait_s: float,
    as_json: bool,
) -> None:
    """Load SCENARIO (a built-in name or a .yaml file) into a database, atomically.

    An empty database is initialized first; a tool-made database has its SSPP tables replaced; a database
    holding data the tool did not make is refused unless --force. Same scenario and seed, same data.
    With --connections N (N > 1) the rows go into a shadow schema over N connections and replace the live
    tables in one short transaction at the end; until then the live tables are untouched, whatever happens.

    \b
    Examples:
      sspp-seed load smoke                  # $DATABASE_URL, PG*, else the tool's running server
      sspp-seed load smoke --dsn "$(sspp-seed server dsn --database sspp_test)" --create
      sspp-seed load sample --workers 2
      sspp-seed load sample --connections 2   # over 2 connections, swapped in
      sspp-seed load sample --dask local:2    # generated and copied by 2 Dask worker processes
      sspp-seed load ./my-scenario.yaml --seed 7 --scale 0.5 --json
    """
    resolved = _resolve(scenario, seed, scale)
    cluster = _parse_dask(dask)
    target = require_target(state, dsn, create=True)
    if create:
        from ..databases import ensure_database

        ensure_database(target)
    report = _run_load(
        state,
        target,
        resolved,
        workers=workers,
        batch_rows=batch_rows,
        force=force,
        wait_s=wait_s,
        stall_timeout_s=stall_timeout_s,
        connections=connections,
        dask=cluster,
        row_cache=row_cache,
    )
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


def _partitioned_json(report: PartitionedReport, scenario: Scenario) -> dict[str, Any]:
    return {
        "scenario": scenario.name,
        "seed": scenario.seed,
        "format": report.format,
        "url": report.url,
        "manifest": report.manifest,
        "partitions": len(report.partitions),
        "rows": report.rows,
        "bytes": report.bytes_written,
    }


def _is_partitioned(fmt: str, out: str, dask: str | None, partitioned: bool) -> bool:
    """Parquet always; csv with a URL, --dask or --partitioned; the other formats never (refused with those)."""
    wanted = partitioned or dask is not None or "://" in out
    if fmt in PARTITIONED_FORMATS:
        return fmt == "parquet" or wanted
    if wanted:
        raise UsageError(
            f"the {fmt} format is written to local files only, not as partitions (--out URL, --dask, --partitioned)",
            hint=f"use --format {' or '.join(PARTITIONED_FORMATS)} for partitioned files, or a local --out without "
            "--dask",
            field="--format",
            value=fmt,
        )
    return False


def _export_partitioned(
    state: CliState, scenario: Scenario, fmt: str, out: str, dask: str | None, workers: int | None, batch_rows: int
) -> PartitionedReport:
    from .._dask import dask_client
    from ..export import export_partitioned

    if workers:
        raise UsageError(
            f"--workers is not used for {fmt} partitions",
            hint="run the chunk tasks in parallel with --dask local:N (N worker processes on this machine)",
            field="--workers",
            value=workers,
        )
    with row_progress(state.err, _expected_rows(scenario), verbosity=state.verbosity) as progress:
        if dask is None:
            return export_partitioned(scenario, fmt, out, batch_rows=batch_rows, progress=progress)
        with dask_client(dask) as client:
            return export_partitioned(scenario, fmt, out, client=client, batch_rows=batch_rows, progress=progress)


@cli.command("export")
@click.argument("scenario")
@click.option(
    "--format",
    "fmt",
    type=click.Choice(tuple(dict.fromkeys((*EXPORT_FORMATS, *PARTITIONED_FORMATS)))),
    required=True,
    help="Output format.",
)
@click.option(
    "--out",
    required=True,
    metavar="PATH|URL",
    help="A file for sql; a folder for csv and jsonl (one file per table) and es-bulk (sales-signals.ndjson and "
    "its mapping); for parquet, and csv with --partitioned or --dask, a folder or fsspec URL (s3://bucket/path) "
    "that gets <table>/part-NNNNN files and manifest.json.",
)
@_scenario_options
@dask_option("each task writes its partition. Same files")
@click.option(
    "--partitioned",
    is_flag=True,
    help="Write csv as <table>/part-NNNNN.csv partitions with manifest.json (implied by parquet, a URL, --dask).",
)
@json_option
@click.pass_obj
def export_command(
    state: CliState,
    scenario: str,
    fmt: str,
    out: str,
    seed: int | None,
    scale: float | None,
    workers: int | None,
    batch_rows: int,
    dask: str | None,
    partitioned: bool,
    as_json: bool,
) -> None:
    """Write SCENARIO's data to files: CSV, JSON lines, SQL (plain multi-row INSERTs), the Elasticsearch
    _bulk NDJSON of sales_signals (the documents the platform's worker indexes, with the index mapping), or
    partitioned Parquet/CSV with a manifest of row counts and checksums, to a folder or any fsspec URL.

    \b
    Examples:
      sspp-seed export smoke --format sql --out ./seed.sql
      sspp-seed export smoke --format csv --out ./smoke-csv
      sspp-seed export sample --format jsonl --out ./jsonl --workers 2
      sspp-seed export smoke --format es-bulk --out ./smoke-es
      sspp-seed export smoke --format parquet --out ./smoke-parquet
      sspp-seed export smoke --format parquet --out ./smoke-lake --dask local:2
    """
    resolved = _resolve(scenario, seed, scale)
    if _is_partitioned(fmt, out, dask, partitioned):
        files = _export_partitioned(state, resolved, fmt, out, dask, workers, batch_rows)

        def render_files(console: Console) -> None:
            table = make_table(["table", "rows", "partitions"])
            for name in TABLE_ORDER:
                count = sum(1 for partition in files.partitions if partition.table == name)
                table.add_row(name, f"{files.rows[name]:,}", str(count))
            console.print(table)
            console.print(f"wrote {files.bytes_written / 1e6:,.1f} MB of {fmt}; manifest: {files.manifest}")

        state.emit(as_json, _partitioned_json(files, resolved), render_files)
        return

    from ..export import export_scenario

    with row_progress(state.err, _expected_rows(resolved), verbosity=state.verbosity) as progress:
        report = export_scenario(resolved, fmt, Path(out), workers=workers, batch_rows=batch_rows, progress=progress)

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
        state.info("the demo server stays up until Ctrl-C (run with --detach to leave it running and return)")
        while not stop.wait(0.5):
            pass
    except KeyboardInterrupt:
        pass
    finally:
        signal.signal(signal.SIGTERM, previous)


def _describe(warm: WarmServerState) -> str:
    return f"{warm.provider} PostgreSQL {warm.version}, pid {warm.pid}"


def _demo_server(state: CliState, detach: bool) -> tuple[str, Server | None, str]:
    """The demo's database on the tool's own server: ``(dsn, server to stop afterwards or None, what happens
    to the server at the end)``, each step said on stderr before it runs."""
    from ..server import get_server

    warm = warm_server_status()
    owned: Server | None = None
    if warm is not None:
        state.info(f"sspp-fixtures' own server is already running ({_describe(warm)}): using it")
        dsn = warm.dsn
        after = "the server stays up, as it was before (sspp-seed server stop ends it)"
    elif detach:
        state.info("starting sspp-fixtures' own PostgreSQL server (local binaries if found, else the embedded one)")
        warm = start_warm_server()
        state.info(f"started {_describe(warm)}")
        dsn = warm.dsn
        after = "the server stays up (--detach): sspp-seed server stop ends it"
    else:
        state.info("starting a PostgreSQL server for this demo (local binaries if found, else the embedded one)")
        server = get_server("auto", use_warm=False)
        owned = server if server.owned else None
        state.info(f"started {server.provider} PostgreSQL {server.server_version()}")
        dsn = server.dsn
        after = ""
    target = with_database(dsn, DEFAULT_DATABASE)
    try:
        if ensure_database(target):
            state.info(f"created database {DEFAULT_DATABASE!r}")
    except BaseException:
        if owned is not None:  # started for this demo: not left running when the demo cannot go on
            owned.stop()
        raise
    return target, owned, after


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

    Without --dsn, DATABASE_URL or PG* variables, uses the tool's own server: the one already running (it stays
    up), else one started for the demo (local PostgreSQL binaries if installed, else the embedded one), which stays
    up until Ctrl-C, or with --detach until `sspp-seed server stop`. Loads the 'demo' scenario into its database
    'sspp' (replacing what that held), prints how to connect and the scripted stories. Each step is said on stderr.

    \b
    Examples:
      sspp-seed demo --detach
      psql "$(sspp-seed server dsn)" -c "SELECT count(*) FROM signals"
      sspp-seed demo --scenario smoke --seed 7 --json
    """
    scenario = _resolve(scenario_name, seed, None)
    chosen = find_target(dsn)
    owned: Server | None = None
    after = ""
    if chosen is not None and chosen.warm is None:
        announce(state, chosen)
        target = chosen.dsn
    else:
        target, owned, after = _demo_server(state, detach)
    try:
        state.info(
            f"loading scenario {scenario.name!r} (seed {scenario.seed}: {scenario.customers:,} customers, "
            f"{scenario.events:,} events) into database {database_name(target)!r}, replacing its SSPP tables' rows"
        )
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
        elif after:
            state.info(after)
    finally:
        if owned is not None:
            state.info("stopping the demo server")
            owned.stop()
            state.info("stopped the demo server; its data is gone")


@cli.group("scenarios")
def scenarios_group() -> None:
    """The scenarios: built-in ones and your own YAML files.

    \b
    Examples:
      sspp-seed scenarios list
      sspp-seed scenarios show demo
      sspp-seed scenarios validate my-scenario.yaml
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
    """SCENARIO fully resolved (extends merged, every default written out) as a scenario file of its own.

    The output validates and loads to the same data: save it and edit it. YAML, or JSON with --json; the files it
    comes from and its fingerprint are said on stderr (and in the YAML's header comment).

    \b
    Examples:
      sspp-seed scenarios show smoke > my-scenario.yaml
      sspp-seed scenarios show load-1m --json
    """
    from ..scenarios import iter_chain_paths, load_scenario

    resolved = load_scenario(scenario)
    data = resolved.to_file_dict()
    files = ", ".join(iter_chain_paths(scenario))
    state.detail(f"{resolved.name}: from {files}; fingerprint {resolved.fingerprint()}")
    if as_json:
        state.emit(True, data, lambda console: None)
        return
    header = f"# scenario {resolved.name}, resolved from {files}\n# fingerprint {resolved.fingerprint()}\n"
    click.echo(header + _yaml_text(data), nl=False)


def _yaml_text(data: dict[str, Any]) -> str:
    import io

    from ruamel.yaml import YAML

    yaml = YAML()
    yaml.default_flow_style = False
    yaml.width = 4096
    buffer = io.StringIO()
    yaml.dump(data, buffer)
    return buffer.getvalue()


@scenarios_group.command("validate")
@click.argument("files", nargs=-1, required=True, type=click.Path(path_type=Path))
@json_option
@click.pass_obj
def scenarios_validate(state: CliState, files: tuple[Path, ...], as_json: bool) -> int:
    """Check scenario FILES without touching a database, reporting every problem; exits 1 if any is invalid."""
    from ..scenarios import load_scenario

    results: list[dict[str, Any]] = []
    for path in files:
        try:
            scenario = load_scenario(path)
        except ScenarioError as error:
            problems = error.problems or []
            results.append({"file": str(path), "valid": False, "error": str(error), "problems": problems})
        else:
            results.append(
                {"file": str(path), "valid": True, "name": scenario.name, "fingerprint": scenario.fingerprint()}
            )

    def render(console: Console) -> None:
        for result in results:
            if result["valid"]:
                console.print(f"ok       {result['file']} (scenario {result['name']})")
            elif result["problems"]:
                for problem in result["problems"]:
                    where = problem.get("file") or result["file"]  # a parent's problem is in the parent's file
                    line = f"invalid  {where}:{problem['line']}: {problem['field']}: {problem['problem']}"
                    state.problem(line)
            else:
                state.problem(f"invalid  {result['error']}")

    state.emit(as_json, {"results": results}, render)
    return 0 if all(r["valid"] for r in results) else 1
