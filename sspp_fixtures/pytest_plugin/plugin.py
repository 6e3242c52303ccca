"""The pytest plugin: each test gets its own database already holding a scenario's data.

Registered through the ``pytest11`` entry point, so installing sspp-fixtures is all a service needs.
Fixtures: ``sspp_db`` (a psycopg connection to this test's database), ``sspp_dsn`` (its URL, for code that
connects itself), ``sspp_factories`` (factories bound to ``sspp_db``), ``sspp_server`` (the session's server),
``sspp_queue`` (a Bull queue of the test's own on a real Redis), ``sspp_url`` (the URL for a driver, as SQLAlchemy
spells it), ``sspp_adb`` (a psycopg ``AsyncConnection``), ``sspp_django_db`` (Django's default connection).
Marker: ``@pytest.mark.sspp(scenario="smoke", seed=None, isolation="database" | "clone" | "transaction")``.

pytest imports this module in every run of an environment where sspp-fixtures is installed, used or not: it
imports only what registering options, markers and fixtures needs. psycopg, the server and template code, the
generator's libraries load when a test first asks for a database (``tests/plugin/test_plugin_import.py``).

Life cycle: each process closes its connections and drops its test databases when its session finishes (an
xdist worker does it before telling the controller it is done, so the controller waits for it rather than
killing a worker slow to exit); the controller, once its workers are gone, sweeps what a worker that did not
finish (killed, crashed, interrupted) left, and stops a server the run started.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

import pytest

from ..errors import SsppError
from ._clients import sspp_adb, sspp_url
from ._config import OPTIONS, SsppConfig
from ._django import sspp_django_db
from ._locks import pytest_runtest_call, pytest_runtest_makereport
from ._queue import add_queue_options, sspp_queue
from ._rewrite import rewrite_plugin_only
from ._session import (
    SESSION_KEY,
    PluginSession,
    cleanup_run,
    new_run_id,
    note_worker,
    plugin_session,
    sweep_run_servers,
    sweep_stale_runs,
)
from ._test_database import item_database_for

if TYPE_CHECKING:
    from ..server import Server
    from ._connection import SsppConnection

__all__ = [
    "pytest_runtest_call",
    "pytest_runtest_makereport",
    "sspp_adb",
    "sspp_db",
    "sspp_django_db",
    "sspp_dsn",
    "sspp_factories",
    "sspp_queue",
    "sspp_server",
    "sspp_url",
]

_MARKER_HELP = (
    "sspp(scenario='smoke', seed=None, isolation='database'): the data this test's database holds and how it is "
    "isolated: 'database' (own database, restored after the test), 'clone' (a never-used clone), 'transaction' "
    "(one transaction, rolled back)"
)


def pytest_addoption(parser: pytest.Parser, pluginmanager: pytest.PytestPluginManager) -> None:
    rewrite_plugin_only(pluginmanager)  # before a test imports the rest of the package
    group = parser.getgroup("sspp", "sspp-fixtures: a seeded SSPP database per test")
    for flag, ini, text, _default in OPTIONS:
        group.addoption(flag, dest=ini, default=None, help=text)
        parser.addini(ini, help=text, default=None)
    add_queue_options(parser)


class _XdistHooks:
    """Hands the controller's run id to each xdist worker, so all of them share one server and its templates;
    counts the workers that finished their session (and so dropped their databases)."""

    def __init__(self, run_id: str) -> None:
        self.run_id = run_id
        self.started = 0
        self.finished = 0

    def pytest_configure_node(self, node: Any) -> None:
        node.workerinput["sspp_run_id"] = self.run_id
        self.started += 1

    def pytest_testnodedown(self, node: Any, error: object | None) -> None:
        if error is None:
            self.finished += 1

    @property
    def all_finished(self) -> bool:
        """Whether every worker finished its session: none was killed, crashed or interrupted before."""
        return self.finished >= self.started


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", _MARKER_HELP)
    values = {ini: config.getoption(ini) or config.getini(ini) for _flag, ini, _text, _default in OPTIONS}
    try:
        settings = SsppConfig.from_values(values)
    except SsppError as error:
        raise pytest.UsageError(str(error)) from None
    worker_input = getattr(config, "workerinput", None)
    if worker_input is not None and "sspp_run_id" in worker_input:
        run_id, worker_id = str(worker_input["sspp_run_id"]), str(worker_input.get("workerid", "gw"))
        workers = int(worker_input.get("workercount") or 1)
        with contextlib.suppress(OSError):
            note_worker(run_id)
    else:
        run_id, worker_id, workers = new_run_id(), "main", 1
        with contextlib.suppress(Exception):
            sweep_stale_runs()
        if any(config.pluginmanager.hasplugin(name) for name in ("xdist", "xdist.plugin")):  # entry point, -p
            config.pluginmanager.register(_XdistHooks(run_id), "sspp-xdist")
    config.stash[SESSION_KEY] = PluginSession(settings, run_id, worker_id, workers)


@pytest.hookimpl(trylast=True)
def pytest_sessionfinish(session: pytest.Session) -> None:
    """Drop this process's databases once the session's fixtures are torn down (trylast: after pytest's own)."""
    plugin_session = session.config.stash.get(SESSION_KEY, None)
    if plugin_session is not None:
        plugin_session.close()


def pytest_unconfigure(config: pytest.Config) -> None:
    session = config.stash.get(SESSION_KEY, None)
    if session is None:
        return
    session.close()  # a run that never reached sessionfinish (a usage error, an interrupted start-up)
    if getattr(config, "workerinput", None) is None:
        hooks = config.pluginmanager.get_plugin("sspp-xdist")
        if isinstance(hooks, _XdistHooks) and not hooks.all_finished:
            with contextlib.suppress(Exception):  # the workers have exited or been killed: what they left is stale
                sweep_run_servers(session.run_id)
        cleanup_run(session.run_id)


@pytest.fixture(scope="session")
def sspp_server(pytestconfig: pytest.Config) -> Server:
    """The PostgreSQL server the test databases live on (started on first use, stopped after the run)."""
    return plugin_session(pytestconfig).server


@pytest.fixture
def sspp_dsn(request: pytest.FixtureRequest) -> str:
    """The URL of this test's own database, for code under test that opens its own connections."""
    database = item_database_for(request, plugin_session(request.config))
    return database.mode.dsn(database.db)


@pytest.fixture
def sspp_db(request: pytest.FixtureRequest) -> Iterator[SsppConnection]:
    """A psycopg connection to this test's database, which holds exactly the seeded data.

    With isolation 'database' or 'clone' it autocommits (a read holds no lock after it, so the code under test can
    TRUNCATE or ALTER right after); ``with sspp_db.transaction():`` makes a block atomic; the database is this
    test's alone and is put back after it. With 'transaction' everything runs in one transaction that is rolled
    back (commit() refuses).
    ``with sspp_db.restoring(): ...`` puts the seeded data back at the end of the block (one Hypothesis example).
    """
    database = item_database_for(request, plugin_session(request.config))
    with database.mode.connected(database.db) as conn:
        yield conn


@pytest.fixture
def sspp_factories(sspp_db: SsppConnection) -> Any:
    """``CustomerFactory``, ``EventFactory`` and ``SignalFactory`` bound to ``sspp_db``."""
    from ..factories import bind_factories

    return bind_factories(sspp_db)
