"""The warm server: survives the process that started it, reused by ``auto``, stopped only on purpose."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from sspp_fixtures.errors import ServerUnavailableError, UsageError
from sspp_fixtures.server import (
    WarmServer,
    _runtime,
    get_server,
    start_warm_server,
    stop_warm_server,
    warm_server_status,
)
from sspp_fixtures.server._local import find_binaries
from sspp_fixtures.server._warm import state_file

REPO = Path(__file__).resolve().parents[2]


def _start_in_another_process(kind: str) -> None:
    script = f"from sspp_fixtures.server import start_warm_server; start_warm_server({kind!r})"
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    subprocess.run([sys.executable, "-c", script], env=env, check=True, timeout=120, capture_output=True)


@pytest.mark.parametrize(
    "kind",
    [
        pytest.param(
            "local",
            marks=[
                pytest.mark.local,
                pytest.mark.skipif(find_binaries() is None, reason="no PostgreSQL server binaries"),
            ],
        ),
        pytest.param("embedded", marks=pytest.mark.embedded),
    ],
)
def test_warm_server_outlives_its_starter_is_reused_and_stops(kind: str, usable, answers_at) -> None:
    assert warm_server_status() is None
    _start_in_another_process(kind)  # that process has exited: the server must still run
    try:
        state = warm_server_status()
        assert state is not None
        assert state.provider == kind
        assert state.pid > 0
        assert Path(state.data_dir).is_dir()
        assert state_file().is_file()
        assert answers_at(state.dsn)

        server = get_server("auto")
        assert isinstance(server, WarmServer)
        assert server.dsn == state.dsn
        assert server.backend == kind
        assert not server.owned
        usable(server.dsn)
        server.stop()  # a consumer's stop leaves it running
        assert answers_at(state.dsn)

        again = get_server("auto")
        assert isinstance(again, WarmServer)
        assert again.dsn == state.dsn
        assert start_warm_server(kind) == state, "starting again returns the running one"
    finally:
        stopped = stop_warm_server()
    assert stopped
    assert warm_server_status() is None
    assert not Path(state.cluster_dir).exists()
    assert not answers_at(state.dsn)
    assert stop_warm_server() is False


def test_state_of_a_killed_warm_server_is_cleaned_up(answers_at) -> None:
    state = start_warm_server("auto")
    try:
        os.kill(state.pid, signal.SIGKILL)
        deadline = time.monotonic() + 5
        while _runtime.pid_alive(state.pid, expect="postgres") and time.monotonic() < deadline:
            time.sleep(0.05)
        assert warm_server_status() is None
        assert not state_file().exists()
        assert not Path(state.cluster_dir).exists()
        with pytest.raises(ServerUnavailableError, match="no warm server"):
            get_server("warm")
    finally:
        stop_warm_server()
    assert not answers_at(state.dsn)


def test_unknown_warm_kind_is_a_usage_error() -> None:
    with pytest.raises(UsageError, match="auto, local, embedded"):
        start_warm_server("docker")
