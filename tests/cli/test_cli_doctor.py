"""``sspp-seed doctor`` as a user runs it (in-process: tests/fix_cli.py) against real databases, broken DSNs and
silent servers."""

from __future__ import annotations

import json
import socket
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from psycopg import conninfo

from sspp_fixtures._table_order import TABLE_ORDER
from sspp_fixtures.dsn import LIBPQ_TARGET_ENV, connect
from sspp_fixtures.loader import load_scenario_into
from sspp_fixtures.scenarios import load_scenario
from sspp_fixtures.schema import load_migrations
from tests.fix_cli import cli_here

PASSWORD = "s3cr3t-PW"
MACHINE_CHECKS = [
    "sspp-fixtures",
    "python",
    "platform",
    "dsn",
    "warm server",
    "local",
    "embedded",
    "docker",
    "auto picks",
    "client programs",
    "row cache",
]

LATEST = load_migrations()[-1].version


@dataclass
class Doctor:
    code: int
    stdout: str
    stderr: str
    seconds: float

    def json(self) -> dict[str, Any]:
        return json.loads(self.stdout)  # type: ignore[no-any-return]

    def database(self) -> dict[str, dict[str, Any]]:
        return {check["name"]: check for check in self.json()["database"]}


def doctor(*args: str, database_url: str = "") -> Doctor:
    """``sspp-seed doctor ARGS`` with ``$DATABASE_URL`` set to ``database_url`` (empty: unset) and no ``PG*``
    variables (they would name a database, as psql reads them), in this process."""
    started = time.monotonic()
    done = cli_here("doctor", *args, env={"DATABASE_URL": database_url}, unset=("SSPP_DEBUG", *LIBPQ_TARGET_ENV))
    result = Doctor(done.returncode, done.stdout, done.stderr, time.monotonic() - started)
    output = result.stdout + result.stderr
    assert "Traceback" not in output, output
    assert PASSWORD not in output, output
    return result


def with_password(dsn: str) -> str:
    """The same DSN carrying a password (trust auth ignores it), to prove no output shows it."""
    return conninfo.make_conninfo(dsn, password=PASSWORD)


def error_lines(result: Doctor) -> list[str]:
    return [line for line in result.stderr.splitlines() if line.strip()]


def test_without_a_dsn_only_the_machine_is_checked() -> None:
    human = doctor()
    assert human.code == 0, human.stdout + human.stderr
    assert "this machine" in human.stdout
    assert "database: not checked (pass --dsn URL, set $DATABASE_URL or PG* variables" in human.stdout
    report = doctor("--json").json()
    assert report["database"] is None
    assert report["dsn"] is None
    assert report["exit_code"] == 0
    machine = {check["name"]: check for check in report["machine"]}
    assert list(machine) == MACHINE_CHECKS
    assert machine["dsn"]["status"] == "skip"
    assert "--dsn" in machine["dsn"]["fix"]
    assert machine["auto picks"]["status"] == "ok"
    assert machine["auto picks"]["data"]["provider"] in ("warm server", "local", "embedded", "docker")
    for check in report["machine"]:
        assert check["status"] in ("ok", "warn", "fail", "skip")
        assert check["status"] == "ok" or check["fix"], check
    assert report["summary"]["fail"] == 0


def test_the_row_cache_shows_what_it_keeps_and_a_bad_budget(tmp_path: Path) -> None:
    rows = tmp_path / "rows"
    rows.mkdir()
    (rows / "kept.rows").write_bytes(b"x" * (3 << 20))
    (rows / "writing-1-abc.tmp").write_bytes(b"x" * 100)  # being written: not counted
    env = {"SSPP_FIXTURES_CACHE": str(tmp_path), "DATABASE_URL": ""}
    done = cli_here("doctor", "--json", env={**env, "SSPP_FIXTURES_ROW_CACHE_MB": "100"})
    check = {c["name"]: c for c in json.loads(done.stdout)["machine"]}["row cache"]
    assert check["status"] == "ok"
    assert check["data"] == {"folder": str(rows), "entries": 1, "bytes": 3 << 20, "budget_bytes": 100 << 20}
    assert "1 entry, 3 MB of 100 MB ($SSPP_FIXTURES_ROW_CACHE_MB)" in check["detail"]
    off = cli_here("doctor", "--json", env={**env, "SSPP_FIXTURES_ROW_CACHE_MB": "0"})
    assert {c["name"]: c for c in json.loads(off.stdout)["machine"]}["row cache"]["status"] == "skip"
    bad = cli_here("doctor", env={**env, "SSPP_FIXTURES_ROW_CACHE_MB": "lots"})
    assert bad.returncode == 1
    assert "SSPP_FIXTURES_ROW_CACHE_MB='lots' is not a number of megabytes" in bad.stdout
    assert "Traceback" not in bad.stdout + bad.stderr


