"""The report's charts, one function each: what the scenario asked for (grey, dashed) beside what the database holds
(blue), from two :class:`Profile` s. Without a database (a scenario's preview) only the expected side is drawn.

Each function only draws; the figures it compares come from :mod:`._compare`.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from ..model import FUNNEL, LOCALE_CODES, PLATFORM_EVENT_TYPES, SEGMENTS
from ._charts import ACTUAL_COLOR, EXPECTED_COLOR, FLAG_COLOR, Chart, Row, chart_from_figure, figure
from ._compare import WEEKDAYS
from ._profile import AMOUNT_BINS, LAG_BINS, Profile

if TYPE_CHECKING:
    from matplotlib.axes import Axes

__all__ = ["CHART_TITLES", "draw_charts"]

CHART_TITLES = {
    "counts": "Rows per table",
    "funnel": "Funnel per event type",
    "heatmap": "Activity by local weekday and hour",
    "tail": "Heavy tail: events per account",
    "scores": "Signal score by signal type",
    "lag": "Processing lag",
    "segments": "Segments and locales",
    "amounts": "Order amounts by segment",
    "stories": "Demo stories on a timeline",
}

_EXPECTED: dict[str, Any] = {"color": EXPECTED_COLOR, "label": "expected (scenario)"}
_ACTUAL: dict[str, Any] = {"color": ACTUAL_COLOR, "label": "actual (database)"}


def _shares(counts: dict[str, int] | dict[str, float], keys: Sequence[str]) -> np.ndarray[Any, Any]:
    total = float(sum(counts.values())) or 1.0
    return np.array([100.0 * counts.get(key, 0) / total for key in keys])


def _paired_barh(ax: Axes, labels: Sequence[str], expected: np.ndarray[Any, Any], actual: np.ndarray[Any, Any] | None,
                 flagged: Sequence[bool] = ()) -> None:  # fmt: skip
    y = np.arange(len(labels))
    height = 0.4 if actual is not None else 0.7
    ax.barh(y - (height / 2 if actual is not None else 0), expected, height=height, **_EXPECTED)
    if actual is not None:
        colors = [FLAG_COLOR if flag else ACTUAL_COLOR for flag in flagged] or ACTUAL_COLOR
        ax.barh(y + height / 2, actual, height=height, color=colors, label=_ACTUAL["label"])
    ax.set_yticks(y, labels)
    ax.invert_yaxis()


def _log_axis(ax: Axes, unit: str = "") -> None:
    """A log x axis labelled in plain numbers (1, 10, 100, 1k ...): no mathtext, which is slow to lay out."""
    from matplotlib.ticker import FuncFormatter, LogLocator, NullFormatter

    def plain(value: float, _: object) -> str:
        for size, suffix in ((1e6, "M"), (1e3, "k")):
            if value >= size:
                return f"{value / size:g}{suffix}{unit}"
        return f"{value:g}{unit}"

    ax.set_xscale("log")
    ax.xaxis.set_major_locator(LogLocator(base=10, numticks=8))
    ax.xaxis.set_major_formatter(FuncFormatter(plain))
    ax.xaxis.set_minor_formatter(NullFormatter())


def _legend(ax: Axes, **options: Any) -> None:
    """The axes' legend, when something on them has a label (an empty data set draws none)."""
    if ax.get_legend_handles_labels()[0]:
        ax.legend(**options)


def _flags(rows: Sequence[Row], labels: Sequence[str]) -> list[bool]:
    flagged = {r.label for r in rows if r.flagged}
    return [label in flagged for label in labels]


def _thousands() -> Any:
    from matplotlib.ticker import FuncFormatter

    return FuncFormatter(lambda value, _: f"{value:,.0f}")


