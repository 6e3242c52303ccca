"""Headless Chromium for the report's tests: a screenshot, the DOM after load, and the requests the page made.

Debian's ``chromium`` (``.ci/run`` installs it when missing). A page's own requests are told from the browser's
background traffic (update checks, time sync) by the net log: the browser's own requests have no initiator
("not an origin"); anything a page asks for carries the page's origin (``null`` for a ``file:`` page). Host names
resolve nowhere (``--host-resolver-rules``), so a test never reaches the network whatever happens.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest

_FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--hide-scrollbars",
    "--force-device-scale-factor=1",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-default-apps",
    "--disable-extensions",
    "--no-first-run",
    "--no-default-browser-check",
    "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1",
)
_TIMEOUT_S = 60


def chromium() -> str:
    """The browser's path, or a skip that says how to get it."""
    found = shutil.which("chromium") or shutil.which("chromium-browser")
    if found is None:
        pytest.skip("headless Chromium is not installed (apt-get install chromium; .ci/run does it when it can)")
    return found


@dataclass(frozen=True)
class PageRun:
    screenshot: Path
    page_requests: list[str]  # URLs the page itself asked for over the network stack


def _page_requests(net_log: Path) -> list[str]:
    log = json.loads(net_log.read_text(encoding="utf-8"))
    start_job = log["constants"]["logEventTypes"]["URL_REQUEST_START_JOB"]
    return [
        event["params"]["url"]
        for event in log["events"]
        if event["type"] == start_job
        and "url" in event.get("params", {})
        and event["params"].get("initiator") != "not an origin"
    ]


def _run(args: list[str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(args, capture_output=True, text=True, timeout=_TIMEOUT_S, check=False)


def open_page(page: Path, work: Path, *, width: int = 900, height: int = 6000) -> PageRun:
    """Load ``page`` from ``file://``, screenshot ``width`` x ``height``, with a net log of what was requested."""
    browser = chromium()
    shot, net_log = work / "screenshot.png", work / "net-log.json"
    result = _run(
        [
            browser,
            *_FLAGS,
            f"--user-data-dir={work / 'profile'}",
            f"--window-size={width},{height}",
            f"--screenshot={shot}",
            f"--log-net-log={net_log}",
            page.resolve().as_uri(),
        ]
    )
    assert shot.exists(), f"chromium wrote no screenshot (exit {result.returncode}): {result.stderr[-2000:]}"
    return PageRun(shot, _page_requests(net_log))


def dump_dom(page: Path, work: Path) -> str:
    """The page's DOM after load, as Chromium serialises it."""
    profile = f"--user-data-dir={work / 'profile-dom'}"
    result = _run([chromium(), *_FLAGS, profile, "--dump-dom", page.resolve().as_uri()])
    assert result.returncode == 0, result.stderr[-2000:]
    return result.stdout


def read_png(path: Path) -> np.ndarray:
    """The screenshot as an RGB array (height x width x 3)."""
    from PIL import Image  # Pillow comes with matplotlib

    with Image.open(path) as image:
        return np.asarray(image.convert("RGB"))


def framed_regions(pixels: np.ndarray, color: str, min_run: int = 200) -> list[tuple[int, int, int, int]]:
    """Boxes (top, bottom, left, right) drawn as a border of exactly ``color`` (#rrggbb), stacked one above the other
    (a one-column page): horizontal edges are rows with at least ``min_run`` pixels of that colour."""
    rgb = np.array([int(color[i : i + 2], 16) for i in (1, 3, 5)], dtype=pixels.dtype)
    mask = np.all(pixels == rgb, axis=2)
    edge_rows = np.flatnonzero(mask.sum(axis=1) >= min_run)
    edges: list[list[int]] = []  # runs of adjacent rows: one edge, a few pixels thick
    for y in edge_rows:
        if edges and y == edges[-1][-1] + 1:
            edges[-1].append(int(y))
        else:
            edges.append([int(y)])
    boxes = []
    for top, bottom in zip(edges[::2], edges[1::2], strict=False):
        columns = np.flatnonzero(mask[top[0]])
        boxes.append((top[-1] + 1, bottom[0], int(columns.min()) + 3, int(columns.max()) - 2))
    return boxes
