"""``verify`` against a real PostgreSQL: the rows a worker stored are checked one by one against the run.

The test plays the platform's worker itself: it takes the jobs replay put on a real Redis queue and stores one
``sales_signals`` row per job (the table made by the project's migrations), then breaks some on purpose.
"""

from __future__ import annotations

from pathlib import Path

import psycopg
import pytest

from sspp_fixtures.model import platform_signal
from sspp_fixtures.replay import Manifest, expected_signals, replay, verify, verify_signals
from sspp_fixtures.schema import apply_migrations
from tests.replay._events import work_like_the_worker
from tests.replay._inject import built


@pytest.fixture
def platform_db(empty_db: str) -> str:
    apply_migrations(empty_db)
    return empty_db


def _run(sspp_queue, tmp_path: Path, total: int = 300) -> Manifest:
    report = replay(
        "smoke", sspp_queue.url, queue=sspp_queue.name, manifest_path=tmp_path / "run.json", events=built(total)
    )
    return Manifest.read(report.manifest_path)


def test_a_run_stored_right_is_zero_lost_zero_wrong(sspp_queue, platform_db: str, tmp_path: Path) -> None:
    manifest = _run(sspp_queue, tmp_path)
    work_like_the_worker(platform_db, sspp_queue.jobs("wait"))
    outcome = verify(manifest, dsn=platform_db, wait=False, events=built(300))
    assert outcome.signals is not None
    assert outcome.ok
    assert (outcome.signals.checked, outcome.signals.lost, outcome.signals.wrong) == (300, 0, 0)
    assert outcome.signals.summary() == "300 events checked: 0 lost, 0 wrong, 0 duplicated"


def test_a_missing_row_a_wrong_score_and_a_duplicate_are_each_named(
    sspp_queue, platform_db: str, tmp_path: Path
) -> None:
    manifest = _run(sspp_queue, tmp_path)
    jobs = sspp_queue.jobs("wait")
    work_like_the_worker(platform_db, jobs[:17] + jobs[18:] + [jobs[40]])  # job 18 lost, job 41 stored twice
    wrong = jobs[100].data
    with psycopg.connect(platform_db, autocommit=True) as conn:
        conn.execute(
            "UPDATE sales_signals SET signal_score = signal_score + 0.01 WHERE account_id = %s AND user_id = %s"
            " AND timestamp = %s::timestamptz AT TIME ZONE 'UTC'",
            (wrong["accountId"], wrong["userId"], wrong["timestamp"]),
        )
    report = verify(manifest, dsn=platform_db, wait=False, events=built(300)).signals
    assert report is not None
    assert not report.ok
    assert (report.lost, report.wrong, report.duplicated) == (1, 1, 1)
    assert report.lost_rows[0]["seq"] == 17
    assert report.lost_rows[0]["timestamp"].startswith(jobs[17].data["timestamp"][:10])
    assert report.wrong_rows[0]["seq"] == 100
    expected_score = platform_signal(wrong["eventType"], wrong["metadata"])[1]
    assert report.wrong_rows[0]["expected"] == [platform_signal(wrong["eventType"], wrong["metadata"])[0],
                                                f"{expected_score:.2f}"]  # fmt: skip
    assert report.wrong_rows[0]["found"][1] == [f"{expected_score + 0.01:.2f}"]
    assert report.duplicated_rows[0]["seq"] == 40


def test_rows_from_before_the_run_are_not_counted(sspp_queue, platform_db: str, tmp_path: Path) -> None:
    manifest = _run(sspp_queue, tmp_path, 50)
    jobs = sspp_queue.jobs("wait")
    work_like_the_worker(platform_db, jobs)
    with psycopg.connect(platform_db, autocommit=True) as conn:  # the same events, loaded a day earlier
        conn.execute(
            "INSERT INTO sales_signals (account_id, user_id, event_type, signal_type, signal_score, timestamp,"
            " processed_at, metadata) SELECT account_id, user_id, event_type, signal_type, signal_score, timestamp,"
            " processed_at - interval '1 day', metadata FROM sales_signals"
        )
    report = verify(manifest, dsn=platform_db, wait=False, events=built(50)).signals
    assert report is not None
    assert report.ok
    assert report.checked == 50


def test_the_workers_time_zone_is_taken_into_account(sspp_queue, platform_db: str, tmp_path: Path) -> None:
    manifest = _run(sspp_queue, tmp_path, 30)
    work_like_the_worker(platform_db, sspp_queue.jobs("wait"), tz="Asia/Kolkata")
    expected = list(expected_signals(manifest, built(30)))
    in_utc = verify_signals(platform_db, expected, since=None, worker_tz="UTC")
    assert in_utc.lost == 30
    assert in_utc.other_rows == 30
    assert verify_signals(platform_db, expected, since=None, worker_tz="Asia/Kolkata").ok


def test_the_run_record_holds_no_password(sspp_queue, tmp_path: Path) -> None:
    secret_url = sspp_queue.url.replace("redis://", "redis://default:not-the-password@")  # this Redis ignores it
    report = replay("smoke", secret_url, queue=sspp_queue.name, manifest_path=tmp_path / "r.json", events=built(5))
    text = (tmp_path / "r.json").read_text()
    assert "not-the-password" not in text
    assert report.manifest.url is None
    assert report.manifest.target.startswith("redis://default:***@")
