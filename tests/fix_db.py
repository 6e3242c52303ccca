"""A PostgreSQL server for the whole test session and a throw-away database per test that needs one.

The server is the project's own pytest plugin's (``sspp_server``): $DATABASE_URL when set (CI sets it to the
PostgreSQL 15 on 127.0.0.1:5432), else a warm server, else one the plugin starts for the run. Databases are named
``sspp_test_<pid>_<n>`` so leftovers of a crashed run are recognisable and swept at the next start.
"""

from __future__ import annotations

import itertools
import os
import queue
import shutil
import subprocess
import sys
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from sspp_fixtures.databases import create_database, drop_database
from sspp_fixtures.dsn import connect
from sspp_fixtures.server import Server
from sspp_fixtures.server._runtime import pid_alive

TEST_DB_PREFIX = "sspp_test_"
# The suite keeps no generated rows in the user's cache (tests/db/test_row_cache.py sets a folder of its own).
os.environ.setdefault("SSPP_FIXTURES_ROW_CACHE_MB", "0")
_counter = itertools.count()


def _sweep_leftovers(server: Server) -> None:
    """Drop test databases whose creating process is gone (a crashed or killed earlier run)."""
    with connect(server.dsn) as admin:
        names = [
            r[0]
            for r in admin.execute(
                "SELECT datname FROM pg_database WHERE datname LIKE %s",
                (TEST_DB_PREFIX.replace("_", r"\_") + "%",),
            )
        ]
    for name in names:
        parts = name[len(TEST_DB_PREFIX) :].split("_")
        if parts and parts[0].isdigit() and not pid_alive(int(parts[0])):
            drop_database(server.dsn, name)


@pytest.fixture(scope="session")
def pg_server(sspp_server: Server) -> Server:
    """The session's PostgreSQL server: the project's own plugin provides it (``sspp_server``)."""
    _sweep_leftovers(sspp_server)
    return sspp_server


def new_database(server: Server, label: str = "db") -> str:
    """Create an empty database for one test and return its name."""
    name = f"{TEST_DB_PREFIX}{os.getpid()}_{next(_counter)}_{label}"[:63]
    create_database(server.dsn, name)
    return name


class BackgroundDrops:
    """Drops the tests' databases on a thread of its own, several at once: each DROP DATABASE waits for a
    checkpoint (0.5-3 s on a busy server), which concurrent drops share, and the next test need not wait for it."""

    def __init__(self, admin_dsn: str) -> None:
        self._admin_dsn = admin_dsn
        self._names: queue.SimpleQueue[str | None] = queue.SimpleQueue()
        self.failed: list[str] = []
        self._thread = threading.Thread(target=self._work, name="sspp-test-drops", daemon=True)
        self._thread.start()

    def drop(self, name: str) -> None:
        self._names.put(name)

    def finish(self) -> list[str]:
        """Wait for every drop asked for; returns those that failed (name: error)."""
        self._names.put(None)
        self._thread.join()
        return self.failed

    def _work(self) -> None:
        with ThreadPoolExecutor(max_workers=4, thread_name_prefix="sspp-test-drop") as executor:
            done = False
            while not done:
                batch = [self._names.get()]
                while not self._names.empty():
                    batch.append(self._names.get())
                done = None in batch
                list(executor.map(self._drop, [name for name in batch if name is not None]))

    def _drop(self, name: str) -> None:
        try:
            drop_database(self._admin_dsn, name)
        except Exception as error:  # reported by finish(): the session's last teardown fails
            self.failed.append(f"{name}: {error}")


@pytest.fixture(scope="session")
def background_drops(pg_server: Server) -> Iterator[BackgroundDrops]:
    """Where the test databases go when their test is done; the session ends once all are dropped."""
    drops = BackgroundDrops(pg_server.dsn)
    yield drops
    failed = drops.finish()
    assert not failed, f"test databases not dropped: {failed}"


@pytest.fixture
def empty_db(pg_server: Server, background_drops: BackgroundDrops) -> Iterator[str]:
    """DSN of a new, empty database, dropped after the test."""
    name = new_database(pg_server)
    yield pg_server.dsn_for(name)
    background_drops.drop(name)


@pytest.fixture
def database_factory(pg_server: Server, background_drops: BackgroundDrops) -> Iterator[object]:
    """Call it to get DSNs of more new, empty databases; all are dropped after the test."""
    made: list[str] = []

    def make(label: str = "db") -> str:
        name = new_database(pg_server, label)
        made.append(name)
        return pg_server.dsn_for(name)

    yield make
    for name in made:
        background_drops.drop(name)


def sspp_seed_command() -> list[str]:
    """How to run the installed ``sspp-seed`` console script (the one a user types)."""
    script = Path(sys.executable).with_name("sspp-seed")
    if script.exists():
        return [str(script)]
    found = shutil.which("sspp-seed")
    if found:
        return [found]
    return [sys.executable, "-m", "sspp_fixtures"]


def run_cli(
    *args: str, env: dict[str, str] | None = None, timeout: float = 120, inherit_env: bool = True
) -> subprocess.CompletedProcess[str]:
    """Run ``sspp-seed`` as a subprocess, as a user would, and capture its output; with ``inherit_env=False``
    its environment is ``env`` alone, not added to this process's."""
    full_env = {**(os.environ if inherit_env else {}), **(env or {})}
    full_env.setdefault("COLUMNS", "200")
    return subprocess.run(
        [*sspp_seed_command(), *args],
        capture_output=True,
        text=True,
        env=full_env,
        timeout=timeout,
        check=False,
    )
