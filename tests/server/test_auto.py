"""``auto``: the first provider that works, in order dsn, warm, local, embedded, docker."""

from __future__ import annotations

import pytest

from sspp_fixtures.errors import ServerUnavailableError, SsppError
from sspp_fixtures.server import (
    EmbeddedServer,
    LocalServer,
    ProviderStatus,
    get_server,
    probe_providers,
)
from sspp_fixtures.server import _docker as docker
from sspp_fixtures.server import _embedded as embedded
from sspp_fixtures.server._local import find_binaries


@pytest.mark.local
@pytest.mark.skipif(find_binaries() is None, reason="no PostgreSQL server binaries on this machine")
def test_auto_without_dsn_or_warm_server_picks_local(answers_at) -> None:
    with get_server("auto") as server:
        assert isinstance(server, LocalServer)
        assert answers_at(server.dsn)  # the full usability check is in test_local
    assert server.data_dir is not None
    assert not server.data_dir.exists()


@pytest.mark.embedded
@pytest.mark.usefixtures("no_local_binaries")
def test_auto_falls_to_embedded_when_no_local_binaries(answers_at) -> None:
    with get_server("auto") as server:
        assert isinstance(server, EmbeddedServer)
        assert answers_at(server.dsn)  # the full usability check is in test_embedded
    assert server.data_dir is not None
    assert not server.data_dir.exists()


@pytest.mark.usefixtures("no_local_binaries")
def test_auto_with_nothing_lists_every_provider_and_the_remedies(monkeypatch: pytest.MonkeyPatch) -> None:
    def no_wheel() -> None:
        raise ServerUnavailableError("the embedded PostgreSQL package is not importable: No module named x")

    monkeypatch.setattr(embedded, "import_pgserver", no_wheel)
    monkeypatch.setenv("DOCKER_HOST", "tcp://127.0.0.1:9")
    monkeypatch.delenv("DATABASE_URL", raising=False)
    with pytest.raises(ServerUnavailableError) as caught:
        get_server("auto")
    error = caught.value
    tried = dict(error.tried or [])
    assert list(tried) == ["dsn", "warm", "local", "embedded", "docker"]
    assert "no PostgreSQL server binaries" in tried["local"]
    assert "not importable" in tried["embedded"]
    assert "no Docker engine" in tried["docker"]
    message = str(error)
    assert "\n" not in message
    assert "apt-get install postgresql" in message
    assert "--dsn" in message
    assert "sspp-fixtures[docker]" in message
    assert docker.docker_status()[0] is False


def test_auto_with_a_dsn_that_fails_says_so_instead_of_starting_another_server(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("DATABASE_URL", "postgresql://app:hunter2-secret@127.0.0.1:9/app")
    with pytest.raises(SsppError) as caught:
        get_server("auto")
    assert "127.0.0.1:9" in str(caught.value)
    assert "hunter2-secret" not in str(caught.value)
    assert "hunter2-secret" not in repr(caught.value.details)


def test_probe_providers_reports_each_provider_without_starting_anything(monkeypatch) -> None:
    monkeypatch.setenv("DOCKER_HOST", "tcp://127.0.0.1:9")
    statuses = probe_providers()
    assert [status.name for status in statuses] == ["dsn", "warm", "local", "embedded", "docker"]
    assert all(isinstance(status, ProviderStatus) and status.detail for status in statuses)
    by_name = {status.name: status for status in statuses}
    assert not by_name["dsn"].available
    assert not by_name["warm"].available
    assert by_name["embedded"].available
    assert "PostgreSQL" in by_name["embedded"].detail
    assert not by_name["docker"].available
    assert by_name["local"].available == (find_binaries() is not None)
