"""A server that freezes, fills up or is locked during a load: the load ends, and says what happened and what to do.

These run against a server the test owns (local binaries), never the shared one: its backend is stopped with
SIGSTOP, its disk is a small tmpfs, its tables are locked by a second connection.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import tempfile
import time
import zlib
from collections.abc import Callable, Iterator
from pathlib import Path

import psycopg
import pytest

from sspp_fixtures.databases import create_database
from sspp_fixtures.server._local import LocalServer, find_binaries, start_local
from tests.hardening._cli import assert_refused, sspp_seed
from tests.hardening._here import sspp_seed_here
from tests.hardening._procs import spawn_cli, wait_until

pytestmark = [
    pytest.mark.slow,
    pytest.mark.local,
    pytest.mark.skipif(find_binaries() is None, reason="no PostgreSQL server binaries"),
]


@pytest.fixture(scope="module")
def own_server() -> Iterator[LocalServer]:
    server = start_local()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def own_db(own_server: LocalServer, request: pytest.FixtureRequest) -> str:
    readable = request.node.originalname[:30].lower()
    name = f"harden_process_{readable}_{zlib.crc32(request.node.name.encode()):08x}_{os.getpid()}"
    create_database(own_server.dsn, name)
    return own_server.dsn_for(name)


def _copy_backend(dsn: str) -> int | None:
    with psycopg.connect(dsn, autocommit=True) as conn:
        row = conn.execute(
            "SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND query LIKE 'COPY %%' "
            "AND state = 'active'"
        ).fetchone()
    return int(row[0]) if row else None


def _counts(dsn: str) -> tuple[int, ...]:
    with psycopg.connect(dsn) as conn:
        row = conn.execute(
            "SELECT (SELECT count(*) FROM customers), (SELECT count(*) FROM events), (SELECT count(*) FROM signals)"
        ).fetchone()
    assert row is not None
    return tuple(int(v) for v in row)


def _copying_backend(dsn: str) -> list[int]:
    """The backend copying into ``dsn`` now (polled: between two COPYs there is none for a moment)."""
    found: list[int] = []
    assert wait_until(lambda: found.append(_copy_backend(dsn) or 0) or found[-1] > 0, timeout_s=60, step_s=0.02)
    return found[-1:]


def _end_of_frozen_load(load: subprocess.Popen[str], processes: Callable[[], list[int]], dsn: str) -> tuple[str, float]:
    """Once ``load`` is copying into ``dsn``, freeze the server ``processes`` (SIGSTOP), wait for the load to end,
    thaw them; return its one stderr line and how long it took to end after the freeze."""
    stopped: list[int] = []
    try:
        assert wait_until(lambda: _copy_backend(dsn) is not None, timeout_s=60, step_s=0.02)
        stopped = [pid for pid in processes() if pid > 0]
        for pid in stopped:
            os.kill(pid, signal.SIGSTOP)
        frozen_at = time.monotonic()
        _out, stderr = load.communicate(timeout=90)
        waited = time.monotonic() - frozen_at
    finally:
        for pid in stopped:
            os.kill(pid, signal.SIGCONT)
        load.kill()
        load.communicate()
    assert load.returncode == 6, stderr
    lines = stderr.splitlines()
    assert len(lines) == 1, stderr
    return lines[0], waited


def test_a_server_frozen_mid_copy_ends_the_load_within_its_timeout(own_db: str) -> None:
    dsn = f"{own_db}?tcp_user_timeout=3000"  # the user's own bound; the default is 60 s
    # load-1m: far more COPY data than the socket buffers hold (32 MB here), so the load is most often still sending
    # when the backend stops, and TCP's bound ends it; when the freeze finds one COPY wholly in the buffers, waiting
    # for its reply, the stall watch ends it instead (tested on its own below).
    stall_bound = ("--stall-timeout", "10")
    load = spawn_cli("load", "load-1m", "--workers", "1", *stall_bound, "--dsn", dsn, env={"DATABASE_URL": ""})
    line, waited = _end_of_frozen_load(load, lambda: _copying_backend(own_db), own_db)
    assert line.startswith("error: the server at postgresql://postgres@127.0.0.1:"), line
    assert (
        "stopped answering: it acknowledged nothing for 3s during the load" in line
        or "stopped working on the load: nothing moved for 10s in the load's copy phase" in line
    ), line
    assert "nothing was loaded" in line
    assert "Check that server" in line
    assert waited < 40, f"gave up after {waited:.0f}s"
    assert wait_until(lambda: _copy_backend(own_db) is None, timeout_s=30)
    assert _counts(own_db) == (0, 0, 0)


def test_a_lock_timeout_names_the_session_that_holds_the_lock(own_db: str) -> None:
    assert sspp_seed_here("load", "smoke", "--dsn", own_db).code == 0
    before = _counts(own_db)
    with psycopg.connect(own_db, application_name="harden-process-blocker") as blocker:
        blocker.execute("SELECT count(*) FROM events").fetchone()  # ACCESS SHARE on events until the rollback
        blocker_pid = blocker.info.backend_pid
        outcome = sspp_seed_here("load", "smoke", "--dsn", f"{own_db}?options=-c%20lock_timeout%3D1s")
        blocker.rollback()
    line = assert_refused(
        outcome,
        6,
        "the load waited 1s for its tables, which another session kept locked: ",
        f"pid {blocker_pid} (user postgres, application harden-process-blocker, idle in transaction: "
        "'SELECT count(*) FROM events') holds events",
        "nothing was loaded",
        "End that session or ask its owner to (SELECT pg_terminate_backend(PID) ends one)",
    )
    assert "lost the connection" not in line
    assert _counts(own_db) == before


@pytest.fixture
def small_tablespace(own_server: LocalServer) -> Iterator[str]:
    """A tablespace on a 24 MB tmpfs (a new database's catalogs take about 8 MB of it)."""
    folder = Path(tempfile.mkdtemp(prefix="sspp-harden-process-ts-", dir="/var/tmp"))
    owner = (own_server.run_as.uid, own_server.run_as.gid) if own_server.run_as else (os.getuid(), os.getgid())
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size=24m,mode=0700,uid={owner[0]},gid={owner[1]}", "tmpfs", str(folder)],
        capture_output=True,
        text=True,
        check=False,
    )
    if mounted.returncode != 0:
        folder.rmdir()
        pytest.skip(f"cannot mount a tmpfs here: {mounted.stderr.strip()}")
    name = f"harden_process_small_{os.getpid()}"
    try:
        with psycopg.connect(own_server.dsn, autocommit=True) as admin:
            admin.execute(f"CREATE TABLESPACE {name} LOCATION '{folder}'")
        yield name
    finally:
        with psycopg.connect(own_server.dsn, autocommit=True) as admin:
            for (database,) in admin.execute(
                "SELECT datname FROM pg_database d JOIN pg_tablespace t ON t.oid = d.dattablespace "
                "WHERE t.spcname = %s",
                (name,),
            ).fetchall():
                admin.execute(f'DROP DATABASE "{database}" WITH (FORCE)')
            admin.execute(f"DROP TABLESPACE IF EXISTS {name}")
        subprocess.run(["umount", str(folder)], capture_output=True, check=False)
        folder.rmdir()


