"""A newcomer's first hour: no DSN after `demo --detach`, the PG* environment, what `demo` says, progress lines,
`scenarios show|validate`, and the messages, flags and files a first user meets (issue 10, items 10-16)."""

from __future__ import annotations

import io
import json
import re
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest
from click.testing import CliRunner
from rich.console import Console
from rich.progress import Progress

from sspp_fixtures._paths import cache_dir
from sspp_fixtures._table_order import TABLE_ORDER
from sspp_fixtures.cli import cli, run
from sspp_fixtures.cli._progress import RowProgress
from sspp_fixtures.dsn import LIBPQ_TARGET_ENV, database_name, libpq_env_dsn
from sspp_fixtures.loader import load_scenario_into
from sspp_fixtures.scenarios import list_scenarios, load_scenario
from sspp_fixtures.server import Server
from tests.fix_db import new_database
from tests.hardening._cli import Outcome, assert_refused, sspp_seed
from tests.hardening._here import sspp_seed_here


@pytest.fixture
def here(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> Any:
    """``here(*args, env={...})``: the real CLI in this process, with no $DATABASE_URL or PG* unless ``env``."""
    for name in (*LIBPQ_TARGET_ENV, "DATABASE_URL", "SSPP_DEBUG", "NO_COLOR", "FORCE_COLOR"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("COLUMNS", "200")

    def call(*args: str, env: dict[str, str] | None = None) -> Outcome:
        for name, value in (env or {}).items():
            monkeypatch.setenv(name, value)
        capsys.readouterr()
        code = run(list(args))
        captured = capsys.readouterr()
        return Outcome(code, captured.out, captured.err, 0.0)

    return call


# --- item 10 and 12: the tool's own server, found without a DSN; demo says what it does ---------------------


@pytest.fixture(scope="module")
def own_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, str]]:
    """The environment of a user whose warm server runs (its own cache folder), with no DSN of any kind."""
    cache = tmp_path_factory.mktemp("own-server-cache")
    pools = cache_dir() / "pools"
    if pools.is_dir():  # the generator's name pools take seconds to build: share the ones already built
        shutil.copytree(pools, cache / "pools")
    env = {"SSPP_FIXTURES_CACHE": str(cache)}
    started = sspp_seed("server", "start", "--provider", "local", env=env, timeout=120)
    if started.code != 0:
        pytest.skip(f"no local PostgreSQL binaries to run the tool's own server: {started.stderr.strip()}")
    try:
        yield env
    finally:
        sspp_seed("server", "stop", env=env, timeout=120)


def _said(outcome: Outcome, *fragments: str) -> None:
    assert "Traceback" not in outcome.output, outcome.output
    for fragment in fragments:
        assert fragment in outcome.stderr, f"{fragment!r} not in stderr: {outcome.stderr!r}"


@pytest.mark.slow
def test_without_a_dsn_every_command_uses_the_running_servers_database(own_server: dict[str, str]) -> None:
    loaded = sspp_seed_here("load", "smoke", "--json", env=own_server)
    assert loaded.code == 0, loaded.stderr
    assert json.loads(loaded.stdout)["database"] == "sspp"
    _said(loaded, "using database 'sspp' on sspp-fixtures' own server (local PostgreSQL")
    for command in (["status", "--json"], ["migrate", "--json"]):
        outcome = sspp_seed_here(*command, env=own_server)
        assert outcome.code == 0, outcome.stderr
        assert json.loads(outcome.stdout)["database"] == "sspp"
        _said(outcome, "using database 'sspp' on sspp-fixtures' own server")
    status = json.loads(sspp_seed_here("status", "--json", env=own_server).stdout)
    assert {a["applied_by"] for a in status["applied"]} <= {"sspp-seed load", "sspp-seed init"}


@pytest.mark.slow
def test_demo_with_the_server_already_running_says_each_step_and_that_it_stays_up(own_server: dict[str, str]) -> None:
    outcome = sspp_seed("demo", "--scenario", "smoke", env=own_server, timeout=120)
    assert outcome.code == 0, outcome.stderr
    lines = outcome.stderr.splitlines()
    assert lines[0].startswith("sspp-fixtures' own server is already running (local PostgreSQL"), lines
    assert any(line.startswith("loading scenario 'smoke' (seed 42: 60 customers, 1,200 events)") for line in lines)
    assert "replacing its SSPP tables' rows" in outcome.stderr
    assert lines[-1] == "the server stays up, as it was before (sspp-seed server stop ends it)", lines
    assert sspp_seed_here("server", "status", env=own_server).code == 0


