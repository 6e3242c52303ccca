"""DSNs, hostile: malformed, unreachable, wrong password, missing database, through the real CLI.

Each one ends in a fixed exit code (2 malformed, 3 unreachable) with one masked line that says what to do,
within a bounded time, and never shows the password.
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sspp_fixtures.dsn import connect, database_name, mask_text
from sspp_fixtures.errors import DatabaseUnreachableError, UsageError
from sspp_fixtures.server import Server
from sspp_fixtures.server._local import LocalServer, find_binaries, start_local
from tests.hardening._cli import PASSWORD, assert_refused, sspp_seed
from tests.hardening._here import sspp_seed_here

MALFORMED = {
    "port-not-a-number": f"postgresql://user:{PASSWORD}@host:notaport/db",
    "port-out-of-range": f"postgresql://user:{PASSWORD}@127.0.0.1:99999/db",
    "not-a-dsn": "not a dsn",
    "mysql": f"mysql://user:{PASSWORD}@db.example:3306/app",
    "upper-case-scheme": f"POSTGRESQL://user:{PASSWORD}@127.0.0.1/db",
    "unknown-query-param": f"postgresql://user:{PASSWORD}@127.0.0.1/db?sslmod=require",
    "unknown-keyword": f"host=127.0.0.1 password={PASSWORD} dbnam=x",
    "unterminated-quote": f"host=127.0.0.1 password={PASSWORD} dbname='open",
    "bad-percent-escape": f"postgresql://user:{PASSWORD}@%zz/db",
    "unclosed-ipv6": f"postgresql://user:{PASSWORD}@[::1/db",
    "bad-connect-timeout": f"postgresql://user:{PASSWORD}@127.0.0.1/db?connect_timeout=soon",
    "space-in-password": f"postgresql://user:{PASSWORD} x@127.0.0.1/db",
}
FRAGMENTS = {
    "port-not-a-number": "the port is not a number from 1 to 65535",
    "port-out-of-range": "the port is not a number from 1 to 65535",
    "not-a-dsn": "neither a postgresql:// URL nor key=value pairs",
    "mysql": "mysql:// is not a PostgreSQL URL",
    "upper-case-scheme": "must be written in lower case",
    "unknown-query-param": 'invalid URI query parameter: "sslmod"',
    "unknown-keyword": 'invalid connection option "dbnam"',
    "unterminated-quote": "unterminated quoted string",
    "bad-percent-escape": "invalid percent-encoded token",
    "unclosed-ipv6": "IPv6 host address",
    "bad-connect-timeout": "connect_timeout 'soon' is not a number of seconds",
    "space-in-password": 'unexpected spaces found in "***"',
}


# Every case through `status`; a few through `load` too.
COMMANDS = [(case, ["status"]) for case in sorted(MALFORMED)] + [
    (case, ["load", "smoke"]) for case in ("port-not-a-number", "mysql", "unknown-query-param", "unterminated-quote")
]


@pytest.mark.parametrize(("case", "command"), COMMANDS, ids=[f"{c}-{cmd[0]}" for c, cmd in COMMANDS])
def test_malformed_dsn_exits_2_with_one_masked_line(case: str, command: list[str]) -> None:
    outcome = sspp_seed_here(*command, "--dsn", MALFORMED[case])
    line = assert_refused(outcome, 2, "malformed DSN", FRAGMENTS[case])
    assert outcome.seconds < 15
    assert "Write it as" in line or "Write a postgresql://" in line or "Begin it with" in line or "E.g." in line


def test_malformed_dsn_from_the_environment_too() -> None:
    outcome = sspp_seed_here("status", env={"DATABASE_URL": MALFORMED["port-not-a-number"]})
    assert_refused(outcome, 2, "malformed DSN 'postgresql://user:***@host:notaport/db'")


@settings(max_examples=300, deadline=None, derandomize=True, database=None)
@given(
    st.one_of(
        st.text(max_size=40),
        st.text(alphabet="postgresql:/@?&=[]%:,. 'hx0123456789", max_size=40),
        st.builds(lambda tail: f"postgresql://u:{PASSWORD}@{tail}", st.text(max_size=30)),
        st.builds(lambda tail: f"host=h password={PASSWORD} {tail}", st.text(max_size=30)),
    )
)
def test_any_text_parses_or_is_a_usage_error_without_the_password(dsn: str) -> None:
    """The library's side of the CLI: parsing never raises anything but UsageError, and never leaks."""
    try:
        database_name(dsn)
    except UsageError as error:
        message = mask_text(str(error))
        assert "\n" not in message
        assert PASSWORD not in message


