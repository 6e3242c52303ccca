"""``sspp-seed``'s schema commands against a real server: in-process, and as the installed console script where
the process matters (two at once, ``--debug``'s traceback)."""

from __future__ import annotations

import contextlib
import json
import os
import socket
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import pytest
from psycopg import conninfo

from sspp_fixtures.dsn import connect
from sspp_fixtures.schema import load_migrations
from tests.fix_cli import cli_here
from tests.fix_db import run_cli, sspp_seed_command

MakeDb = Callable[..., str]
SECRET = "Pw-never-SHOWN-42"


def with_password(dsn: str) -> str:
    """The same DSN carrying a password (trust auth ignores it), to prove no output shows it."""
    return conninfo.make_conninfo(dsn, password=SECRET)


def assert_clean(result: subprocess.CompletedProcess[str]) -> None:
    output = result.stdout + result.stderr
    assert SECRET not in output
    assert "Traceback" not in output


def test_migrate_status_and_json(empty_db: str) -> None:
    dsn = with_password(empty_db)
    dry = cli_here("migrate", "--dsn", dsn, "--dry-run", "--json")
    assert dry.returncode == 0, dry.stderr
    assert json.loads(dry.stdout)["planned"] == [m.label for m in load_migrations()]
    done = cli_here("migrate", "--dsn", dsn)
    assert done.returncode == 0, done.stderr
    assert f"now at version {load_migrations()[-1].version:03d}" in done.stdout
    status = cli_here("status", "--json", env={"DATABASE_URL": dsn})
    assert status.returncode == 0, status.stderr
    report = json.loads(status.stdout)
    assert report["up_to_date"] is True
    assert report["marked"] is False
    assert "***" in report["dsn"]
    for result in (dry, done, status):
        assert_clean(result)


def test_two_concurrent_cli_runs_apply_once(empty_db: str) -> None:
    command = [*sspp_seed_command(), "migrate", "--dsn", empty_db, "--json"]
    procs = [subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for _ in range(2)]
    outputs = [p.communicate(timeout=120) for p in procs]
    assert [p.returncode for p in procs] == [0, 0], outputs
    applied = sorted(len(json.loads(out)["applied"]) for out, _ in outputs)
    assert applied == [0, len(load_migrations())]


def test_drift_exits_5_and_names_the_migration(empty_db: str) -> None:
    assert cli_here("migrate", "--dsn", empty_db).returncode == 0
    with connect(empty_db) as conn:
        conn.execute("UPDATE sspp_meta.schema_migrations SET checksum = 'feedface' WHERE version = 3")
    result = cli_here("migrate", "--dsn", with_password(empty_db))
    assert result.returncode == 5
    assert "migration 003_create_signals was edited after it was applied" in result.stderr
    assert [line for line in result.stderr.splitlines() if line.startswith("error:")] == [
        result.stderr.splitlines()[-1]
    ], "an error is one line, the last one"
    assert_clean(result)
    status = cli_here("status", "--dsn", empty_db)
    assert status.returncode == 5
    assert "drift" in status.stdout


def test_init_and_reset_refuse_foreign_tables(empty_db: str) -> None:
    with connect(empty_db) as conn:
        conn.execute("CREATE TABLE ledger (id int)")
    dsn = with_password(empty_db)
    for command in ("init", "reset"):
        result = cli_here(command, "--dsn", dsn)
        assert result.returncode == 4, result.stderr
        assert "public.ledger" in result.stderr
        assert "--force" in result.stderr
        assert_clean(result)
    forced = cli_here("reset", "--dsn", dsn, "--force", "--json")
    assert forced.returncode == 0, forced.stderr
    assert json.loads(forced.stdout)["dropped_tables"] == ["public.ledger"]
    again = cli_here("reset", "--dsn", dsn)
    assert again.returncode == 0, again.stderr


@pytest.mark.parametrize(
    ("args", "code", "fragment"),
    [
        (["status", "--dsn", f"postgresql://app:{SECRET}@127.0.0.1:1/sspp"], 3, "cannot connect"),
        (["migrate", "--dsn", f"host=127.0.0.1 port=1 password={SECRET} dbname=x"], 3, "cannot connect"),
        (["status", "--dsn", f"host=h password={SECRET} dbname='open"], 2, "malformed DSN"),
        (["migrate", "--to", "-1", "--dsn", "postgresql://x/y"], 2, "-1"),
        (["migrate"], 2, "no database given"),
        (["no-such-command"], 2, "No such command"),
    ],
)
def test_user_errors_have_exit_codes_and_no_secrets(args: list[str], code: int, fragment: str) -> None:
    result = cli_here(*args, env={"DATABASE_URL": ""})
    assert result.returncode == code, result.stderr
    assert fragment in result.stderr
    assert_clean(result)


