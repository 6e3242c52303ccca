"""The ``sspp_queue`` fixture in a consumer project (pytester, xdist): its own queue per test, Bull's layout,
``add``/``jobs``/``drain``, and every key gone afterwards."""

from __future__ import annotations

import os

import pytest
import redis

import sspp_fixtures.replay  # noqa: F401  (loaded before pytester's in-process runs, which cannot re-import numpy)

CONSUMER_TESTS = """
import json, os, threading, time
import pytest

EVENT = {"accountId": "acc_001", "userId": "user_001", "eventType": "email_opened",
         "timestamp": "2026-06-30T09:00:00.000Z", "metadata": {"campaign": "q3"}}


def _record(queue):
    with open(os.environ["NAMES_FILE"], "a") as out:
        out.write(queue.name + "\\n")


@pytest.mark.parametrize("n", range(4))
def test_add_and_read_back(sspp_queue, n):
    _record(sspp_queue)
    ids = sspp_queue.add([EVENT, {**EVENT, "userId": f"user_{n}"}])
    jobs = sspp_queue.jobs("wait")
    assert [job.id for job in jobs] == ids == ["1", "2"]   # its own counter: no other test's jobs
    assert jobs[0].name == "process-event" and jobs[0].data == EVENT
    assert jobs[0].opts["attempts"] == 3 and jobs[0].opts["removeOnComplete"] == 1000


def _consume(queue):  # a minimal consumer: takes jobs the way Bull's worker moves them
    client, keys = queue.queue.client, queue.queue.keys
    while (job_id := client.rpoplpush(keys.key("wait"), keys.key("active"))) is not None:
        time.sleep(0.01)
        finished = int(time.time() * 1000)
        client.hset(keys.key(job_id), mapping={"finishedOn": finished, "processedOn": finished})
        client.lrem(keys.key("active"), 0, job_id)
        client.zadd(keys.key("completed"), {job_id: finished})


def test_drain_waits_for_the_consumer(sspp_queue):
    _record(sspp_queue)
    sspp_queue.add([EVENT] * 20)
    threading.Timer(0.2, _consume, [sspp_queue]).start()
    counts = sspp_queue.drain(timeout=10)
    assert counts.completed == 20 and counts.pending == 0
    assert [job.id for job in sspp_queue.jobs("completed")] == [str(i) for i in range(1, 21)]


def test_drain_says_what_is_left(sspp_queue):
    _record(sspp_queue)
    sspp_queue.add([EVENT])
    with pytest.raises(TimeoutError, match="not drained after 0.2s.*wait=1"):
        sspp_queue.drain(timeout=0.2)
"""


@pytest.mark.slow
def test_each_test_gets_its_own_queue_removed_afterwards(pytester: pytest.Pytester, tmp_path) -> None:
    names_file = tmp_path / "names.txt"
    pytester.makepyfile(test_consumer=CONSUMER_TESTS)
    os.environ["NAMES_FILE"] = str(names_file)
    try:
        result = pytester.runpytest_subprocess("-n", "2", "-p", "no:cacheprovider", "-q")
    finally:
        del os.environ["NAMES_FILE"]
    result.assert_outcomes(passed=6)
    names = names_file.read_text().split()
    assert len(names) == len(set(names)) == 6
    assert {name.split("-")[2] for name in names} == {"gw0", "gw1"}  # sspp-test-<worker>-...
    client = redis.Redis.from_url(os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0"))
    for name in names:
        assert client.keys(f"bull:{name}:*") == []


def test_the_option_names_the_redis(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_url="def test_url(sspp_queue):\n    assert sspp_queue.url == 'redis://127.0.0.1:6379/0'\n")
    pytester.runpytest("--sspp-redis", "redis://127.0.0.1:6379/0", "-p", "no:cacheprovider").assert_outcomes(passed=1)
    result = pytester.runpytest("--sspp-redis", "redis://127.0.0.1:1/0", "-p", "no:cacheprovider")
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines(["*sspp_queue: Redis at redis://127.0.0.1:1/0 did not answer*"])


def test_the_readme_example_passes(pytester: pytest.Pytester) -> None:
    import re
    import textwrap
    from pathlib import Path

    text = (Path(__file__).resolve().parents[2] / "README.md").read_text(encoding="utf-8")
    section = text[text.index("### A Bull queue per test: `sspp_queue`") :]
    (example,) = re.findall(r"```python\n(.*?)```", section[: section.index("\n## ")], re.DOTALL)
    pytester.makepyfile(test_readme_queue=textwrap.dedent(example))
    pytester.runpytest("-p", "no:cacheprovider").assert_outcomes(passed=1)