def _counts(fig: Any, e: Profile, a: Profile | None, rows: Sequence[Row]) -> None:
    ax = fig.subplots()
    tables = list(e.counts)
    actual = np.array([a.counts.get(t, 0) for t in tables], dtype=float) if a else None
    _paired_barh(ax, tables, np.array([e.counts[t] for t in tables], dtype=float), actual, _flags(rows, tables))
    ax.xaxis.set_major_formatter(_thousands())
    ax.set_xlabel("rows")
    _legend(ax, loc="lower right", fontsize=8)


def _funnel(fig: Any, e: Profile, a: Profile | None, rows: Sequence[Row]) -> None:
    left, right = fig.subplots(1, 2)
    for ax, types, name in ((left, FUNNEL, "README's funnel"), (right, PLATFORM_EVENT_TYPES, "the platform's six")):
        _paired_barh(ax, types, _shares(e.event_types, types), _shares(a.event_types, types) if a else None,
                     _flags(rows, types))  # fmt: skip
        ax.set_title(name)
        ax.set_xlabel("% of all events")
    _legend(left, loc="lower right", fontsize=8)


def _heatmap(fig: Any, e: Profile, a: Profile | None, rows: Sequence[Row]) -> None:
    sides = [("expected (scenario)", e.heatmap)] + ([("actual (database)", a.heatmap)] if a else [])
    axes = np.atleast_1d(fig.subplots(1, len(sides)))
    grids = [100.0 * grid / (grid.sum() or 1.0) for _, grid in sides]
    top = max(float(grid.max()) for grid in grids) or 1.0
    image = None
    for ax, (name, _), grid in zip(axes, sides, grids, strict=True):
        image = ax.imshow(grid, aspect="auto", cmap="Blues", vmin=0, vmax=top)
        ax.set_title(name)
        ax.set_yticks(range(7), WEEKDAYS)
        ax.set_xticks(range(0, 24, 3), [f"{h:02d}" for h in range(0, 24, 3)])
        ax.set_xlabel("local hour")
    fig.colorbar(image, ax=list(axes), label="% of events", shrink=0.8)


def _tail(fig: Any, e: Profile, a: Profile | None, rows: Sequence[Row]) -> None:
    ax = fig.subplots()
    x = np.linspace(0, 100, len(e.lorenz))
    ax.plot([0, 100], [0, 100], color="#d0d7de", linewidth=1, label="every account equal")
    ax.plot(x, 100 * e.lorenz, linestyle="--", linewidth=1.5, zorder=3, **_EXPECTED)
    if a is not None:
        ax.plot(x, 100 * a.lorenz, linewidth=2.5, color=FLAG_COLOR if any(r.flagged for r in rows) else ACTUAL_COLOR,
                label=_ACTUAL["label"])  # fmt: skip
    ax.set_xlabel("% of accounts, fewest events first")
    ax.set_ylabel("% of events")
    ax.set_xlim(0, 100)
    ax.set_ylim(0, 100)
    _legend(ax, loc="upper left", fontsize=8)


def _coarse(hist: np.ndarray[Any, Any], step: int = 5) -> np.ndarray[Any, Any]:
    """101 score counts (0.00..1.00) into 21 bins of 0.05, as shares."""
    padded = np.concatenate([hist[:100], np.zeros((-100) % step)]).reshape(-1, step).sum(axis=1)
    padded = np.append(padded, hist[100])
    return padded / (padded.sum() or 1.0)


def _scores(fig: Any, e: Profile, a: Profile | None, rows: Sequence[Row]) -> None:
    kinds = list(e.scores)
    axes = np.atleast_1d(fig.subplots(1, max(len(kinds), 1), sharey=True))
    x = np.arange(0, 21) * 0.05
    flagged = {r.label.removeprefix("mean score, ") for r in rows if r.flagged}
    for ax, kind in zip(axes, kinds, strict=False):
        ax.step(x, 100 * _coarse(e.scores[kind]), where="mid", linestyle="--", **_EXPECTED)
        if a is not None and kind in a.scores:
            ax.step(x, 100 * _coarse(a.scores[kind]), where="mid", label=_ACTUAL["label"],
                    color=FLAG_COLOR if kind in flagged else ACTUAL_COLOR)  # fmt: skip
        ax.set_title(kind, fontsize=9)
        ax.set_xlim(0, 1)
        ax.set_xticks([0, 0.5, 1], ["0", "0.5", "1"])
        ax.set_xlabel("score")
    axes[0].set_ylabel("% of signals")
    _legend(axes[0], loc="upper left", fontsize=7)


