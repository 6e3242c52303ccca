"""``sspp-seed replay`` and ``sspp-seed verify`` through the CLI's callable: options, output, exit codes."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from sspp_fixtures.cli import run
from sspp_fixtures.errors import ExitCode
from sspp_fixtures.schema import apply_migrations
from tests.replay._events import work_like_the_worker
from tests.replay._inject import built


@pytest.fixture(autouse=True)
def _built_events(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("sspp_fixtures.replay._api.scenario_events", built(120))


def _replay(capsys, *args: str) -> tuple[int, str, str]:
    code = run(["replay", "smoke", *args])
    out, err = capsys.readouterr()
    return code, out, err


def test_replay_to_redis_reports_as_json_and_records_the_run(sspp_queue, tmp_path: Path, capsys) -> None:
    code, out, _err = _replay(
        capsys, "--to", sspp_queue.url, "--queue", sspp_queue.name, "--count", "100", "--time", "now",
        "--manifest", str(tmp_path / "run.json"), "--json",
    )  # fmt: skip
    assert code == ExitCode.OK
    report = json.loads(out)
    assert report["sent"] == 100
    assert report["stopped_by"] == "count"
    assert report["delivery"]["job_ids"] == [[1, 100]]
    assert report["manifest"] == str(tmp_path / "run.json")
    assert sspp_queue.counts().wait == 100
    last = sspp_queue.jobs("wait")[-1].data["timestamp"]
    assert report["plan"]["shift_ms"] > 0
    assert last.startswith(report["finished_at"][:4])


def test_a_paused_queue_is_said_so(sspp_queue, tmp_path: Path, capsys) -> None:
    sspp_queue.queue.client.set(sspp_queue.queue.keys.key("meta-paused"), 1)
    code, out, _err = _replay(
        capsys, "--to", sspp_queue.url, "--queue", sspp_queue.name, "--manifest", str(tmp_path / "r.json")
    )
    assert code == ExitCode.OK
    assert "the queue is PAUSED" in out
    assert sspp_queue.counts().paused == 120


def test_rate_is_held_and_reported(sspp_queue, tmp_path: Path, capsys) -> None:
    code, out, _err = _replay(
        capsys, "--to", sspp_queue.url, "--queue", sspp_queue.name, "--rate", "400/s",
        "--manifest", str(tmp_path / "r.json"), "--json",
    )  # fmt: skip
    assert code == ExitCode.OK
    report = json.loads(out)
    assert 0.25 < report["send_seconds"] < 0.6  # 120 events at 400/s, after one batch of credit
    assert report["rate"] == pytest.approx(400, rel=0.25)


@pytest.mark.parametrize(
    ("args", "fragment"),
    [
        (["--rate", "fast"], "--rate 'fast': expected events per second"),
        (["--rate", "10", "--speed", "5"], "--rate and --speed both set"),
        (["--invalid", "1.5"], "--invalid 1.5: a share from 0 to below 1"),
        (["--dsn", "postgresql://x@y/z"], "--dsn checks the database after --wait"),
    ],
)
def test_usage_mistakes_exit_2(sspp_queue, capsys, args: list[str], fragment: str) -> None:
    code, _out, err = _replay(capsys, "--to", sspp_queue.url, "--queue", sspp_queue.name, *args)
    assert code == ExitCode.USAGE
    assert fragment in err


def test_not_a_url_is_a_usage_error(capsys) -> None:
    code, _out, err = _replay(capsys, "--to", "ftp://user:pw@host/x")
    assert code == ExitCode.USAGE
    assert ":pw@" not in err
    assert "ftp://user:***@host" in err


def test_purge_of_a_foreign_queue_exits_4(sspp_queue, capsys) -> None:
    sspp_queue.add(["{}"])
    sspp_queue.queue.client.delete(sspp_queue.queue.keys.owner)
    code, _out, err = _replay(capsys, "--to", sspp_queue.url, "--queue", sspp_queue.name, "--purge")
    assert code == ExitCode.UNSAFE_TARGET
    assert "not created by sspp-fixtures" in err
    assert sspp_queue.counts().wait == 1


def test_replay_wait_and_verify_end_to_end(sspp_queue, empty_db: str, tmp_path: Path, capsys) -> None:
    apply_migrations(empty_db)
    manifest = tmp_path / "run.json"
    code, _out, _err = _replay(capsys, "--to", sspp_queue.url, "--queue", sspp_queue.name, "--manifest", str(manifest))
    assert code == ExitCode.OK
    jobs = sspp_queue.jobs("wait")
    work_like_the_worker(empty_db, jobs[:-1])  # the worker: all but the last job
    client, keys = sspp_queue.queue.client, sspp_queue.queue.keys
    for job in jobs:  # ... and Bull's bookkeeping: the last one failed
        client.lrem(keys.key("wait"), 0, job.id)
        if job is jobs[-1]:
            client.hset(keys.key(job.id), mapping={"failedReason": "boom: database down", "attemptsMade": 3,
                                                   "finishedOn": 1_800_000_000_000})  # fmt: skip
            client.zadd(keys.key("failed"), {job.id: 1_800_000_000_000})
        else:
            client.zadd(keys.key("completed"), {job.id: 1_800_000_000_000 + 5 * int(job.id)})
    code = run(["verify", "--manifest", str(manifest), "--dsn", empty_db, "--timeout", "5", "--json"])
    out, _err = capsys.readouterr()
    result = json.loads(out)
    assert code == ExitCode.USER_ERROR
    assert not result["ok"]
    assert result["queue"]["drained"]
    assert result["queue"]["consumer_rate"] == pytest.approx(200, rel=0.01)
    assert result["queue"]["failed"] == [[jobs[-1].id, "boom: database down", 3]]
    assert (result["signals"]["checked"], result["signals"]["lost"], result["signals"]["wrong"]) == (120, 1, 0)
    assert result["signals"]["lost_rows"][0]["seq"] == 119
    code = run(["verify", "--manifest", str(manifest), "--dsn", empty_db, "--no-wait"])
    out, _err = capsys.readouterr()
    assert code == ExitCode.USER_ERROR
    assert "120 events checked: 1 lost, 0 wrong, 0 duplicated" in out
    assert out.rstrip().endswith("FAILED")


def test_the_live_line_carries_the_queues_depth_read_from_redis(sspp_queue, tmp_path: Path) -> None:
    from sspp_fixtures.replay import ReplayOptions, replay

    seen = []
    replay(
        "smoke", sspp_queue.url, queue=sspp_queue.name, options=ReplayOptions(rate=200),
        manifest_path=tmp_path / "r.json", live=seen.append, events=built(300),
    )  # fmt: skip
    assert len(seen) >= 3  # every half second; the queue's counts every second
    assert seen[0].counts is not None
    assert seen[-1].counts is not None
    assert seen[0].counts.wait < seen[-1].counts.wait <= seen[-1].sent
    assert seen[-1].rate == pytest.approx(200, rel=0.3)


def test_verify_of_an_api_run_without_redis_says_how_to_wait(tmp_path: Path, capsys) -> None:
    from tests.replay._api_server import fake_api

    with fake_api() as api:
        code = run(["replay", "smoke", "--to", api.url, "--manifest", str(tmp_path / "r.json"), "--wait"])
    assert code == ExitCode.OK
    assert "pass verify --to redis://HOST:6379 to wait" in capsys.readouterr().err


def test_speed_replays_the_scenarios_day_faster(sspp_queue, tmp_path: Path) -> None:
    from sspp_fixtures.replay import ReplayOptions, replay

    report = replay(
        "smoke",
        sspp_queue.url,
        queue=sspp_queue.name,
        options=ReplayOptions(speed=216_000),
        manifest_path=tmp_path / "r.json",
        events=built(300),
    )  # fmt: skip  (the built events span one day: 86,400 s / 216,000 = 0.4 s)
    assert 0.35 < report.send_s < 1.0
    assert sspp_queue.counts().wait == 300


def test_an_interrupted_run_records_every_job_that_reached_the_queue(
    sspp_queue, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from sspp_fixtures.replay import Manifest, ReplayOptions, replay
    from sspp_fixtures.replay._redis import JobWriter

    original, calls = JobWriter.send, []

    def send_then_ctrl_c(self, bodies, **kwargs):
        result = original(self, bodies, **kwargs)
        calls.append(len(bodies))
        if len(calls) == 2:
            raise KeyboardInterrupt  # Ctrl-C after the second batch went out, before replay counted it
        return result

    monkeypatch.setattr(JobWriter, "send", send_then_ctrl_c)
    with pytest.raises(KeyboardInterrupt):
        replay("smoke", sspp_queue.url, queue=sspp_queue.name, options=ReplayOptions(rate=2000),
               manifest_path=tmp_path / "r.json", events=built(300))  # fmt: skip
    manifest = Manifest.read(tmp_path / "r.json")
    assert manifest.stopped_by == "interrupted"
    assert manifest.sent == sspp_queue.counts().wait == sum(calls)
