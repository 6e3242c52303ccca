"""The plugin's per-process state: the server, the templates, and the pools of test databases.

Under pytest-xdist every worker is its own process with its own pools, but all of them share one server:
with no DSN, the first worker to need one starts it in the run's folder (under a file lock), the others find
it there, and the controller stops it when the run ends. Templates are shared through the server itself.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import psycopg
from psycopg.rows import tuple_row

from ..server import Server, get_server
from ..server._runtime import cache_dir, pid_alive
from ..server._warm import WarmServer, reuse_warm_server, start_warm_server, stop_warm_server, warm_server_status
from ._config import SsppConfig, TestSpec
from ._connection import SESSION_RESET, SsppConnection

if TYPE_CHECKING:  # the engines load when a test first asks for a database: a run without one stays fast
    from ..scenarios import Scenario
    from ..templates import TemplateInfo, TestDatabases, TestDb

__all__ = ["PluginSession", "cleanup_run", "new_run_id", "run_dir", "sweep_stale_runs"]

_RUNS = "runs"
#: psycopg settings a test may change on ``sspp_db``, put back after it.
_CONNECTION_DEFAULTS: dict[str, object] = {
    "autocommit": False,
    "isolation_level": None,
    "read_only": None,
    "deferrable": None,
    "prepare_threshold": 5,
    "row_factory": tuple_row,
}
#: Templates unused this long are dropped (each change of code or data makes a new one).
_TEMPLATE_MAX_AGE_S = 3 * 86400


def new_run_id() -> str:
    """An id naming one pytest run (the controller's pid and start time)."""
    return f"{os.getpid()}-{int(time.time())}"


def run_dir(run_id: str) -> Path:
    return cache_dir() / _RUNS / run_id


def _run_pid(path: Path) -> int | None:
    head = path.name.split("-", 1)[0]
    return int(head) if head.isdigit() else None


def cleanup_run(run_id: str) -> None:
    """Stop the server a run started (if any) and remove the run's folder."""
    folder = run_dir(run_id)
    if folder.is_dir():
        stop_warm_server(folder)
        shutil.rmtree(folder, ignore_errors=True)


def sweep_stale_runs() -> None:
    """Stop servers of runs whose controller is gone (a killed pytest), and remove their folders."""
    root = cache_dir() / _RUNS
    if not root.is_dir():
        return
    for folder in root.iterdir():
        pid = _run_pid(folder)
        if folder.is_dir() and (pid is None or not pid_alive(pid)):
            with contextlib.suppress(Exception):
                cleanup_run(folder.name)


@dataclass
class PluginSession:
    """What one process of a pytest run holds: lazily started, closed at the end of the session."""

    config: SsppConfig
    run_id: str
    worker_id: str
    _server: Server | None = None
    _templates: dict[tuple[str, int | None], tuple[Scenario, TemplateInfo]] = field(default_factory=dict)
    _pools: dict[str, TestDatabases] = field(default_factory=dict)
    _transaction_slots: dict[str, tuple[TestDatabases, TestDb, SsppConnection]] = field(default_factory=dict)
    _kept: dict[str, SsppConnection] = field(default_factory=dict)
    _swept: bool = False

    @property
    def server(self) -> Server:
        if self._server is None:
            self._server = self._start_server()
        return self._server

    def _start_server(self) -> Server:
        kind = self.config.server
        if self.config.dsn is not None or kind in ("dsn", "docker"):
            return get_server(kind if kind != "auto" else "dsn", dsn=self.config.dsn)
        if kind == "auto":
            user_warm = reuse_warm_server()
            if user_warm is not None:
                return user_warm
        folder = run_dir(self.run_id)
        state = warm_server_status(folder) or start_warm_server(kind, state_dir=folder)
        return WarmServer(state)

    def template(self, spec: TestSpec) -> TemplateInfo:
        """The template holding the spec's scenario and seed, built if no process built it yet."""
        key = (spec.scenario, spec.seed)
        if key not in self._templates:
            from ..scenarios import load_scenario
            from ..templates import ensure_template, sweep

            scenario = load_scenario(spec.scenario).with_overrides(seed=spec.seed)
            if not self._swept:
                sweep(self.server.dsn, templates_older_than_s=_TEMPLATE_MAX_AGE_S)
                self._swept = True
            self._templates[key] = (scenario, ensure_template(self.server.dsn, scenario))
        return self._templates[key][1]

    def databases(self, spec: TestSpec) -> TestDatabases:
        """The pool of test databases cloned from the spec's template."""
        template = self.template(spec)
        pool = self._pools.get(template.name)
        if pool is None:
            from ..templates import TestDatabases

            pool = TestDatabases(self.server.dsn, template, worker_id=self.worker_id)
            self._pools[template.name] = pool
        return pool

    def transaction_connection(self, spec: TestSpec) -> SsppConnection:
        """An open connection to a database kept for ``isolation='transaction'`` tests of this template.

        Reused from test to test (each runs in a transaction that is rolled back), so such a test pays no
        connect: the path under a millisecond. A connection a test broke is replaced, its database put back.
        """
        pool = self.databases(spec)
        key = self.template(spec).name
        slot = self._transaction_slots.get(key)
        if slot is not None and not (slot[2].closed or slot[2].broken):
            return slot[2]
        if slot is not None:
            pool.release(slot[1])
        db = pool.acquire("transaction")
        conn = SsppConnection.connect(db.dsn, autocommit=True, application_name="sspp-test")
        self._transaction_slots[key] = (pool, db, conn)
        return conn

    def kept_connection(self, db: TestDb) -> SsppConnection:
        """``sspp_db`` for a reused database: the connection the previous test on it used, reset, else a new one.

        A connect costs more here than the plugin's whole restore (measured: 4.8 ms against 1.7 ms), so the
        reuse path keeps the connection open from test to test; :meth:`reset_kept` returns it to a fresh
        session's state.
        """
        conn = self._kept.get(db.name)
        if conn is not None and not (conn.closed or conn.broken):
            return conn
        conn = SsppConnection.connect(db.dsn, application_name="sspp-test")
        self._kept[db.name] = conn
        return conn

    def reset_kept(self, db: TestDb) -> None:
        """After a test: roll back and reset the kept connection's session, or forget it if the test broke it."""
        conn = self._kept.get(db.name)
        if conn is None:
            return
        try:
            if conn.closed or conn.broken:
                raise psycopg.OperationalError("closed by the test")
            conn.rollback()
            conn.autocommit = True
            conn.execute(SESSION_RESET)
            for name, value in _CONNECTION_DEFAULTS.items():
                setattr(conn, name, value)
        except psycopg.Error:
            self.forget_kept(db)

    def kept_pids(self, db: TestDb) -> list[int]:
        conn = self._kept.get(db.name)
        return [conn.info.backend_pid] if conn is not None and not conn.closed else []

    def forget_kept(self, db: TestDb) -> None:
        conn = self._kept.pop(db.name, None)
        if conn is not None:
            with contextlib.suppress(Exception):
                conn.close()

    def close(self) -> None:
        for conn in self._kept.values():
            with contextlib.suppress(Exception):
                conn.close()
        self._kept.clear()
        for pool, db, conn in self._transaction_slots.values():
            with contextlib.suppress(Exception):
                conn.close()
                pool.release(db)
        self._transaction_slots.clear()
        for pool in self._pools.values():
            with contextlib.suppress(Exception):
                pool.close()
        self._pools.clear()
        if self._server is not None:
            self._server.stop()
