"""The doctor's report model, its masking of DSNs that may not even parse, and its time budget."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

import sspp_fixtures.doctor as doctor_module
from sspp_fixtures.doctor import Check, DoctorReport, run_doctor
from sspp_fixtures.doctor._database import backup_check
from sspp_fixtures.doctor._dsntext import MALFORMED, malformed_reason, secrets_of, shown_dsn
from sspp_fixtures.errors import ExitCode

PASSWORD = "s3cr3t-PW"


def report(*database: Check, machine: tuple[Check, ...] = ()) -> DoctorReport:
    return DoctorReport(machine=machine or (Check("python", "ok", "3.11"),), database=database, dsn=None, elapsed_ms=1)


def test_a_check_refuses_an_unknown_status_and_a_problem_without_a_fix() -> None:
    with pytest.raises(ValueError, match="not one of ok, warn, fail, skip"):
        Check("x", "bad", "detail")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="is warn but says no fix"):
        Check("x", "warn", "detail")
    with pytest.raises(ValueError, match="is fail but says no fix"):
        Check("x", "fail", "detail", fix="")
    assert Check("x", "skip", "not here").fix is None


def test_detail_and_fix_are_always_one_line() -> None:
    check = Check("x", "warn", "first\n  second\r\nthird", fix="do\nthis")
    assert (check.detail, check.fix) == ("first second third", "do this")


@pytest.mark.parametrize(
    ("codes", "expected"),
    [
        ((), ExitCode.OK),
        ((ExitCode.USER_ERROR,), ExitCode.USER_ERROR),
        ((ExitCode.USER_ERROR, ExitCode.UNREACHABLE), ExitCode.UNREACHABLE),
        ((ExitCode.USAGE,), ExitCode.USAGE),
    ],
)
def test_exit_code_is_the_gravest_failure(codes: tuple[int, ...], expected: int) -> None:
    failed = [Check(f"c{i}", "fail", "broken", fix="mend it", exit_code=code) for i, code in enumerate(codes)]
    done = report(Check("w", "warn", "meh", fix="look"), Check("s", "skip", "n/a"), *failed)
    assert done.exit_code == expected


def test_counts_summary_and_json() -> None:
    done = report(
        Check("reachable", "ok", "PostgreSQL 15"),
        Check("marked", "warn", "not marked", fix="sspp-seed init"),
        Check("migrated", "warn", "pending", fix="sspp-seed migrate"),
        Check("loaded", "skip", "no tables"),
    )
    assert done.counts() == {"ok": 2, "warn": 2, "fail": 0, "skip": 1}
    assert done.summary() == "2 ok, 1 skipped, 2 warnings (marked, migrated)"
    data = json.loads(json.dumps(done.to_dict()))
    assert data["exit_code"] == 0
    assert data["summary"] == done.counts()
    assert [c["name"] for c in data["database"]] == ["reachable", "marked", "migrated", "loaded"]
    assert data["database"][1] == {
        "name": "marked",
        "status": "warn",
        "detail": "not marked",
        "fix": "sspp-seed init",
        "data": {},
    }
    assert DoctorReport((), None, None, 0).to_dict()["database"] is None


def test_masked_hides_every_password_everywhere() -> None:
    check = Check(
        "reachable",
        "fail",
        f"password {PASSWORD} rejected",
        fix=f"try again without {PASSWORD}",
        data={"nested": {"list": [f"x:{PASSWORD}@y", 3]}, "n": 1},
    )
    hidden = check.masked(secrets_of(f"postgresql://u:{PASSWORD}@h/db"))
    assert PASSWORD not in json.dumps(hidden.to_dict())
    assert hidden.data == {"nested": {"list": ["x:***@y", 3]}, "n": 1}


def test_a_password_that_is_a_common_word_is_masked_as_a_word_only() -> None:
    check = Check("reachable", "ok", "PostgreSQL 15 in /usr/lib/postgresql/15/bin as postgres, at postgres:5432")
    hidden = check.masked(secrets_of("postgresql://postgres:postgres@localhost/sspp"))
    assert hidden.detail == "PostgreSQL 15 in /usr/lib/postgresql/15/bin as ***, at ***:5432"


@pytest.mark.parametrize(
    "dsn",
    [
        f"postgresql://u:{PASSWORD}@h/db",
        f"host=h password={PASSWORD}",
        "postgresql://u:s3cr3t%2DPW@h/db",
        f"postgresql://u:{PASSWORD} with space@h/db",
    ],
)
def test_secrets_are_found_even_in_dsns_that_do_not_parse(dsn: str) -> None:
    hidden = dsn
    for secret in secrets_of(dsn):
        hidden = hidden.replace(secret, "***")
    assert PASSWORD not in hidden


def test_a_malformed_dsn_is_never_shown_and_its_error_keeps_only_safe_quotes() -> None:
    spaced = f"postgresql://u:{PASSWORD} x@h/db"
    assert shown_dsn(spaced) == MALFORMED
    reason = malformed_reason(spaced)
    assert reason is not None
    assert PASSWORD not in reason
    assert '"…"' in reason
    assert malformed_reason(f"not a dsn {PASSWORD}") == 'missing "=" after "…" in connection info string'
    assert malformed_reason("postgresql://u@h/db") is None
    assert shown_dsn(f"postgresql://u:{PASSWORD}@h/db") == "postgresql://u:***@h/db"


def test_without_a_dsn_there_is_no_database_section(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("DATABASE_URL", raising=False)
    done = run_doctor(None, docker_timeout_s=0.5)
    assert done.database is None
    assert [c.name for c in done.machine][:4] == ["sspp-fixtures", "python", "platform", "dsn"]
    assert done.machine[3].status == "skip"


def test_a_database_that_never_answers_is_given_up_on(monkeypatch: pytest.MonkeyPatch) -> None:
    def hang(dsn: str, sink: list[Check], *, connect_timeout_s: int) -> None:
        time.sleep(5)

    monkeypatch.setattr(doctor_module, "database_checks", hang)
    started = time.monotonic()
    done = run_doctor(f"postgresql://u:{PASSWORD}@db.invalid/x", docker_timeout_s=0.5, database_budget_s=0.3)
    assert time.monotonic() - started < 3
    assert done.database is not None
    [check] = done.database
    assert (check.name, check.status, check.exit_code) == ("reachable", "fail", ExitCode.UNREACHABLE)
    assert "no answer within 0.3 s" in check.detail
    assert done.exit_code == ExitCode.UNREACHABLE
    assert done.dsn == "postgresql://u:***@db.invalid/x"


def test_a_database_that_stops_answering_midway_fails_with_exit_1(monkeypatch: pytest.MonkeyPatch) -> None:
    def stall(dsn: str, sink: list[Check], *, connect_timeout_s: int) -> None:
        sink.append(Check("reachable", "ok", "PostgreSQL 15.20", data={"server_major": 15}))
        time.sleep(5)

    monkeypatch.setattr(doctor_module, "database_checks", stall)
    done = run_doctor("postgresql://u@db.invalid/x", docker_timeout_s=0.5, database_budget_s=0.3)
    assert done.database is not None
    names = [(check.name, check.status) for check in done.database]
    assert names == [("reachable", "ok"), ("answering", "fail"), ("backup programs", "ok")]
    assert done.exit_code == ExitCode.USER_ERROR


def test_a_crash_while_checking_the_database_reaches_the_caller(monkeypatch: pytest.MonkeyPatch) -> None:
    def crash(dsn: str, sink: list[Check], *, connect_timeout_s: int) -> None:
        raise RuntimeError("boom")

    monkeypatch.setattr(doctor_module, "database_checks", crash)
    with pytest.raises(RuntimeError, match="boom"):
        run_doctor("postgresql://u@db.invalid/x", docker_timeout_s=0.5)


def test_a_dead_warm_server_is_reported_and_its_state_left_alone(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SSPP_FIXTURES_CACHE", str(tmp_path))
    monkeypatch.delenv("DATABASE_URL", raising=False)
    state = tmp_path / "warm-server.json"
    fields = {
        "provider": "local",
        "dsn": f"postgresql://postgres:{PASSWORD}@127.0.0.1:1/postgres",
        "pid": 4_000_000,
        "data_dir": str(tmp_path / "gone" / "data"),
        "version": "15.20",
        "started_at": "2024-01-01T00:00:00+00:00",
        "cluster_dir": str(tmp_path / "gone"),
        "bin_dir": "/usr/lib/postgresql/15/bin",
        "run_as": None,
    }
    state.write_text(json.dumps(fields), encoding="utf-8")
    done = run_doctor(None, docker_timeout_s=0.5)
    warm = {check.name: check for check in done.machine}["warm server"]
    assert warm.status == "warn"
    assert "pid 4000000" in warm.detail
    assert "no longer running" in warm.detail
    assert "sspp-seed server status" in (warm.fix or "")
    assert {check.name: check for check in done.machine}["auto picks"].data["provider"] != "warm server"
    assert json.loads(state.read_text(encoding="utf-8")) == fields, "the doctor changes nothing"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["warm-server.json"], "nor creates anything"


def test_no_client_programs_new_enough_is_a_warning_with_the_fix() -> None:
    check = backup_check(99)
    assert check.status == "warn"
    assert "99" in check.detail
    assert "install" in (check.fix or "")
