"""The load test's page from recordings built here: verify's lost and wrong flagged, a rate off its setting
flagged, a run stopped before its first second still drawn; no Redis needed."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

pytest.importorskip("matplotlib", reason="the report extra is not installed: pip install 'sspp-fixtures[report]'")

from sspp_fixtures.replay import Recording
from sspp_fixtures.replay._record import Sample, VerifySummary
from sspp_fixtures.replay._redis import QueueCounts
from sspp_fixtures.report._loadtest import render_loadtest, write_loadtest_report


def _counts(wait: int, completed: int) -> QueueCounts:
    return QueueCounts(wait=wait, paused=0, active=1, delayed=0, completed=completed, failed=0)


def _recording(rate_sent: float, **fields: object) -> Recording:
    samples = [Sample(0.0, "sending", 0, None, _counts(0, 0), 0, None)]
    for second in range(1, 6):
        sent = int(rate_sent * second)
        samples.append(Sample(float(second), "sending", sent, rate_sent, _counts(sent // 5, sent - sent // 5 - 1),
                              sent - sent // 5, rate_sent * 0.8))  # fmt: skip
    samples.append(Sample(7.0, "waiting", samples[-1].sent, 0.0, _counts(0, samples[-1].sent), samples[-1].sent, 50))
    return Recording(sink="redis", target_rate=100.0, speed=None, queue="q", samples=samples, stopped_by="count",
                     title="smoke to redis://127.0.0.1:6379", **fields)  # type: ignore[arg-type]  # fmt: skip


def _flagged_rows(html: str) -> list[list[str]]:
    """The cells of the rows shown as differing: label, expected, actual, difference, tolerance, mark."""
    return [re.findall(r"<td>(.*?)</td>", row) for row in re.findall(r'<tr class="flag">(.*?)</tr>', html)]


def test_lost_and_wrong_signals_are_flagged(tmp_path: Path) -> None:
    verify = VerifySummary(ok=False, drained=True, failed_jobs=0, checked=500, lost=2, wrong=1, duplicated=0)
    page = write_loadtest_report(tmp_path / "deep" / "r.html", _recording(100.0, verify=verify))
    html = page.read_text()
    assert "<h3>Verify: FAILED</h3>" in html
    assert "sales_signals 500 events checked" in html
    flagged = _flagged_rows(html)
    assert [row[:4] for row in flagged] == [["lost", "0", "2", "2"], ["wrong", "0", "1", "1"]]  # 100/s as set
    assert "2 figure(s) differ from the run&#x27;s set rate and a clean verify beyond tolerance" in html
    assert "stopped early" not in html


def test_a_rate_off_its_setting_is_flagged_and_verify_absent_without_wait() -> None:
    html = render_loadtest(_recording(90.0))
    assert "Verify" not in html
    flagged = _flagged_rows(html)
    assert len(flagged) == 1
    assert flagged[0][:4] == ["mean rate while sending", "100 /s", "90 /s", "-10 /s"]


def test_a_run_stopped_before_its_first_second_is_still_drawn() -> None:
    recording = Recording(sink="http", target_rate=None, speed=None, queue=None, queue_note="not observed: no Redis",
                          samples=[Sample(0.0, "sending", 0, None, accepted=0, rejected=0, gave_up=0)],
                          stopped_by="interrupted", stopped_early="interrupted (Ctrl-C) while sending")  # fmt: skip
    html = render_loadtest(recording)
    assert "(stopped early)" in html
    for title in ("Sent rate", "API answers", "Queue depth", "Completed and failed jobs", "Worker completion rate"):
        assert f"<h3>{title}</h3>" in html
    assert "Queue not observed: no Redis." in html
    assert html.count(">queue not observed<") == 3
    assert html.count("<svg") == 5
