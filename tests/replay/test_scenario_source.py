"""The scenario's own platform events (the generator's per-chunk API) through replay and verify, end to end."""

from __future__ import annotations

import json
from pathlib import Path

from sspp_fixtures.cli import run
from sspp_fixtures.errors import ExitCode
from sspp_fixtures.model import PLATFORM_EVENT_TYPES
from sspp_fixtures.replay import scenario_batches, scenario_events
from sspp_fixtures.scenarios import load_scenario
from sspp_fixtures.schema import apply_migrations
from tests.replay._events import work_like_the_worker


def test_the_scenarios_events_come_sorted_complete_and_the_same_every_time() -> None:
    scenario = load_scenario("smoke")
    made = sum(len(batch.index) for batch in scenario_batches(scenario))
    with scenario_events(scenario) as events:
        first = list(events)
    with scenario_events(scenario) as events:
        assert list(events) == first
    assert len(first) == made > 0
    assert [(e.time_ms, e.position) for e in first] == sorted((e.time_ms, e.position) for e in first)
    assert {e.event_type for e in first} == set(PLATFORM_EVENT_TYPES)
    assert all(isinstance(json.loads(e.metadata), dict) for e in first)


def test_replay_then_verify_a_scenario_through_the_cli(sspp_queue, empty_db: str, tmp_path: Path, capsys) -> None:
    apply_migrations(empty_db)
    manifest = tmp_path / "run.json"
    code = run(["replay", "smoke", "--to", sspp_queue.url, "--queue", sspp_queue.name, "--manifest", str(manifest),
                "--json"])  # fmt: skip
    sent = json.loads(capsys.readouterr().out)["sent"]
    assert code == ExitCode.OK
    jobs = sspp_queue.jobs("wait")
    assert len(jobs) == sent > 0
    work_like_the_worker(empty_db, jobs)  # the worker
    code = run(["verify", "--manifest", str(manifest), "--dsn", empty_db, "--no-wait"])
    out = capsys.readouterr().out
    assert code == ExitCode.OK, out
    assert f"{sent:,} events checked: 0 lost, 0 wrong, 0 duplicated" in out
