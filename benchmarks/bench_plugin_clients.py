"""What the plugin's client defaults cost a test: ``sspp_db`` in autocommit with synchronous_commit off, and the
lock-wait guard (lock_timeout on the database, idle_in_transaction_session_timeout, the watch thread), against
the previous default (one transaction, committed at the end) in the same run.

    python benchmarks/bench_plugin_clients.py [--dsn URL] [--tests 60] [--rounds 5] [--writes 20]

A project of N tests, each reading the seeded counts and inserting ``--writes`` rows one statement at a time, runs
in a ``python -m pytest`` subprocess per variant; a conftest hookwrapper times each test's setup + call +
teardown. Variants, run in turn in every round:

- before: ``sspp_db.autocommit = False`` and one ``commit()`` at the end (the old default), no timeouts
  (``--sspp-lock-timeout 0 --sspp-idle-timeout 0``: no watch thread);
- autocommit, synchronous_commit on: a commit per statement that waits for the WAL flush, no timeouts;
- now: the defaults (autocommit, synchronous_commit off, lock_timeout 10s, idle 30s, the watch).

The figure per variant is the median per-test time of a round; min and median over the rounds are printed.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import textwrap
from pathlib import Path

from _common import default_dsn, print_header, print_table, scratch_dir

CONFTEST = """
import json, os, time
import pytest

TIMES = []


@pytest.hookimpl(wrapper=True)
def pytest_runtest_protocol(item, nextitem):
    started = time.perf_counter()
    try:
        return (yield)
    finally:
        TIMES.append(time.perf_counter() - started)


def pytest_sessionfinish(session):
    with open(os.environ["BENCH_OUT"], "w") as out:
        json.dump(TIMES[1:], out)  # the first test builds or finds the template: left out
"""

TESTS = """
import os
import pytest

WRITES = int(os.environ["BENCH_WRITES"])
MODE = os.environ["BENCH_MODE"]


@pytest.mark.parametrize("n", range(int(os.environ["BENCH_TESTS"])))
def test_reads_and_writes(sspp_db, n):
    if MODE == "before":
        sspp_db.autocommit = False
    elif MODE == "sync-on":
        sspp_db.execute("SET synchronous_commit = on")
    assert sspp_db.execute("SELECT count(*) FROM customers").fetchone()[0] == 61
    for i in range(WRITES):
        sspp_db.execute("INSERT INTO signals (event_type, customer_id, signal_data) VALUES ('x', %s, '{}')", (str(i),))
    if MODE == "before":
        sspp_db.commit()
"""

_NO_TIMEOUTS = ["--sspp-lock-timeout", "0", "--sspp-idle-timeout", "0"]
VARIANTS = {
    "before": ("before: one transaction, no timeouts", _NO_TIMEOUTS),
    "sync-on": ("autocommit, synchronous_commit on, no timeouts", _NO_TIMEOUTS),
    "now": ("now: autocommit, sync commit off, timeouts + watch", []),
}


def run(folder: Path, dsn: str, mode: str, args: list[str], tests: int, writes: int) -> float:
    out = folder / f"{mode}.json"
    env = {
        **os.environ,
        "DATABASE_URL": dsn,
        "BENCH_OUT": str(out),
        "BENCH_MODE": mode,
        "BENCH_TESTS": str(tests),
        "BENCH_WRITES": str(writes),
    }
    subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-p", "no:randomly", *args],
        cwd=folder,
        env=env,
        check=True,
        capture_output=True,
    )
    return statistics.median(json.loads(out.read_text()))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--dsn", default=default_dsn())
    parser.add_argument("--tests", type=int, default=60)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--writes", type=int, default=20)
    options = parser.parse_args()
    print_header("sspp_db defaults: autocommit, synchronous_commit, lock-wait guard", options.dsn)
    results: dict[str, list[float]] = {mode: [] for mode in VARIANTS}
    with scratch_dir("bench-plugin-clients") as folder:
        (folder / "conftest.py").write_text(textwrap.dedent(CONFTEST), encoding="utf-8")
        (folder / "test_bench.py").write_text(textwrap.dedent(TESTS), encoding="utf-8")
        for _ in range(options.rounds):
            for mode, (_label, args) in VARIANTS.items():
                results[mode].append(run(folder, options.dsn, mode, args, options.tests, options.writes))
    rows = [
        [label, f"{min(results[mode]) * 1000:.2f}", f"{statistics.median(results[mode]) * 1000:.2f}"]
        for mode, (label, _args) in VARIANTS.items()
    ]
    each = f"a read and {options.writes} single-row INSERTs"
    print(f"{options.tests} tests per run, each {each}; {options.rounds} rounds")
    print_table(["variant", "per test ms, min", "median"], rows)


if __name__ == "__main__":
    main()
