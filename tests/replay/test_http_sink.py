"""The HTTP sink against a stand-in API that validates like the platform's: keep-alive with bounded concurrency,
refusals counted with the API's own message, 5xx retried, nothing dropped without a line."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from sspp_fixtures.errors import ExitCode
from sspp_fixtures.replay import HttpSink, QueueUnreachableError, ReplayOptions, SentEvent, replay
from tests.replay._api_server import fake_api
from tests.replay._events import make_batches
from tests.replay._inject import built, events_of


def _accounted(delivery) -> int:
    return (
        delivery.accepted
        + delivery.rejected_as_expected
        + len(delivery.rejected)
        + len(delivery.accepted_invalid)
        + len(delivery.failed)
    )


def test_every_event_reaches_the_api_over_few_kept_alive_connections(tmp_path: Path) -> None:
    with fake_api() as api:
        report = replay("smoke", api.url, concurrency=4, manifest_path=tmp_path / "run.json", events=built(400))
    delivery = report.delivery
    assert delivery.accepted == report.manifest.sent == 400 == len(api.accepted)
    assert api.connections <= 4  # keep-alive: not one connection per event
    assert delivery.job_ids == [[1, 400]]  # the API's job ids, for verify to find the run's jobs
    assert delivery.rejected == delivery.failed == []
    assert json.loads((tmp_path / "run.json").read_text())["delivery"]["accepted"] == 400


def test_invalid_events_are_rejected_as_expected_and_labelled(tmp_path: Path) -> None:
    with fake_api() as api:
        report = replay(
            "smoke",
            api.url,
            options=ReplayOptions(invalid_share=0.2),
            manifest_path=tmp_path / "run.json",
            events=built(500),
        )
    delivery, invalid = report.delivery, report.manifest.invalid
    assert sum(invalid.values()) == delivery.rejected_as_expected > 60
    assert delivery.accepted == 500 - delivery.rejected_as_expected == len(api.accepted)
    assert delivery.rejected == delivery.accepted_invalid == []


def test_a_valid_event_the_api_refuses_is_shown_with_the_apis_message(tmp_path: Path) -> None:
    batches = make_batches(50, per_batch=50)
    batches[0].user_id[7] = ""  # the tool sends it as is; the API says why it refuses it
    with fake_api() as api:
        report = replay("smoke", api.url, manifest_path=tmp_path / "run.json", events=events_of(batches))
    (rejected,) = report.delivery.rejected
    assert rejected[1:] == [400, "userId should not be empty"]
    assert report.delivery.accepted == 49
    assert report.delivery.not_delivered == {rejected[0]}


def _events(total: int) -> list[SentEvent]:
    batch = make_batches(total, per_batch=total)[0]
    return [
        SentEvent(i, 0, json.dumps({"accountId": account, "userId": "u", "eventType": "email_sent",
                                    "timestamp": "2026-01-01T00:00:00.000Z", "metadata": {}}))
        for i, account in enumerate(batch.account_id)
    ]  # fmt: skip


def test_5xx_is_retried_then_recorded_never_dropped() -> None:
    events = _events(60)
    accounts = [json.loads(e.body)["accountId"] for e in events]
    flaky, broken = accounts[3], accounts[10]
    with fake_api() as api:
        api.fail_times[flaky] = 2  # every event of this account is answered 503 twice in all, then taken
        api.always_fail.add(broken)
        sink = HttpSink(api.url, concurrency=3, retries=3, backoff_s=0.01)
        try:
            sink.send(events)
            delivery = sink.finish()
        finally:
            sink.close()
    broken_seqs = {e.seq for e, a in zip(events, accounts, strict=True) if a == broken}
    assert {row[0] for row in delivery.failed} == broken_seqs
    assert all("gave up after 4 attempts: 500: Internal server error" in row[1] for row in delivery.failed)
    assert delivery.accepted == 60 - len(broken_seqs) == len(api.accepted)
    assert delivery.retries >= 2 + 3 * len(broken_seqs)
    assert _accounted(delivery) == delivery.sent == 60


def test_an_api_that_is_down_is_one_line(tmp_path: Path) -> None:
    with fake_api() as api:
        url = api.url
    with pytest.raises(QueueUnreachableError) as caught:
        replay("smoke", url.replace("127.0.0.1", "user:s3cret@127.0.0.1"), events=built(10))
    assert "did not answer" in str(caught.value)
    assert "s3cret" not in str(caught.value)
    assert caught.value.exit_code == ExitCode.UNREACHABLE
