"""``sspp-seed report`` as one function: a database's figures (or, without one, a scenario's preview) beside what
the scenario asks for, drawn and assembled into one self-contained page."""

from __future__ import annotations

import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psycopg

from ..dsn import connect, mask_dsn
from ..errors import UsageError
from ..model import FUNNEL, PLATFORM_EVENT_TYPES
from ..scenarios import Scenario, load_scenario
from ._charts import Chart, Row, require_matplotlib
from ._compare import (
    amount_rows,
    count_rows,
    heatmap_rows,
    lag_rows,
    score_rows,
    segment_rows,
    share_rows,
    story_rows,
    tail_rows,
)
from ._draw import draw_charts
from ._expected import expected_profile
from ._page import Section, render_page
from ._profile import Profile
from ._queries import actual_profile

__all__ = ["DataReport", "data_report"]

_CAPTIONS = {
    "counts": "Rows in each table. Customers and events are fixed by the scenario; signals and sales_signals follow "
    "the share of events the worker processed.",
    "funnel": "Share of all events per type, widest step first: the README's acquisition funnel and the platform's "
    "six sales event types.",
    "heatmap": "When events happen in each customer's local time (its locale's UTC offset): business hours on "
    "weekdays.",
    "tail": "Lorenz curve of events per account: how far activity is from equal. The further below the diagonal, "
    "the more a few accounts produce most events.",
    "scores": "Distribution of sales_signals.signal_score per signal_type, as the worker's rules score them.",
    "lag": "How long the worker took: sales_signals.processed_at \u2212 timestamp. Dotted lines: the expected "
    "p50, p90 and p99.",
    "segments": "Customers per segment and per locale.",
    "amounts": "Order amounts (purchase, renewal, upsell) converted to USD at the model's fixed rates, by the "
    "customer's segment.",
    "stories": "The scenario's scripted accounts: each scripted event (hollow circle) and the events the database "
    "holds for that customer (dots).",
}

_SECTIONS = (
    ("Volume", ("counts", "funnel"), "How much data there is and how it splits by event type."),
    ("Time", ("heatmap", "lag"), "When events happen and how fast the worker processed them."),
    ("Accounts", ("tail", "segments", "amounts"), "Who produces the events, and what they buy."),
    ("Signals", ("scores",), "What the worker's scoring produced."),
    ("Demo stories", ("stories",), "The accounts to walk an audience through."),
)


@dataclass(frozen=True, kw_only=True)
class DataReport:
    """A drawn report: the page, its charts, the figures flagged, where the data came from, and timings (s;
    ``expected_s`` and ``queries_s`` overlap: they run at the same time)."""

    scenario: str
    seed: int
    source: str  # the masked DSN, or "preview" for a scenario without a database
    page: str
    charts: tuple[Chart, ...]
    timings: dict[str, float]

    @property
    def flags(self) -> tuple[tuple[Chart, Row], ...]:
        """Every figure beyond tolerance, with the chart it belongs to."""
        return tuple((chart, row) for chart in self.charts for row in chart.flags)


def _rows(expected: Profile, actual: Profile | None) -> dict[str, tuple[Row, ...]]:
    return {
        "counts": count_rows(expected, actual),
        "funnel": share_rows(
            (*FUNNEL, *PLATFORM_EVENT_TYPES),
            {k: float(v) for k, v in expected.event_types.items()},
            None if actual is None else {k: float(v) for k, v in actual.event_types.items()},
            n_expected=None,
            n_actual=actual.events_n if actual is not None else None,
        ),
        "heatmap": heatmap_rows(expected, actual),
        "tail": tail_rows(expected, actual),
        "scores": score_rows(expected, actual),
        "lag": lag_rows(expected, actual),
        "segments": segment_rows(expected, actual),
        "amounts": amount_rows(expected, actual),
        "stories": story_rows(expected, actual),
    }


def _notes(expected: Profile, actual: Profile | None) -> dict[str, str]:
    keys = set(expected.notes) | (set(actual.notes) if actual else set())
    notes = {}
    for key in keys:
        parts = [f"expected: {expected.notes[key]}"] if key in expected.notes else []
        if actual is not None and key in actual.notes:
            parts.append(f"actual: {actual.notes[key]}")
        notes[key] = "; ".join(parts)
    return notes