@pytest.mark.slow
def test_server_dsn_names_the_demo_database_psql_can_use(own_server: dict[str, str]) -> None:
    outcome = sspp_seed_here("server", "dsn", env=own_server)
    assert outcome.code == 0, outcome.stderr
    assert database_name(outcome.stdout.strip()) == "sspp"
    with psycopg.connect(outcome.stdout.strip()) as conn:
        assert conn.execute("SELECT current_database()").fetchone() == ("sspp",)


def test_server_dsn_without_a_server_exits_3(here: Any, tmp_path: Path) -> None:
    outcome = here("server", "dsn", env={"SSPP_FIXTURES_CACHE": str(tmp_path)})
    assert_refused(outcome, 3, "no warm server is running", "sspp-seed demo --detach")


# --- item 15: libpq's environment, as psql reads it ----------------------------------------------------------


def test_pg_environment_alone_chooses_the_database_and_is_said(here: Any, empty_db: str) -> None:
    params = psycopg.conninfo.conninfo_to_dict(empty_db)
    env = {  # here() drops the PG* variables of the environment it inherits
        "PGHOST": str(params.get("host") or "127.0.0.1"),
        "PGPORT": str(params.get("port") or "5432"),
        "PGUSER": str(params.get("user") or "postgres"),
        "PGDATABASE": str(params["dbname"]),
        "SSPP_FIXTURES_CACHE": "/nonexistent-newcomer-cache",
    }
    outcome = here("status", "--json", env=env)
    assert outcome.code == 0, outcome.stderr
    assert json.loads(outcome.stdout)["database"] == params["dbname"]
    _said(outcome, "(from libpq's environment: PGHOST, PGPORT, PGUSER, PGDATABASE)", f"dbname={params['dbname']}")
    doctor = here("doctor", "--json", env=env)
    assert doctor.code == 0, doctor.output
    assert f"dbname={params['dbname']}" in json.loads(doctor.stdout)["dsn"]