def test_a_fresh_database_is_reachable_but_not_ready(empty_db: str) -> None:
    dsn = with_password(empty_db)
    result = doctor("--json", "--dsn", dsn)
    assert result.code == 0, result.stderr
    report = result.json()
    assert "***" in report["dsn"]
    checks = result.database()
    assert checks["reachable"]["status"] == "ok"
    assert checks["reachable"]["data"]["server_major"] >= 15
    assert checks["marked"]["status"] == "warn"
    assert "sspp-seed init --dsn" in checks["marked"]["fix"]
    assert checks["migrated"]["status"] == "warn"
    assert checks["migrated"]["data"]["pending"] == [m.label for m in load_migrations()]
    assert checks["loaded"]["status"] == "skip"
    human = doctor("--dsn", dsn)
    assert human.code == 0
    assert "not made by sspp-fixtures (empty)" in human.stdout
    assert "→ adopt it: sspp-seed init --dsn 'user=postgres dbname=" in human.stdout
    assert "warnings (marked, migrated" in human.stdout
    assert error_lines(human) == []


def test_a_database_loaded_with_smoke_is_all_ok(empty_db: str) -> None:
    load_scenario_into(empty_db, load_scenario("smoke"), workers=0)
    with connect(empty_db) as conn:
        expected = {t: conn.execute(f"SELECT count(*) FROM {t}").fetchone()[0] for t in TABLE_ORDER}  # type: ignore[index]
    result = doctor("--json", database_url=with_password(empty_db))
    assert result.code == 0, result.stderr
    checks = result.database()
    assert {name: check["status"] for name, check in checks.items()} == {
        "reachable": "ok",
        "marked": "ok",
        "migrated": "ok",
        "loaded": "ok",
        "roles": "ok",
        "backup programs": "ok",
    }
    smoke_seed = load_scenario("smoke").seed
    assert checks["marked"]["data"]["purpose"] == f"sspp-seed load smoke (seed {smoke_seed})"
    assert (checks["loaded"]["data"]["scenario"], checks["loaded"]["data"]["seed"]) == ("smoke", smoke_seed)
    assert checks["migrated"]["data"]["version"] == checks["migrated"]["data"]["latest"] == LATEST
    assert checks["loaded"]["data"]["counts"] == expected
    assert set(checks["loaded"]["data"]["method"].values()) == {"exact"}
    assert all(expected.values())
    human = doctor(database_url=with_password(empty_db))
    assert human.code == 0
    assert f"{expected['customers']:,} customers, {expected['events']:,} events" in human.stdout
    assert "(exact count)" in human.stdout


def test_an_unreachable_server_exits_3_with_one_masked_line() -> None:
    result = doctor("--dsn", f"postgresql://app:{PASSWORD}@127.0.0.1:1/sspp")
    assert result.code == 3
    assert result.seconds < 10, "bounded"
    [line] = error_lines(result)
    assert line.startswith("error: reachable: cannot connect to postgresql://app:***@127.0.0.1:1/sspp")
    assert "exit code 3" in result.stdout
    as_json = doctor("--json", database_url=f"postgresql://app:{PASSWORD}@127.0.0.1:1/sspp")
    assert as_json.code == 3
    assert as_json.json()["exit_code"] == 3
    assert as_json.json()["elapsed_ms"] < 3000, "a refused connection is known at once; docker's probe is 2 s at most"
    [check] = as_json.json()["database"]
    assert (check["name"], check["status"]) == ("reachable", "fail")


def test_a_missing_database_exits_3_and_says_how_to_create_it(pg_server: Any) -> None:
    dsn = with_password(pg_server.dsn_for("sspp_test_doctor_no_such_database"))
    result = doctor("--json", "--dsn", dsn)
    assert result.code == 3
    [check] = result.json()["database"]
    assert 'database "sspp_test_doctor_no_such_database" does not exist' in check["detail"]
    assert check["fix"].startswith("create it with the schema: sspp-seed init --create --dsn 'user=postgres dbname=")
    assert check["fix"].endswith(" password=***'")


