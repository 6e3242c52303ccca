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

from ..server import Server, get_server
from ..server._runtime import cache_dir, pid_alive
from ..server._warm import stop_warm_server
from ._config import SsppConfig, TestSpec
from ._isolation import Isolation, isolation_for

if TYPE_CHECKING:  # the engines load when a test first asks for a database: a run without one stays fast
    from ..scenarios import Scenario
    from ..templates import TemplateInfo, TestDatabases

__all__ = ["PluginSession", "cleanup_run", "new_run_id", "run_dir", "sweep_stale_runs"]

_RUNS = "runs"
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
    _isolations: dict[tuple[str, str], Isolation] = field(default_factory=dict)
    _swept: bool = False

    @property
    def server(self) -> Server:
        """The server ``--sspp-server`` names (``auto``: see :func:`~sspp_fixtures.server.get_server`); a local
        or embedded one it starts belongs to the run, shared by its xdist workers and stopped at its end."""
        if self._server is None:
            self._server = get_server(self.config.server, dsn=self.config.dsn, state_dir=run_dir(self.run_id))
        return self._server

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

    def isolation(self, spec: TestSpec) -> Isolation:
        """The spec's isolation mode over the pool of test databases cloned from the spec's template."""
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
                )
                self._pools[template.name] = pool
            mode = isolation_for(spec.isolation, pool, self.config.session_settings())
            self._isolations[(template.name, spec.isolation)] = mode
        return mode

    def close(self) -> None:
        for mode in self._isolations.values():
            with contextlib.suppress(Exception):
                mode.close()
        self._isolations.clear()
        for pool in self._pools.values():
            with contextlib.suppress(Exception):
                pool.close()
        self._pools.clear()
        if self._server is not None:
            self._server.stop()
