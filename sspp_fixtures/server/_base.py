"""What every PostgreSQL provider gives back: a running server with an admin DSN, that can be stopped."""

from __future__ import annotations

import abc
from pathlib import Path
from types import TracebackType
from typing import ClassVar, Self

from .._defaults import PROVIDER_NAMES
from ..dsn import connect, mask_dsn, with_database

__all__ = ["PROVIDER_NAMES", "STARTED_BY_AUTO", "Server"]

#: The providers ``auto`` starts a server with, in order, when no running server is named.
STARTED_BY_AUTO: tuple[str, ...] = tuple(name for name in PROVIDER_NAMES if name != "dsn")


class Server(abc.ABC):
    """A running PostgreSQL server.

    ``dsn`` connects to a maintenance database as a superuser-like role that may create databases. Servers
    the tool started itself (``owned``) are stopped and their data removed by :meth:`stop`; a server reached
    through a user's DSN is never stopped.
    """

    provider: ClassVar[str]

    def __init__(self, dsn: str, *, owned: bool, data_dir: Path | None = None) -> None:
        self._dsn = dsn
        self.owned = owned
        self.data_dir = data_dir
        self._stopped = False

    @property
    def dsn(self) -> str:
        """The admin DSN (to the server's maintenance database)."""
        return self._dsn

    @property
    def masked_dsn(self) -> str:
        return mask_dsn(self._dsn)

    def dsn_for(self, dbname: str) -> str:
        """A DSN to database ``dbname`` on this server, with the same credentials."""
        return with_database(self._dsn, dbname)

    def server_version(self) -> str:
        """The server's version string, e.g. ``15.20``."""
        with connect(self._dsn) as conn:
            row = conn.execute("SHOW server_version").fetchone()
        assert row is not None
        return str(row[0]).split()[0]

    def stop(self) -> None:
        """Stop the server if the tool started it, and remove its data; idempotent."""
        if self._stopped:
            return
        self._stopped = True
        if self.owned:
            self._shutdown()

    @abc.abstractmethod
    def _shutdown(self) -> None:
        """Provider-specific stop and clean-up of a server the tool owns."""

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.masked_dsn} owned={self.owned}>"
