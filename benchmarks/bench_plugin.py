"""The pytest plugin: per-test overhead and a whole suite, against pytest-postgresql 10 on the same server.

    python benchmarks/bench_plugin.py [--dsn URL] [--tests 120] [--variants all] [--seed N] [--repeats 3]
                                      [--load idle,busy] [--startup-repeats 5]

The consumer project (benchmarks/plugin_project/, copied per variant into a scratch folder with the run's
``bench.json``): N small tests (one third read-only SELECTs that check the seeded row counts, one third insert +
commit, one third update + delete + commit) and a conftest whose hookwrappers time each test's setup and
teardown (the body excluded) and write them to JSON.
Each variant is one ``python -m pytest`` subprocess, timed from process start to exit:

- ours, database: ``sspp_db`` with isolation 'database' (reused, restored in place), ``-p no:pytest_postgresql``;
- ours, cold template: the same, run first, when the template for this seed does not exist yet (its first test
  builds it);
- ours, transaction: isolation 'transaction' (no commit in the bodies: everything is rolled back);
- ours, recycle: one test in ten runs ``ALTER TABLE ... ALTER COLUMN ... TYPE`` on an indexed column (not undone in
  place), so its release recycles its database; the figure is the recycle's cost: that test's teardown plus the
  next test's setup (which gets a spare clone, refilled in the background while the nine tests between ran);
- ours, recycle-all: every test runs that ALTER TABLE (back-to-back recycles outrun the spares: each test waits
  for a ``CREATE DATABASE ... TEMPLATE``, so this shows the clone speed of the server's disk);
- ours, retype-all: every test runs ``ALTER TABLE customers ALTER COLUMN name TYPE ...`` on a column no index or
  constraint uses: put back in place (the table emptied, the type put back, its rows reloaded), back to back;
- ours, alter-all: every test runs ``ALTER TABLE customers ADD COLUMN ...``, undone in place by the restore (the
  column dropped, the rows put back as after a TRUNCATE): back to back, no clone;
- pytest-postgresql: ``postgresql_noproc`` + ``postgresql`` from ``pytest_postgresql.factories``, its template
  cloned from a database loaded beforehand with the same scenario, ``-p no:sspp``; a database per test;
- floor: a plain ``psycopg.connect()`` + ``close()`` to one shared database (no isolation at all, no commit):
  what any per-test connection costs;
- hand-written rollback: one session-scoped connection to that database, ``rollback()`` after each test (what
  one writes by hand instead of isolation 'transaction'; compared on the whole test: setup + body + teardown,
  since its ``BEGIN`` is sent by the body's first statement).

Each variant runs ``--repeats`` times (the cold one drops the template first each time), under each ``--load``:
``idle``, and ``busy`` with a busy-loop process burning one core for the whole condition. The last round's tables
are printed, then min / median over the rounds.

Start-up under xdist (``--startup-repeats``): a project of 10 trivial tests taking ``sspp_db``, in-process and
under ``-n 2``, beside ``-n 2`` runs of 10 tests taking no database (plugin loaded, and ``-p no:sspp``): the
difference is what the plugin's start-up (template lookup, first clones) and end (drops) cost under xdist.

Plugins (``--plugins``): ``own`` (default) runs each variant with only what it would have in a project of its own:
its plugin, the plugins its dependencies bring (Faker's, for ours: Faker is one of ours), and xdist; every other
pytest plugin installed here (Hypothesis', pytest-django's, pytest-asyncio's, anyio's: this venv holds the dev
extra) is turned off with ``-p no:NAME``. They cost every variant the same 1-3 s of start-up and are no part of
either plugin. ``all`` keeps them loaded (only the other database plugin is turned off), as a suite in this
venv would run.

Bytecode (``--bytecode``): pytest rewrites the asserts of every module of a distribution that registers a pytest
plugin, and caches the rewritten modules beside their ``.pyc`` unless ``PYTHONDONTWRITEBYTECODE`` is set. Faker
registers one (its ``faker`` fixture), so each run rewrites the ~50 modules of Faker its plugin loads (one is a
65,000-line table): with the cache that is paid once, without it (``off``, as in a CI image that sets the
variable, as this machine's shell does) in every run: 0.5-0.6 s of start-up here, more than our plugin's own.
``write`` (default) measures what a default Python does, after an untimed run that leaves the cache as any
earlier run of a project would; ``off`` the other case (it first removes the rewritten modules an earlier run
cached for the plugins' packages, which pytest would still read).

Nothing is asserted about times: the figures and the goals are printed side by side.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import math
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psycopg
from _common import DB_PREFIX, BenchDatabases, default_dsn, install_sigterm, print_header, print_table, scratch_dir
from psycopg import sql

GOAL_REUSE_MS = 5.0
GOAL_RECYCLE_MS = 30.0
#: DDL that cannot be undone in place (the database is replaced by a clone), and DDL that is.
REPLACING_DDL = "ALTER TABLE customers ALTER COLUMN segment TYPE varchar(40)"
#: A column's type changed where no index or constraint uses it: put back in place (the table reloaded whole).
RETYPING_DDL = "ALTER TABLE customers ALTER COLUMN name TYPE varchar(300)"
ADDING_DDL = "ALTER TABLE customers ADD COLUMN bench_extra integer"
GOAL_TRANSACTION_MS = 1.0
GOAL_SUITE_RATIO = 10.0
GOAL_SUITE_RATIO_COLD = 5.0
GOAL_HAND_RATIO = 1.2
STARTUP_TESTS = 10


@dataclass(frozen=True)
class Variant:
    key: str
    label: str
    fixture: str  # "sspp" | "pgp" | "floor" | "hand"
    isolation: str | None = None
    ddl_every: int = 0  # every k-th test runs ``ddl`` (0: none)
    ddl: str = ""
    commit: bool = True
    goal_ms: float | None = None


VARIANTS: dict[str, Variant] = {
    v.key: v
    for v in (
        Variant("floor", "floor: psycopg connect + close", "floor", commit=False),
        Variant("pgp", "pytest-postgresql 10 (clone per test)", "pgp"),
        Variant("cold", "ours, database, cold template", "sspp", "database"),
        Variant("database", "ours, database (reuse)", "sspp", "database", goal_ms=GOAL_REUSE_MS),
        Variant("transaction", "ours, transaction", "sspp", "transaction", commit=False, goal_ms=GOAL_TRANSACTION_MS),
        Variant("hand", "hand-written: session connection, rollback per test", "hand", commit=False),
        Variant(
            "recycle",
            "ours, ALTER ... TYPE in 1 test of 10 (recycle)",
            "sspp",
            "database",
            ddl_every=10,
            ddl=REPLACING_DDL,
            goal_ms=GOAL_RECYCLE_MS,
        ),
        Variant(
            "recycle-all",
            "ours, ALTER ... TYPE in every test (back to back)",
            "sspp",
            "database",
            ddl_every=1,
            ddl=REPLACING_DDL,
        ),
        Variant(
            "retype-all",
            "ours, ALTER ... TYPE of an unindexed column in every test (put back in place)",
            "sspp",
            "database",
            ddl_every=1,
            ddl=RETYPING_DDL,
            goal_ms=GOAL_RECYCLE_MS,
        ),
        Variant(
            "alter-all",
            "ours, ALTER ... ADD COLUMN in every test (undone in place)",
            "sspp",
            "database",
            ddl_every=1,
            ddl=ADDING_DDL,
            goal_ms=GOAL_RECYCLE_MS,
        ),
    )
}


def _args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--dsn", default=default_dsn(), help="admin DSN (default $DATABASE_URL, else local postgres)")
    parser.add_argument("--tests", type=int, default=120, help="tests per suite (default 120)")
    parser.add_argument("--scenario", default="smoke", help="scenario seeded into every test database (default smoke)")
    parser.add_argument(
        "--seed",
        type=int,
        default=None,
        help="scenario seed (default: one of this run's own, so the 'cold' run really builds its template; "
        "that template is dropped at the end)",
    )
    parser.add_argument(
        "--variants",
        default="all",
        help=f"comma-separated, in this order: {','.join(VARIANTS)} (default all)",
    )
    parser.add_argument("--poll", type=float, default=0.05, help="seconds between counts of databases/connections")
    parser.add_argument(
        "--test-ms",
        type=float,
        default=0.0,
        help="work each test body does besides its SQL, in ms (a sleep; default 0: the bodies are a few ms of SQL)",
    )
    parser.add_argument(
        "--bytecode",
        choices=("write", "off"),
        default="write",
        help="write: pytest caches the modules it rewrites, as by default (PYTHONDONTWRITEBYTECODE unset); off: "
        "PYTHONDONTWRITEBYTECODE=1, as in many CI images: every rewritten module is compiled again in every run "
        "(default write)",
    )
    parser.add_argument("--keep", action="store_true", help="keep the consumer projects as run (their path is printed)")
    parser.add_argument("--repeats", type=int, default=3, help="runs of each variant per load condition (default 3)")
    parser.add_argument(
        "--load",
        default="idle,busy",
        help="comma-separated load conditions: idle, busy (a busy-loop process on one core) (default idle,busy)",
    )
    parser.add_argument(
        "--plugins",
        choices=("own", "all"),
        default="own",
        help="own: each variant loads only its plugin, its dependencies' and xdist; all: every installed plugin "
        "but the other database plugin (default own)",
    )
    parser.add_argument(
        "--startup-repeats",
        type=int,
        default=5,
        help="runs of each -n 2 start-up case per load condition (default 5; 0 skips them)",
    )
    return parser.parse_args(argv)


#: The pytest plugins a variant keeps under ``--plugins own``: its own, its dependencies' (Faker comes with ours).
_OWN_PLUGINS = {
    "sspp": {"sspp", "faker"},
    "pgp": {"pytest_postgresql"},
    "floor": set(),
    "hand": set(),
}
_ALWAYS = {"xdist", "xdist.looponfail"}


def plugins_off(fixture: str, mode: str) -> list[str]:
    """``-p no:NAME`` for each installed pytest plugin a variant of ``fixture`` does not load (see ``--plugins``)."""
    from importlib.metadata import entry_points

    database_plugins = {"sspp", "pytest_postgresql"}
    installed = {entry.name for entry in entry_points(group="pytest11")}
    keep = _OWN_PLUGINS[fixture] | _ALWAYS if mode == "own" else installed - (database_plugins - _OWN_PLUGINS[fixture])
    return [arg for name in sorted(installed - keep) for arg in ("-p", f"no:{name}")]


def pytest_env(ctx: Context) -> dict[str, str]:
    """The environment of a measured pytest run: this one's, with the run's server, no ``PYTEST_ADDOPTS``, and
    bytecode written or not as ``--bytecode`` says (see the module's docstring)."""
    env = dict(os.environ, DATABASE_URL=ctx.dsn)
    env.pop("PYTEST_ADDOPTS", None)
    if ctx.bytecode == "write":
        env.pop("PYTHONDONTWRITEBYTECODE", None)
    else:
        env["PYTHONDONTWRITEBYTECODE"] = "1"
    return env


def forget_rewritten() -> int:
    """Remove the rewritten modules pytest cached for the installed plugins' packages (``*-pytest-*.pyc``), so
    that runs under ``--bytecode off`` compile them as in an environment where they were never written (pytest
    still reads a cache it finds). Returns how many files were removed."""
    import importlib.util
    from importlib.metadata import entry_points

    removed = 0
    for top in sorted({entry.module.partition(".")[0] for entry in entry_points(group="pytest11")}):
        with contextlib.suppress(ImportError, ValueError):
            spec = importlib.util.find_spec(top)
            for folder in (spec.submodule_search_locations or []) if spec else []:
                for cached in Path(folder).rglob("__pycache__/*-pytest-*.pyc"):
                    cached.unlink(missing_ok=True)
                    removed += 1
    return removed


def warm_rewritten(ctx: Context, folder: Path) -> None:
    """Under ``--bytecode write``, one untimed ``pytest --collect-only`` per plugin, so that the rewritten modules
    its import makes are cached before the first timed run, as after any earlier run of a project."""
    project = folder / "warm_rewritten"
    project.mkdir()
    for fixture in ("sspp", "pgp"):
        cmd = [sys.executable, "-m", "pytest", "-q", "--collect-only", "-p", "no:cacheprovider"]
        cmd += plugins_off(fixture, ctx.plugins)
        subprocess.run(cmd, check=False, cwd=project, env=pytest_env(ctx), capture_output=True)  # 5: no tests


# --------------------------------------------------------------------------------------------- the consumer project

#: The consumer project each variant runs (conftest, tests, pytest.ini), copied per run with a ``bench.json``.
PROJECT = Path(__file__).resolve().parent / "plugin_project"


def _server_kwargs(dsn: str) -> dict[str, Any]:
    info = psycopg.conninfo.conninfo_to_dict(dsn)
    out: dict[str, Any] = {
        "host": str(info.get("host") or "127.0.0.1"),
        "port": int(info.get("port") or 5432),
        "user": str(info.get("user") or os.environ.get("PGUSER") or "postgres"),
    }
    if info.get("password"):
        out["password"] = str(info["password"])
    return out


def _write_project(folder: Path, variant: Variant, ctx: Context) -> None:
    """The consumer project in ``folder``: :data:`PROJECT`'s files and the run's ``bench.json``."""
    shutil.copytree(PROJECT, folder, ignore=shutil.ignore_patterns("__pycache__", ".*_cache", "bench.json"))
    maintenance = psycopg.conninfo.conninfo_to_dict(ctx.dsn).get("dbname") or "postgres"
    config = {
        "out": str(folder / "result.json"),
        "fixture": variant.fixture,
        "tests": ctx.tests,
        "counts": ctx.counts,
        "commit": variant.commit,
        "ddl_every": variant.ddl_every,
        "ddl": variant.ddl,
        "test_ms": ctx.test_ms,
        "scenario": ctx.scenario,
        "seed": ctx.seed,
        "isolation": variant.isolation,
        "pgp": {
            "server": _server_kwargs(ctx.dsn),
            "seed_base": ctx.pgp_seed_base,
            "maintenance": maintenance,
            "dbname": ctx.pgp_dbname,
        },
        "floor_dsn": ctx.floor_dsn,
    }
    (folder / "bench.json").write_text(json.dumps(config, indent=2), encoding="utf-8")


# --------------------------------------------------------------------------------------------- running a suite


@dataclass
class Context:
    dsn: str
    tests: int
    scenario: str
    seed: int
    counts: tuple[int, int, int] = (0, 0, 0)
    pgp_seed_base: str = ""  # NoopExecutor dbname whose "_tmpl" is the seeded database
    pgp_dbname: str = ""
    floor_dsn: str = ""
    poll: float = 0.05
    test_ms: float = 0.0
    plugins: str = "own"
    bytecode: str = "write"
    #: LIKE patterns of the test databases of the pytest runs started (dropped at the end if a run left any)
    patterns: list[str] = field(default_factory=list)


@dataclass
class Poller:
    """Counts, every ``interval`` s, the databases matching ``pattern`` and the sessions connected to them."""

    dsn: str
    pattern: str
    interval: float
    peak_dbs: int = 0
    peak_conns: int = 0
    names: set[str] = field(default_factory=set)
    _stop: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None

    def start(self) -> Poller:
        self._conn = psycopg.connect(self.dsn, autocommit=True, application_name="sspp-bench-poller")
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()
        return self

    def _run(self) -> None:
        while True:
            with contextlib.suppress(psycopg.Error):
                names = [
                    str(r[0])
                    for r in self._conn.execute(
                        "SELECT datname FROM pg_database WHERE datname LIKE %s", (self.pattern,)
                    ).fetchall()
                ]
                row = self._conn.execute(
                    "SELECT count(*) FROM pg_stat_activity WHERE datname LIKE %s", (self.pattern,)
                ).fetchone()
                self.names.update(names)
                self.peak_dbs = max(self.peak_dbs, len(names))
                self.peak_conns = max(self.peak_conns, int(row[0]) if row else 0)
            if self._stop.wait(self.interval):
                return

    def stop(self) -> tuple[list[str], list[tuple[str, str, str]]]:
        """Stop; return what is left: databases matching the pattern and sessions connected to them."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
        try:
            time.sleep(0.2)  # a backend may take a moment to leave pg_stat_activity after its client closed
            dbs = [
                str(r[0])
                for r in self._conn.execute(
                    "SELECT datname FROM pg_database WHERE datname LIKE %s ORDER BY 1", (self.pattern,)
                ).fetchall()
            ]
            conns = [
                (str(r[0]), str(r[1]), str(r[2]))
                for r in self._conn.execute(
                    "SELECT datname, coalesce(application_name, ''), coalesce(state, '') FROM pg_stat_activity "
                    "WHERE datname LIKE %s",
                    (self.pattern,),
                ).fetchall()
            ]
        finally:
            self._conn.close()
        return dbs, conns


@dataclass
class SuiteResult:
    variant: Variant
    wall_s: float
    returncode: int
    data: dict[str, Any]
    started: float
    ended: float
    peak_dbs: int
    peak_conns: int
    dbs_seen: int
    left_dbs: list[str]
    left_conns: list[tuple[str, str, str]]
    stderr_tail: list[str]

    @property
    def tests(self) -> list[dict[str, Any]]:
        return list(self.data.get("tests", []))

    def overheads(self) -> list[float]:
        """setup + teardown ms of each test but the first (warm-up) and the last (session teardown).

        With DDL in some tests only, each recycle's cost instead: the DDL test's teardown plus the next test's setup.
        """
        tests = self.tests
        every = self.variant.ddl_every
        if every > 1:
            return [
                float(tests[i].get("teardown_ms") or 0.0) + float(tests[i + 1].get("setup_ms") or 0.0)
                for i in range(1, len(tests) - 2)
                if i % every == 0
            ]
        return [_overhead(t) for t in tests[1:-1]]

    def totals(self) -> list[float]:
        """setup + body + teardown ms of each test but the first and the last."""
        return [_overhead(t) + float(t.get("call_ms") or 0.0) for t in self.tests[1:-1]]


def _overhead(test: dict[str, Any]) -> float:
    return float(test.get("setup_ms") or 0.0) + float(test.get("teardown_ms") or 0.0)


def _stop_group(proc: subprocess.Popen[bytes]) -> None:
    """End the pytest run we started: SIGINT first (pytest then unconfigures: the plugin drops its databases)."""
    for sig, wait in ((signal.SIGINT, 15.0), (signal.SIGTERM, 5.0), (signal.SIGKILL, 5.0)):
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, sig)
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.wait(wait)
            return


def run_suite(variant: Variant, ctx: Context, folder: Path) -> SuiteResult:
    project = folder / variant.key
    _write_project(project, variant, ctx)
    out = project / "result.json"
    env = pytest_env(ctx)
    cmd = [sys.executable, "-m", "pytest", "-q", "-p", "no:randomly"]
    cmd += plugins_off(variant.fixture, ctx.plugins)
    stdout_path, stderr_path = project / "stdout.txt", project / "stderr.txt"
    with stdout_path.open("wb") as stdout, stderr_path.open("wb") as stderr:
        started = time.monotonic()
        proc = subprocess.Popen(cmd, cwd=project, env=env, stdout=stdout, stderr=stderr, start_new_session=True)
        if variant.fixture == "sspp":
            pattern = f"sspp\\_t\\_%\\_main\\_{proc.pid}\\_%"
            ctx.patterns.append(pattern)
        elif variant.fixture == "pgp":
            pattern = ctx.pgp_dbname.replace("_", "\\_") + "%"
        else:
            pattern = str(psycopg.conninfo.conninfo_to_dict(ctx.floor_dsn)["dbname"]).replace("_", "\\_")
        poller = Poller(ctx.dsn, pattern, ctx.poll).start()
        try:
            returncode = proc.wait()
        except BaseException:
            _stop_group(proc)
            poller.stop()
            raise
        ended = time.monotonic()
    left_dbs, left_conns = poller.stop()
    data: dict[str, Any] = {}
    with contextlib.suppress(OSError, ValueError):
        data = json.loads(out.read_text())
    tail = (stdout_path.read_text(errors="replace") + stderr_path.read_text(errors="replace")).strip().splitlines()
    return SuiteResult(
        variant,
        ended - started,
        returncode,
        data,
        started,
        ended,
        poller.peak_dbs,
        poller.peak_conns,
        len(poller.names),
        left_dbs,
        left_conns,
        tail[-12:],
    )


# --------------------------------------------------------------------------------------------- preparing the data


def _counts(dsn: str) -> tuple[int, int, int]:
    with psycopg.connect(dsn, autocommit=True) as conn:
        row = conn.execute(
            "SELECT (SELECT count(*) FROM customers), (SELECT count(*) FROM events), (SELECT count(*) FROM signals)"
        ).fetchone()
    assert row is not None
    return int(row[0]), int(row[1]), int(row[2])


def _untemplate(admin_dsn: str, names: Sequence[str]) -> None:
    """pytest-postgresql marks its session database IS_TEMPLATE: unmark it so it can be dropped."""
    with contextlib.suppress(psycopg.Error), psycopg.connect(admin_dsn, autocommit=True) as admin:
        for name in names:
            row = admin.execute("SELECT datistemplate FROM pg_database WHERE datname = %s", (name,)).fetchone()
            if row and row[0]:
                admin.execute(sql.SQL("ALTER DATABASE {} WITH IS_TEMPLATE false").format(sql.Identifier(name)))


def _template_exists(admin_dsn: str, name: str) -> bool:
    with psycopg.connect(admin_dsn, autocommit=True) as admin:
        return admin.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone() is not None


# --------------------------------------------------------------------------------------------- report


def _pct(values: Sequence[float], q: float) -> float:
    """Percentile ``q`` (0-100) with linear interpolation."""
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    pos = (len(ordered) - 1) * q / 100.0
    low = int(pos)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (pos - low)


def _ms(value: float) -> str:
    if math.isnan(value):
        return "-"
    return f"{value:,.2f}" if value < 10 else f"{value:,.1f}" if value < 100 else f"{value:,.0f}"


def _goal(result: SuiteResult) -> str:
    goal = result.variant.goal_ms
    values = result.overheads()
    if goal is None or not values:
        return ""
    p50 = _pct(values, 50)
    return f"p50 < {goal:g}: {'met' if p50 < goal else 'NOT met'}"


def _report_overheads(results: list[SuiteResult], ctx: Context) -> None:
    print(
        f"== per-test overhead (setup + teardown, test body excluded), ms; tests 2..{ctx.tests - 1} "
        "(the first pays the warm-up, the last the session teardown: shown apart)"
    )
    rows = []
    for r in results:
        values = r.overheads()
        tests = r.tests
        setups = [float(t.get("setup_ms") or 0) for t in tests[1:-1]]
        teardowns = [float(t.get("teardown_ms") or 0) for t in tests[1:-1]]
        rows.append(
            [
                r.variant.label,
                str(len(values)),
                _ms(_pct(values, 50)),
                _ms(_pct(values, 95)),
                _ms(max(values)) if values else "-",
                _ms(_pct(setups, 50)),
                _ms(_pct(teardowns, 50)),
                _ms(_overhead(tests[0])) if tests else "-",
                _ms(_overhead(tests[-1])) if tests else "-",
                _goal(r),
            ]
        )
    print_table(["variant", "n", "p50", "p95", "max", "setup p50", "teardown p50", "first", "last", "goal"], rows)
    print()


def _report_suites(results: list[SuiteResult], ctx: Context, cold_built: bool | None) -> None:
    print("== suites: wall time from process start to exit, s")
    rows = []
    for r in results:
        marks = r.data.get("marks", {})
        first, last = marks.get("first_setup"), marks.get("last_teardown")
        startup = f"{first - r.started:.2f}" if first else "-"
        body = f"{last - first:.2f}" if first and last else "-"
        shutdown = f"{r.ended - last:.2f}" if last else "-"
        tests = r.tests
        dbs_used = len({t.get("db") for t in tests if t.get("db")})
        failed = len(r.data.get("failed", []))
        status = f"{len(tests) - failed}/{len(tests)}" if tests else f"exit {r.returncode}"
        rows.append(
            [
                r.variant.label,
                status,
                f"{r.wall_s:.2f}",
                startup,
                body,
                shutdown,
                str(dbs_used),
                str(r.peak_dbs),
                str(r.peak_conns),
            ]
        )
    print_table(
        ["variant", "passed", "wall", "start-up", "tests", "shutdown", "dbs used", "peak dbs", "peak conns"], rows
    )
    print(
        "start-up: process start to the first test's setup (Python, imports, plugins, collection); tests: first setup "
        "to last teardown; shutdown: the rest (session finish, the plugin dropping its databases). dbs used: distinct "
        "databases the tests ran in; peak dbs / conns: most of this run's databases on the server, and sessions "
        f"connected to them, seen at once (polled every {ctx.poll:g} s)."
    )
    by_key = {r.variant.key: r for r in results}
    if cold_built is not None and "cold" in by_key:
        first = by_key["cold"].tests[:1]
        built = "built in this run" if cold_built else "ALREADY EXISTED (not a cold run)"
        if first:
            print(f"cold template ({built}): the first test's setup took {_ms(float(first[0]['setup_ms']))} ms.")
    floor = by_key.get("floor")
    if floor and floor.overheads():
        base = _pct(floor.overheads(), 50)
        parts = [
            f"{r.variant.label} {_pct(r.overheads(), 50) - base:+.1f}"
            for r in results
            if r.variant.fixture != "floor" and r.overheads()
        ]
        print(f"p50 over the floor (what each adds to a bare connect + close), ms: {'; '.join(parts)}")
    ours, theirs = by_key.get("database"), by_key.get("pgp")
    if ours and theirs:
        ratio = theirs.wall_s / ours.wall_s
        met = "met" if ratio >= GOAL_SUITE_RATIO else "NOT met"
        line = f"suite ratio pytest-postgresql / ours (database, warm template): {ratio:.2f}x wall"
        om, tm = ours.data.get("marks", {}), theirs.data.get("marks", {})
        if all(k in om and k in tm for k in ("first_setup", "last_teardown")):
            tests_ratio = (tm["last_teardown"] - tm["first_setup"]) / (om["last_teardown"] - om["first_setup"])
            line += f", {tests_ratio:.2f}x on the tests alone"
        print(f"{line} (goal >= {GOAL_SUITE_RATIO:g}x: {met})")
        if "cold" in by_key:
            print(f"  with the cold-template run instead: {theirs.wall_s / by_key['cold'].wall_s:.2f}x wall")
    print()


def _report_problems(results: list[SuiteResult]) -> None:
    problems = []
    for r in results:
        if r.returncode != 0 or r.data.get("failed"):
            problems.append(f"{r.variant.label}: exit code {r.returncode}")
            problems += [f"    {f}" for f in r.data.get("failed", [])[:5]]
            if not r.data:
                problems += [f"    {line}" for line in r.stderr_tail]
        if r.left_dbs and r.variant.fixture not in ("floor", "hand"):  # their database is the benchmark's own
            problems.append(f"{r.variant.label}: {len(r.left_dbs)} databases left after exit: {r.left_dbs[:5]}")
        if r.left_conns:
            problems.append(f"{r.variant.label}: {len(r.left_conns)} sessions left after exit: {r.left_conns[:5]}")
    print("== after each run: databases and sessions the run left on the server")
    print("\n".join(problems) if problems else "none: every run passed and left no database or session behind")


# --------------------------------------------------------------------------------------------- main


def _prepare(ctx: Context, dbs: BenchDatabases, scenario: Any, keys: list[str], tpl: tuple[str, bool]) -> None:
    """Load the data pytest-postgresql (and the floor) start from; make sure our template exists if no run builds it."""
    from sspp_fixtures.loader import load_scenario_into
    from sspp_fixtures.templates import ensure_template

    started = time.monotonic()
    seeded = dbs.create("seed_tmpl")  # pytest-postgresql's template source: NoopExecutor("..._seed").template_dbname
    report = load_scenario_into(seeded, scenario, workers=0)
    ctx.counts = _counts(seeded)
    ctx.pgp_seed_base = f"{DB_PREFIX}{os.getpid()}_seed"
    print(
        f"data: scenario {scenario.name} seed {scenario.seed}: {ctx.counts[0]:,} customers, {ctx.counts[1]:,} events, "
        f"{ctx.counts[2]:,} signals; loaded for pytest-postgresql beforehand (untimed) in "
        f"{time.monotonic() - started:.2f} s (loader {sum(report.seconds.values()):.2f} s)"
    )
    if "floor" in keys or "hand" in keys:
        ctx.floor_dsn = dbs.create("floor")
        load_scenario_into(ctx.floor_dsn, scenario, workers=0)
    name, existed = tpl
    if "cold" not in keys and not existed:
        ensure_template(ctx.dsn, scenario)  # untimed: the warm runs find it
    print(f"our template {name}: {'existed' if existed else 'not there before this run'}")
    print()


def _cleanup(ctx: Context, pgp_names: list[str], tpl: tuple[str, bool]) -> None:
    """What pytest runs we interrupted may have left, and the template this run built."""
    from sspp_fixtures.databases import drop_database
    from sspp_fixtures.templates import drop_templates
    from sspp_fixtures.templates._fingerprint import OUR_PREFIXES

    _untemplate(ctx.dsn, pgp_names)
    with contextlib.suppress(psycopg.Error), psycopg.connect(ctx.dsn, autocommit=True) as admin:
        for pattern in ctx.patterns:  # only our own pytest runs' test databases (by their pid)
            for (name,) in admin.execute("SELECT datname FROM pg_database WHERE datname LIKE %s", (pattern,)):
                with contextlib.suppress(psycopg.Error):
                    drop_database(admin, str(name), prefixes=OUR_PREFIXES)
    name, existed = tpl
    if not existed:
        with contextlib.suppress(Exception):
            drop_templates(ctx.dsn, names=[name])


@contextlib.contextmanager
def _load(condition: str) -> Iterator[None]:
    """``busy``: a busy-loop process burning one core while the block runs; ``idle``: nothing."""
    if condition != "busy":
        yield
        return
    burner = subprocess.Popen([sys.executable, "-c", "while True: pass"], start_new_session=True)
    try:
        yield
    finally:
        burner.kill()
        burner.wait()


def _ratio_line(results: list[SuiteResult]) -> list[str]:
    """The goals that compare two variants of one round: suite wall ratios and transaction vs hand-written."""
    by_key = {r.variant.key: r for r in results}
    lines = []
    theirs = by_key.get("pgp")
    for key, goal in (("database", GOAL_SUITE_RATIO), ("cold", GOAL_SUITE_RATIO_COLD)):
        if theirs and key in by_key:
            ratio = theirs.wall_s / by_key[key].wall_s
            lines.append(f"pgp/{key} {ratio:.2f}x ({'met' if ratio >= goal else 'NOT met'} >= {goal:g}x)")
    ours, hand = by_key.get("transaction"), by_key.get("hand")
    if ours and hand and ours.totals() and hand.totals():
        ratio = _pct(ours.totals(), 50) / _pct(hand.totals(), 50)
        met = "met" if ratio <= GOAL_HAND_RATIO else "NOT met"
        lines.append(f"transaction/hand {ratio:.2f}x per test ({met} <= {GOAL_HAND_RATIO:g}x)")
    return lines


def _report_rounds(rounds: dict[str, list[list[SuiteResult]]]) -> None:
    """Min / median over the rounds of each condition: wall, per-test p50/p95, and the ratios."""
    for condition, by_round in rounds.items():
        print(f"== over {len(by_round)} round(s), machine {condition}: min / median")
        rows = []
        for i in range(len(by_round[0])):
            runs = [one[i] for one in by_round if i < len(one)]
            walls = [r.wall_s for r in runs]
            p50s = [_pct(r.overheads(), 50) for r in runs if r.overheads()]
            p95s = [_pct(r.overheads(), 95) for r in runs if r.overheads()]
            totals = [_pct(r.totals(), 50) for r in runs if r.totals()]

            def mm(values: list[float], fmt: Any = _ms) -> str:
                return f"{fmt(min(values))} / {fmt(_pct(values, 50))}" if values else "-"

            rows.append([runs[0].variant.label, mm(walls, lambda v: f"{v:.2f}"), mm(p50s), mm(p95s), mm(totals)])
        print_table(["variant", "wall s", "overhead p50 ms", "overhead p95 ms", "whole test p50 ms"], rows)
        ratios: dict[str, list[float]] = {}
        for one in by_round:
            for line in _ratio_line(one):
                name, value = line.split(" ", 1)
                ratios.setdefault(name, []).append(float(value.split("x", 1)[0]))
        for name, values in ratios.items():
            print(f"{name}: min {min(values):.2f}x, median {_pct(values, 50):.2f}x over {len(values)} round(s)")
        print()


# --------------------------------------------------------------------------------------------- -n 2 start-up

STARTUP_TEST = """
import pytest

pytestmark = pytest.mark.sspp(scenario={scenario!r}, seed={seed!r})


@pytest.mark.parametrize("n", range({tests}))
def test_trivial(sspp_db, n):
    assert sspp_db.execute("SELECT 1").fetchone() == (1,)
"""
NO_DB_TEST = """
import pytest


@pytest.mark.parametrize("n", range({tests}))
def test_trivial(n):
    assert n >= 0
"""

#: (label, test file, extra pytest arguments)
STARTUP_CASES: tuple[tuple[str, str, tuple[str, ...]], ...] = (
    ("10 tests with sspp_db, in-process", STARTUP_TEST, ()),
    ("10 tests with sspp_db, -n 2", STARTUP_TEST, ("-n", "2")),
    ("10 tests, no database, -n 2 (plugin loaded)", NO_DB_TEST, ("-n", "2")),
    ("10 tests, no database, -n 2, -p no:sspp", NO_DB_TEST, ("-n", "2", "-p", "no:sspp")),
)


def run_startup(ctx: Context, folder: Path, repeats: int) -> list[tuple[str, list[float]]]:
    """Wall seconds of each start-up case, ``repeats`` times (the cases interleaved)."""
    env = pytest_env(ctx)
    walls: dict[str, list[float]] = {label: [] for label, _, _ in STARTUP_CASES}
    folder.mkdir()
    for _ in range(repeats):
        for label, text, extra in STARTUP_CASES:
            project = folder / f"startup_{len(walls[label])}_{abs(hash(label))}"
            project.mkdir()
            body = text.format(scenario=ctx.scenario, seed=ctx.seed, tests=STARTUP_TESTS)
            (project / "test_startup.py").write_text(body, encoding="utf-8")
            cmd = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-p", "no:randomly"]
            cmd += plugins_off("sspp", ctx.plugins)
            cmd += extra
            started = time.monotonic()
            proc = subprocess.Popen(
                cmd, cwd=project, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, start_new_session=True
            )
            try:
                out, _ = proc.communicate(timeout=300)
            except BaseException:
                _stop_group(proc)
                raise
            if proc.returncode != 0:
                print(f"  {label}: exit {proc.returncode}: {out.decode(errors='replace').strip().splitlines()[-1:]}")
            walls[label].append(time.monotonic() - started)
            ctx.patterns.append(f"sspp\\_t\\_%\\_{proc.pid}\\_%")
    return list(walls.items())


def _report_startup(condition: str, walls: list[tuple[str, list[float]]]) -> None:
    print(f"== start-up under xdist, machine {condition}: wall s, min / median of {len(walls[0][1])} runs")
    print_table(["case", "min", "median"], [[label, f"{min(v):.2f}", f"{_pct(v, 50):.2f}"] for label, v in walls if v])
    by_label = dict(walls)
    inproc, xdist = by_label[STARTUP_CASES[0][0]], by_label[STARTUP_CASES[1][0]]
    plain = by_label[STARTUP_CASES[3][0]]
    print(
        f"-n 2 over in-process: {_pct(xdist, 50) / _pct(inproc, 50):.2f}x (median); what the database adds "
        f"under -n 2 (sspp_db vs no database, -p no:sspp): +{_pct(xdist, 50) - _pct(plain, 50):.2f} s (median)"
    )
    print()


# --------------------------------------------------------------------------------------------- main


def main(argv: list[str] | None = None) -> int:
    args = _args(argv)
    install_sigterm()
    keys = list(VARIANTS) if args.variants == "all" else [k.strip() for k in args.variants.split(",") if k.strip()]
    unknown = [k for k in keys if k not in VARIANTS]
    if unknown:
        print(f"unknown variant(s) {unknown}: choose from {', '.join(VARIANTS)}", file=sys.stderr)
        return 2
    conditions = [c.strip() for c in args.load.split(",") if c.strip()]
    if not conditions or any(c not in ("idle", "busy") for c in conditions):
        print(f"--load {args.load!r}: choose from idle, busy", file=sys.stderr)
        return 2
    keys = [k for k in VARIANTS if k in keys]  # cold before the warm runs, which reuse its template
    print_header(f"bench_plugin: {args.tests} tests per suite, ours vs pytest-postgresql", args.dsn)
    print(f"plugins: {args.plugins}; ours runs with: {' '.join(plugins_off('sspp', args.plugins)) or '(all loaded)'}")
    print(f"         pytest-postgresql runs with: {' '.join(plugins_off('pgp', args.plugins)) or '(all loaded)'}")
    if args.bytecode == "write":
        print("bytecode: write (PYTHONDONTWRITEBYTECODE unset: pytest caches the modules it rewrites)")
    else:
        removed = forget_rewritten()
        print(f"bytecode: off (PYTHONDONTWRITEBYTECODE=1; removed {removed} rewritten modules pytest had cached)")

    from sspp_fixtures.scenarios import load_scenario
    from sspp_fixtures.templates import template_fingerprint, template_name

    seed = args.seed if args.seed is not None else 1_000_000 + os.getpid() * 1000 + int(time.time()) % 1000
    scenario = load_scenario(args.scenario).with_overrides(seed=seed)
    tpl_name = template_name(template_fingerprint(scenario))
    tpl = (tpl_name, _template_exists(args.dsn, tpl_name))
    ctx = Context(
        dsn=args.dsn,
        tests=args.tests,
        scenario=args.scenario,
        seed=seed,
        poll=args.poll,
        test_ms=args.test_ms,
        plugins=args.plugins,
        bytecode=args.bytecode,
    )
    ctx.pgp_dbname = f"{DB_PREFIX}{os.getpid()}_pgp"
    pgp_names = [ctx.pgp_dbname, f"{ctx.pgp_dbname}_tmpl"]
    rounds: dict[str, list[list[SuiteResult]]] = {}

    with BenchDatabases(args.dsn) as dbs, scratch_dir("sspp_bench_plugin_") as folder:
        dbs.names.extend(pgp_names)  # dropped at the end whatever happens to pytest-postgresql's own cleanup
        try:
            _prepare(ctx, dbs, scenario, keys, tpl)
            if ctx.bytecode == "write":
                warm_rewritten(ctx, folder)
            for condition in conditions:
                with _load(condition):
                    rounds[condition] = _run_condition(condition, args, keys, ctx, folder, tpl, conditions)
            if any(rounds.values()):
                _report_rounds({c: r for c, r in rounds.items() if r})
            if args.keep:
                keep = Path(f"/tmp/sspp_bench_plugin_kept_{os.getpid()}")
                shutil.copytree(folder, keep)
                print(f"consumer projects as run kept in {keep}")
        finally:
            _cleanup(ctx, pgp_names, tpl)
    return 0


def _run_condition(
    condition: str,
    args: argparse.Namespace,
    keys: list[str],
    ctx: Context,
    folder: Path,
    tpl: tuple[str, bool],
    conditions: list[str],
) -> list[list[SuiteResult]]:
    """The rounds of suites and the start-up cases under one load condition; prints the last round's tables."""
    from sspp_fixtures.templates import drop_templates

    by_round: list[list[SuiteResult]] = []
    for number in range(args.repeats):
        results: list[SuiteResult] = []
        run_folder = folder / f"{condition}_{number}"
        run_folder.mkdir()
        for key in keys:
            if key == "cold" and (number > 0 or condition != conditions[0]) and not tpl[1]:
                drop_templates(ctx.dsn, names=[tpl[0]])  # so that this run builds it again
            print(f"[{condition} {number + 1}/{args.repeats}] {VARIANTS[key].label} ...", flush=True)
            results.append(run_suite(VARIANTS[key], ctx, run_folder))
        by_round.append(results)
    walls = []
    if args.startup_repeats > 0:
        print(f"[{condition}] start-up under xdist ...", flush=True)
        walls = run_startup(ctx, folder / f"{condition}_startup", args.startup_repeats)
    print()
    if by_round and by_round[-1]:
        print(f"#### machine {condition}: the last round")
        _report_overheads(by_round[-1], ctx)
        _report_suites(by_round[-1], ctx, None if tpl[1] else True)
        _report_problems(by_round[-1])
        print()
    if walls:
        _report_startup(condition, walls)
    return by_round


if __name__ == "__main__":
    try:
        sys.exit(main())
    except KeyboardInterrupt:
        print("interrupted: databases dropped", file=sys.stderr)
        sys.exit(130)
