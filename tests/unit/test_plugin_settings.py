"""The plugin's timeouts: parsed and checked up front, handed to the plugin's sessions as libpq options."""

from __future__ import annotations

import pytest

from sspp_fixtures.errors import UsageError
from sspp_fixtures.pytest_plugin._config import SsppConfig
from sspp_fixtures.pytest_plugin._isolation import connect_options
from sspp_fixtures.pytest_plugin._locks import _watch_interval

DSN = {"sspp_dsn": "postgresql://postgres@127.0.0.1:5432/postgres"}


def test_defaults_are_ten_and_thirty_seconds() -> None:
    config = SsppConfig.from_values(DSN)
    assert config.session_settings() == {"lock_timeout": "10s", "idle_in_transaction_session_timeout": "30s"}
    assert connect_options(config.session_settings()) == (
        "-c synchronous_commit=off -c lock_timeout=10s -c idle_in_transaction_session_timeout=30s"
    )
    assert _watch_interval(config.session_settings()) == 5.0


def test_given_values_and_no_limit() -> None:
    config = SsppConfig.from_values({**DSN, "sspp_lock_timeout": "500ms", "sspp_idle_timeout": "0"})
    assert config.session_settings() == {"lock_timeout": "500ms", "idle_in_transaction_session_timeout": "0"}
    assert _watch_interval(config.session_settings()) == 0.25
    assert _watch_interval({"lock_timeout": "0", "idle_in_transaction_session_timeout": "0"}) is None
    assert _watch_interval({"lock_timeout": "1500", "idle_in_transaction_session_timeout": "2min"}) == 0.75


@pytest.mark.parametrize("value", ["ten seconds", "10 sec", "-1s", "1.5s"])
def test_a_bad_duration_is_a_usage_error(value: str) -> None:
    with pytest.raises(UsageError, match=r"--sspp-lock-timeout / sspp_lock_timeout: .* is not a duration"):
        SsppConfig.from_values({**DSN, "sspp_lock_timeout": value})
