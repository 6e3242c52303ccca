"""The platform's live contract: the six event types its API accepts and the worker's rules for ``sales_signals``.

The platform's worker turns each event ``{accountId, userId, eventType, timestamp, metadata}`` into one
``sales_signals`` row whose ``signal_type`` comes from the event type and whose ``signal_score`` is a base score
per type plus two modifiers read from the metadata. This module states those rules once; the generator, the
factories, ``replay``/``verify`` and the tests all read them here, so a rule change in the worker is a change
in one place. The worker is JavaScript: :func:`platform_signal_score` reproduces its arithmetic (IEEE doubles,
``toFixed(2)`` rounding) and its truthiness and comparison rules for any JSON metadata, not only the numbers
the generator writes.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from decimal import ROUND_HALF_UP, Decimal
from types import MappingProxyType
from typing import Any, Final

__all__ = [
    "INTERACTION_BONUS",
    "INTERACTION_COUNT_KEY",
    "INTERACTION_THRESHOLD",
    "PLATFORM_BASE_SCORES",
    "PLATFORM_EVENT_TYPES",
    "PLATFORM_SIGNAL_TYPES",
    "RESPONSE_TIME_BONUS",
    "RESPONSE_TIME_KEY",
    "RESPONSE_TIME_LIMIT_HOURS",
    "UNKNOWN_BASE_SCORE",
    "UNKNOWN_SIGNAL_TYPE",
    "is_platform_event_type",
    "platform_signal",
    "platform_signal_score",
    "platform_signal_type",
    "score_text",
]

#: The event types the platform's API accepts (anything else is answered 400), in funnel order.
PLATFORM_EVENT_TYPES: Final = (
    "email_sent",
    "email_opened",
    "email_clicked",
    "call_made",
    "meeting_booked",
    "demo_completed",
)
#: ``sales_signals.signal_type`` per event type.
PLATFORM_SIGNAL_TYPES: Final = MappingProxyType(
    {
        "email_sent": "outreach",
        "email_opened": "engagement",
        "email_clicked": "high_engagement",
        "meeting_booked": "intent",
        "call_made": "outreach",
        "demo_completed": "high_intent",
    }
)
#: The score a signal starts from, per event type.
PLATFORM_BASE_SCORES: Final = MappingProxyType(
    {
        "email_sent": 0.1,
        "email_opened": 0.3,
        "email_clicked": 0.6,
        "meeting_booked": 0.8,
        "call_made": 0.5,
        "demo_completed": 0.9,
    }
)
#: What the worker does with a type it has no rule for (the API never lets one through).
UNKNOWN_SIGNAL_TYPE: Final = "unknown"
UNKNOWN_BASE_SCORE: Final = 0.1

#: Metadata key of the first modifier: answered within this many hours earns the bonus.
RESPONSE_TIME_KEY: Final = "responseTimeHours"
RESPONSE_TIME_LIMIT_HOURS: Final = 24
RESPONSE_TIME_BONUS: Final = 0.1
#: Metadata key of the second modifier: more than this many interactions earns the bonus.
INTERACTION_COUNT_KEY: Final = "interactionCount"
INTERACTION_THRESHOLD: Final = 3
INTERACTION_BONUS: Final = 0.15
_SCORE_CAP: Final = 1.0
_HUNDREDTH: Final = Decimal("0.01")


def is_platform_event_type(event_type: str) -> bool:
    """Whether the platform's API accepts ``event_type`` (and so whether it can reach ``sales_signals``)."""
    return event_type in PLATFORM_SIGNAL_TYPES


def platform_signal_type(event_type: str) -> str:
    """``sales_signals.signal_type`` of an event of ``event_type`` (``unknown`` for a type without a rule)."""
    return PLATFORM_SIGNAL_TYPES.get(event_type, UNKNOWN_SIGNAL_TYPE)


