"""Jobs written by replay are Bull's own: Bull's ``queue.process`` (the platform's worker) takes them with the
right name, data and options, first in first out, and leaves them alone while the queue is paused."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from sspp_fixtures.replay import API_JOB_OPTS, JOB_NAME, RedisSink, StreamPlan, sent_events, sort_events
from tests.replay._bullnode import BullNode
from tests.replay._events import make_batches
from tests.replay._node import bull_or_skip

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def npm_dir() -> Path:
    return bull_or_skip()


@pytest.fixture
def node(npm_dir: Path, tmp_path: Path, sspp_queue) -> BullNode:
    return BullNode(npm_dir, tmp_path, sspp_queue.url, sspp_queue.name)


def _send(queue, total: int, per_batch: int = 7) -> list:
    with sort_events(make_batches(total, per_batch=50)) as events:
        sent = list(sent_events(events, StreamPlan(seed=3)))
    sink = RedisSink(queue.queue, pipelined=True)
    try:
        for start in range(0, len(sent), per_batch):
            sink.send(sent[start : start + per_batch])
        delivery = sink.finish()
    finally:
        sink.close()
    assert delivery.sent == total
    return sent


def test_a_job_is_field_for_field_what_bulls_own_add_writes(sspp_queue, node: BullNode) -> None:
    metadata = {"campaign": "q3", "responseTimeHours": 2}
    event = {"accountId": "acc_001", "userId": "user_001", "eventType": "email_sent",
             "timestamp": "2026-06-30T10:00:00.000Z", "metadata": metadata}  # fmt: skip
    bulls_id = node.run("add", json.dumps(event))["id"]
    (ours,) = sspp_queue.add([event])
    assert int(ours) == int(bulls_id) + 1  # one id counter for both
    bull_fields = sspp_queue.queue.client.hgetall(sspp_queue.queue.keys.key(bulls_id))
    our_fields = sspp_queue.queue.client.hgetall(sspp_queue.queue.keys.key(ours))
    assert set(our_fields) == set(bull_fields) == {"name", "data", "opts", "timestamp", "delay", "priority"}
    assert our_fields["data"] == bull_fields["data"]
    for fields in (bull_fields, our_fields):
        assert json.loads(fields["opts"]) == {**API_JOB_OPTS, "delay": 0, "timestamp": int(fields["timestamp"])}
        fields["opts"] = json.dumps({**json.loads(fields["opts"]), "timestamp": 0})
        fields["timestamp"] = "0"
    assert our_fields == bull_fields
    assert sspp_queue.queue.job_ids("wait") == [bulls_id, ours]


def test_bulls_worker_processes_every_job_in_order_with_the_apis_name_data_and_opts(sspp_queue, node) -> None:
    sent = _send(sspp_queue, 300)
    processed = node.consume(300, within_ms=60_000)
    assert len(processed) == 300
    assert [int(job["id"]) for job in processed] == list(range(1, 301))  # FIFO: ids in the order sent
    assert [job["data"] for job in processed] == [json.loads(event.body) for event in sent]
    timestamps = [job["data"]["timestamp"] for job in processed]
    assert timestamps == sorted(timestamps)  # the scenario's order
    for job in processed:
        assert job["name"] == JOB_NAME
        assert job["opts"] == {**API_JOB_OPTS, "delay": 0, "timestamp": job["timestamp"]}
    sspp_queue.drain(timeout=10)
    assert sspp_queue.counts().failed == 0


def test_a_paused_queue_keeps_the_jobs_until_resumed(sspp_queue, node: BullNode) -> None:
    node.run("pause")
    sink = RedisSink(sspp_queue.queue, pipelined=False)
    assert sink.delivery.paused  # known before the first job
    _send(sspp_queue, 40)
    assert sspp_queue.counts().paused == 40
    assert sspp_queue.counts().wait == 0
    assert node.consume(40, within_ms=1500) == []  # the worker takes nothing while paused
    node.run("resume")
    started = time.monotonic()
    processed = node.consume(40, within_ms=30_000)
    assert [int(job["id"]) for job in processed] == list(range(1, 41))
    assert time.monotonic() - started < 30
    sink.close()
