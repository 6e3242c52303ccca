"""No part of a password reaches the output, however the DSN writes it, through every command that takes one.

Passwords are written the ways libpq accepts and the ways users get wrong: a backslash-escaped space in
key=value form, a quoted value with an escaped quote, an unencoded ``@`` (or ``@`` and ``:``) in a URL, a
percent-encoded one, a ``password=`` query parameter. Each is made of two distinctive halves, and neither half
may appear on stdout or stderr, plain, with ``--json`` or with ``--debug``. A password that is an ordinary word
leaves the message's words alone. A randomized test draws passwords of any characters.
"""

from __future__ import annotations

import contextlib
import io
import re
import string
from pathlib import Path
from urllib.parse import quote

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sspp_fixtures.cli import run
from sspp_fixtures.dsn import mask_dsn, mask_text
from tests.hardening._cli import Outcome

LEFT, RIGHT = "Qzleft7", "Qzright9"
CLOSED = "127.0.0.1:1"  # nothing listens on port 1: every command fails fast at connecting

DSNS = {
    "kv-escaped-space": rf"host=127.0.0.1 port=1 user=u password={LEFT}\ {RIGHT} dbname=x",
    "kv-quoted-escaped-quote": rf"host=127.0.0.1 port=1 password='{LEFT}\' {RIGHT}' dbname=x",
    "kv-escaped-backslash": rf"host=127.0.0.1 port=1 password={LEFT}\\{RIGHT} dbname=x",
    "url-unencoded-at": f"postgresql://u:{LEFT}@{RIGHT}@{CLOSED}/db",
    "url-unencoded-at-and-colon": f"postgresql://u:{LEFT}@{RIGHT}:5@{CLOSED}/db",
    "url-unencoded-slash": f"postgresql://u:{LEFT}/{RIGHT}@{CLOSED}/db",
    "url-percent-encoded": f"postgresql://u:{LEFT}%40{RIGHT}@{CLOSED}/db",
    "url-query": f"postgresql://{CLOSED}/db?user=u&password={LEFT}%20{RIGHT}",
    "url-space": f"postgresql://u:{LEFT} {RIGHT}@{CLOSED}/db",
}

#: Every command that takes a DSN, with what else it needs (restore: a real backup file, filled in below).
COMMANDS: dict[str, list[str]] = {
    "status": ["status"],
    "migrate": ["migrate"],
    "migrate-dry-run": ["migrate", "--dry-run"],
    "init": ["init"],
    "reset": ["reset"],
    "load": ["load", "smoke"],
    "demo": ["demo"],
    "backup": ["backup", "--out", "{tmp}/x.dump"],
    "restore": ["restore", "{backup}"],
    "doctor": ["doctor", "--timeout", "2"],
    "report": ["report", "--out", "{tmp}/report.html"],
}
MODES = {"plain": [], "json": ["--json"], "debug": ["--debug"]}


def _run(*args: str) -> Outcome:
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = run(list(args))
    return Outcome(code, out.getvalue(), err.getvalue(), 0.0)


def _leaks(outcome: Outcome, *pieces: str) -> list[str]:
    return [piece for piece in pieces if piece in outcome.output]