# ---------------------------------------------------------------------------------------------------------------
# Unreachable: a closed port, an address that goes nowhere, a server that accepts but never answers.
# ---------------------------------------------------------------------------------------------------------------


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def silent_server() -> Iterator[int]:
    """A port that accepts TCP connections and then says nothing: a hung server, or a firewall that eats
    the replies. Only a connect timeout gets a client out of it."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(16)
    accepted: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        listener.settimeout(0.2)
        while not stop.is_set():
            try:
                accepted.append(listener.accept()[0])
            except OSError:
                continue

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    yield int(listener.getsockname()[1])
    stop.set()
    thread.join(5)
    for conn in accepted:
        conn.close()
    listener.close()


@pytest.mark.parametrize(
    "dsn",
    [f"postgresql://sspp_no_such_role:{PASSWORD}@:5432/sspp", f"host='' user=sspp_no_such_role password={PASSWORD}"],
    ids=["url", "key-value"],
)
def test_missing_host_means_the_local_socket_and_exits_3(dsn: str) -> None:
    """libpq reads an empty host as "the default Unix socket": whether a server listens there or not, the
    answer is exit 3 with one masked line."""
    outcome = sspp_seed_here("status", "--dsn", dsn)
    assert_refused(outcome, 3, "cannot connect to ")
    assert outcome.seconds < 15


@pytest.mark.parametrize("command", [["status"], ["load", "smoke"]], ids=["status", "load"])
def test_closed_port_exits_3_at_once(command: list[str]) -> None:
    outcome = sspp_seed_here(*command, "--dsn", f"postgresql://app:{PASSWORD}@127.0.0.1:{_closed_port()}/sspp")
    assert_refused(outcome, 3, "cannot connect to postgresql://app:***@127.0.0.1:", "--wait SECONDS")
    assert outcome.seconds < 15


def test_non_routable_address_is_bounded_by_the_dsn_connect_timeout() -> None:
    dsn = f"postgresql://app:{PASSWORD}@10.255.255.1:5432/sspp?connect_timeout=3"
    outcome = sspp_seed("status", "--dsn", dsn, timeout=30)
    assert_refused(outcome, 3, "cannot connect to postgresql://app:***@10.255.255.1:5432/sspp")
    assert outcome.seconds < 15


def test_a_silent_server_times_out_as_the_dsn_asks(silent_server: int) -> None:
    dsn = f"postgresql://app:{PASSWORD}@127.0.0.1:{silent_server}/sspp?connect_timeout=2"
    outcome = sspp_seed("status", "--dsn", dsn, timeout=30)
    assert_refused(outcome, 3, "connection timeout expired", "connect_timeout=SECONDS")
    assert 1.5 < outcome.seconds < 10


def test_a_silent_server_times_out_as_pgconnect_timeout_asks(silent_server: int) -> None:
    dsn = f"host=127.0.0.1 port={silent_server} user=app password={PASSWORD} dbname=sspp"
    outcome = sspp_seed("load", "smoke", "--dsn", dsn, env={"PGCONNECT_TIMEOUT": "2"}, timeout=30)
    assert_refused(outcome, 3, "connection timeout expired")
    assert 1.5 < outcome.seconds < 12


@pytest.mark.slow
def test_a_silent_server_times_out_by_default_within_15_seconds(silent_server: int) -> None:
    outcome = sspp_seed("status", "--dsn", f"postgresql://app:{PASSWORD}@127.0.0.1:{silent_server}/sspp", timeout=60)
    assert_refused(outcome, 3, "connection timeout expired")
    assert outcome.seconds < 15


@pytest.mark.parametrize(
    ("dsn_timeout", "caller_cap"), [("2", 60), ("30", 2), ("0", 2)], ids=["dsn-wins", "cap-wins", "dsn-forever"]
)
def test_library_connect_takes_the_shorter_of_the_dsn_timeout_and_the_callers_cap(
    silent_server: int, dsn_timeout: str, caller_cap: int
) -> None:
    dsn = f"postgresql://app:{PASSWORD}@127.0.0.1:{silent_server}/sspp?connect_timeout={dsn_timeout}"
    started = time.monotonic()
    with pytest.raises(DatabaseUnreachableError, match="connection timeout expired") as caught:
        connect(dsn, connect_timeout_s=caller_cap)
    assert time.monotonic() - started < 6
    assert PASSWORD not in str(caught.value)


# ---------------------------------------------------------------------------------------------------------------
# The server answers, but says no: missing database (shared server), wrong or missing password (own cluster).
# ---------------------------------------------------------------------------------------------------------------


def _with_password(dsn: str, user: str | None = None) -> str:
    return psycopg.conninfo.make_conninfo(dsn, password=PASSWORD, **({"user": user} if user else {}))


@pytest.mark.parametrize(
    ("command", "how"),
    [(["status"], "sspp-seed init --create --dsn"), (["load", "smoke"], "run the same sspp-seed load with --create")],
    ids=["status", "load"],
)
def test_missing_database_exits_3_and_says_how_to_create_it(pg_server: Server, command: list[str], how: str) -> None:
    dsn = _with_password(pg_server.dsn_for("sspp_test_hardening_no_such_db"))
    outcome = sspp_seed_here(*command, "--dsn", dsn)
    missing = 'database "sspp_test_hardening_no_such_db" does not exist'
    assert_refused(outcome, 3, missing, how, "or check the database name in the DSN")
    assert outcome.seconds < 15


@pytest.fixture(scope="module")
def password_server() -> Iterator[LocalServer]:
    """A throw-away local cluster where role ``hardening`` must give its password (scram-sha-256) over TCP.

    The shared server trusts everyone, so a wrong password cannot be refused there; its configuration is
    left alone. This cluster's pg_hba.conf gets one rule ahead of the trusting ones, then a reload."""
    if find_binaries() is None:
        pytest.skip("no PostgreSQL server binaries on this machine")
    server = start_local()
    try:
        with psycopg.connect(server.dsn, autocommit=True) as conn:
            conn.execute("SET password_encryption = 'scram-sha-256'")
            conn.execute("CREATE ROLE hardening LOGIN PASSWORD 'the-right-one'")
            assert server.data_dir is not None
            hba = Path(server.data_dir) / "pg_hba.conf"
            hba.write_text("host all hardening 127.0.0.1/32 scram-sha-256\n" + hba.read_text())
            conn.execute("SELECT pg_reload_conf()")
        yield server
    finally:
        server.stop()


