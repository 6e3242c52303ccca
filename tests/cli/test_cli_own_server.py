"""The newcomer's path: no DATABASE_URL, `sspp-seed init` starts the tool's own server and leaves it warm."""

from __future__ import annotations

import json
from pathlib import Path

import psycopg
import pytest

from sspp_fixtures.schema import load_migrations
from tests.fix_db import run_cli


@pytest.mark.slow
@pytest.mark.parametrize("provider", ["local", "embedded"])
def test_init_without_dsn_then_server_status_and_stop(tmp_path: Path, provider: str) -> None:
    env = {"DATABASE_URL": "", "SSPP_FIXTURES_CACHE": str(tmp_path / "cache")}
    started = run_cli("server", "start", "--provider", provider, "--json", env=env)
    assert started.returncode == 0, started.stderr
    assert json.loads(started.stdout)["provider"] == provider
    try:
        first = run_cli("init", "--json", env=env)
        assert first.returncode == 0, first.stderr
        report = json.loads(first.stdout)
        assert len(report["applied"]) == len(load_migrations())
        second = run_cli("init", "--json", env=env)
        assert second.returncode == 0, second.stderr
        assert json.loads(second.stdout)["applied"] == []

        status = run_cli("server", "status", "--json", env=env)
        assert status.returncode == 0, status.stderr
        state = json.loads(status.stdout)
        assert state["running"] is True
        dsn = psycopg.conninfo.make_conninfo(state["dsn"].replace(":***@", "@"), dbname="sspp")
        with psycopg.connect(dsn) as conn:
            assert conn.execute("SELECT count(*) FROM sspp_meta.database_marker").fetchone() == (1,)
    finally:
        stopped = run_cli("server", "stop", "--json", env=env)
    assert stopped.returncode == 0, stopped.stderr
    assert json.loads(stopped.stdout) == {"stopped": True}
    after = run_cli("server", "status", env=env)
    assert after.returncode == 3
    assert "no warm server is running" in after.stdout