@pytest.fixture(autouse=True)
def _no_database_url(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("DATABASE_URL", raising=False)
    monkeypatch.delenv("SSPP_DEBUG", raising=False)


def _args(command: str, mode: str, tmp_path: Path, backup_file: Path) -> list[str]:
    args = [a.format(tmp=tmp_path, backup=backup_file) for a in COMMANDS[command]]
    if mode == "debug":
        return ["--debug", *args]
    return [*args, "--json"] if mode == "json" and command != "demo" else args  # demo has no --json


@pytest.mark.parametrize("command", sorted(COMMANDS))
def test_no_part_of_the_password_is_printed(tmp_path: Path, backup_file: Path, command: str) -> None:
    """Every DSN through the command, each DSN in each of the three modes somewhere across the commands, and
    every mode through the command (9 runs a command instead of 27: a run costs about 50 ms)."""
    modes = sorted(MODES)
    offset = sorted(COMMANDS).index(command)
    for index, case in enumerate(sorted(DSNS)):
        mode = modes[(index + offset) % len(modes)]
        outcome = _run(*_args(command, mode, tmp_path, backup_file), "--dsn", DSNS[case])
        assert outcome.code in (1, 2, 3), (case, mode, outcome.output)
        assert not _leaks(outcome, LEFT, RIGHT), (case, mode, outcome.output)
        if mode == "debug" and command != "doctor":  # the doctor reports, it does not raise
            assert "Traceback" in outcome.stderr, (case, outcome.output)
        elif mode != "debug":
            assert "Traceback" not in outcome.output, (case, mode, outcome.output)


@pytest.mark.parametrize("case", ["kv-escaped-space", "url-unencoded-at", "url-query"])
def test_from_the_environment_too(monkeypatch: pytest.MonkeyPatch, case: str) -> None:
    monkeypatch.setenv("DATABASE_URL", DSNS[case])
    for args in (["status"], ["status", "--json"], ["--debug", "status"], ["doctor", "--timeout", "2", "--json"]):
        outcome = _run(*args)
        assert not _leaks(outcome, LEFT, RIGHT), outcome.output


def test_an_unencoded_at_in_a_url_is_named_as_the_problem() -> None:
    outcome = _run("status", "--dsn", DSNS["url-unencoded-at"])
    assert outcome.code == 2
    assert "credentials hold an unencoded '@'" in outcome.stderr
    assert "as %40" in outcome.stderr


@pytest.mark.parametrize("password", ["on", "host", "running", "server", "a"])
def test_a_password_that_is_a_word_leaves_the_message_readable(password: str) -> None:
    outcome = _run("status", "--dsn", f"postgresql://u:{password}@{CLOSED}/db")
    assert outcome.code == 3
    assert "Is the server running on that host and accepting TCP/IP connections?" in outcome.stderr
    assert "postgresql://u:***@127.0.0.1:1/db" in outcome.stderr


def test_a_password_equal_to_the_user_name_hides_the_user_too() -> None:
    outcome = _run("status", "--dsn", f"postgresql://admin:admin@{CLOSED}/db")
    assert "postgresql://***:***@127.0.0.1:1/db" in outcome.stderr
    assert "admin" not in outcome.output


def test_what_libpq_quotes_back_is_hidden() -> None:
    """libpq echoes hosts and values in quotes: a quoted piece holding part of the password is hidden whole."""
    text = f"could not translate host name \"{RIGHT}@127.0.0.1\" to address; failed to resolve host '{RIGHT}'"
    masked = mask_text(text, DSNS["url-unencoded-at"])
    assert not re.search(f"{LEFT}|{RIGHT}", masked), masked
    assert masked.startswith('could not translate host name "***" to address')


# ---------------------------------------------------------------------------------------------------------------
# Randomized: any password, written in any of the forms, never shows.
# ---------------------------------------------------------------------------------------------------------------

TOKENS = st.text(alphabet=string.ascii_uppercase + string.digits, min_size=6, max_size=10).map(lambda t: "Qz" + t)
SEPARATORS = st.text(alphabet=" @:/?#&=,;'\"\\%+$!*()[]{}<>|~`^\t€é", min_size=1, max_size=4)


def _forms(password: str) -> list[str]:
    unquoted = re.sub(r"([\\\s'])", r"\\\1", password)
    quoted = "'" + password.replace("\\", "\\\\").replace("'", "\\'") + "'"
    return [
        f"postgresql://u:{password}@{CLOSED}/db",
        f"postgresql://u:{quote(password, safe='')}@{CLOSED}/db",
        f"postgresql://{CLOSED}/db?user=u&password={quote(password, safe='')}",
        f"host=127.0.0.1 port=1 user=u password={unquoted} dbname=x",
        f"host=127.0.0.1 port=1 user=u password={quoted} dbname=x",
        f"password={quoted} host=127.0.0.1 port=1",
    ]


@settings(max_examples=60, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow])
@given(left=TOKENS, separator=SEPARATORS, right=TOKENS, form=st.integers(min_value=0, max_value=5))
def test_random_passwords_never_show(left: str, separator: str, right: str, form: int) -> None:
    dsn = _forms(left + separator + right)[form]
    assert not _leaks(Outcome(0, mask_dsn(dsn), "", 0.0), left, right), mask_dsn(dsn)
    for args in (["status", "--dsn", dsn], ["--debug", "status", "--json", "--dsn", dsn]):
        outcome = _run(*args)
        assert outcome.code in (2, 3), outcome.output
        assert not _leaks(outcome, left, right), outcome.output
