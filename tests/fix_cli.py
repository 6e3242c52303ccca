"""``sspp-seed`` run in the test's own process: the console script's code path, exit code and output, without
the half second to a second a new Python process costs per call.

:func:`cli_here` calls :func:`sspp_fixtures.cli.run`, the function the console script's ``main`` hands
``sys.argv`` to, with what a subprocess would have got: the same environment (``os.environ`` with ``env`` laid
over it, ``COLUMNS=200`` unless set), and stdout and stderr that are pipes, not terminals (so no colour, no
progress bar, the pipe width). Tests of the process itself (signals, the installed entry point, orphans, exit
on kill) keep running the real console script (``tests.fix_db.run_cli``).
"""

from __future__ import annotations

import contextlib
import io
import os
import subprocess
from collections.abc import Iterable, Iterator
from unittest import mock

from sspp_fixtures.cli import run


@contextlib.contextmanager
def _environment(env: dict[str, str] | None, unset: Iterable[str]) -> Iterator[None]:
    """``os.environ`` as the subprocess would have seen it, put back afterwards."""
    with mock.patch.dict(os.environ):
        os.environ.setdefault("COLUMNS", "200")
        for name in unset:
            os.environ.pop(name, None)
        os.environ.update(env or {})
        yield


def cli_here(
    *args: str, env: dict[str, str] | None = None, unset: Iterable[str] = ()
) -> subprocess.CompletedProcess[str]:
    """Run ``sspp-seed ARGS`` in this process with ``env`` set and the ``unset`` variables removed; the result is
    what :func:`tests.fix_db.run_cli` returns for the console script."""
    out, err = io.StringIO(), io.StringIO()
    with _environment(env, unset), contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = run(list(args))
    return subprocess.CompletedProcess(list(args), code, out.getvalue(), err.getvalue())