def test_missing_database_is_named_with_a_remedy(pg_server: object) -> None:
    dsn = with_password(pg_server.dsn_for("sspp_test_does_not_exist"))  # type: ignore[attr-defined]
    result = cli_here("status", "--dsn", dsn)
    assert result.returncode == 3
    assert 'database "sspp_test_does_not_exist" does not exist' in result.stderr
    assert "Create the database first" in result.stderr
    assert_clean(result)


def test_help_everywhere_has_examples() -> None:
    for args in ([], ["migrate"], ["init"], ["status"], ["reset"], ["server"], ["schema", "init-sql"]):
        result = cli_here(*args, "--help")
        assert result.returncode == 0, (args, result.stderr)
        assert "Usage: sspp-seed" in result.stdout
    assert "sspp-seed migrate --wait 120" in cli_here("migrate", "--help").stdout


def test_init_sql_check_passes_on_the_committed_file() -> None:
    result = cli_here("schema", "init-sql", "--check")
    assert result.returncode == 0, result.stderr


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _target_address(dsn: str) -> tuple[int, object]:
    params = conninfo.conninfo_to_dict(dsn)
    host = str(params.get("host") or "localhost")
    port = int(params.get("port") or 5432)
    if host.startswith("/"):
        return socket.AF_UNIX, f"{host}/.s.PGSQL.{port}"
    return socket.AF_INET, (host, port)


@contextmanager
def late_proxy(target_dsn: str, port: int, delay_s: float) -> Iterator[None]:
    """A TCP proxy to the real server that starts listening on ``port`` only after ``delay_s``."""
    family, address = _target_address(target_dsn)
    stop = threading.Event()
    opened: list[socket.socket] = []

    def pump(src: socket.socket, dst: socket.socket) -> None:
        try:
            while chunk := src.recv(65536):
                dst.sendall(chunk)
        except OSError:
            pass
        finally:
            for sock in (src, dst):
                with contextlib.suppress(OSError):
                    sock.shutdown(socket.SHUT_RDWR)

    def serve() -> None:
        if stop.wait(delay_s):
            return
        with socket.socket() as listener:
            listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            listener.bind(("127.0.0.1", port))
            listener.listen()
            listener.settimeout(0.2)
            while not stop.is_set():
                try:
                    client, _ = listener.accept()
                except TimeoutError:
                    continue
                upstream = socket.socket(family, socket.SOCK_STREAM)
                opened.extend((client, upstream))
                upstream.connect(address)  # type: ignore[arg-type]
                for a, b in ((client, upstream), (upstream, client)):
                    threading.Thread(target=pump, args=(a, b), daemon=True).start()

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join(timeout=5)
        for sock in opened:
            sock.close()


def test_wait_waits_for_a_server_that_comes_up_late(empty_db: str) -> None:
    port = _free_port()
    params = conninfo.conninfo_to_dict(empty_db)
    late_dsn = conninfo.make_conninfo(
        "",
        host="127.0.0.1",
        port=str(port),
        dbname=params["dbname"],
        user=params.get("user") or "postgres",
        password=SECRET,
    )
    early = cli_here("status", "--dsn", late_dsn)
    assert early.returncode == 3
    assert "--wait" in early.stderr
    with late_proxy(empty_db, port, delay_s=2.0):
        started = time.monotonic()
        result = cli_here("migrate", "--dsn", late_dsn, "--wait", "60", "--json")
        waited = time.monotonic() - started
    assert result.returncode == 0, result.stderr
    assert waited >= 1.5
    assert len(json.loads(result.stdout)["applied"]) == len(load_migrations())
    assert_clean(result)


def test_wait_gives_up_after_its_time_with_one_clear_line() -> None:
    dsn = f"postgresql://app:{SECRET}@127.0.0.1:{_free_port()}/sspp"
    started = time.monotonic()
    result = cli_here("migrate", "--dsn", dsn, "--wait", "1.5")
    assert result.returncode == 3
    assert 1.0 <= time.monotonic() - started < 30
    assert "after waiting 1.5s" in result.stderr
    assert_clean(result)


def test_debug_shows_the_traceback() -> None:
    result = run_cli("--debug", "status", "--dsn", "postgresql://x@127.0.0.1:1/y")
    assert result.returncode != 0
    assert "Traceback" in result.stderr
    assert os.environ.get("SSPP_DEBUG") is None
