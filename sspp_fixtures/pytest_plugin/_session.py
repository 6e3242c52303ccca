"""The plugin's per-process state: the server, the templates, and the pools of test databases.

Under pytest-xdist every worker is its own process with its own pools, but all of them share one server:
with no DSN, the first worker to need one starts it in the run's folder (under a file lock), the others find
it there, and the controller stops it when the run ends. Templates are shared through the server itself.

A worker closes its pools (dropping its databases) when its session finishes, before xdist's controller is told
it is done, so the controller waits for the drops instead of killing a worker that is slow to exit. Each worker
notes the server it used in the run's folder; once the workers are gone, the controller sweeps those servers of
what a killed worker left.

This module is imported when pytest loads the plugin: the server and template code load on first use.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from .._paths import cache_dir
from .._stale import pid_alive
from ..errors import ConnectionBudgetError, SsppError, UsageError
from ._config import SsppConfig, TestSpec

if TYPE_CHECKING:  # the engines load when a test first asks for a database: a run without one stays fast
    from ..server import Server
    from ..templates import TemplateInfo, TestDatabases
    from ._isolation import Isolation

__all__ = [
    "SESSION_KEY",
    "PluginSession",
    "cleanup_run",
    "new_run_id",
    "plugin_session",
    "run_dir",
    "sweep_run_servers",
    "sweep_stale_runs",
]

_RUNS = "runs"
#: Where the workers of a run note the server they made databases on (one file per worker, mode 0600).
_SERVERS = "servers"
#: Made by the run's first worker to sweep (the others do not).
_SWEPT = "swept"
#: Where the workers of a run note their pid (one empty file per worker), for the connection budget.
_WORKERS = "workers"
#: The run folder's entries that are the plugin's own notes, not a server's (an xdist run makes them whether or not
#: it uses a database: they alone do not need the server code loaded to clean up).
_BOOKKEEPING = frozenset({_SERVERS, _SWEPT, _WORKERS})
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
    if not folder.is_dir():
        return
    if any(path.name not in _BOOKKEEPING for path in folder.iterdir()):  # a server's state: load the server code
        from ..server import stop_warm_server

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


def note_worker(run_id: str) -> None:
    """Note this worker's pid in the run's folder (the budget counts the connections of the run's workers)."""
    folder = run_dir(run_id) / _WORKERS
    folder.mkdir(parents=True, exist_ok=True)
    (folder / str(os.getpid())).touch()


def run_worker_pids(run_id: str) -> list[int]:
    """The pids the run's workers noted (a replaced worker's included)."""
    folder = run_dir(run_id) / _WORKERS
    if not folder.is_dir():
        return []
    return sorted(int(path.name) for path in folder.iterdir() if path.name.isdigit())


def _note_server(run_id: str, worker_id: str, dsn: str) -> None:
    folder = run_dir(run_id) / _SERVERS
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{worker_id}-{os.getpid()}"
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)  # the DSN may carry a password
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(dsn)


def sweep_run_servers(run_id: str) -> list[str]:
    """Drop what the run's dead workers left on the servers they noted (test databases whose creator is gone);
    return the names dropped. Called by the controller once its workers have exited (or been killed)."""
    folder = run_dir(run_id) / _SERVERS
    if not folder.is_dir():
        return []
    dsns = {path.read_text(encoding="utf-8").strip() for path in folder.iterdir() if path.is_file()}
    if not dsns:
        return []
    from ..templates import sweep

    dropped: list[str] = []
    for dsn in sorted(dsns):
        with contextlib.suppress(Exception):  # a server that is gone holds nothing to sweep
            dropped += sweep(dsn)
    return dropped


def plugin_session(config: pytest.Config) -> PluginSession:
    """The session of the pytest run ``config`` belongs to (made when the plugin is configured)."""
    return config.stash[SESSION_KEY]


