"""How an error message quotes what it got and proposes what was meant: shared by the model and the scenarios."""

from __future__ import annotations

import difflib
from collections.abc import Iterable

__all__ = ["short_repr", "suggest"]


def short_repr(value: object, limit: int = 60) -> str:
    """``repr(value)``, cut to ``limit`` characters (a message quotes what it got, never a whole document)."""
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def suggest(word: str, allowed: Iterable[str]) -> str:
    """`` (did you mean 'x'?)`` when ``word`` is close to an allowed value, else an empty string."""
    close = difflib.get_close_matches(word, list(allowed), n=1, cutoff=0.6)
    return f" (did you mean {close[0]!r}?)" if close else ""
