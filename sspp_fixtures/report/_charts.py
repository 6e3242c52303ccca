"""Charts for the reports: a matplotlib figure drawn off-screen (Agg, no pyplot) into an SVG string for the page
and, when asked, PNG bytes for slides, together with the expected-vs-actual figures the chart stands for.

matplotlib is an optional extra (``sspp-fixtures[report]``) and is imported only here, on first use, so that
the CLI's start-up never pays for it.
"""

from __future__ import annotations

import io
import re
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, cast

from ..errors import SsppError

if TYPE_CHECKING:
    from matplotlib.figure import Figure

__all__ = [
    "Chart",
    "Row",
    "chart_from_figure",
    "figure",
    "require_matplotlib",
]

#: The palette of every chart: "expected" is always the first colour, "actual" the second, a flag the third.
EXPECTED_COLOR = "#9aa5b1"
ACTUAL_COLOR = "#1f6feb"
FLAG_COLOR = "#d1242f"
PALETTE = (ACTUAL_COLOR, "#2da44e", "#bf8700", "#8250df", "#cf222e", "#0a7ea4", "#6e7781", "#e16f24")

_RC = {
    "svg.fonttype": "none",  # text stays text: smaller files, titles findable in the page
    "svg.hashsalt": "sspp-report",  # same data, same bytes
    "font.size": 9.0,
    "axes.titlesize": 10.0,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "axes.prop_cycle": None,  # set on first use (needs matplotlib's cycler)
    "figure.dpi": 100.0,
}
_SVG_METADATA = re.compile(r"\s*<metadata>.*?</metadata>", re.DOTALL)
_SVG_ID = re.compile(r'(\bid="|url\(#|href="#)([^")]+)')


@dataclass(frozen=True, kw_only=True)
class Row:
    """One figure a chart compares: what the scenario asked for beside what the data holds.

    ``expected`` is ``None`` where the scenario asks nothing of this figure (shown, never flagged).
    ``tolerance`` is absolute, in the figure's own unit; ``flagged`` says the difference is beyond it.
    """

    label: str
    expected: float | None
    actual: float | None
    tolerance: float | None = None
    unit: str = ""
    flagged: bool = False

    @property
    def difference(self) -> float | None:
        if self.expected is None or self.actual is None:
            return None
        return self.actual - self.expected


@dataclass(frozen=True, kw_only=True)
class Chart:
    """A rendered chart: its title, the SVG for the page, the PNG for slides (if asked) and the figures behind it.

    ``key`` is a short slug (file names, element ids). ``note`` says how the figures were obtained (e.g. "sampled
    1% of events"), shown under the chart.
    """

    key: str
    title: str
    svg: str
    png: bytes | None = None
    caption: str = ""
    note: str = ""
    rows: tuple[Row, ...] = ()

    @property
    def flags(self) -> tuple[Row, ...]:
        """The rows whose difference is beyond tolerance."""
        return tuple(row for row in self.rows if row.flagged)


def require_matplotlib() -> None:
    """Import matplotlib (Agg backend) or say what to install."""
    try:
        import matplotlib
    except ImportError:
        raise SsppError(
            "drawing a report needs matplotlib, which is not installed",
            hint="install the report extra: pip install 'sspp-fixtures[report]'",
        ) from None
    matplotlib.use("Agg", force=False)


def _rc() -> dict[str, Any]:
    from cycler import cycler

    return {**_RC, "axes.prop_cycle": cycler(color=list(PALETTE))}


@contextmanager
def figure(width: float = 6.4, height: float = 3.2, *, rc: dict[str, Any] | None = None) -> Iterator[Figure]:
    """A fresh matplotlib ``Figure`` (inches) under the reports' style; no pyplot, so no global figure state."""
    require_matplotlib()
    import matplotlib
    from matplotlib.figure import Figure

    with matplotlib.rc_context(cast(Any, {**_rc(), **(rc or {})})):
        yield Figure(figsize=(width, height), layout="constrained")


def _svg_text(fig: Figure, key: str) -> str:
    buffer = io.StringIO()
    fig.savefig(buffer, format="svg", metadata={"Date": None, "Creator": None})
    text = buffer.getvalue()
    text = _SVG_METADATA.sub("", text[text.find("<svg") :])
    # ids made unique per chart: many SVGs share one HTML document
    return _SVG_ID.sub(lambda m: f"{m.group(1)}{key}-{m.group(2)}", text).strip()


def _png_bytes(fig: Figure, dpi: float) -> bytes:
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=dpi, metadata={"Software": None})
    return buffer.getvalue()


def chart_from_figure(
    fig: Figure,
    *,
    key: str,
    title: str,
    caption: str = "",
    note: str = "",
    rows: Sequence[Row] = (),
    png: bool = False,
    png_dpi: float = 150.0,
) -> Chart:
    """Render ``fig`` (inside :func:`figure`'s block) to SVG, and to PNG when ``png``; the figure is then spent."""
    if not re.fullmatch(r"[a-z0-9][a-z0-9-]*", key):
        raise ValueError(f"chart key {key!r}: use lower-case letters, digits and '-'")
    svg = _svg_text(fig, key)
    return Chart(
        key=key,
        title=title,
        svg=svg,
        png=_png_bytes(fig, png_dpi) if png else None,
        caption=caption,
        note=note,
        rows=tuple(rows),
    )
