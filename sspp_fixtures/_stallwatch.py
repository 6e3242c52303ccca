"""A bound on how long a load waits for a server that has stopped working, whatever the load is waiting for.

TCP timeouts only bound waits the kernel can see: data it could not deliver, a host gone silent. A server
process that is frozen (SIGSTOP, a paused VM, swapped out) while its kernel still acknowledges everything leaves
a client waiting for a reply forever: an index build, an ANALYZE, a COMMIT, or the last COPY rows sitting in the
socket buffers. :class:`StallWatch` looks at the load's backend from a second connection (its activity, wait
event and progress counters) and, when neither the client nor the server has shown any sign of work for the
bound, cuts the load's socket so the blocked wait returns, and remembers why.
"""

from __future__ import annotations

import contextlib
import os
import socket
import threading
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from types import TracebackType
from typing import Any, TypeVar

import psycopg

from .dsn import connect

__all__ = ["DEFAULT_STALL_TIMEOUT_S", "Stall", "StallWatch"]

#: With no sign of work from either side for this long, the load stops. Generous: the longest silent stretch of a
#: healthy load is one sort of an index build, which publishes no progress counters (seconds for load-1m).
DEFAULT_STALL_TIMEOUT_S = 300.0

_WATCH_APPLICATION = "sspp-fixtures stall watch"

T = TypeVar("T")

# Everything a working backend changes as it goes; a frozen one changes none of it.
_BACKEND_SIGNS = """
    SELECT a.state, a.wait_event_type, a.wait_event, a.state_change, a.query_start, left(a.query, 200),
           (SELECT array_agg(concat_ws(':', w.pid, w.state, w.wait_event_type, w.wait_event) ORDER BY w.pid)
              FROM pg_catalog.pg_stat_activity w WHERE w.leader_pid = a.pid),
           (SELECT concat_ws(':', p.phase, p.index_relid, p.blocks_done, p.tuples_done, p.partitions_done,
                             p.lockers_done)
              FROM pg_catalog.pg_stat_progress_create_index p WHERE p.pid = a.pid),
           (SELECT concat_ws(':', c.relid, c.bytes_processed, c.tuples_processed)
              FROM pg_catalog.pg_stat_progress_copy c WHERE c.pid = a.pid),
           (SELECT concat_ws(':', z.relid, z.phase, z.sample_blks_scanned, z.ext_stats_computed,
                             z.child_tables_done)
              FROM pg_catalog.pg_stat_progress_analyze z WHERE z.pid = a.pid)
    FROM pg_catalog.pg_stat_activity a WHERE a.pid = %s
"""


@dataclass(frozen=True)
class Stall:
    """Why the watch stopped a load: the backend, how long nothing moved, and what the backend was last seen doing
    (``None`` when the server accepted no connection to look)."""

    backend_pid: int
    seconds: float
    doing: str | None


