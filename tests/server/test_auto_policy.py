"""``auto``'s one policy: which running server it takes first, the same for ``get_server``, the plugin and the CLI."""

from __future__ import annotations

import pytest
from psycopg.conninfo import conninfo_to_dict

from sspp_fixtures.server import DsnServer, Running, find_running, get_server, start_warm_server, stop_warm_server

ELSEWHERE = "postgresql://app@127.0.0.1:9/app"


def _pg_variables(monkeypatch: pytest.MonkeyPatch, dsn: str) -> dict[str, str]:
    params = {key: str(value) for key, value in conninfo_to_dict(dsn).items()}
    for key, name in (("host", "PGHOST"), ("port", "PGPORT"), ("user", "PGUSER"), ("dbname", "PGDATABASE")):
        if key in params:
            monkeypatch.setenv(name, params[key])
    return params


def test_a_given_dsn_comes_before_database_url_and_database_url_before_pg_variables(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    assert find_running() is None
    monkeypatch.setenv("PGHOST", "db.example")
    found = find_running()
    assert found is not None
    assert (conninfo_to_dict(found.dsn)["host"], found.source, found.warm) == ("db.example", "PGHOST", None)
    monkeypatch.setenv("DATABASE_URL", ELSEWHERE)
    assert find_running() == Running(ELSEWHERE, "$DATABASE_URL")
    assert find_running("postgresql://me@h/db") == Running("postgresql://me@h/db", "--dsn")


def test_auto_takes_the_server_the_pg_variables_name(shared_dsn: str, monkeypatch: pytest.MonkeyPatch) -> None:
    params = _pg_variables(monkeypatch, shared_dsn)
    server = get_server("auto")
    assert isinstance(server, DsnServer)
    assert conninfo_to_dict(server.dsn)["port"] == params["port"]
    assert server.server_version().startswith("15")


@pytest.mark.local
@pytest.mark.slow
def test_pg_variables_come_before_the_warm_server(shared_dsn: str, monkeypatch: pytest.MonkeyPatch) -> None:
    start_warm_server()
    try:
        running = find_running()
        assert running is not None
        assert running.warm is not None
        _pg_variables(monkeypatch, shared_dsn)
        running = find_running()
        assert running is not None
        assert running.warm is None
        assert running.source.startswith("PGHOST")
    finally:
        stop_warm_server()