def test_a_full_disk_is_reported_as_such(own_server: LocalServer, small_tablespace: str) -> None:
    name = f"harden_process_full_{os.getpid()}"
    with psycopg.connect(own_server.dsn, autocommit=True) as admin:
        admin.execute(f"CREATE DATABASE {name} TABLESPACE {small_tablespace}")
    dsn = own_server.dsn_for(name)
    outcome = sspp_seed("load", "load-100k", "--workers", "0", "--dsn", dsn, timeout=300)
    line = assert_refused(
        outcome,
        6,
        f"the server at {dsn} ran out of disk space during the load (",
        "No space left on device; the transaction was rolled back and nothing was loaded",
        "Free space on the server's disk (or its tablespace), or load a smaller scenario (--scale)",
    )
    assert "lost the connection" not in line
    assert _counts(dsn) == (0, 0, 0)


def test_the_load_connection_has_keepalives_and_a_send_timeout_unless_the_dsn_sets_its_own(own_db: str) -> None:
    from sspp_fixtures._load_common import connect_for_load, tcp_bound_s

    def options(dsn: str) -> tuple[int, int, int, float | None]:
        with connect_for_load(dsn) as conn, socket.socket(fileno=os.dup(conn.pgconn.socket)) as sock:
            return (
                sock.getsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE),
                sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_KEEPIDLE),
                sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_USER_TIMEOUT),
                tcp_bound_s(conn),  # what a failed COPY's wait is compared with
            )

    assert options(own_db) == (1, 30, 60_000, 60.0)
    assert options(f"{own_db}?tcp_user_timeout=2500&keepalives_idle=7") == (1, 7, 2500, 2.5)


