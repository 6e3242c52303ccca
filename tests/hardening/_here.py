"""``sspp-seed`` in the test's own process with the environment :func:`tests.hardening._cli.sspp_seed` gives its
subprocess: no inherited ``$DATABASE_URL``, ``PG*`` variables or ``SSPP_DEBUG`` unless ``env`` sets them."""

from __future__ import annotations

import time

from sspp_fixtures.dsn import LIBPQ_TARGET_ENV
from tests.fix_cli import cli_here
from tests.hardening._cli import Outcome


def sspp_seed_here(*args: str, env: dict[str, str] | None = None) -> Outcome:
    """``sspp-seed ARGS`` run in this process, timed."""
    started = time.monotonic()
    done = cli_here(*args, env={"DATABASE_URL": "", **(env or {})}, unset=(*LIBPQ_TARGET_ENV, "SSPP_DEBUG"))
    return Outcome(done.returncode, done.stdout, done.stderr, time.monotonic() - started)