def _lag(fig: Any, e: Profile, a: Profile | None, rows: Sequence[Row]) -> None:
    ax = fig.subplots()
    centres = 10 ** ((LAG_BINS[:-1] + LAG_BINS[1:]) / 2)
    ax.step(centres, 100 * e.lag_hist / (e.lag_hist.sum() or 1.0), where="mid", linestyle="--", **_EXPECTED)
    if a is not None:
        color = FLAG_COLOR if any(r.flagged for r in rows) else ACTUAL_COLOR
        ax.step(centres, 100 * a.lag_hist / (a.lag_hist.sum() or 1.0), where="mid", color=color,
                label=_ACTUAL["label"])  # fmt: skip
    for q, seconds in e.lag_quantiles.items():
        ax.axvline(seconds, color=EXPECTED_COLOR, linewidth=0.8, linestyle=":")
        ax.annotate(f"p{round(q * 100)}", (seconds, 0), xytext=(2, 2), textcoords="offset points", fontsize=7)
    _log_axis(ax, " s")
    ax.set_xlabel("processed_at \u2212 timestamp (log scale)")
    ax.set_ylabel("% of sales_signals")
    _legend(ax, loc="upper right", fontsize=8)


def _segments(fig: Any, e: Profile, a: Profile | None, rows: Sequence[Row]) -> None:
    left, right = fig.subplots(1, 2, width_ratios=(1, 3))
    _paired_barh(left, SEGMENTS, _shares(e.segments, SEGMENTS), _shares(a.segments, SEGMENTS) if a else None,
                 _flags(rows, SEGMENTS))  # fmt: skip
    left.set_xlabel("% of customers")
    locales = [code for code in LOCALE_CODES if e.locales.get(code) or (a and a.locales.get(code))]
    x = np.arange(len(locales))
    width = 0.4 if a is not None else 0.8
    right.bar(x - (width / 2 if a else 0), _shares(e.locales, locales), width=width, **_EXPECTED)
    if a is not None:
        right.bar(x + width / 2, _shares(a.locales, locales), width=width, **_ACTUAL)
    right.set_xticks(x, locales, rotation=60, fontsize=7)
    right.set_ylabel("% of customers")
    _legend(right, loc="upper right", fontsize=8)


def _amounts(fig: Any, e: Profile, a: Profile | None, rows: Sequence[Row]) -> None:
    axes = np.atleast_1d(fig.subplots(1, len(SEGMENTS), sharey=True))
    centres = 10 ** ((AMOUNT_BINS[:-1] + AMOUNT_BINS[1:]) / 2)
    flagged = {r.label.removeprefix("median order, ") for r in rows if r.flagged}
    for ax, segment in zip(axes, SEGMENTS, strict=True):
        hist = e.amount_hist.get(segment)
        if hist is not None:
            ax.step(centres, 100 * hist / (hist.sum() or 1.0), where="mid", linestyle="--", **_EXPECTED)
        if a is not None and segment in a.amount_hist:
            mine = a.amount_hist[segment]
            ax.step(centres, 100 * mine / (mine.sum() or 1.0), where="mid", label=_ACTUAL["label"],
                    color=FLAG_COLOR if segment in flagged else ACTUAL_COLOR)  # fmt: skip
        _log_axis(ax)
        ax.set_title(segment)
        ax.set_xlabel("USD (log scale)")
    axes[0].set_ylabel("% of orders")
    _legend(axes[0], loc="upper left", fontsize=7)