def _timed(work: Callable[[Scenario], Profile], scenario: Scenario) -> tuple[Profile, float]:
    started = time.perf_counter()
    return work(scenario), time.perf_counter() - started


def _loaded_scenario(conn: psycopg.Connection[Any]) -> tuple[str, int] | None:
    from ..doctor._database import _provenance  # the doctor's reading of templates' comments and load markers

    found = _provenance(conn)
    return (str(found["scenario"]), int(found["seed"])) if "scenario" in found and "seed" in found else None


def _resolve(scenario: Scenario | str | Path | None, conn: psycopg.Connection[Any] | None) -> Scenario:
    if isinstance(scenario, Scenario):
        return scenario
    if scenario is not None:
        return load_scenario(scenario)
    loaded = _loaded_scenario(conn) if conn is not None else None
    if loaded is None:
        raise UsageError(
            "the database does not record which scenario it holds (it was not loaded by sspp-seed load or a template)",
            hint="name it: sspp-seed report SCENARIO --dsn URL (or scenario= in Python)",
            field="scenario",
        )
    return load_scenario(loaded[0]).with_overrides(seed=loaded[1])


def data_report(
    *,
    dsn: str | None = None,
    scenario: Scenario | str | Path | None = None,
    png: bool = False,
    title: str | None = None,
) -> DataReport:
    """The report of the database at ``dsn`` against ``scenario`` (default: the one the database records), or, with
    no ``dsn``, a preview of ``scenario`` alone. ``png``: also render each chart as PNG (for slides)."""
    require_matplotlib()
    if dsn is None and scenario is None:
        raise UsageError(
            "a report needs a database (--dsn) or a scenario to preview", hint="e.g. sspp-seed report demo"
        )
    timings: dict[str, float] = {}
    started = time.perf_counter()
    actual: Profile | None = None
    if dsn is not None:
        with connect(dsn) as conn:
            resolved = _resolve(scenario, conn)
            # the model's sample (this process's CPU) is drawn while the server aggregates (the server's)
            with ThreadPoolExecutor(max_workers=1, thread_name_prefix="sspp-report-expected") as pool:
                expected_job = pool.submit(_timed, expected_profile, resolved)
                queries_started = time.perf_counter()
                actual = actual_profile(conn, resolved)
                timings["queries_s"] = time.perf_counter() - queries_started
                expected, timings["expected_s"] = expected_job.result()
    else:
        resolved = _resolve(scenario, None)
        expected, timings["expected_s"] = _timed(expected_profile, resolved)
    draw_started = time.perf_counter()
    charts = draw_charts(expected, actual, _rows(expected, actual), captions=_CAPTIONS, notes=_notes(expected, actual),
                         png=png)  # fmt: skip
    timings["draw_s"] = time.perf_counter() - draw_started
    by_key = {chart.key: chart for chart in charts}
    sections = [Section(title=name, charts=[by_key[k] for k in keys], intro=intro) for name, keys, intro in _SECTIONS]
    source = mask_dsn(dsn) if dsn is not None else "preview"
    facts = [
        ("scenario", f"{resolved.name} (seed {resolved.seed}): {resolved.description}"),
        ("window", f"{resolved.window_start:%Y-%m-%d} to {resolved.window_end:%Y-%m-%d} (exclusive), UTC"),
        ("data", source if dsn is not None else "none: a preview of what the scenario asks for"),
    ]
    page = render_page(
        title=title or f"sspp-fixtures report: {resolved.name}",
        subtitle="Expected (what the scenario asks for, grey) beside actual (what the database holds, blue); "
        "red marks a figure beyond tolerance."
        if actual is not None
        else "What the scenario asks for; load it and report on the database to compare.",
        facts=facts,
        sections=sections,
    )
    timings["total_s"] = time.perf_counter() - started
    return DataReport(
        scenario=resolved.name, seed=resolved.seed, source=source, page=page, charts=tuple(charts), timings=timings
    )