@dataclass
class PluginSession:
    """What one process of a pytest run holds: lazily started, closed at the end of the session."""

    config: SsppConfig
    run_id: str
    worker_id: str
    #: xdist workers of the run (1 in-process)
    workers: int = 1
    _server: Server | None = None
    _templates: dict[tuple[str, int | None], TemplateInfo] = field(default_factory=dict)
    _pools: dict[str, TestDatabases] = field(default_factory=dict)
    _isolations: dict[tuple[str, str], Isolation] = field(default_factory=dict)
    _swept: bool = False
    _budget_error: SsppError | None = None
    _budget_checked: bool = False
    #: each ``sspp`` marker's spec by the marker's id, with the marker (kept alive: its id is not reused)
    _specs: dict[int, tuple[pytest.Mark, TestSpec]] = field(default_factory=dict)

    @property
    def server(self) -> Server:
        """The server ``--sspp-server`` names (``auto``: see :func:`~sspp_fixtures.server.get_server`); a local
        or embedded one it starts belongs to the run, shared by its xdist workers and stopped at its end."""
        if self._server is None:
            from ..server import get_server

            server = get_server(self.config.server, dsn=self.config.dsn, state_dir=run_dir(self.run_id))
            if self.worker_id != "main":
                _note_server(self.run_id, self.worker_id, server.dsn)
            self._server = server
        return self._server

    def spec(self, marker: pytest.Mark | None) -> TestSpec:
        """What a test whose closest ``sspp`` marker is ``marker`` asks for (one marker, a module's ``pytestmark``,
        is often every test's: its spec is worked out once)."""
        if marker is None:
            return self.config.spec({})
        cached = self._specs.get(id(marker))
        if cached is not None and cached[0] is marker:
            return cached[1]
        if marker.args:
            raise UsageError("@pytest.mark.sspp takes keyword arguments only: scenario=, seed=, isolation=")
        spec = self.config.spec(dict(marker.kwargs))
        self._specs[id(marker)] = (marker, spec)
        return spec

    def template(self, spec: TestSpec) -> TemplateInfo:
        """The template holding the spec's scenario and seed, built if no process built it yet."""
        key = (spec.scenario, spec.seed)
        if key not in self._templates:
            from ..templates import ensure_scenario_template, sweep

            if not self._swept:
                self._swept = True
                if self._first_to_sweep():
                    sweep(self.server.dsn, templates_older_than_s=_TEMPLATE_MAX_AGE_S)
            self._templates[key] = ensure_scenario_template(self.server.dsn, spec.scenario, seed=spec.seed)
        return self._templates[key]

    def _first_to_sweep(self) -> bool:
        """Whether this process sweeps what dead runs left: in-process yes; under xdist only the run's first
        worker to get here (the others would wait on the same drops, each a checkpoint, at the same time)."""
        if self.worker_id == "main":
            return True
        marker = run_dir(self.run_id) / _SWEPT
        marker.parent.mkdir(parents=True, exist_ok=True)
        try:
            os.close(os.open(marker, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600))
        except FileExistsError:
            return False
        return True

    def check_budget(self) -> None:
        """Before the process's first test database: fail (now and for every later test) when the server has no
        room for the run's workers (see :mod:`._budget`)."""
        if self._budget_error is not None:
            raise self._budget_error
        if self._budget_checked:
            return
        from ._budget import check_budget

        pids = {os.getpid(), *(run_worker_pids(self.run_id) if self.worker_id != "main" else [])}
        try:
            check_budget(
                self.server.dsn,
                workers=self.workers,
                reserve=self.config.reserve_connections,
                worker_pids=sorted(pids),
            )
        except ConnectionBudgetError as error:
            self._budget_error = error
            raise
        self._budget_checked = True

    def isolation(self, spec: TestSpec) -> Isolation:
        """The spec's isolation mode over the pool of test databases cloned from the spec's template."""
        self.check_budget()
        template = self.template(spec)
        mode = self._isolations.get((template.name, spec.isolation))
        if mode is None:
            pool = self._pools.get(template.name)
            if pool is None:
                from ..templates import TestDatabases

                pool = TestDatabases(
                    self.server.dsn,
                    template,
                    worker_id=self.worker_id,
                    database_settings=self.config.database_settings(),
                    park=self.config.keep_databases,
                )
                self._pools[template.name] = pool
            from ._isolation import isolation_for

            mode = isolation_for(spec.isolation, pool, self.config.session_settings())
            self._isolations[(template.name, spec.isolation)] = mode
        return mode

    def close(self) -> None:
        """Close the connections, drop the test databases, stop a server this process started; idempotent."""
        for mode in self._isolations.values():
            with contextlib.suppress(Exception):
                mode.close()
        self._isolations.clear()
        for pool in self._pools.values():
            with contextlib.suppress(Exception):
                pool.close()
        self._pools.clear()
        server, self._server = self._server, None
        if server is not None:
            server.stop()


SESSION_KEY = pytest.StashKey[PluginSession]()