def platform_signal_score(event_type: str, metadata: Mapping[str, Any] | None) -> float:
    """``sales_signals.signal_score`` of an event, exactly as the worker computes it.

    Base score of the type; with metadata present, +0.10 when ``responseTimeHours`` is truthy and below 24,
    +0.15 when ``interactionCount`` is truthy and above 3, capped at 1.0; rounded to two decimals half up.
    ``metadata`` is the event's parsed JSON metadata (``None`` when the event had none).
    """
    score = PLATFORM_BASE_SCORES.get(event_type, UNKNOWN_BASE_SCORE)
    if metadata is not None:
        response = metadata.get(RESPONSE_TIME_KEY)
        if _truthy(response) and _to_number(response) < RESPONSE_TIME_LIMIT_HOURS:
            score += RESPONSE_TIME_BONUS
        interactions = metadata.get(INTERACTION_COUNT_KEY)
        if _truthy(interactions) and _to_number(interactions) > INTERACTION_THRESHOLD:
            score += INTERACTION_BONUS
        score = min(score, _SCORE_CAP)
    return float(Decimal(score).quantize(_HUNDREDTH, rounding=ROUND_HALF_UP))


def platform_signal(event_type: str, metadata: Mapping[str, Any] | None) -> tuple[str, float]:
    """``(signal_type, signal_score)`` of one event."""
    return platform_signal_type(event_type), platform_signal_score(event_type, metadata)


def score_text(score: float) -> str:
    """The text of a score as ``DECIMAL(3, 2)`` holds it (``0.65``)."""
    return f"{score:.2f}"


def _truthy(value: Any) -> bool:
    """JavaScript truthiness of a JSON value (objects and arrays, even empty ones, are truthy)."""
    if value is None or value is False:
        return False
    if isinstance(value, int) and not isinstance(value, bool):
        return value != 0
    if isinstance(value, float):
        return value != 0 and not math.isnan(value)
    if isinstance(value, str):
        return value != ""
    return True


# JavaScript's StringToNumber: optional white space around a decimal literal (sign, digits, fraction, exponent),
# Infinity, or a 0x/0o/0b integer; an empty string is 0; anything else is NaN.
_JS_SPACE: Final = (
    " \t\n\v\f\r\u00a0\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007\u2008\u2009\u200a"
    "\u2028\u2029\u202f\u205f\u3000\ufeff"
)
_DECIMAL: Final = re.compile(r"[+-]?(?:Infinity|(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?)")
_RADIX: Final = {
    "0x": (16, re.compile(r"[0-9a-fA-F]+")),
    "0o": (8, re.compile(r"[0-7]+")),
    "0b": (2, re.compile(r"[01]+")),
}


def _string_to_number(text: str) -> float:
    text = text.strip(_JS_SPACE)
    if not text:
        return 0.0
    radix = _RADIX.get(text[:2].lower())
    if radix is not None:
        base, digits = radix
        return float(int(text[2:], base)) if digits.fullmatch(text[2:]) else math.nan
    if not _DECIMAL.fullmatch(text):
        return math.nan
    return float(text.replace("Infinity", "inf"))


def _to_primitive_text(value: Any) -> str:
    """``String(value)`` of a JSON array or object, as JavaScript's ToPrimitive gives it for a comparison."""
    if isinstance(value, list):
        return ",".join("" if item is None else _to_primitive_text(item) for item in value)
    if isinstance(value, dict):
        return "[object Object]"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return _js_number_text(float(value))
    return str(value)


def _js_number_text(value: float) -> str:
    """``String(number)`` for the values whose text matters here (an element of an array being compared)."""
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "Infinity" if value > 0 else "-Infinity"
    return str(int(value)) if value.is_integer() and abs(value) < 1e21 else repr(value)


def _to_number(value: Any) -> float:
    """JavaScript's ``ToNumber`` of a JSON value as a relational comparison with a number applies it."""
    if isinstance(value, bool):
        return 1.0 if value else 0.0
    if isinstance(value, int | float):
        try:
            return float(value)
        except OverflowError:  # an integer past the doubles: JavaScript's JSON.parse gives Infinity
            return math.inf if value > 0 else -math.inf
    if isinstance(value, str):
        return _string_to_number(value)
    if value is None:
        return 0.0
    return _string_to_number(_to_primitive_text(value))
