"""One self-contained HTML page from sections of charts: inline SVG, inline CSS, no script, and a
Content-Security-Policy that forbids every network request, so the file opens the same from a mail attachment.

Each chart stands in a ``<figure class="chart" id="chart-KEY">``, its drawing in a ``<div class="plot">`` framed in
:data:`FRAME_COLOR` (a colour no chart uses, so a screenshot can find every drawing), with its expected-vs-actual
table and its flags beneath.
"""

from __future__ import annotations

import html
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from ..errors import WriteError
from ._charts import Chart, Row, format_value

__all__ = ["CSP", "FRAME_COLOR", "Section", "render_page", "write_page", "write_pngs"]

#: The frame of every chart's drawing: a colour that no chart draws, so a screenshot's chart regions can be found.
FRAME_COLOR = "#c9b8f0"
#: Nothing may be fetched: no script, no font, no image but the page's own ``data:``; styles only inline.
CSP = "default-src 'none'; style-src 'unsafe-inline'; img-src data:; base-uri 'none'; form-action 'none'"

_CSS = f"""
body {{ font: 14px/1.4 system-ui, -apple-system, "Segoe UI", sans-serif; margin: 24px; color: #1f2328;
       background: #fff; }}
h1 {{ font-size: 22px; margin: 0 0 4px; }}
h2 {{ font-size: 17px; margin: 28px 0 8px; border-bottom: 1px solid #d0d7de; padding-bottom: 4px; }}
.sub {{ color: #59636e; margin: 0 0 12px; }}
.facts {{ border-collapse: collapse; margin: 8px 0 16px; }}
.facts th {{ text-align: left; padding: 2px 12px 2px 0; color: #59636e; font-weight: normal; }}
.summary {{ padding: 8px 12px; border-radius: 6px; margin: 8px 0; }}
.summary.ok {{ background: #dafbe1; }}
.summary.flagged {{ background: #ffebe9; }}
.grid {{ display: grid; grid-template-columns: repeat(auto-fill, minmax(560px, 1fr)); gap: 16px; }}
figure.chart {{ margin: 0; padding: 8px; border: 1px solid #d0d7de; border-radius: 6px; }}
figure.chart .plot {{ border: 2px solid {FRAME_COLOR}; }}
figure.chart svg {{ width: 100%; height: auto; display: block; }}
figure.chart h3 {{ font-size: 14px; margin: 0 0 4px; }}
figure.chart.flagged h3::after {{ content: " \u2014 beyond tolerance"; color: #d1242f; }}
.caption {{ color: #59636e; font-size: 12px; margin: 4px 0; }}
.note {{ color: #59636e; font-size: 12px; font-style: italic; }}
table.rows {{ border-collapse: collapse; font-size: 12px; margin-top: 6px; width: 100%; }}
table.rows th, table.rows td {{ padding: 1px 6px; border-bottom: 1px solid #eaeef2; text-align: right; }}
table.rows th:first-child, table.rows td:first-child {{ text-align: left; }}
tr.flag td {{ color: #d1242f; font-weight: 600; }}
"""


@dataclass(frozen=True, kw_only=True)
class Section:
    """A titled group of charts, with a sentence that says what it shows."""

    title: str
    charts: Sequence[Chart]
    intro: str = ""


def _row_html(row: Row) -> str:
    tolerance = "" if row.tolerance is None else "\u00b1" + format_value(row.tolerance, row.unit)
    cells = (
        html.escape(row.label),
        format_value(row.expected, row.unit),
        format_value(row.actual, row.unit),
        format_value(row.difference, row.unit) if row.difference is not None else "\u2013",
        tolerance,
        "differs" if row.flagged else "",
    )
    css = ' class="flag"' if row.flagged else ""
    return f"<tr{css}>" + "".join(f"<td>{cell}</td>" for cell in cells) + "</tr>"


