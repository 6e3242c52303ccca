"""Templates: built once per fingerprint (also under concurrency), an interrupted build is never used, and swept."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import pytest

from sspp_fixtures.databases import drop_database
from sspp_fixtures.dsn import connect
from sspp_fixtures.scenarios import Scenario, load_scenario
from sspp_fixtures.server import Server
from sspp_fixtures.templates import (
    TemplateError,
    drop_templates,
    ensure_template,
    sweep,
    template_fingerprint,
    template_name,
)
from sspp_fixtures.templates._names import KIND_BUILDING, KIND_TEST, comment, read_comment, set_comment

# Sleeps inside the build only where the session asks for it (PGOPTIONS), so a build can be caught half-way.
SLEEPY_SQL = "SELECT pg_sleep(coalesce(nullif(current_setting('sspp.test_sleep', true), ''), '0')::float)"


def tiny(seed: int | None = None) -> Scenario:
    """A small smoke scenario with a seed of its own, so that its template is new to the server."""
    return load_scenario("smoke").with_overrides(seed=seed if seed is not None else random.randrange(10**9), scale=0.1)


@pytest.fixture
def made_templates(pg_server: Server) -> Iterator[list[str]]:
    """Names of the templates a test built; dropped after it."""
    names: list[str] = []
    yield names
    drop_templates(pg_server.dsn, names=names)


def databases(admin_dsn: str, like: str) -> list[str]:
    with connect(admin_dsn) as admin:
        return [r[0] for r in admin.execute("SELECT datname FROM pg_database WHERE datname LIKE %s", (like,))]


def dead_pid() -> int:
    proc = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True, check=True
    )
    return int(proc.stdout)


def test_fingerprint_changes_with_what_shapes_the_data() -> None:
    base = load_scenario("smoke")
    prints = {
        template_fingerprint(base),
        template_fingerprint(base.with_overrides(seed=7)),
        template_fingerprint(base.with_overrides(scale=0.5)),
        template_fingerprint(load_scenario("demo")),
        template_fingerprint(base, extra_sql="SELECT 1"),
    }
    assert len(prints) == 5
    assert template_fingerprint(base) == template_fingerprint(load_scenario("smoke"))
    name = template_name(template_fingerprint(base))
    assert name.startswith("sspp_tpl_")
    assert len(name) == len("sspp_tpl_") + 20


def test_built_once_then_reused(pg_server: Server, made_templates: list[str]) -> None:
    scenario = tiny()
    first = ensure_template(pg_server.dsn, scenario)
    made_templates.append(first.name)
    again = ensure_template(pg_server.dsn, scenario)
    assert first.built_now
    assert not again.built_now
    assert again.name == first.name
    assert again.fingerprint == first.fingerprint
    print(f"\n[templates] tiny smoke template built in {first.build_seconds * 1000:.0f} ms")
    with connect(pg_server.dsn) as admin:
        found = read_comment(admin, first.name)
        row = admin.execute("SELECT datallowconn FROM pg_database WHERE datname = %s", (first.name,)).fetchone()
    assert found is not None
    assert found[0]
    assert found[1] is not None
    assert found[1]["fingerprint"] == first.fingerprint
    assert found[1]["sspp"] == "template"
    assert row == (False,)  # nobody can connect, so nobody blocks a clone
    assert databases(pg_server.dsn, first.name + "\\_b%") == []  # the building name is gone

    other = ensure_template(pg_server.dsn, scenario.with_overrides(seed=scenario.seed + 1))
    made_templates.append(other.name)
    assert other.built_now
    assert other.name != first.name


def test_concurrent_callers_build_once(pg_server: Server, made_templates: list[str]) -> None:
    scenario = tiny()
    with ThreadPoolExecutor(4) as pool:
        results = list(pool.map(lambda _: ensure_template(pg_server.dsn, scenario, workers=1), range(4)))
    made_templates.append(results[0].name)
    assert sum(r.built_now for r in results) == 1
    assert len({r.name for r in results}) == 1


def test_a_waiting_caller_times_out_with_a_clear_error(pg_server: Server) -> None:
    scenario = tiny()
    fingerprint = template_fingerprint(scenario)
    key = int.from_bytes(bytes.fromhex(fingerprint[:16]), "big", signed=True)
    with connect(pg_server.dsn) as holder:
        holder.execute("SELECT pg_advisory_lock(%s)", (key,))
        pid = holder.info.backend_pid
        started = time.monotonic()
        with pytest.raises(TemplateError, match=rf"waited 0.3s for server process {pid} to finish building") as err:
            ensure_template(pg_server.dsn, scenario, timeout_s=0.3)
        assert time.monotonic() - started < 3
        assert err.value.holder_pid == pid


def test_an_interrupted_build_is_never_used_and_is_swept(pg_server: Server, made_templates: list[str]) -> None:
    seed = random.randrange(10**9)
    code = (
        "import sys\n"
        "from sspp_fixtures.scenarios import load_scenario\n"
        "from sspp_fixtures.templates import ensure_template\n"
        f"s = load_scenario('smoke').with_overrides(seed={seed}, scale=0.1)\n"
        f"ensure_template(sys.argv[1], s, extra_sql={SLEEPY_SQL!r})\n"
    )
    env = {**os.environ, "PGOPTIONS": "-c sspp.test_sleep=60"}
    builder = subprocess.Popen([sys.executable, "-c", code, pg_server.dsn], env=env)
    name = template_name(template_fingerprint(tiny(seed), extra_sql=SLEEPY_SQL))
    building = f"{name}_b{builder.pid}"
    try:
        deadline = time.monotonic() + 30
        while True:  # wait until the builder sleeps inside its build, then kill it
            with connect(pg_server.dsn) as admin:
                row = admin.execute(
                    "SELECT 1 FROM pg_stat_activity WHERE datname = %s AND query LIKE '%%pg_sleep%%'", (building,)
                ).fetchone()
            if row or builder.poll() is not None or time.monotonic() > deadline:
                break
            time.sleep(0.05)
        assert row, "the builder never reached its build"
    finally:
        builder.send_signal(signal.SIGKILL)
        builder.wait()
    assert databases(pg_server.dsn, building) == [building]  # left half-built under its building name

    info = ensure_template(pg_server.dsn, tiny(seed), extra_sql=SLEEPY_SQL)  # no sleep here: no PGOPTIONS
    made_templates.append(info.name)
    assert info.built_now
    assert info.name == name
    assert building in sweep(pg_server.dsn)
    assert databases(pg_server.dsn, building) == []
    assert databases(pg_server.dsn, name) == [name]  # the sweeper leaves finished templates alone


def test_sweep_drops_only_abandoned_databases_of_ours(pg_server: Server) -> None:
    gone, alive = dead_pid(), os.getpid()
    leaked = f"sspp_t_0123abcd_gw0_{gone}_0"
    running = f"sspp_t_0123abcd_gw0_{alive}_0"
    foreign_host = f"sspp_t_0123abcd_gw1_{gone}_1"
    half_built = f"sspp_tpl_{'ab' * 10}_b{gone}"
    not_ours = f"sspp_t_not_ours_{gone}"
    names = [leaked, running, foreign_host, half_built, not_ours]
    with connect(pg_server.dsn) as admin:
        for name in names:
            admin.execute(f'CREATE DATABASE "{name}"')
        set_comment(admin, leaked, comment(KIND_TEST).replace(f'"pid":{alive}', f'"pid":{gone}'))
        set_comment(admin, running, comment(KIND_TEST))
        set_comment(admin, foreign_host, comment(KIND_TEST, host="elsewhere"))  # recent: kept
        set_comment(admin, half_built, comment(KIND_BUILDING).replace(f'"pid":{alive}', f'"pid":{gone}'))
    try:
        swept = sweep(pg_server.dsn)
        assert leaked in swept
        assert half_built in swept
        left = set(databases(pg_server.dsn, "sspp\\_t%"))
        assert {running, foreign_host, not_ours} <= left
        assert sweep(pg_server.dsn, older_than_s=-1)
        assert foreign_host not in databases(pg_server.dsn, "sspp\\_t%")
        assert running in databases(pg_server.dsn, "sspp\\_t%")
    finally:
        with connect(pg_server.dsn) as admin:
            for name in names:
                drop_database(admin, name)


def test_a_failing_build_raises_and_leaves_nothing(pg_server: Server) -> None:
    scenario = tiny()
    with pytest.raises(TemplateError, match=r"building template sspp_tpl_\w+ for scenario 'smoke' failed: .*nope"):
        ensure_template(pg_server.dsn, scenario, extra_sql="SELECT * FROM nope")
    name = template_name(template_fingerprint(scenario, extra_sql="SELECT * FROM nope"))
    assert databases(pg_server.dsn, name + "%") == []
