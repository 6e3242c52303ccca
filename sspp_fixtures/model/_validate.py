"""Checks of model parameters: every failure is a :class:`ScenarioError` naming the field and what is allowed."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

import numpy as np
import numpy.typing as npt

from .._text import suggest
from ..errors import ScenarioError

__all__ = [
    "check_choice",
    "check_positive",
    "check_shares",
    "check_weights",
    "choice_problem",
    "shares_sum_problem",
    "text_problem",
]

_SUM_TOLERANCE = 1e-6


def _allowed_text(allowed: Sequence[str]) -> str:
    return ", ".join(allowed)


def _unknown(value: object, allowed: Sequence[str], what: str) -> str:
    close = suggest(value, allowed) if isinstance(value, str) else ""
    return f"unknown {what} {value!r}{close}; allowed: {_allowed_text(allowed)}"


def choice_problem(value: object, allowed: Sequence[str], what: str = "value") -> str | None:
    """What is wrong with ``value`` as one of ``allowed`` (a ``what``), or None when it is one."""
    return None if isinstance(value, str) and value in allowed else _unknown(value, allowed, what)


def shares_sum_problem(shares: Mapping[str, float]) -> str | None:
    """What is wrong with shares that must add up to 1 (within a rounding tolerance), or None when they do."""
    total = math.fsum(float(value) for value in shares.values())
    if abs(total - 1.0) > _SUM_TOLERANCE:
        return f"shares must add up to 1, these add up to {total:.6g}"
    return None


def text_problem(text: str) -> str | None:
    """Why PostgreSQL cannot store ``text`` (a NUL, which its text types cannot hold; a lone surrogate, which UTF-8
    cannot encode), or None when it can."""
    if "\x00" in text:
        return "holds a NUL character (U+0000), which PostgreSQL text cannot hold"
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return "holds a lone surrogate (U+D800-U+DFFF), which UTF-8 cannot encode"
    return None


def check_choice(field: str, value: object, allowed: Sequence[str]) -> str:
    """Return ``value`` if it is one of ``allowed``; raise a :class:`ScenarioError` otherwise."""
    if isinstance(value, str) and value in allowed:
        return value
    raise ScenarioError(
        f"{field}: {_unknown(value, allowed, 'value')}",
        hint=f"Use one of: {_allowed_text(allowed)}.",
        field=field,
        value=value,
        allowed=tuple(allowed),
    )


def check_positive(field: str, value: float, *, allow_zero: bool = False) -> float:
    """Return ``value`` as a float if it is finite and positive (or zero when allowed)."""
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise ScenarioError(f"{field}: expected a finite number, got {value!r}", field=field, value=value)
    if value < 0 or (value == 0 and not allow_zero):
        bound = ">= 0" if allow_zero else "> 0"
        raise ScenarioError(
            f"{field}: must be {bound}, got {value!r}", hint=f"Give {field} a value {bound}.",
            field=field, value=value,
        )  # fmt: skip
    return float(value)


def check_weights(field: str, weights: Mapping[str, float], allowed: Sequence[str]) -> npt.NDArray[np.float64]:
    """Relative weights over ``allowed`` (missing keys weigh 0), normalised to sum to 1."""
    if not isinstance(weights, Mapping):
        raise ScenarioError(
            f"{field}: expected a mapping of {_allowed_text(allowed)} to numbers, got {type(weights).__name__}",
            field=field,
        )
    for key, value in weights.items():
        check_choice(f"{field}.{key}" if isinstance(key, str) else field, key, allowed)
        check_positive(f"{field}.{key}", value, allow_zero=True)
    values = np.array([float(weights.get(key, 0.0)) for key in allowed], dtype=np.float64)
    total = float(values.sum())
    if total <= 0:
        raise ScenarioError(
            f"{field}: all weights are 0", hint=f"Give at least one of {_allowed_text(allowed)} a weight > 0.",
            field=field,
        )  # fmt: skip
    return values / total


def check_shares(field: str, shares: Mapping[str, float], allowed: Sequence[str]) -> npt.NDArray[np.float64]:
    """Shares over ``allowed`` (missing keys are 0) that must sum to 1; returned in the order of ``allowed``."""
    values = check_weights(field, shares, allowed)
    problem = shares_sum_problem(shares)
    if problem is not None:
        raise ScenarioError(
            f"{field}: {problem}",
            hint=f"Make the shares of {_allowed_text(allowed)} add up to 1.",
            field=field,
            total=math.fsum(float(value) for value in shares.values()),
        )
    return values
