"""The local provider: a throwaway cluster from the installed server binaries."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import psycopg
import pytest

from sspp_fixtures.server import LocalServer, _runtime, get_server
from sspp_fixtures.server._local import find_binaries

pytestmark = [
    pytest.mark.local,
    pytest.mark.skipif(find_binaries() is None, reason="no PostgreSQL server binaries on this machine"),
]


def test_local_server_is_usable_tuned_and_stops_clean(usable, answers_at) -> None:
    server = get_server("local")
    assert isinstance(server, LocalServer)
    assert server.owned
    assert server.data_dir is not None
    assert server.data_dir.is_dir()
    assert "127.0.0.1" in server.dsn
    usable(server.dsn)
    with psycopg.connect(server.dsn) as conn:
        settings: dict[str, str] = dict(
            conn.execute(
                "SELECT name, setting FROM pg_settings WHERE name IN "
                "('fsync', 'synchronous_commit', 'full_page_writes', 'wal_level', 'max_connections')"
            ).fetchall()
        )
    assert settings == {
        "fsync": "off",
        "synchronous_commit": "off",
        "full_page_writes": "off",
        "wal_level": "minimal",
        "max_connections": "200",
    }
    assert server.server_version().startswith(find_binaries().version.split(".")[0])  # type: ignore[union-attr]
    if os.geteuid() == 0:
        owner = server.data_dir.stat().st_uid
        assert owner != 0, "the cluster must not run as root"
        assert not str(server.data_dir).startswith("/root")
    server.stop()
    server.stop()  # idempotent
    assert not server.data_dir.exists()
    assert not server.cluster_dir.exists()
    assert not answers_at(server.dsn)


def test_killed_owner_leaves_a_cluster_that_the_next_start_sweeps(answers_at) -> None:
    script = textwrap.dedent(
        """
        import os, sys, time
        from sspp_fixtures.server import get_server
        server = get_server("local")
        print(server.dsn, server.cluster_dir, flush=True)
        time.sleep(60)
        """
    )
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2])}
    proc = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True, env=env)
    try:
        assert proc.stdout is not None
        dsn, cluster_dir = proc.stdout.readline().split()
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait(10)
        if proc.stdout is not None:
            proc.stdout.close()
    assert answers_at(dsn), "a SIGKILLed owner cannot run its exit hook: its server keeps running"
    swept = _runtime.sweep_orphans("local")
    assert Path(cluster_dir) in swept
    assert not Path(cluster_dir).exists()
    deadline = time.monotonic() + 5
    while answers_at(dsn) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not answers_at(dsn)


def test_normal_exit_stops_the_server_and_removes_its_directory(answers_at) -> None:
    script = "from sspp_fixtures.server import get_server; s = get_server('local'); print(s.dsn, s.cluster_dir)"
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2])}
    out = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, env=env, check=True, timeout=60
    ).stdout
    dsn, cluster_dir = out.split()
    assert not Path(cluster_dir).exists()
    assert not answers_at(dsn)