@pytest.mark.parametrize(
    "dsn",
    [f"postgresql://app:{PASSWORD} x@db/sspp", f"not a dsn {PASSWORD}", f"postgresql://app:{PASSWORD}@db/sspp?x=1"],
)
def test_a_malformed_dsn_exits_2_and_is_never_echoed(dsn: str) -> None:
    result = doctor("--json", database_url=dsn)
    assert result.code == 2
    [line] = error_lines(result)
    assert line.startswith("error: reachable: the DSN is malformed:")
    report = result.json()
    assert report["dsn"] == "(malformed, not shown)"
    assert report["exit_code"] == 2
    machine = {check["name"]: check for check in report["machine"]}
    assert machine["dsn"]["detail"] == "$DATABASE_URL=(malformed, not shown); checked below"


def test_drift_fails_with_exit_1(empty_db: str) -> None:
    from sspp_fixtures.schema import init_database

    init_database(empty_db)
    with connect(empty_db) as conn:
        conn.execute("UPDATE sspp_meta.schema_migrations SET checksum = 'feedface' WHERE version = 2")
    result = doctor("--json", "--dsn", with_password(empty_db))
    assert result.code == 1
    migrated = result.database()["migrated"]
    assert migrated["status"] == "fail"
    assert "002_create_events was edited after it was applied" in migrated["detail"]
    assert "new NNN_name.sql" in migrated["fix"]


def test_locked_tables_are_reported_not_waited_for(empty_db: str) -> None:
    load_scenario_into(empty_db, load_scenario("smoke"), workers=0)
    with connect(empty_db, autocommit=False) as holder:
        holder.execute("LOCK TABLE customers IN ACCESS EXCLUSIVE MODE")
        result = doctor("--json", "--dsn", empty_db)
        holder.rollback()
    assert result.code == 0
    assert result.seconds < 15
    checks = result.database()
    assert checks["reachable"]["status"] == "ok"
    assert checks["loaded"]["status"] == "warn"
    assert "locked" in checks["loaded"]["detail"]


@contextmanager
def silent_server() -> Iterator[int]:
    """A TCP port that completes the handshake (the kernel's backlog) and then never says a word."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen(8)
        yield int(sock.getsockname()[1])


@pytest.mark.slow
def test_a_server_that_never_answers_is_given_up_on_in_bounded_time() -> None:
    with silent_server() as port:
        result = doctor("--json", "--timeout", "2", "--dsn", f"postgresql://app:{PASSWORD}@127.0.0.1:{port}/sspp")
    assert result.code == 3
    assert 1800 < result.json()["elapsed_ms"] < 5000
    [line] = error_lines(result)
    assert "connection timeout expired" in line
    assert "--timeout SECONDS" in line


@pytest.mark.sspp(scenario="smoke")
def test_a_database_from_the_plugin_names_its_scenario_and_seed(sspp_dsn: str) -> None:
    checks = doctor("--json", "--dsn", sspp_dsn).database()
    loaded = checks["loaded"]
    assert loaded["status"] == "ok"
    assert loaded["data"]["scenario"] == "smoke"
    assert loaded["data"]["seed"] == load_scenario("smoke").seed
    assert loaded["data"]["template"].startswith("sspp_tpl_")
    assert "scenario smoke, seed" in loaded["detail"]


def test_big_tables_are_estimated_from_pg_class(empty_db: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """In-process: every table counts as big, so the counts come from reltuples (exact here: the load analyzed)."""
    from sspp_fixtures.doctor import _database, run_doctor

    load_scenario_into(empty_db, load_scenario("smoke"), workers=0)
    monkeypatch.setattr(_database, "EXACT_COUNT_MAX_BYTES", -1)
    done = run_doctor(empty_db, docker_timeout_s=0.5)
    assert done.database is not None
    loaded = {check.name: check for check in done.database}["loaded"]
    assert loaded.status == "ok"
    assert set(loaded.data["method"].values()) == {"estimate"}
    with connect(empty_db) as conn:
        customers = conn.execute("SELECT count(*) FROM customers").fetchone()
    assert customers is not None
    assert loaded.data["counts"]["customers"] == customers[0]
    assert loaded.detail.startswith(f"≈{customers[0]:,} customers")
    assert "pg_class.reltuples estimate" in loaded.detail