def _stories(fig: Any, e: Profile, a: Profile | None, rows: Sequence[Row]) -> None:
    ax = fig.subplots()
    names = list(e.stories)
    flagged = {r.label.split(":")[0] for r in rows if r.flagged}
    for i, name in enumerate(names):
        when = [t for t, _ in e.stories[name].events]
        ax.scatter(when, [i] * len(when), s=70, facecolors="none", edgecolors=EXPECTED_COLOR, linewidths=1.5,
                   label=_EXPECTED["label"] if i == 0 else None)  # fmt: skip
        if a is not None and name in a.stories:
            found = [t for t, _ in a.stories[name].events]
            ax.scatter(found, [i] * len(found), s=14, color=FLAG_COLOR if name in flagged else ACTUAL_COLOR,
                       label=_ACTUAL["label"] if i == 0 else None, zorder=3)  # fmt: skip
    ax.set_yticks(range(len(names)), names)
    ax.set_ylim(len(names) - 0.5, -0.8)
    ax.tick_params(axis="x", labelrotation=30, labelsize=7)
    if names:
        _legend(ax, loc="upper right", fontsize=8, ncols=2)
    else:
        ax.text(0.5, 0.5, "this scenario has no stories", transform=ax.transAxes, ha="center")


_Drawer = Callable[[Any, Profile, Profile | None, Sequence[Row]], None]
# Fixed margins (fractions of the figure) instead of constrained layout: measured 1.5 s against 2.5 s for the nine
# charts here; the labels are known, so their room is too.
_DRAWERS: dict[str, tuple[_Drawer, tuple[float, float], dict[str, float]]] = {
    "counts": (_counts, (8.0, 2.6), {"left": 0.14, "right": 0.98, "bottom": 0.18, "top": 0.96}),
    "funnel": (_funnel, (8.0, 3.0), {"left": 0.13, "right": 0.98, "bottom": 0.15, "top": 0.91, "wspace": 0.45}),
    "heatmap": (_heatmap, (8.0, 2.8), {"left": 0.06, "right": 0.9, "bottom": 0.17, "top": 0.9, "wspace": 0.15}),
    "tail": (_tail, (8.0, 3.0), {"left": 0.09, "right": 0.98, "bottom": 0.16, "top": 0.96}),
    "scores": (_scores, (9.0, 2.6), {"left": 0.07, "right": 0.99, "bottom": 0.18, "top": 0.9, "wspace": 0.12}),
    "lag": (_lag, (8.0, 3.0), {"left": 0.09, "right": 0.98, "bottom": 0.16, "top": 0.96}),
    "segments": (_segments, (8.0, 3.0), {"left": 0.12, "right": 0.98, "bottom": 0.22, "top": 0.96, "wspace": 0.3}),
    "amounts": (_amounts, (8.0, 2.8), {"left": 0.08, "right": 0.98, "bottom": 0.17, "top": 0.9, "wspace": 0.1}),
    "stories": (_stories, (8.0, 2.8), {"left": 0.2, "right": 0.98, "bottom": 0.2, "top": 0.96}),
}


def draw_charts(
    expected: Profile,
    actual: Profile | None,
    rows: dict[str, tuple[Row, ...]],
    *,
    captions: dict[str, str],
    notes: dict[str, str],
    png: bool = False,
) -> list[Chart]:
    """Every chart of the report, in the page's order."""
    charts = []
    for key, (draw, size, margins) in _DRAWERS.items():
        with figure(*size, margins=margins) as fig:
            draw(fig, expected, actual, rows.get(key, ()))
            charts.append(
                chart_from_figure(
                    fig,
                    key=key,
                    title=CHART_TITLES[key],
                    caption=captions.get(key, ""),
                    note=notes.get(key, ""),
                    rows=rows.get(key, ()),
                    png=png,
                )
            )
    return charts
