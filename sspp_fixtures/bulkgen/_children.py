"""Generator processes leave Ctrl-C and SIGTERM to the parent, which handles them (and stops its workers).

A terminal sends Ctrl-C's SIGINT to the whole process group, workers included, and so do supervisors with
SIGTERM. A worker interrupted mid-batch (or still importing) prints a traceback of its own; one killed while it
waits for a task dies holding the task queue's lock, and ``Pool.terminate()`` then waits for that lock forever.
So workers are never stopped by a signal:

- an ignored signal stays ignored through ``fork`` and ``exec``, and Python then installs no handler of its own:
  the fork server is started with SIGINT and SIGTERM ignored for the few milliseconds its spawn takes, so it and
  every worker it forks ignore both from their first instruction;
- the parent ends its pool with ``close()`` and ``join()``, done or interrupted: workers exit on their own once
  the batches in hand are made (a second or two), and ``Pool.terminate()`` then finds none left to signal.
"""

from __future__ import annotations

import contextlib
import multiprocessing
import multiprocessing.forkserver
import signal
import threading
from collections.abc import Iterator, Sequence

__all__ = ["ignore_ctrl_c", "leave_signals_to_parent", "start_fork_server"]


_PARENT_SIGNALS = (signal.SIGINT, signal.SIGTERM)


def ignore_ctrl_c() -> None:
    """Ignore SIGINT in this process (a worker's initializer)."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)


def leave_signals_to_parent() -> None:
    """In a worker: ignore SIGINT and SIGTERM (already so when its fork server was started by
    :func:`start_fork_server`; not when someone else started it)."""
    for sig in _PARENT_SIGNALS:
        signal.signal(sig, signal.SIG_IGN)


@contextlib.contextmanager
def _parent_signals_ignored() -> Iterator[None]:
    if threading.current_thread() is not threading.main_thread():  # only the main thread may set handlers
        yield
        return
    previous = {sig: signal.signal(sig, signal.SIG_IGN) for sig in _PARENT_SIGNALS}
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def start_fork_server(preload: Sequence[str]) -> multiprocessing.context.ForkServerContext:
    """The ``forkserver`` context, its server started (once per process) ignoring SIGINT and SIGTERM, preloading
    ``preload``."""
    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload(list(preload))
    with _parent_signals_ignored():
        multiprocessing.forkserver.ensure_running()  # spawns it and returns: the preload runs in the server
    return context
