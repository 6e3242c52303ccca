"""``sspp-seed report``: the data as pictures beside what the scenario asked for, in one self-contained HTML file."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import click
from rich.console import Console

from ._app import cli
from ._db import dsn_option, json_option
from ._output import CliState
from ._target import require_target

if TYPE_CHECKING:
    from ..report import DataReport

__all__: list[str] = []


def _json(report: DataReport, out: Path, pngs: list[Path]) -> dict[str, Any]:
    return {
        "out": str(out),
        "png": [str(path) for path in pngs],
        "scenario": report.scenario,
        "seed": report.seed,
        "source": report.source,
        "flags": len(report.flags),
        "charts": [
            {
                "key": chart.key,
                "title": chart.title,
                "flags": [
                    {"label": row.label, "expected": row.expected, "actual": row.actual, "tolerance": row.tolerance}
                    for row in chart.flags
                ],
            }
            for chart in report.charts
        ],
        "seconds": {name: round(value, 3) for name, value in report.timings.items()},
    }


def _render(console: Console, report: DataReport, out: Path, pngs: list[Path]) -> None:
    from ..report import format_value

    size_kb = out.stat().st_size / 1024
    console.print(
        f"wrote {out} ({len(report.charts)} charts, {size_kb:,.0f} KB) for {report.scenario} (seed {report.seed}) "
        f"from {report.source} in {report.timings.get('total_s', 0.0):.1f}s",
        markup=False,
    )
    if pngs:
        console.print(f"wrote {len(pngs)} PNGs to {pngs[0].parent}", markup=False)
    if report.source == "preview":
        return
    if not report.flags:
        console.print("every compared figure is within tolerance of the scenario", markup=False)
        return
    console.print(f"{len(report.flags)} figure(s) differ from the scenario beyond tolerance:", markup=False)
    for chart, row in report.flags:
        console.print(
            f"  {chart.title}: {row.label}: expected {format_value(row.expected, row.unit)}, "
            f"actual {format_value(row.actual, row.unit)} (tolerance \u00b1{format_value(row.tolerance, row.unit)})",
            markup=False,
        )


@cli.command("report")
@click.argument("scenario", required=False)
@dsn_option
@click.option(
    "--out",
    type=click.Path(dir_okay=False, path_type=Path),
    default=Path("report.html"),
    show_default=True,
    help="The HTML file to write: one self-contained page (no network needed to open it).",
)
@click.option(
    "--png", "png_dir", type=click.Path(file_okay=False, path_type=Path), help="Also write each chart as DIR/KEY.png."
)
@click.option("--check", is_flag=True, help="Exit 1 when a figure differs from the scenario beyond tolerance.")
@json_option
@click.pass_obj
def report_command(
    state: CliState,
    scenario: str | None,
    dsn: str | None,
    out: Path,
    png_dir: Path | None,
    check: bool,
    as_json: bool,
) -> int:
    """Draw the data: counts, funnels, local-time activity, the heavy tail, scores, lag, segments, amounts and
    the demo stories, each beside what the scenario asked for, with a flag on any figure beyond tolerance.

    With SCENARIO and no --dsn, previews that scenario without a database. Otherwise reports on the database
    (--dsn, $DATABASE_URL, PG* variables, or the tool's running server) against SCENARIO, or against the scenario
    the database records (sspp-seed load and the templates record it). Queries run on the server: big tables are
    page-sampled, and the page says which figures are.

    \b
    Examples:
      sspp-seed report demo --out demo-preview.html     # a scenario's preview: no database
      sspp-seed report --dsn "$(sspp-seed server dsn)" --out report.html --png slides/
      sspp-seed report --check --json                   # exit 1 if the data strays from its scenario
    """
    from ..report import data_report, write_page, write_pngs

    target = None if scenario is not None and dsn is None else require_target(state, dsn)
    report = data_report(dsn=target, scenario=scenario, png=png_dir is not None)
    write_page(out, report.page)
    pngs = write_pngs(png_dir, report.charts) if png_dir is not None else []
    state.emit(as_json, _json(report, out, pngs), lambda console: _render(console, report, out, pngs))
    return 1 if check and report.flags else 0