def _chart_html(chart: Chart) -> str:
    css = "chart flagged" if chart.flags else "chart"
    parts = [
        f'<figure class="{css}" id="chart-{chart.key}" data-flags="{len(chart.flags)}">',
        f"<h3>{html.escape(chart.title)}</h3>",
        f'<div class="plot">{chart.svg}</div>',
    ]
    if chart.caption:
        parts.append(f'<p class="caption">{html.escape(chart.caption)}</p>')
    if chart.note:
        parts.append(f'<p class="note">{html.escape(chart.note)}</p>')
    if chart.rows:
        parts.append(
            '<table class="rows"><thead><tr><th></th><th>expected</th><th>actual</th><th>difference</th>'
            "<th>tolerance</th><th></th></tr></thead><tbody>"
            + "".join(_row_html(row) for row in chart.rows)
            + "</tbody></table>"
        )
    parts.append("</figure>")
    return "\n".join(parts)


def _summary_html(charts: Sequence[Chart], expected: str) -> str:
    flagged = [chart for chart in charts if chart.flags]
    if not flagged:
        return f'<p class="summary ok">Every compared figure is within tolerance of {html.escape(expected)}.</p>'
    names = ", ".join(
        f'<a href="#chart-{chart.key}">{html.escape(chart.title)}</a> ({len(chart.flags)})' for chart in flagged
    )
    total = sum(len(chart.flags) for chart in flagged)
    return (
        f'<p class="summary flagged">{total} figure(s) differ from {html.escape(expected)} beyond tolerance: '
        f"{names}</p>"
    )


def render_page(
    *,
    title: str,
    sections: Sequence[Section],
    subtitle: str = "",
    facts: Iterable[tuple[str, str]] = (),
    expected: str = "what the scenario asked for",
) -> str:
    """The whole page as one HTML string: a header with ``facts`` (label, value), a summary of the flags (each
    compared figure against ``expected``, as the summary names it), sections."""
    charts = [chart for section in sections for chart in section.charts]
    body = [f"<h1>{html.escape(title)}</h1>"]
    if subtitle:
        body.append(f'<p class="sub">{html.escape(subtitle)}</p>')
    fact_rows = "".join(f"<tr><th>{html.escape(k)}</th><td>{html.escape(v)}</td></tr>" for k, v in facts)
    if fact_rows:
        body.append(f'<table class="facts">{fact_rows}</table>')
    if any(chart.rows for chart in charts):
        body.append(_summary_html(charts, expected))
    for section in sections:
        body.append(f"<h2>{html.escape(section.title)}</h2>")
        if section.intro:
            body.append(f'<p class="caption">{html.escape(section.intro)}</p>')
        body.append('<div class="grid">' + "\n".join(_chart_html(chart) for chart in section.charts) + "</div>")
    return (
        "<!DOCTYPE html>\n"
        '<html lang="en"><head><meta charset="utf-8">\n'
        f'<meta http-equiv="Content-Security-Policy" content="{CSP}">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        f"<title>{html.escape(title)}</title>\n<style>{_CSS}</style></head>\n"
        "<body>\n" + "\n".join(body) + "\n</body></html>\n"
    )


def write_page(path: Path, page: str, *, option: str = "--out") -> Path:
    """Write ``page`` to ``path`` (UTF-8), creating its directory; a failure is a :class:`WriteError` whose hint
    names the command's ``option`` that chose the path."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(page, encoding="utf-8")
    except OSError as error:
        raise WriteError(
            f"cannot write the report to {path}: {error.strerror or error}",
            hint=f"choose a writable path with {option}",
        ) from None
    return path


def write_pngs(directory: Path, charts: Iterable[Chart]) -> list[Path]:
    """Write each chart's PNG as ``DIR/KEY.png`` (charts rendered without PNG are skipped); returns the paths."""
    written = []
    try:
        directory.mkdir(parents=True, exist_ok=True)
        for chart in charts:
            if chart.png is None:
                continue
            path = directory / f"{chart.key}.png"
            path.write_bytes(chart.png)
            written.append(path)
    except OSError as error:
        raise WriteError(
            f"cannot write the charts' PNGs to {directory}: {error.strerror or error}",
            hint="choose a writable directory with --png",
        ) from None
    return written
