"""The load's connections, one thread each, and the first failure among them: what the parallel phases share."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

import psycopg

from .._stallwatch import StallWatch

__all__ = ["Crew", "Member"]


class Member:
    """One connection of the load with its stall watch."""

    def __init__(self, conn: psycopg.Connection[Any], watch: StallWatch) -> None:
        self.conn = conn
        self.watch = watch


class Crew:
    """Runs one function per member on its own thread; the first exception wins, the others stop as soon as they
    look at :attr:`failed`."""

    def __init__(self, members: list[Member]) -> None:
        self.members = members
        self.failed = threading.Event()
        self.error: BaseException | None = None
        self._lock = threading.Lock()
        self._threads: list[threading.Thread] = []

    def start(self, work: Callable[[Member], None], name: str) -> None:
        """``work(member)`` on every member at once, each on its own thread; :meth:`wait` joins them."""
        self._threads = [
            threading.Thread(target=self._guard, args=(work, m), name=f"sspp-{name}-{i}", daemon=True)
            for i, m in enumerate(self.members)
        ]
        for thread in self._threads:
            thread.start()

    def wait(self) -> None:
        """Join the threads :meth:`start` started, then re-raise the first failure among them."""
        for thread in self._threads:
            thread.join()
        self._threads = []
        self.raise_first()

    def run(self, work: Callable[[Member], None], name: str) -> None:
        self.start(work, name)
        self.wait()

    def fail(self, error: BaseException) -> None:
        with self._lock:
            if self.error is None:
                self.error = error
        self.failed.set()

    def raise_first(self) -> None:
        if self.error is not None:
            raise self.error

    def _guard(self, work: Callable[[Member], None], member: Member) -> None:
        try:
            work(member)
        except BaseException as error:  # handed to the main thread, which raises it
            self.fail(error)