def test_pg_environment_dsn_never_holds_the_password(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in LIBPQ_TARGET_ENV:
        monkeypatch.delenv(name, raising=False)
    assert libpq_env_dsn() is None
    monkeypatch.setenv("PGPASSWORD", "s3cr3t-PW")
    assert libpq_env_dsn() is None, "a password alone names no server"
    monkeypatch.setenv("PGHOST", "db.example")
    monkeypatch.setenv("PGUSER", "app")
    found = libpq_env_dsn()
    assert found is not None
    dsn, names = found
    assert names == ["PGHOST", "PGUSER"]
    assert psycopg.conninfo.conninfo_to_dict(dsn) == {"host": "db.example", "user": "app", "dbname": "app"}


# --- item 13: progress, one line per phase, each with its own clock ------------------------------------------


class _Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def _tracker() -> tuple[RowProgress, Progress, _Clock]:
    console = Console(file=io.StringIO(), force_terminal=True, width=120)  # a terminal nobody reads
    progress = Progress(console=console, auto_refresh=False)
    clock = _Clock()
    return RowProgress(progress, 1000, clock=clock), progress, clock


def test_progress_gives_each_phase_a_line_and_its_own_clock() -> None:
    tracker, progress, clock = _tracker()
    tracker("phase:prepare", 0)
    clock.now += 1
    tracker("phase:copy", 0)
    copy_line = progress.tasks[-1]
    assert "generating the first rows" in copy_line.description, "no 'copying 0 rows/s' while still generating"
    assert "rows/s" not in copy_line.description
    clock.now += 2
    tracker("customers", 500)
    assert re.search(r"\b250 rows/s", progress.tasks[-1].description), progress.tasks[-1].description
    tracker("events", 500)
    tracker("phase:indexes", 0)
    tracker("index:signals_pkey", 0)
    assert "signals_pkey (1)" in progress.tasks[-1].description
    tracker("index:idx_signals_customer", 0)
    assert "idx_signals_customer (2)" in progress.tasks[-1].description
    indexes = progress.tasks[-1]
    assert not indexes.finished, "the running phase's clock keeps going"
    clock.now += 3
    tracker("phase:analyze", 0)
    tracker.close()
    names = [" ".join(task.description.split()) for task in progress.tasks]
    assert names == [
        "preparing done in 1.0s",
        "generating and copying 1,000 rows, done in 2.0s",
        "building indexes 2 indexes, done in 3.0s",
        "analyzing done in 0.0s",
    ]
    assert all(task.finished for task in progress.tasks)


def test_the_loader_names_each_index_it_builds(empty_db: str) -> None:
    events: list[str] = []
    load_scenario_into(empty_db, load_scenario("smoke"), workers=0, progress=lambda name, _rows: events.append(name))
    between = events[events.index("phase:indexes") + 1 : events.index("phase:analyze")]
    with psycopg.connect(empty_db) as conn:
        names = {
            r[0]
            for r in conn.execute(
                "SELECT indexname FROM pg_indexes WHERE schemaname = 'public' AND tablename = ANY(%s)",
                (list(TABLE_ORDER),),
            )
        }
    assert between
    assert all(e.startswith("index:") for e in between)
    assert {e.removeprefix("index:") for e in between} == names


def test_verbose_writes_a_line_per_phase_when_not_on_a_terminal(here: Any, empty_db: str) -> None:
    outcome = here("--verbose", "load", "smoke", "--dsn", empty_db)
    assert outcome.code == 0, outcome.stderr
    phases = [re.sub(r"\d[\d,]*", "N", line.split(" done in ")[0]) for line in outcome.stderr.splitlines()[1:]]
    assert phases == [
        "preparing",
        "generating and copying N rows,",
        "building indexes N indexes,",
        "analyzing",
        "committing",
    ], outcome.stderr


def test_quiet_prints_only_the_result(here: Any, empty_db: str) -> None:
    outcome = here("--quiet", "load", "smoke", "--dsn", empty_db, "--json")
    assert outcome.code == 0, outcome.stderr
    assert outcome.stderr == ""
    assert json.loads(outcome.stdout)["rows"]["customers"] == 61


def test_quiet_and_verbose_together_are_a_usage_error(here: Any) -> None:
    outcome = here("--quiet", "--verbose", "scenarios", "list")
    assert outcome.code == 2
    assert "error: --quiet and --verbose contradict each other" in outcome.stderr


# --- item 14: scenarios show is a scenario file; validate lists every problem ----------------------------------


def _invoke(*args: str) -> Any:
    return CliRunner().invoke(cli, list(args), catch_exceptions=False)


@pytest.mark.parametrize("name", sorted(list_scenarios()))
@pytest.mark.parametrize("as_json", [False, True], ids=["yaml", "json"])
def test_scenarios_show_prints_a_scenario_file_that_loads_to_the_same_data(
    name: str, as_json: bool, tmp_path: Path
) -> None:
    shown = _invoke("scenarios", "show", name, *(["--json"] if as_json else []))
    assert shown.exit_code == 0, shown.output
    for internal in ("files", "fingerprint", "window_end_date", "window_days", "segment_shares", "locale_shares"):
        assert not re.search(rf"^\s*\"?{internal}\"?:", shown.stdout, re.MULTILINE), f"internal key {internal}"
    saved = tmp_path / f"{name}-shown.{'json' if as_json else 'yaml'}"
    saved.write_text(shown.stdout, encoding="utf-8")
    validated = _invoke("scenarios", "validate", str(saved))
    assert validated.exit_code == 0, validated.output
    again = load_scenario(saved)
    assert again == load_scenario(name)
    assert again.fingerprint() == load_scenario(name).fingerprint()


def test_scenarios_validate_reports_every_problem(here: Any, tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("customers: -1\nevents: -5\nseed: many\ntrend: 99\n", encoding="utf-8")
    outcome = here("scenarios", "validate", str(bad))
    assert outcome.code == 1
    assert "more problem" not in outcome.output
    lines = outcome.stderr.splitlines()
    assert [line.split(": ")[0] for line in lines] == [f"invalid  {bad}:{n}" for n in (1, 2, 3, 4)], lines
    for field in ("customers", "events", "seed", "trend"):
        assert any(f": {field}: " in line for line in lines)


def test_scenarios_validate_names_the_file_each_problem_is_in(here: Any, tmp_path: Path) -> None:
    parent = tmp_path / "parent.yaml"
    parent.write_text("name: parent\ncustomers: 10\nevents: 100\ntrend: 99\n", encoding="utf-8")
    child = tmp_path / "child.yaml"
    child.write_text("extends: parent.yaml\nname: child\nseed: many\n", encoding="utf-8")
    outcome = here("scenarios", "validate", str(child))
    assert outcome.code == 1
    lines = outcome.stderr.splitlines()
    assert any(line.startswith(f"invalid  {parent}:4: trend: ") for line in lines), lines
    assert any(line.startswith(f"invalid  {child}:3: seed: ") for line in lines), lines


# --- item 16: messages, flags, styles, folders, headers, installed files -------------------------------------


def test_load_refusal_names_load_not_init(here: Any, empty_db: str) -> None:
    with psycopg.connect(empty_db, autocommit=True) as conn:
        conn.execute("CREATE TABLE theirs (id int); INSERT INTO theirs VALUES (1)")
    outcome = here("load", "smoke", "--dsn", empty_db)
    line = assert_refused(outcome, 4, "refusing to load database", "pass --force to load it anyway")
    assert "init" not in line


def test_status_after_a_load_says_the_migrations_came_with_the_load(here: Any, empty_db: str) -> None:
    assert here("load", "smoke", "--dsn", empty_db).code == 0
    status = json.loads(here("status", "--dsn", empty_db, "--json").stdout)
    assert {a["applied_by"] for a in status["applied"]} == {"sspp-seed load"}


def test_load_create_makes_a_missing_database(here: Any, pg_server: Server) -> None:
    name = new_database(pg_server, "newcomer_create")
    from sspp_fixtures.databases import drop_database

    drop_database(pg_server.dsn, name)
    try:
        outcome = here("load", "smoke", "--dsn", pg_server.dsn_for(name), "--create", "--json")
        assert outcome.code == 0, outcome.stderr
        assert json.loads(outcome.stdout)["database"] == name
    finally:
        drop_database(pg_server.dsn, name)


def test_a_missing_database_hint_names_the_create_of_the_command_that_was_run(here: Any, pg_server: Server) -> None:
    missing = pg_server.dsn_for("sspp_test_newcomer_never_made")
    load = here("load", "smoke", "--dsn", missing)
    assert load.code == 3
    assert "Create it: run the same sspp-seed load with --create (or createdb NAME)" in load.stderr
    status = here("status", "--dsn", missing)  # status makes no database: init does
    assert status.code == 3
    assert "Create the database first (sspp-seed init --create --dsn ..., or createdb NAME)" in status.stderr


def test_no_color_turns_off_every_style(here: Any) -> None:
    styled = here("scenarios", "list", env={"FORCE_COLOR": "1", "NO_COLOR": ""})
    assert "\x1b[" in styled.stdout, "forced colours style the table's header"
    plain = here("scenarios", "list", env={"FORCE_COLOR": "1", "NO_COLOR": "1"})
    assert plain.code == 0
    assert "\x1b[" not in plain.output, "NO_COLOR: no bold, no dim, no colour"


def test_backup_out_folder_is_made_when_missing(here: Any, tmp_path: Path, empty_db: str) -> None:
    assert here("load", "smoke", "--dsn", empty_db).code == 0
    folder = tmp_path / "bk" / "nightly"
    outcome = here("backup", "--dsn", empty_db, "--out", f"{folder}/", "--json")
    assert outcome.code == 0, outcome.stderr
    assert Path(json.loads(outcome.stdout)["file"]).parent == folder
    assert sorted(p.suffix for p in folder.iterdir()) == [".dump", ".json"]


def test_sql_export_header_counts_the_stories_rows(here: Any, tmp_path: Path) -> None:
    out = tmp_path / "seed.sql"
    outcome = here("export", "smoke", "--format", "sql", "--out", str(out), "--json")
    assert outcome.code == 0, outcome.stderr
    rows = json.loads(outcome.stdout)["rows"]
    header = out.read_text(encoding="utf-8").splitlines()[0]
    assert f"{rows['customers']} customers, {rows['events']} events (1 scripted story included)" in header


def test_schema_init_sql_never_writes_into_an_installed_package(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    package_sql = tmp_path / "site-packages" / "sspp_fixtures" / "_sql"
    package_sql.mkdir(parents=True)
    monkeypatch.setattr("sspp_fixtures.cli._db.init_sql_path", lambda: package_sql / "init.sql")
    work = tmp_path / "work"
    work.mkdir()
    monkeypatch.chdir(work)
    result = CliRunner().invoke(cli, ["schema", "init-sql"], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    assert list(package_sql.iterdir()) == []
    assert (work / "init.sql").read_text(encoding="utf-8").startswith("--")
    assert "wrote init.sql" in result.stderr
