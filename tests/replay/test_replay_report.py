"""``replay --report``: the run sampled once a second while Bull's own worker drains the queue, drawn into one
self-contained page with its samples beside it; a run stopped with Ctrl-C still gets its page, marked so."""

from __future__ import annotations

import itertools
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("matplotlib", reason="the report extra is not installed: pip install 'sspp-fixtures[report]'")

from sspp_fixtures.cli import run
from sspp_fixtures.errors import ExitCode
from sspp_fixtures.replay import Manifest
from sspp_fixtures.report import CSP
from tests.replay._bullnode import BullNode
from tests.replay._inject import built
from tests.replay._node import bull_or_skip

ROOT = Path(__file__).resolve().parents[2]
CHART_TITLES = ("Sent rate", "Queue depth", "Completed and failed jobs", "Worker completion rate")


def _samples(page: Path) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(page.with_name(page.stem + ".samples.json").read_text())
    return data


def _assert_self_contained(html: str) -> None:
    assert html.startswith("<!DOCTYPE html>")
    assert html.rstrip().endswith("</html>")
    assert CSP in html
    assert "<script" not in html
    assert "http://" not in html.replace('xmlns="http://www.w3.org', "").replace('xlink="http://www.w3.org', "")
    assert "https://" not in html


@contextmanager
def _bull_worker(node: BullNode, want: int) -> Iterator[subprocess.Popen[str]]:
    """Bull's own ``queue.process`` (the platform's worker), running until it has taken ``want`` jobs."""
    worker = subprocess.Popen(
        ["node", str(node.script), "consume", node.queue, node.url, f"{want},60000"],
        env=node.env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        yield worker
    finally:
        if worker.poll() is None:
            worker.kill()
        worker.communicate()


def test_the_report_draws_a_run_that_bulls_worker_drains(sspp_queue, tmp_path: Path, capsys, monkeypatch) -> None:
    monkeypatch.setattr("sspp_fixtures.replay._api.scenario_events", built(500))
    node = BullNode(bull_or_skip(), tmp_path, sspp_queue.url, sspp_queue.name)
    page = tmp_path / "out" / "load.html"
    with _bull_worker(node, 500) as worker:
        code = run([
            "replay", "smoke", "--to", sspp_queue.url, "--queue", sspp_queue.name, "--rate", "250",
            "--manifest", str(tmp_path / "run.json"), "--wait", "--timeout", "30", "--report", str(page), "--json",
        ])  # fmt: skip
        out, _err = capsys.readouterr()
        worker.wait(timeout=30)  # it stops once it has taken the 500th job
    assert code == ExitCode.OK, out
    assert sspp_queue.counts().completed == 500
    assert json.loads(out)["report"] == str(page)

    html = page.read_text()
    _assert_self_contained(html)
    for title in (*CHART_TITLES, "Verify: OK"):
        assert f"<h3>{title}</h3>" in html
    assert "API answers" not in html  # a run onto Redis: no HTTP answers to show
    assert "(stopped early)" not in html

    recording = _samples(page)
    samples = recording["samples"]
    manifest = Manifest.read(tmp_path / "run.json")
    assert recording["stopped_by"] == "end" == manifest.stopped_by
    assert recording["stopped_early"] == ""
    assert recording["queue"] == sspp_queue.name
    assert [s["seconds"] for s in samples] == sorted(s["seconds"] for s in samples)
    sending = [s for s in samples if s["phase"] == "sending"]
    assert 3 <= len(sending) <= 4  # 500 at 250/s: t=0, 1 s, ~2 s ... and the moment sending ended
    assert sending[-1]["sent"] == manifest.sent == 500
    assert samples[-1]["sent"] == 500
    assert sending[-1]["sent"] / sending[-1]["seconds"] == pytest.approx(250, rel=0.15)
    assert max(s["sent_rate"] or 0 for s in sending) < 250 * 1.6  # paced, not a burst
    last = samples[-1]
    assert (last["completed"], last["failed"], last["finished"]) == (500, 0, 500)  # what the worker completed
    assert last["wait"] == last["active"] == last["delayed"] == 0
    finished = [s["finished"] for s in samples]
    assert finished == sorted(finished)
    assert finished[-1] - finished[0] == 500
    assert max(s["finish_rate"] or 0 for s in samples) > 0
    for before, sample in itertools.pairwise(samples):  # each rate is the jobs finished over its second
        if sample["finish_rate"] is not None:
            span = sample["seconds"] - before["seconds"]
            assert sample["finish_rate"] == pytest.approx((sample["finished"] - before["finished"]) / span, rel=0.02)
    assert recording["verify"]["drained"] is True
    assert recording["verify"]["failed_jobs"] == 0

    csv_lines = page.with_name("load.samples.csv").read_text().splitlines()
    assert csv_lines[0].startswith("seconds,phase,sent,sent_rate,finished,finish_rate")
    assert len(csv_lines) == len(samples) + 1


def test_ctrl_c_still_writes_the_report_marked_as_stopped_early(sspp_queue, tmp_path: Path) -> None:
    page = tmp_path / "stopped.html"
    env = {**os.environ, "PYTHONPATH": str(ROOT), "NO_COLOR": "1"}
    command = [
        sys.executable, "-m", "sspp_fixtures", "replay", "smoke", "--to", sspp_queue.url, "--queue", sspp_queue.name,
        "--rate", "100", "--manifest", str(tmp_path / "run.json"), "--report", str(page),
    ]  # fmt: skip
    replay = subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 30
        while sspp_queue.counts().wait < 100 and replay.poll() is None and time.monotonic() < deadline:
            time.sleep(0.05)  # sending for a second
        assert replay.poll() is None, replay.communicate()
        replay.send_signal(signal.SIGINT)
        _out, err = replay.communicate(timeout=30)
    finally:
        if replay.poll() is None:
            replay.kill()
    assert replay.returncode == ExitCode.INTERRUPTED, err
    assert f"report (stopped early): {page}" in err

    html = page.read_text()
    _assert_self_contained(html)
    assert "(stopped early)" in html
    assert "Stopped early (interrupted (Ctrl-C) while sending)" in html
    for title in CHART_TITLES:
        assert f"<h3>{title}</h3>" in html
    recording = _samples(page)
    assert recording["stopped_by"] == "interrupted"
    assert recording["stopped_early"] == "interrupted (Ctrl-C) while sending"
    manifest = Manifest.read(tmp_path / "run.json")
    assert manifest.stopped_by == "interrupted"
    last = recording["samples"][-1]
    assert last["sent"] == manifest.sent == sspp_queue.counts().wait == last["wait"]
    assert 100 <= manifest.sent < 600  # smoke has more: the run was cut short
    assert len(recording["samples"]) >= 2


def test_a_run_through_the_api_says_the_queue_was_not_observed(tmp_path: Path, capsys, monkeypatch) -> None:
    from tests.replay._api_server import fake_api

    monkeypatch.setattr("sspp_fixtures.replay._api.scenario_events", built(60))
    page = tmp_path / "api.html"
    with fake_api() as api:
        code = run(["replay", "smoke", "--to", api.url, "--invalid", "0.1", "--manifest", str(tmp_path / "r.json"),
                    "--report", str(page)])  # fmt: skip
    capsys.readouterr()
    assert code == ExitCode.OK
    html = page.read_text()
    assert "<h3>API answers</h3>" in html
    assert "not observed: the run went through the API and the queue&#x27;s Redis was not given (--redis)" in html
    last = _samples(page)["samples"][-1]
    assert last["sent"] == 60
    assert last["accepted"] + last["rejected"] == 60
    assert last["rejected"] > 0  # the invalid events, refused as they should be
    assert last["gave_up"] == 0
    assert last["wait"] is None


def test_without_matplotlib_the_report_is_refused_before_anything_is_sent(
    sspp_queue, tmp_path: Path, capsys, monkeypatch
) -> None:
    monkeypatch.setattr("sspp_fixtures.replay._api.scenario_events", built(20))
    monkeypatch.setitem(sys.modules, "matplotlib", None)  # what an import finds when the extra is not installed
    code = run(["replay", "smoke", "--to", sspp_queue.url, "--queue", sspp_queue.name,
                "--report", str(tmp_path / "r.html")])  # fmt: skip
    err = capsys.readouterr().err
    assert code == ExitCode.USER_ERROR
    assert "drawing a report needs matplotlib" in err
    assert "pip install 'sspp-fixtures[report]'" in err
    assert sspp_queue.counts().wait == 0
    assert not (tmp_path / "r.html").exists()


def test_a_run_through_the_api_with_redis_given_watches_and_waits_on_the_queue(
    sspp_queue, tmp_path: Path, capsys, monkeypatch
) -> None:
    from tests.replay._api_server import fake_api

    monkeypatch.setattr("sspp_fixtures.replay._api.scenario_events", built(30))
    page = tmp_path / "api.html"
    with fake_api() as api:
        code = run([
            "replay", "smoke", "--to", api.url, "--redis", sspp_queue.url, "--queue", sspp_queue.name,
            "--manifest", str(tmp_path / "r.json"), "--wait", "--timeout", "5", "--report", str(page),
        ])  # fmt: skip
    err = capsys.readouterr().err
    assert code == ExitCode.OK, err
    assert "not waiting" not in err
    recording = _samples(page)
    assert recording["queue"] == sspp_queue.name
    assert recording["queue_note"] == ""
    assert recording["verify"]["drained"] is True  # the stand-in API queues nothing: drained at once
    assert recording["samples"][-1]["wait"] == 0
    assert recording["samples"][-1]["accepted"] == 30


def test_redis_with_a_redis_target_is_a_usage_error(sspp_queue, tmp_path: Path, capsys) -> None:
    url = sspp_queue.url
    code = run(["replay", "smoke", "--to", url, "--redis", url, "--report", str(tmp_path / "r.html")])
    assert code == ExitCode.USAGE
    assert "--redis is for a run through the API" in capsys.readouterr().err
    assert sspp_queue.counts().wait == 0


def test_a_page_that_cannot_be_written_is_refused_before_the_run(sspp_queue, tmp_path: Path, capsys) -> None:
    (tmp_path / "a-file").write_text("")
    code = run(["replay", "smoke", "--to", sspp_queue.url, "--queue", sspp_queue.name,
                "--report", str(tmp_path / "a-file" / "r.html")])  # fmt: skip
    err = capsys.readouterr().err
    assert code == ExitCode.USER_ERROR
    assert "for the report" in err
    assert "Choose a writable path with --report" in err
    assert sspp_queue.counts().wait == 0