def _load_backend(dsn: str) -> int:
    """The pid of the load's own connection (not the stall watch's, not ours)."""
    with psycopg.connect(dsn, autocommit=True) as conn:
        row = conn.execute(
            "SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid() "
            "AND application_name = 'sspp-fixtures' AND xact_start IS NOT NULL"
        ).fetchone()
    assert row is not None, "the load's backend is not in pg_stat_activity"
    return int(row[0])


def _server_processes(server: LocalServer) -> list[int]:
    postmaster = int((server.data_dir / "postmaster.pid").read_text().split()[0])
    children = subprocess.run(["pgrep", "-P", str(postmaster)], capture_output=True, text=True, check=False)
    return [postmaster, *(int(pid) for pid in children.stdout.split())]


# Where the TCP bounds cannot help: all the load's data already sits in the socket buffers (smoke is small), and
# the load waits for a reply the frozen backend never sends while its kernel keeps acknowledging.
@pytest.mark.parametrize("freeze_at", ["phase:indexes", "index:idx_signals_data", "phase:analyze", "phase:commit"])
def test_a_backend_frozen_after_the_rows_are_sent_ends_the_load_within_the_stall_timeout(
    own_db: str, freeze_at: str
) -> None:
    from sspp_fixtures.errors import LoadError
    from sspp_fixtures.loader import load_scenario_into
    from sspp_fixtures.scenarios import load_scenario

    frozen: list[tuple[int, float]] = []

    def progress(what: str, _rows: int) -> None:
        if what == freeze_at and not frozen:
            backend = _load_backend(own_db)
            os.kill(backend, signal.SIGSTOP)
            frozen.append((backend, time.monotonic()))

    try:
        with pytest.raises(LoadError) as caught:
            load_scenario_into(own_db, load_scenario("smoke"), workers=0, progress=progress, stall_timeout_s=3)
        assert frozen, f"the load ended before {freeze_at}: {caught.value}"
        waited = time.monotonic() - frozen[0][1]
    finally:
        for backend, _at in frozen:
            os.kill(backend, signal.SIGCONT)
    message = str(caught.value)
    phase = freeze_at.removeprefix("phase:") if freeze_at.startswith("phase:") else "indexes"
    assert message.startswith(
        f"the server at {own_db} stopped working on the load: nothing moved for 3s in the load's {phase} phase ("
    ), message
    assert f"; its backend (pid {frozen[0][0]}) was last seen " in message
    assert "; the load stopped and nothing was loaded" in message
    assert "--stall-timeout SECONDS sets how long to wait" in (caught.value.hint or "")
    assert waited < 15, f"gave up after {waited:.0f}s"
    # the server ends the frozen backend once it runs again (the watch asked it to), and nothing landed
    assert wait_until(lambda: _copy_backend(own_db) is None, timeout_s=30)
    assert _counts(own_db) == (0, 0, 0)


def test_a_whole_server_frozen_during_a_load_ends_it_and_the_cli_says_so(own_server: LocalServer, own_db: str) -> None:
    """Every process of the server stopped (a paused machine): the watch's own look hangs too, and still the load
    ends within its bound, with exit 6 and one line."""
    load = spawn_cli("load", "load-100k", "--workers", "1", "--stall-timeout", "4", "--dsn", own_db, env={})
    line, waited = _end_of_frozen_load(load, lambda: _server_processes(own_server), own_db)
    assert line.startswith(f"error: the server at {own_db} stopped "), line
    assert "nothing was loaded" in line
    assert waited < 30, f"gave up after {waited:.0f}s"
    assert wait_until(lambda: _copy_backend(own_db) is None, timeout_s=30)
    assert _counts(own_db) == (0, 0, 0)


def test_the_stall_timeout_must_be_positive(own_db: str) -> None:
    outcome = sspp_seed("load", "smoke", "--stall-timeout", "0", "--dsn", own_db)
    assert outcome.code == 2, outcome
    assert "--stall-timeout" in outcome.stderr