def _as_hardening(server: LocalServer, password: str | None) -> str:
    dsn = f"postgresql://hardening@127.0.0.1:{server.port}/postgres"
    return psycopg.conninfo.make_conninfo(dsn, password=password) if password is not None else dsn


@pytest.mark.local
def test_the_password_server_really_checks_passwords(password_server: LocalServer) -> None:
    with psycopg.connect(_as_hardening(password_server, "the-right-one")) as conn:
        assert conn.execute("SELECT current_user").fetchone() == ("hardening",)
    with pytest.raises(psycopg.OperationalError, match="password authentication failed"):
        psycopg.connect(_as_hardening(password_server, PASSWORD)).close()


@pytest.mark.local
@pytest.mark.parametrize("command", [["status"], ["load", "smoke"]], ids=["status", "load"])
def test_wrong_password_exits_3_masked(password_server: LocalServer, command: list[str]) -> None:
    outcome = sspp_seed_here(*command, "--dsn", _as_hardening(password_server, PASSWORD))
    assert_refused(
        outcome,
        3,
        'password authentication failed for user "hardening"',
        "Check the user name and password in the DSN",
    )
    assert outcome.seconds < 15


@pytest.mark.local
def test_wrong_password_in_key_value_form_and_in_the_environment(password_server: LocalServer) -> None:
    dsn = f"host=127.0.0.1 port={password_server.port} user=hardening password='{PASSWORD}' dbname=postgres"
    outcome = sspp_seed_here("status", env={"DATABASE_URL": dsn})
    line = assert_refused(outcome, 3, "password authentication failed", "password=***")
    assert "hardening" in line


@pytest.mark.local
def test_missing_password_exits_3(password_server: LocalServer) -> None:
    outcome = sspp_seed_here("status", "--dsn", _as_hardening(password_server, None), env={"PGPASSWORD": ""})
    assert_refused(outcome, 3, "no password supplied", "Check the user name and password in the DSN")
