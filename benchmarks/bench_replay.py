"""Replay onto Redis: jobs/s at full speed next to redis-benchmark's LPUSH in the same run, the error of a set
rate, and the memory of the timestamp-order sort as the number of events grows.

    python benchmarks/bench_replay.py [--redis redis://127.0.0.1:6379/0] [--events 300000] [--seconds 60]
                                      [--rates 100,1000,10000] [--sort-sizes 1000000,3000000]

- full speed: the first ``--events`` platform events of ``--scenario`` (default load-1m; ``''``: synthetic ones
  of the same shape), sorted, rendered and added by ``RedisSink`` (one EVALSHA per batch) onto a queue of the
  benchmark's own; jobs/s over the send, and the sender's CPU seconds per wall second (one core = 1.0).
- baseline: ``redis-benchmark -n N LPUSH <own key> <a job-sized value>``, 50 clients, and the same with
  ``-P 16`` (pipelined): what the server takes for the simplest write of one list element.
- rate: ``--rate R`` for ``--seconds`` each; error = achieved / R - 1 (a cleaner process empties the queue
  meanwhile so Redis stays small). With ``--record``, each rate runs again with ``replay --report``'s recorder
  sampling the run and the queue once a second on its thread: its error beside the plain run's.
- sort memory: peak RSS of a process sorting N synthetic events through the spool (flat: independent of N).

Every key it writes is under ``bull:sspp-bench-replay-<pid>*`` or ``sspp-bench-replay-<pid>:*`` and is removed.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import re
import resource
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass
from typing import Any

import numpy as np
import redis
from _common import fmt_rate, print_header, print_table

from sspp_fixtures.model import PLATFORM_EVENT_TYPES
from sspp_fixtures.replay import (
    BullQueue,
    Delivery,
    Manifest,
    Recorder,
    RedisSink,
    ReplayOptions,
    SortedEvents,
    StreamPlan,
    run_replay,
    sort_events,
)

PREFIX = f"sspp-bench-replay-{os.getpid()}"
GOAL_JOBS_S = 50_000
GOAL_RATE_ERROR = 0.01


@dataclass(frozen=True)
class _Batch:
    account_id: list[str]
    user_id: list[str]
    event_type: list[str]
    timestamp: Any
    metadata: list[str]
    index: Any


def synthetic_batches(total: int, chunk: int = 10_000, seed: int = 1) -> Any:
    """Chunks like the generator's: each spread over a 30-day window, metadata with the worker's keys."""
    rng = np.random.default_rng(seed)
    start = np.datetime64("2026-06-01T00:00:00", "ms").astype(np.int64)
    for first in range(0, total, chunk):
        n = min(chunk, total - first)
        hours = rng.integers(0, 48, n).tolist()
        counts = rng.integers(0, 9, n).tolist()
        yield _Batch(
            account_id=[f"cust_{a:06d}" for a in rng.integers(1, 20_000, n).tolist()],
            user_id=[f"user_{u:06d}" for u in rng.integers(1, 60_000, n).tolist()],
            event_type=[PLATFORM_EVENT_TYPES[t] for t in rng.integers(0, 6, n).tolist()],
            timestamp=(start + rng.integers(0, 30 * 86_400_000, n)).astype("datetime64[ms]"),
            metadata=[
                json.dumps({"campaign": f"spring-{h % 7}", "responseTimeHours": h, "interactionCount": c})
                for h, c in zip(hours, counts, strict=True)
            ],
            index=np.arange(first, first + n, dtype=np.int64),
        )


def events_for(total: int, scenario_name: str | None) -> tuple[SortedEvents, str]:
    """The first ``total`` platform events of a scenario (sorted: what replay sends), or synthetic ones."""
    if scenario_name:
        from sspp_fixtures.replay import scenario_events
        from sspp_fixtures.scenarios import load_scenario

        started = time.monotonic()
        sorted_events = scenario_events(load_scenario(scenario_name))
        what = (
            f"{scenario_name}'s platform events (first {min(total, sorted_events.count):,} of "
            f"{sorted_events.count:,}; generated and sorted in {time.monotonic() - started:.1f}s)"
        )
        return sorted_events, what
    return sort_events(synthetic_batches(total)), f"{total:,} synthetic platform events"


def _manifest(queue: str) -> Manifest:
    return Manifest(
        scenario="bench", scenario_name="bench", fingerprint="", seed=1, scale=None, plan=StreamPlan(seed=1),
        sent=0, sink="redis", target="", url=None, queue=queue, prefix="bull", time_mode="scenario", rate=None,
        speed=None, delivery=Delivery("redis"), started_at="",
    )  # fmt: skip


def _queue(url: str, suffix: str) -> BullQueue:
    queue = BullQueue(url, f"{PREFIX}-{suffix}")
    queue.mark_owned()
    return queue


def _redis_cpu(client: redis.Redis) -> float:
    info = client.info("cpu")
    return float(info["used_cpu_user"]) + float(info["used_cpu_sys"])


def full_speed(url: str, total: int, scenario_name: str | None) -> tuple[float, float, float, str]:
    """jobs/s, the sender's CPU per wall second, Redis's CPU per wall second, and what was sent."""
    sorted_events, what = events_for(total, scenario_name)
    total = min(total, sorted_events.count)
    queue = _queue(url, "full")
    try:
        with sorted_events:
            cpu, server = time.process_time(), _redis_cpu(queue.client)
            report = run_replay(
                sorted_events, last_time_ms=None, sink=RedisSink(queue, pipelined=True),
                options=ReplayOptions(count=total), manifest=_manifest(queue.name),
            )  # fmt: skip
            cpu, server = time.process_time() - cpu, _redis_cpu(queue.client) - server
        assert queue.counts().wait == report.manifest.sent == total, "not every job arrived"
        return report.rate, cpu / report.send_s, server / report.send_s, what
    finally:
        queue.purge()
        queue.close()


def redis_benchmark(url: str, requests: int, pipeline: int) -> float | None:
    tool = shutil.which("redis-benchmark")
    if tool is None:
        return None
    client = redis.Redis.from_url(url)
    host = client.connection_pool.connection_kwargs.get("host", "127.0.0.1")
    port = client.connection_pool.connection_kwargs.get("port", 6379)
    key = f"{PREFIX}:lpush"
    value = "x" * 220  # about one job's data
    try:
        done = subprocess.run(
            [tool, "-h", str(host), "-p", str(port), "-n", str(requests), "-P", str(pipeline), "-q",
             "LPUSH", key, value],
            capture_output=True, text=True, check=True, timeout=600,
        )  # fmt: skip
    finally:
        client.delete(key)
        client.close()
    found = re.findall(r"([\d.]+) requests per second", done.stdout)
    return float(found[-1]) if found else None


def _clean(url: str, queue_name: str, stop: Any) -> None:
    """Empty the queue every half second (the jobs are the benchmark's; Redis stays small)."""
    queue = BullQueue(url, queue_name)
    wait = queue.keys.key("wait")
    while not stop.is_set():
        pipe = queue.client.pipeline(transaction=True)
        pipe.lrange(wait, 0, -1)
        pipe.delete(wait)
        ids, _ = pipe.execute()
        for start in range(0, len(ids), 5000):
            queue.client.unlink(*(queue.keys.key(i) for i in ids[start : start + 5000]))
        stop.wait(0.5)
    queue.close()


class _TimedRecorder(Recorder):
    """The recorder, adding up the CPU its samples take (on its own thread: what it takes from the sender)."""

    cpu_s = 0.0

    def _sample(self, *, last: bool = False) -> None:
        started = time.thread_time()
        super()._sample(last=last)
        self.cpu_s += time.thread_time() - started


def rate_error(
    url: str, rate: float, seconds: float, *, record: bool = False
) -> tuple[int, float, float, float | None]:
    """Jobs sent, seconds, the rate's error, and with ``record`` the recorder's CPU ms per second of the run."""
    total = int(rate * seconds * 1.05) + 1000
    queue = _queue(url, f"rate{int(rate)}")
    recorder = _TimedRecorder(BullQueue(url, queue.name), sink="redis", target_rate=rate) if record else None
    stop = multiprocessing.Event()
    cleaner = multiprocessing.Process(target=_clean, args=(url, queue.name, stop), daemon=True)
    cleaner.start()
    try:
        with sort_events(synthetic_batches(total)) as sorted_events:
            sink = RedisSink(queue, pipelined=True)
            if recorder is not None:
                recorder.start(lambda: sink.delivery)
            report = run_replay(
                sorted_events, last_time_ms=None, sink=sink,
                options=ReplayOptions(rate=rate, duration_s=seconds), manifest=_manifest(queue.name),
            )  # fmt: skip
        if recorder is not None:
            samples = recorder.stop().samples
            assert samples[-1].sent == report.manifest.sent, "the recorder missed jobs"
        cost = None if recorder is None else recorder.cpu_s * 1000 / report.send_s
        return report.manifest.sent, report.send_s, report.rate / rate - 1, cost
    finally:
        stop.set()
        cleaner.join(10)
        queue.purge()
        queue.close()


def sort_memory(total: int) -> tuple[float, float]:
    """Peak RSS (MB) and seconds of a fresh process sorting ``total`` synthetic events and reading them back."""
    done = subprocess.run(
        [sys.executable, __file__, "--sort-job", str(total)], capture_output=True, text=True, check=True, timeout=3600
    )
    peak_mb, seconds = done.stdout.split()
    return float(peak_mb), float(seconds)


def _sort_job(total: int) -> None:
    started = time.monotonic()
    with sort_events(synthetic_batches(total)) as events:
        count = sum(1 for _ in events)
    assert count == total
    print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, time.monotonic() - started)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--redis", default=os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0"))
    parser.add_argument("--events", type=int, default=300_000, help="events sent at full speed")
    parser.add_argument("--scenario", default="load-1m", help="whose events go at full speed ('' for synthetic)")
    parser.add_argument("--seconds", type=float, default=60, help="length of each set-rate run")
    parser.add_argument("--rates", default="100,1000,10000", help="set rates to check, comma-separated")
    parser.add_argument("--record", action="store_true", help="also run each rate with the --report recorder on")
    parser.add_argument("--sort-sizes", default="1000000,3000000", help="events sorted for the memory figure")
    parser.add_argument("--sort-job", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.sort_job:
        _sort_job(args.sort_job)
        return 0
    print_header("bench_replay: scenario events onto a Bull queue in Redis", None)
    info = redis.Redis.from_url(args.redis).info("server")
    print(f"redis {info['redis_version']} at {args.redis}")

    print("\nfull speed vs redis-benchmark (same run)", flush=True)
    rate, cpu_share, redis_share, what = full_speed(args.redis, args.events, args.scenario or None)
    lpush = redis_benchmark(args.redis, 200_000, 1)
    lpush_pipelined = redis_benchmark(args.redis, 1_000_000, 16)
    rows = [
        ["replay -> Bull jobs (EVALSHA batches)", fmt_rate(rate), f"{cpu_share:.2f}", f"{redis_share:.2f}", what],
        ["redis-benchmark LPUSH", fmt_rate(lpush) if lpush else "-", "-", "-", "50 clients, 1 command per round trip"],
        ["redis-benchmark LPUSH -P 16", fmt_rate(lpush_pipelined) if lpush_pipelined else "-", "-", "-", "pipelined"],
    ]
    print_table(["writer", "per second", "sender CPU/s", "redis CPU/s", "what"], rows)
    capacity = rate / cpu_share if cpu_share > 0 else 0.0
    print(f"sender: {cpu_share / rate * 1e6:.1f} us of CPU per job, i.e. {capacity:,.0f} jobs per CPU-second")
    print(
        f"goal >= {GOAL_JOBS_S:,} jobs/s from one core: achieved {rate:,.0f}/s "
        f"({'met' if rate >= GOAL_JOBS_S else 'NOT met'}); one core of sender: {capacity:,.0f}/s "
        f"({'met' if capacity >= GOAL_JOBS_S else 'NOT met'}); Redis used {redis_share:.2f} of a core"
    )

    print(f"\nset rate over {args.seconds:g} s each", flush=True)
    rate_rows = []
    worst = 0.0
    for target in (float(r) for r in args.rates.split(",")):
        for record in (False, True) if args.record else (False,):
            sent, seconds, error, cost = rate_error(args.redis, target, args.seconds, record=record)
            worst = max(worst, abs(error))
            run = "recorder on" if record else "plain"
            rate_rows.append([f"{target:,.0f}/s", run, f"{sent:,}", f"{seconds:.2f}", f"{sent / seconds:,.1f}",
                              f"{error:+.3%}", "-" if cost is None else f"{cost:.2f}"])  # fmt: skip
    print_table(["rate", "run", "sent", "seconds", "achieved/s", "error", "recorder CPU ms/s"], rate_rows)
    print(f"goal within {GOAL_RATE_ERROR:.0%}: {'met' if worst <= GOAL_RATE_ERROR else 'NOT met'}")

    print("\nsort memory (spooled runs + k-way merge), a fresh process each", flush=True)
    sort_rows = []
    for total in (int(n) for n in args.sort_sizes.split(",")):
        peak, seconds = sort_memory(total)
        sort_rows.append([f"{total:,}", f"{peak:,.0f} MB", f"{seconds:.1f}", fmt_rate(total / seconds)])
    print_table(["events", "peak RSS", "seconds", "events/s"], sort_rows)
    return 0


if __name__ == "__main__":
    sys.exit(main())
