"""``sspp-seed report`` as a library: pictures of a database's data (or of a scenario's) beside what the scenario
meant to produce, as one self-contained HTML page.

The page and chart base (:class:`Chart`, :class:`Section`, :func:`render_page`, ...) is shared with the load-test
pictures of ``replay --report``. matplotlib (the ``report`` extra) is imported on first drawing, not here.
"""

from __future__ import annotations

from ._build import DataReport, data_report
from ._charts import Chart, Row, chart_from_figure, figure, format_value, require_matplotlib
from ._loadtest import write_loadtest_report
from ._page import CSP, FRAME_COLOR, Section, render_page, write_page, write_pngs

__all__ = [
    "CSP",
    "FRAME_COLOR",
    "Chart",
    "DataReport",
    "Row",
    "Section",
    "chart_from_figure",
    "data_report",
    "figure",
    "format_value",
    "render_page",
    "require_matplotlib",
    "write_loadtest_report",
    "write_page",
    "write_pngs",
]
