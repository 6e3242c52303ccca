"""Helpers for the client programs a backup or restore runs beside its own work: stderr drained, progress ticked."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import IO

__all__ = ["ErrorOutput", "Ticker"]

_TICK_S = 0.25


class ErrorOutput:
    """A child's stderr read to its end on a thread of its own, so a full pipe never stalls the child."""

    def __init__(self, stream: IO[bytes] | None) -> None:
        self._chunks: list[bytes] = []
        self._thread = threading.Thread(target=self._read, args=(stream,), daemon=True)
        self._thread.start()

    def _read(self, stream: IO[bytes] | None) -> None:
        if stream is not None:
            with stream:
                self._chunks.append(stream.read())

    def text(self) -> str:
        """All the child wrote there; waits until it has closed its stderr (it exited)."""
        self._thread.join()
        return b"".join(self._chunks).decode(errors="replace")


class Ticker:
    """Calls ``tick`` every quarter of a second on a thread of its own until :meth:`stop` (nothing if ``None``)."""

    def __init__(self, tick: Callable[[], None] | None) -> None:
        self._stopped = threading.Event()
        self._thread = threading.Thread(target=self._run, args=(tick,), daemon=True)
        self._thread.start()

    def _run(self, tick: Callable[[], None] | None) -> None:
        while tick is not None and not self._stopped.wait(_TICK_S):
            tick()

    def stop(self) -> None:
        self._stopped.set()
        self._thread.join()
