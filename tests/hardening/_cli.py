"""Running ``sspp-seed`` as a subprocess, the real path, and the checks every refusal must pass."""

from __future__ import annotations

import os
import time
from dataclasses import dataclass

from sspp_fixtures.dsn import LIBPQ_TARGET_ENV
from tests.fix_db import run_cli

#: A password that must never appear in any output.
PASSWORD = "s3cr3t-PW"


@dataclass
class Outcome:
    code: int
    stdout: str
    stderr: str
    seconds: float

    @property
    def output(self) -> str:
        return self.stdout + self.stderr


def sspp_seed(*args: str, env: dict[str, str] | None = None, timeout: float = 60) -> Outcome:
    """``sspp-seed ARGS`` (:func:`tests.fix_db.run_cli`), timed, with no inherited $DATABASE_URL or PG* variables
    unless ``env`` sets them."""
    inherited = {k: v for k, v in os.environ.items() if k not in LIBPQ_TARGET_ENV}  # as if no PG* were set
    full_env = {**inherited, "DATABASE_URL": "", "COLUMNS": "200", **(env or {})}
    full_env.pop("SSPP_DEBUG", None)
    started = time.monotonic()
    done = run_cli(*args, env=full_env, timeout=timeout, inherit_env=False)
    return Outcome(done.returncode, done.stdout, done.stderr, time.monotonic() - started)


def assert_refused(outcome: Outcome, code: int, *fragments: str) -> str:
    """Exit ``code``, one ``error:`` line on stderr holding every fragment, no traceback, no password."""
    assert outcome.code == code, f"exit {outcome.code}, expected {code}; stderr: {outcome.stderr!r}"
    assert "Traceback" not in outcome.output, outcome.output
    assert PASSWORD not in outcome.output, outcome.output
    lines = [line for line in outcome.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, f"expected one line on stderr, got {lines!r}"
    assert lines[0].startswith("error: "), lines[0]
    for fragment in fragments:
        assert fragment in lines[0], f"{fragment!r} not in {lines[0]!r}"
    return lines[0]


def assert_usage(outcome: Outcome, *fragments: str, usage_line: bool = True) -> None:
    """click's own usage errors: exit 2, 'Usage:' (when click got that far) and an 'error:' line, the form of every
    error here (never click's 'Error:'); no traceback, no password."""
    assert outcome.code == 2, f"exit {outcome.code}; stderr: {outcome.stderr!r}"
    assert "Traceback" not in outcome.output
    assert PASSWORD not in outcome.output
    assert "error: " in outcome.stderr
    assert "Error: " not in outcome.stderr
    if usage_line:
        assert "Usage: sspp-seed" in outcome.stderr
    for fragment in fragments:
        assert fragment in outcome.stderr, f"{fragment!r} not in {outcome.stderr!r}"
