"""The report's page and chart base: charts render to inline SVG (and PNG), the page is self-contained and shows
flags; no database needed."""

from __future__ import annotations

import re
import sys
from pathlib import Path

import pytest

pytest.importorskip("matplotlib", reason="the report extra is not installed: pip install 'sspp-fixtures[report]'")

from sspp_fixtures.report import (
    CSP,
    FRAME_COLOR,
    Chart,
    Row,
    Section,
    chart_from_figure,
    figure,
    render_page,
    write_page,
    write_pngs,
)


def _bar_chart(key: str, *, png: bool = False, rows: tuple[Row, ...] = ()) -> Chart:
    with figure(4, 2) as fig:
        ax = fig.subplots()
        ax.bar(["a", "b"], [3, 5])
        ax.set_title(f"bars {key}")
        return chart_from_figure(fig, key=key, title=f"Bars {key}", rows=rows, png=png, note="exact counts")


def test_chart_is_inline_svg_with_ids_of_its_own() -> None:
    one, two = _bar_chart("one"), _bar_chart("two")
    assert one.svg.startswith("<svg")
    assert one.svg.rstrip().endswith("</svg>")
    assert "<?xml" not in one.svg
    assert "DOCTYPE" not in one.svg
    ids_one = set(re.findall(r'\bid="([^"]+)"', one.svg))
    ids_two = set(re.findall(r'\bid="([^"]+)"', two.svg))
    assert ids_one
    assert all(i.startswith("one-") for i in ids_one)
    assert not ids_one & ids_two
    assert "bars one" in one.svg  # text stays text
    assert one.png is None


def test_same_figure_same_bytes_and_png_when_asked() -> None:
    assert _bar_chart("same").svg == _bar_chart("same").svg
    chart = _bar_chart("slide", png=True)
    assert chart.png is not None
    assert chart.png.startswith(b"\x89PNG\r\n\x1a\n")


def test_page_is_self_contained_and_shows_flags(tmp_path: Path) -> None:
    rows = (
        Row(label="purchase", expected=10.0, actual=10.5, tolerance=1.0),
        Row(label="page_view", expected=50.0, actual=80.0, tolerance=5.0, unit="%", flagged=True),
        Row(label="other", expected=None, actual=3.0),
    )
    ok, flagged = _bar_chart("ok", png=True), _bar_chart("flagged", rows=rows)
    page = render_page(
        title="Report <demo>",
        subtitle="a test",
        facts=[("database", "postgresql://u:***@h/db")],
        sections=[Section(title="Counts", charts=[ok, flagged], intro="what is where")],
    )
    assert f'content="{CSP}"' in page
    assert "default-src 'none'" in page
    assert "<script" not in page
    assert "<metadata" not in page
    assert not re.findall(r"http://(?!www\.w3\.org/)|https://", page)  # only XML namespace names
    assert "Report &lt;demo&gt;" in page
    assert page.count('class="chart') == 2
    assert FRAME_COLOR in page
    assert 'id="chart-flagged" data-flags="1"' in page
    assert 'class="chart flagged"' in page
    assert "1 figure(s) differ from what the scenario asked for" in page
    assert 'href="#chart-flagged"' in page
    assert '<tr class="flag"><td>page_view</td><td>50.0%</td><td>80.0%</td><td>30.0%</td><td>\u00b15.0%</td>' in page
    path = write_page(tmp_path / "out" / "report.html", page)
    assert path.read_text(encoding="utf-8") == page
    assert write_pngs(tmp_path / "png", [ok, flagged]) == [tmp_path / "png" / "ok.png"]


def test_bad_key_is_refused() -> None:
    with figure() as fig, pytest.raises(ValueError, match="chart key"):
        chart_from_figure(fig, key="Not OK", title="x")


def test_a_missing_matplotlib_says_what_to_install(monkeypatch: pytest.MonkeyPatch) -> None:
    from sspp_fixtures.errors import SsppError
    from sspp_fixtures.report import require_matplotlib

    monkeypatch.setitem(sys.modules, "matplotlib", None)  # import matplotlib now raises ImportError
    with pytest.raises(SsppError, match=r"pip install 'sspp-fixtures\[report\]'"):
        require_matplotlib()


def test_a_row_is_flagged_only_beyond_its_tolerance() -> None:
    from sspp_fixtures.report._compare import row, share_rows

    assert not row("x", 10.0, 10.5, 0.5).flagged
    assert row("x", 10.0, 10.6, 0.5).flagged
    assert not row("x", 10.0, None, 0.5).flagged  # a preview has nothing to flag
    big, small = (
        share_rows(["a"], {"a": 1, "b": 1}, {"a": 1, "b": 1}, n_expected=None, n_actual=100)[0],
        share_rows(["a"], {"a": 1, "b": 1}, {"a": 1, "b": 1}, n_expected=None, n_actual=1_000_000)[0],
    )
    assert big.tolerance is not None
    assert small.tolerance is not None
    assert big.tolerance > 10 * small.tolerance > 0  # more rows, tighter band
    assert share_rows(["a"], {"a": 1, "b": 1}, {"a": 3, "b": 1}, n_expected=None, n_actual=10_000)[0].flagged
