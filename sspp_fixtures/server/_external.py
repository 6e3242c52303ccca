"""The ``dsn`` provider: a server the user runs, reached through ``--dsn`` or ``$DATABASE_URL``.

The tool never stops such a server (``owned=False``) and its admin DSN is the DSN exactly as given.
"""

from __future__ import annotations

from typing import ClassVar

from ..dsn import DATABASE_URL_ENV, connect, mask_dsn, resolve_dsn
from ..errors import DatabaseUnreachableError, ServerUnavailableError
from ._base import Server

__all__ = ["DsnServer", "connect_dsn"]


class DsnServer(Server):
    """A user's server: used, never stopped."""

    provider: ClassVar[str] = "dsn"

    def __init__(self, dsn: str) -> None:
        super().__init__(dsn, owned=False)

    def _shutdown(self) -> None:
        """Never called: a user's server is not ours to stop (``owned`` is always false)."""


def connect_dsn(dsn: str | None = None, *, wait_s: float = 0.0) -> DsnServer:
    """Check that ``dsn`` (else ``$DATABASE_URL``) accepts a connection and wrap it as a :class:`Server`."""
    resolved = resolve_dsn(dsn)
    if resolved is None:
        raise ServerUnavailableError(
            f"no DSN given and ${DATABASE_URL_ENV} is not set",
            hint=f"pass --dsn postgresql://USER:PASSWORD@HOST:PORT/DBNAME or set ${DATABASE_URL_ENV}",
        )
    try:
        with connect(resolved, wait_s=wait_s) as conn:
            conn.execute("SELECT 1")
    except DatabaseUnreachableError as exc:
        raise ServerUnavailableError(exc.message, hint=exc.hint, dsn=mask_dsn(resolved)) from None
    return DsnServer(resolved)
