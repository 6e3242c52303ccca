"""Safety on the Redis side: queues the tool did not create are never purged unless forced; a Redis that is down,
read-only or refuses the password is one clear, masked line with its exit code."""

from __future__ import annotations

import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis

from sspp_fixtures.cli import run
from sspp_fixtures.errors import ExitCode, UnsafeTargetError, UsageError
from sspp_fixtures.replay import QueueError, QueueUnreachableError, ReplayOptions, open_queue, replay
from tests.replay._inject import built


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def private_redis(tmp_path: Path) -> Iterator[callable]:
    """Start redis-server processes of this test's own (password, replica) on free ports."""
    started: list[subprocess.Popen[bytes]] = []

    def start(*args: str) -> int:
        port = _free_port()
        process = subprocess.Popen(
            ["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
             "--dir", str(tmp_path), *args],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )  # fmt: skip
        started.append(process)
        for _ in range(100):
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.1).close()
                return port
            except OSError:
                time.sleep(0.05)
        raise RuntimeError("redis-server did not start")

    if subprocess.run(["which", "redis-server"], capture_output=True, check=False).returncode:
        pytest.skip("redis-server not on PATH")
    yield start
    for process in started:
        process.terminate()
        process.wait(10)


def test_purge_refuses_a_queue_the_tool_did_not_create(sspp_queue) -> None:
    client = sspp_queue.queue.client
    client.delete(sspp_queue.queue.keys.owner)  # as if the platform's API had made it
    sspp_queue.add([{"accountId": "a", "userId": "u", "eventType": "email_sent",
                     "timestamp": "2026-01-01T00:00:00Z", "metadata": {}}])  # fmt: skip
    with pytest.raises(UnsafeTargetError) as caught:
        open_queue(sspp_queue.url, sspp_queue.name, purge=True)
    assert "was not created by sspp-fixtures" in str(caught.value)
    assert "--force" in str(caught.value)
    assert sspp_queue.counts().wait == 1  # untouched
    open_queue(sspp_queue.url, sspp_queue.name, purge=True, force=True).close()
    assert sspp_queue.counts().wait == 0
    assert not client.exists(sspp_queue.queue.keys.owner)  # still not the tool's: the next purge needs --force


def test_purge_empties_a_queue_the_tool_created_and_nothing_else(sspp_queue, tmp_path: Path) -> None:
    neighbour = f"{sspp_queue.name}x"
    client = sspp_queue.queue.client
    client.set(f"bull:{neighbour}:id", 5)  # another queue whose name starts the same
    try:
        replay("smoke", sspp_queue.url, queue=sspp_queue.name, manifest_path=tmp_path / "1.json", events=built(20))
        report = replay(
            "smoke", sspp_queue.url, queue=sspp_queue.name, purge=True, manifest_path=tmp_path / "2.json",
            events=built(20),
        )  # fmt: skip
        assert report.delivery.job_ids == [[1, 20]]  # the counter went with the purge
        assert sspp_queue.counts().wait == 20
        assert client.get(f"bull:{neighbour}:id") == "5"
    finally:
        client.delete(f"bull:{neighbour}:id")


def test_a_queue_that_did_not_exist_becomes_the_tools(sspp_queue, tmp_path: Path) -> None:
    client = sspp_queue.queue.client
    fresh = f"{sspp_queue.name}-fresh"
    try:
        replay("smoke", sspp_queue.url, queue=fresh, manifest_path=tmp_path / "r.json", events=built(3))
        assert client.exists(f"bull:{fresh}:sspp-fixtures")
        open_queue(sspp_queue.url, fresh, purge=True).close()
        assert client.keys(f"bull:{fresh}:*") == [f"bull:{fresh}:sspp-fixtures"]
    finally:
        for key in client.scan_iter(match=f"bull:{fresh}:*"):
            client.delete(key)


def test_invalid_events_are_for_the_api_only(sspp_queue) -> None:
    with pytest.raises(UsageError, match="--invalid needs the API"):
        replay("smoke", sspp_queue.url, queue=sspp_queue.name, options=ReplayOptions(invalid_share=0.1),
               events=built(3))  # fmt: skip


def test_redis_down_is_one_masked_line(capsys: pytest.CaptureFixture[str]) -> None:
    url = f"redis://:hunter2@127.0.0.1:{_free_port()}/0"
    with pytest.raises(QueueUnreachableError) as caught:
        open_queue(url, "sales-events")
    assert "did not answer" in str(caught.value)
    assert "hunter2" not in str(caught.value)
    code = run(["replay", "smoke", "--to", url])
    err = capsys.readouterr().err
    assert code == ExitCode.UNREACHABLE
    assert err.count("\n") == 1
    assert "hunter2" not in err
    assert "redis://:***@127.0.0.1" in err


def test_a_wrong_password_is_one_masked_line(private_redis) -> None:
    port = private_redis("--requirepass", "right-one")
    with pytest.raises(QueueUnreachableError) as caught:
        open_queue(f"redis://:wrong-one@127.0.0.1:{port}/0", "sales-events")
    assert "refused the credentials" in str(caught.value)
    assert "wrong-one" not in str(caught.value)
    open_queue(f"redis://:right-one@127.0.0.1:{port}/0", "sales-events").close()


def test_a_read_only_replica_is_refused_before_anything_is_sent(private_redis) -> None:
    port = private_redis("--replicaof", "127.0.0.1", str(_free_port()))  # a replica of nothing: read-only
    with pytest.raises(QueueError) as caught:
        open_queue(f"redis://127.0.0.1:{port}/0", "sales-events")
    assert "read-only replica" in str(caught.value)
    assert "primary" in str(caught.value)
    assert redis.Redis(port=port).dbsize() == 0


def test_a_flushed_script_cache_is_reloaded_and_no_job_is_lost(private_redis) -> None:
    from sspp_fixtures.replay import BullQueue, RedisSink, SentEvent

    port = private_redis()
    queue = BullQueue(f"redis://127.0.0.1:{port}/0", "sales-events")
    sink = RedisSink(queue, pipelined=True)
    events = [SentEvent(i, 0, f'{{"n":{i}}}') for i in range(30)]
    sink.send(events[:10])
    queue.client.script_flush()  # e.g. a Redis restart or failover between two batches
    sink.send(events[10:20])
    sink.send(events[20:])
    delivery = sink.finish()
    sink.close()
    assert delivery.job_ids == [[1, 30]]
    assert [job.data["n"] for job in queue.jobs("wait")] == list(range(30))
    queue.close()
