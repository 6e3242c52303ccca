"""The report of a loaded ``demo``, opened in headless Chromium: every chart drawn, every title there, and no
request leaving the page."""

from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("matplotlib", reason="the report extra is not installed: pip install 'sspp-fixtures[report]'")

from sspp_fixtures.report import FRAME_COLOR
from sspp_fixtures.report._draw import CHART_TITLES
from tests.fix_cli import cli_here

from ._chromium import chromium, dump_dom, framed_regions, open_page, read_png


@pytest.fixture(scope="module")
def browser() -> str:
    return chromium()


@pytest.mark.sspp(scenario="demo")
def test_the_demo_report_renders_offline_in_chromium(browser: str, sspp_dsn: str, tmp_path: Path) -> None:
    out = tmp_path / "report.html"
    result = cli_here("report", "--dsn", sspp_dsn, "--out", str(out), "--json")
    assert result.returncode == 0, result.stderr
    summary = json.loads(result.stdout)
    assert summary["scenario"] == "demo"
    assert summary["flags"] == 0, summary["charts"]

    with ThreadPoolExecutor(max_workers=1) as pool:  # the DOM is dumped by a second browser meanwhile
        dom_job = pool.submit(dump_dom, out, tmp_path)
        run = open_page(out, tmp_path)
        dom = dom_job.result()
    assert run.page_requests == []

    pixels = read_png(run.screenshot)
    boxes = framed_regions(pixels, FRAME_COLOR)
    assert len(boxes) == len(CHART_TITLES), f"found {len(boxes)} chart frames in the screenshot"
    for top, bottom, left, right in boxes:
        region = pixels[top:bottom, left:right].reshape(-1, 3)
        assert bottom - top > 150, "a chart collapsed"
        inked = np.any(region < 200, axis=1).mean()  # pixels clearly darker than the white background
        colours = len(np.unique(region, axis=0))
        assert inked > 0.01, f"chart at y={top} is blank ({inked:.2%} inked)"
        assert colours > 20, f"chart at y={top} has only {colours} colours"

    for key, title in CHART_TITLES.items():
        figure = dom.split(f'id="chart-{key}"', 1)[1].split("</figure>", 1)[0]
        assert f"<h3>{title}</h3>" in figure
        assert "<svg" in figure
        assert "<text" in figure  # axis labels stay text in the page


def test_the_request_check_sees_a_page_that_reaches_out(browser: str, tmp_path: Path) -> None:
    """The check above can fail: a page without the report's CSP that loads an image is caught."""
    page = tmp_path / "leaky.html"
    page.write_text('<!DOCTYPE html><html><body><img src="http://127.0.0.1:9/probe.png"></body></html>')
    run = open_page(page, tmp_path, width=400, height=300)
    assert run.page_requests == ["http://127.0.0.1:9/probe.png"]
