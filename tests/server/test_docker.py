"""The docker provider: skipped cleanly, and quickly, when no Docker engine answers."""

from __future__ import annotations

import time

import pytest

from sspp_fixtures.errors import ServerUnavailableError
from sspp_fixtures.server import DockerServer, get_server
from sspp_fixtures.server._docker import docker_status


def test_status_answers_quickly_with_a_reason() -> None:
    started = time.monotonic()
    available, detail = docker_status()
    assert time.monotonic() - started < 5
    if not available:
        assert detail.startswith("unavailable:")


def test_no_engine_reports_unavailable_without_hanging(monkeypatch: pytest.MonkeyPatch) -> None:
    # A DOCKER_HOST where nothing listens: the ping must fail fast, not hang.
    monkeypatch.setenv("DOCKER_HOST", "tcp://127.0.0.1:9")
    started = time.monotonic()
    available, detail = docker_status(timeout_s=1)
    assert time.monotonic() - started < 5
    assert not available
    assert "unavailable: no Docker engine" in detail
    with pytest.raises(ServerUnavailableError, match="no Docker engine"):
        get_server("docker")


def test_docker_server_is_usable(usable, answers_at) -> None:
    available, detail = docker_status()
    if not available:
        pytest.skip(f"docker provider {detail}")
    server = get_server("docker")
    assert isinstance(server, DockerServer)
    try:
        usable(server.dsn)
        assert server.server_version().startswith("15")
    finally:
        server.stop()
    assert not answers_at(server.dsn)