class StallWatch:
    """Watch the backend of ``conn`` while the load runs; call :meth:`touch` whenever the client makes progress.

    Used as a context manager around the load. After a stall, :attr:`stall` says what happened and the load's
    connection is cut (the server rolls its transaction back when it notices or resumes).
    """

    def __init__(
        self,
        dsn: str,
        conn: psycopg.Connection[Any],
        *,
        timeout_s: float = DEFAULT_STALL_TIMEOUT_S,
        idle_between: bool = False,
    ) -> None:
        if timeout_s <= 0:
            raise ValueError(f"the stall timeout must be positive, not {timeout_s:g}")
        self._dsn = dsn
        self._socket_fd = conn.pgconn.socket
        self._backend_pid = conn.info.backend_pid
        self._timeout_s = timeout_s
        self._interval_s = min(5.0, timeout_s / 4)
        self._last_sign = time.monotonic()
        self._seen: tuple[Any, ...] | None = None
        self._doing: str | None = None
        # idle_between: the connection waits for its siblings between statements (a parallel load); only the
        # time inside on_server() is judged.
        self._client_busy = idle_between
        self._done = threading.Event()
        self._lock = threading.Lock()
        self._probe: psycopg.Connection[Any] | None = None
        self.stall: Stall | None = None
        self._threads = [
            threading.Thread(target=self._look_at_backend, name="sspp-stall-probe", daemon=True),
            threading.Thread(target=self._judge, name="sspp-stall-judge", daemon=True),
        ]

    def __enter__(self) -> StallWatch:
        for thread in self._threads:
            thread.start()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self._done.set()
        self._threads[1].join()
        self._threads[0].join(timeout=1.0)
        probe = self._probe
        if self._threads[0].is_alive() and probe is not None:  # blocked on a frozen server: unblock it
            with contextlib.suppress(psycopg.Error):
                _cut(probe.pgconn.socket)

    def touch(self) -> None:
        """The client moved forward (rows sent, a phase or an index begun): the server is not stalled."""
        with self._lock:
            self._last_sign = time.monotonic()

    @contextlib.contextmanager
    def on_server(self) -> Iterator[None]:
        """For a watch made with ``idle_between``: the block waits on the server (a statement, a COPY), so a
        stall in it counts; outside such blocks the connection is idle on purpose and never stalled."""
        with self._lock:
            self._client_busy = False
            self._last_sign = time.monotonic()
        try:
            yield
        finally:
            with self._lock:
                self._client_busy = True
                self._last_sign = time.monotonic()

    def client_work(self, items: Iterable[T]) -> Iterator[T]:
        """``items``, with the time spent making each one counted as work: while the client generates the next
        rows, the server waiting for them is not stalled, however long that takes on a busy machine."""
        iterator = iter(items)
        while True:
            with self._lock:
                self._client_busy = True
            try:
                item = next(iterator)
            except StopIteration:
                return
            finally:
                with self._lock:
                    self._client_busy = False
                    self._last_sign = time.monotonic()
            yield item

    def _look_at_backend(self) -> None:
        try:
            while not self._done.wait(self._interval_s):
                signs = self._backend_signs()
                with self._lock:
                    self._doing = None if signs is None else _describe(signs)
                    if signs is None:
                        continue
                    if signs != self._seen:
                        self._seen = signs
                        self._last_sign = time.monotonic()
        finally:
            if self._probe is not None:
                self._probe.close()

    def _backend_signs(self) -> tuple[Any, ...] | None:
        """What the backend is doing now, or ``None`` when the server cannot say (it accepts no connection, or
        the backend is gone, which the load's own connection reports)."""
        try:
            if self._probe is None or self._probe.closed:
                self._probe = connect(
                    self._dsn,
                    connect_timeout_s=max(2, min(10, int(self._timeout_s / 3))),
                    application_name=_WATCH_APPLICATION,
                )
            row = self._probe.execute(_BACKEND_SIGNS, (self._backend_pid,)).fetchone()
        except Exception:  # any failure to look is no sign of work; the next look reconnects
            if self._probe is not None:
                self._probe.close()
                self._probe = None
            return None
        return None if row is None else tuple(row)

    def _judge(self) -> None:
        while not self._done.wait(min(1.0, self._interval_s)):
            with self._lock:
                if self._client_busy:
                    self._last_sign = time.monotonic()
                quiet_s = time.monotonic() - self._last_sign
                doing = self._doing
            if quiet_s >= self._timeout_s:
                self.stall = Stall(self._backend_pid, self._timeout_s, doing)
                _cut(self._socket_fd)
                threading.Thread(target=self._end_backend, name="sspp-stall-end", daemon=True).start()
                return

    def _end_backend(self) -> None:
        """Ask the server to end the stalled backend, so it frees its locks as soon as it can run (best effort:
        a frozen server may not answer at all, which is why this runs on its own thread)."""
        with (
            contextlib.suppress(Exception),
            connect(self._dsn, connect_timeout_s=5, application_name=_WATCH_APPLICATION) as conn,
        ):
            conn.execute("SELECT pg_catalog.pg_terminate_backend(%s)", (self._backend_pid,))


def _describe(signs: tuple[Any, ...]) -> str:
    state, wait_type, wait_event, _changed, _started, query = signs[:6]
    statement = " ".join(str(query or "").split())[:80]
    if state != "active":
        return f"{state} after {statement!r}"
    waiting = f", waiting on {wait_type}/{wait_event}" if wait_event else ""
    return f"running {statement!r}{waiting}"


def _cut(fd: int) -> None:
    """Shut the socket down under whoever is blocked on it, so that their wait ends with an error now."""
    with contextlib.suppress(OSError), socket.socket(fileno=os.dup(fd)) as sock:
        sock.shutdown(socket.SHUT_RDWR)
