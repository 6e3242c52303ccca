"""Showing a DSN the user gave, even a malformed one, without ever showing its password.

:func:`~sspp_fixtures.dsn.mask_dsn` finds a password by the DSN's syntax, so it cannot mask one in a DSN that
does not parse (``postgresql://u:pass word@h/db``), and libpq's parse errors quote pieces of the text. A
malformed DSN is therefore never echoed, and quoted pieces of its error are hidden unless they are option names.
"""

from __future__ import annotations

import re
from functools import cache

import psycopg
from psycopg import conninfo

from .._dsnmask import mask_dsn, secret_fragments

__all__ = ["MALFORMED", "malformed_reason", "secrets_of", "shown_dsn"]

MALFORMED = "(malformed, not shown)"
_QUOTED = re.compile(r'"([^"]*)"')


@cache
def _option_names() -> frozenset[str]:
    return frozenset(option.keyword.decode() for option in psycopg.pq.Conninfo.get_defaults())


def _harmless(piece: str) -> bool:
    """An option name, or punctuation only (``"="``): safe to quote back."""
    return piece in _option_names() or not any(char.isalnum() for char in piece)


def malformed_reason(dsn: str) -> str | None:
    """Why ``dsn`` does not parse, in one line with its quoted pieces hidden, or ``None`` if it parses."""
    try:
        conninfo.conninfo_to_dict(dsn)
    except psycopg.ProgrammingError as exc:
        text = " ".join(str(exc).split())
        return _QUOTED.sub(lambda m: m[0] if _harmless(m[1]) else '"…"', text)
    return None


def shown_dsn(dsn: str) -> str:
    """``dsn`` with its password masked, or :data:`MALFORMED` when it does not parse."""
    return MALFORMED if malformed_reason(dsn) is not None else mask_dsn(dsn)


def secrets_of(*dsns: str) -> list[str]:
    """What the DSNs' passwords are made of, longest first (see :func:`~sspp_fixtures.dsn.secret_fragments`)."""
    return secret_fragments(*dsns)
