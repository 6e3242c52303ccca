"""The dsn provider, kinds, and password masking."""

from __future__ import annotations

import pytest

from sspp_fixtures.errors import ServerUnavailableError, UsageError
from sspp_fixtures.server import KINDS, DsnServer, _runtime, get_server


def test_explicit_dsn_is_used_and_never_stopped(shared_dsn: str, usable) -> None:
    server = get_server("dsn", dsn=shared_dsn)
    assert isinstance(server, DsnServer)
    assert server.dsn == shared_dsn
    assert not server.owned
    usable(server.dsn)
    server.stop()
    assert server.server_version()  # still answers: a user's server is not ours to stop


def test_auto_with_database_url_picks_dsn(shared_dsn: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DATABASE_URL", shared_dsn)
    server = get_server("auto")
    assert isinstance(server, DsnServer)
    assert server.dsn == shared_dsn
    assert server.server_version().startswith("15")


def test_unknown_kind_lists_the_valid_ones() -> None:
    with pytest.raises(UsageError) as caught:
        get_server("podman")
    for kind in KINDS:
        assert kind in str(caught.value)


def test_unreachable_dsn_never_shows_its_password() -> None:
    port = _runtime.free_port()
    secret = "s3cr3t-Pa55"
    with pytest.raises(ServerUnavailableError) as caught:
        get_server("dsn", dsn=f"postgresql://app:{secret}@127.0.0.1:{port}/appdb")
    text = f"{caught.value} {caught.value.details} {caught.value!r}"
    assert secret not in text
    assert str(port) in str(caught.value)


def test_dsn_kind_without_any_dsn_says_what_to_do() -> None:
    with pytest.raises(ServerUnavailableError, match="DATABASE_URL"):
        get_server("dsn")
