"""What the plugin's client defaults cost a test, against the previous default measured in the same run:

    python benchmarks/bench_plugin_clients.py [--dsn URL] [--repeat 200] [--writes 20]

1. A test body of ``--writes`` single-row INSERTs on one connection (a scratch database of its own):
   - before: one transaction, committed at the end (the old default of ``sspp_db``);
   - autocommit with synchronous_commit on (a commit per statement, each waiting for the WAL flush);
   - now: autocommit with synchronous_commit off (``sspp_db``'s settings now).
   The variants take turns within each repetition, so a busy server slows all three alike.
2. The lock watch every test with a database gets: start + stop of :class:`LockWatch` (a thread that polls only
   after half the smaller timeout, 5 s by default, so a test shorter than that pays no query), against a bare
   ``threading.Thread`` start + join.

Figures are per repetition, in ms: min and median.
"""

from __future__ import annotations

import argparse
import statistics
import threading
import time
from collections.abc import Callable

import psycopg
from _common import DB_PREFIX, default_dsn, print_header, print_table

from sspp_fixtures.dsn import with_database
from sspp_fixtures.pytest_plugin._locks import LockWatch

TABLE = "CREATE TABLE IF NOT EXISTS bench_rows (id serial PRIMARY KEY, customer_id text, body jsonb)"
INSERT = "INSERT INTO bench_rows (customer_id, body) VALUES (%s, '{}')"


def body(conn: psycopg.Connection[tuple[object, ...]], writes: int, *, transaction: bool) -> float:
    started = time.perf_counter()
    if transaction:
        with conn.transaction():
            for i in range(writes):
                conn.execute(INSERT, (str(i),))
    else:
        for i in range(writes):
            conn.execute(INSERT, (str(i),))
    return time.perf_counter() - started


def timed(action: Callable[[], None]) -> float:
    started = time.perf_counter()
    action()
    return time.perf_counter() - started


def bare_thread() -> None:
    stop = threading.Event()
    thread = threading.Thread(target=stop.wait, daemon=True)
    thread.start()
    stop.set()
    thread.join()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--dsn", default=default_dsn())
    parser.add_argument("--repeat", type=int, default=200)
    parser.add_argument("--writes", type=int, default=20)
    options = parser.parse_args()
    print_header("sspp_db defaults: autocommit, synchronous_commit off, the lock watch", options.dsn, scaling=False)
    name = f"{DB_PREFIX}plugin_clients"
    with psycopg.connect(options.dsn, autocommit=True) as admin:
        admin.execute(f"DROP DATABASE IF EXISTS {name}")
        admin.execute(f"CREATE DATABASE {name}")
    dsn = with_database(options.dsn, name)
    try:
        with (
            psycopg.connect(dsn, autocommit=True) as sync_on,
            psycopg.connect(dsn, autocommit=True, options="-c synchronous_commit=off") as sync_off,
        ):
            sync_on.execute(TABLE)
            times: dict[str, list[float]] = {"before": [], "autocommit, sync on": [], "now": []}
            for _ in range(options.repeat):
                times["before"].append(body(sync_on, options.writes, transaction=True))
                times["autocommit, sync on"].append(body(sync_on, options.writes, transaction=False))
                times["now"].append(body(sync_off, options.writes, transaction=False))
            watch: dict[str, list[float]] = {"bare thread start + join": [], "LockWatch start + stop": []}
            for _ in range(options.repeat):
                watch["bare thread start + join"].append(timed(bare_thread))
                watch["LockWatch start + stop"].append(timed(lambda: LockWatch(dsn, 5.0, {}, 10.0).stop()))
    finally:
        with psycopg.connect(options.dsn, autocommit=True) as admin:
            admin.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
    labels = {
        "before": "before: one transaction, one commit",
        "autocommit, sync on": "autocommit, synchronous_commit on",
        "now": "now: autocommit, synchronous_commit off",
    }
    print(f"1. a test body of {options.writes} single-row INSERTs, {options.repeat} repetitions")
    print_table(
        ["variant", "ms, min", "median"],
        [[labels[k], f"{min(v) * 1000:.2f}", f"{statistics.median(v) * 1000:.2f}"] for k, v in times.items()],
    )
    print(f"2. the lock watch per test, {options.repeat} repetitions")
    print_table(
        ["what", "ms, min", "median"],
        [[k, f"{min(v) * 1000:.3f}", f"{statistics.median(v) * 1000:.3f}"] for k, v in watch.items()],
    )


if __name__ == "__main__":
    main()
