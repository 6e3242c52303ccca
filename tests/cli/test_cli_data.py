"""`sspp-seed` data commands as a user runs them: export, seed.sql, scenarios, demo."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

import psycopg
import pytest

from sspp_fixtures.dsn import connect
from sspp_fixtures.schema import init_sql_path, sql_dir
from tests.fix_cli import cli_here
from tests.fix_db import run_cli, sspp_seed_command

MakeDb = Callable[..., str]
ROOT = Path(__file__).resolve().parents[2]


def test_seed_sql_is_current(tmp_path: Path) -> None:
    """sql/seed.sql is what `sspp-seed export sample --format sql` makes today."""
    fresh = tmp_path / "seed.sql"
    result = cli_here("export", "sample", "--format", "sql", "--out", str(fresh))
    assert result.returncode == 0, result.stderr
    assert fresh.read_bytes() == (sql_dir() / "seed.sql").read_bytes(), (
        "sql/seed.sql is stale: run `sspp-seed schema render`"
    )
    assert oct(fresh.stat().st_mode & 0o777) == oct(0o666 & ~_umask())


def _umask() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def test_seed_sql_loads_after_init_sql_like_the_compose_entrypoint(empty_db: str) -> None:
    with psycopg.connect(empty_db) as conn:
        conn.execute(init_sql_path().read_bytes())
        conn.execute((sql_dir() / "seed.sql").read_bytes())
    with connect(empty_db) as conn:
        counts = [
            conn.execute(f"SELECT count(*) FROM {t}").fetchone()[0]  # type: ignore[index]
            for t in ("customers", "events", "signals", "sales_signals")
        ]
        orphans = conn.execute(
            "SELECT count(*) FROM signals s WHERE NOT EXISTS (SELECT 1 FROM events e WHERE e.id = s.event_id)"
        ).fetchone()
    assert counts[0] == 21
    assert counts[1] > counts[2] > counts[3] > 0
    assert orphans == (0,)


def test_csv_export_loads_back_with_copy(empty_db: str, tmp_path: Path) -> None:
    out = tmp_path / "csv"
    result = cli_here("export", "smoke", "--format", "csv", "--out", str(out), "--json")
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    init = cli_here("init", "--dsn", empty_db)
    assert init.returncode == 0, init.stderr
    with connect(empty_db) as conn, conn.cursor() as cursor:
        for table in ("customers", "events", "signals", "sales_signals"):
            with (out / f"{table}.csv").open("rb") as handle:
                header = handle.readline().decode().strip()
                with cursor.copy(f"COPY {table} ({header}) FROM STDIN WITH (FORMAT csv)") as copy:  # type: ignore[arg-type]
                    copy.write(handle.read())
        loaded = {t: cursor.execute(f"SELECT count(*) FROM {t}").fetchone()[0] for t in report["rows"]}  # type: ignore[index]
    assert loaded == report["rows"]


def test_jsonl_export_and_bad_targets(tmp_path: Path) -> None:
    out = tmp_path / "jsonl"
    assert cli_here("export", "smoke", "--format", "jsonl", "--out", str(out)).returncode == 0
    first = json.loads((out / "events.jsonl").read_text().splitlines()[0])
    assert isinstance(first["payload"], dict)
    a_file = tmp_path / "file.txt"
    a_file.write_text("x")
    result = cli_here("export", "smoke", "--format", "csv", "--out", str(a_file))
    assert result.returncode == 2
    assert "is a file" in result.stderr
    result = cli_here("export", "smoke", "--format", "sql", "--out", str(tmp_path / "missing" / "x.sql"))
    assert result.returncode == 2
    assert "does not exist" in result.stderr
    assert list(tmp_path.glob(".*")) == [], "no temporary file left behind"


def test_scenarios_list_show_validate(tmp_path: Path) -> None:
    listed = cli_here("scenarios", "list", "--json")
    assert listed.returncode == 0, listed.stderr
    names = {s["name"] for s in json.loads(listed.stdout)["scenarios"]}
    assert {"smoke", "demo", "load-1m", "sample"} <= names
    shown = cli_here("--verbose", "scenarios", "show", "load-1m", "--json")
    data = json.loads(shown.stdout)
    assert data["events"] == 1_100_000
    assert data["window"]["days"] == 180
    assert "load-1m: from " in shown.stderr
    assert "load-100k.yaml, " in shown.stderr
    bad = tmp_path / "bad.yaml"
    bad.write_text("customers: -1\n")
    good = ROOT / "scenarios" / "smoke.yaml"
    result = cli_here("scenarios", "validate", str(good), str(bad))
    assert result.returncode == 1
    assert "ok       " in result.stdout
    assert f"{bad}:1: customers: Input should be greater than or equal to 1" in result.stderr
    assert "Traceback" not in result.stderr


@pytest.mark.slow
def test_demo_detached_then_stopped(tmp_path: Path) -> None:
    env = {"DATABASE_URL": "", "SSPP_FIXTURES_CACHE": str(tmp_path / "cache")}
    try:
        result = run_cli("demo", "--detach", "--json", env=env, timeout=300)
        assert result.returncode == 0, result.stderr
        report = json.loads(result.stdout)
        assert report["scenario"] == "demo"
        said = result.stderr.splitlines()  # each step before it runs: no blank screen while the server starts
        assert said[0].startswith("starting sspp-fixtures' own PostgreSQL server"), said
        assert said[1].startswith("started local PostgreSQL") or said[1].startswith("started embedded"), said
        assert said[-1] == "the server stays up (--detach): sspp-seed server stop ends it", said
        assert report["stories"] == ["trial-converts", "churn-risk", "enterprise-expansion", "new-lead"]
        status = json.loads(run_cli("server", "status", "--json", env=env).stdout)
        with psycopg.connect(psycopg.conninfo.make_conninfo(status["dsn"], dbname="sspp")) as conn:
            assert conn.execute("SELECT count(*) FROM customers").fetchone() == (2504,)
    finally:
        run_cli("server", "stop", env=env)


@pytest.mark.slow
def test_demo_stays_up_until_interrupted(tmp_path: Path) -> None:
    env = {**os.environ, "DATABASE_URL": "", "SSPP_FIXTURES_CACHE": str(tmp_path / "cache")}
    process = subprocess.Popen(
        [*sspp_seed_command(), "demo", "--json"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env
    )
    try:
        deadline = time.monotonic() + 240
        dsn = None
        assert process.stdout is not None
        lines: list[str] = []
        while time.monotonic() < deadline:
            line = process.stdout.readline()
            if not line:
                break
            lines.append(line)
            if line.startswith("}"):
                dsn = json.loads("".join(lines))["dsn"]
                break
        assert dsn, process.stderr.read() if process.stderr else ""
        with psycopg.connect(dsn) as conn:
            assert conn.execute("SELECT count(*) > 0 FROM signals").fetchone() == (True,)
        process.send_signal(signal.SIGINT)
        _, stderr = process.communicate(timeout=60)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()  # reaped and its pipes closed here, not as ResourceWarnings in a later test
            for pipe in (process.stdout, process.stderr):
                if pipe is not None:
                    pipe.close()
    assert process.returncode == 0, stderr
    said = [line for line in stderr.splitlines() if line.strip()]
    assert said[0] == "starting a PostgreSQL server for this demo (local binaries if found, else the embedded one)"
    assert said[1].startswith("started "), said
    assert any(line.startswith("loading scenario 'demo' (seed 2026: 2,500 customers") for line in said), said
    assert said[-3:] == [
        "the demo server stays up until Ctrl-C (run with --detach to leave it running and return)",
        "stopping the demo server",
        "stopped the demo server; its data is gone",
    ], said
    with pytest.raises(psycopg.OperationalError):
        psycopg.connect(dsn, connect_timeout=3)
