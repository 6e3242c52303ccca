"""What a payload may hold: each field's JSON type, the bound on its numbers, the words its closed fields take.

Stated once, here: :func:`~._signal_rules.derive_signal_data` refuses a payload these rules find a problem in,
a scenario's story reports every problem they find at its file and line, and the Hypothesis strategies draw
inside them. :func:`check_payload` returns the problems instead of raising, so a caller can report them all.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any, Final

from .._text import short_repr, suggest
from ._payload_vocab import TICKET_PRIORITIES
from ._vocab import CURRENCIES, OPTIONAL_PAYLOAD_FIELDS, PAYLOAD_SCHEMAS

__all__ = ["CLOSED_PAYLOAD_FIELDS", "PAYLOAD_NUMBER_LIMIT", "PayloadProblem", "check_payload", "missing_fields"]

#: The largest magnitude of a payload number the signal rules accept: beyond it, money converted to USD could
#: overflow to Infinity, which JSON and JSONB refuse.
PAYLOAD_NUMBER_LIMIT: Final = 1e15
#: Text fields the signal rules look up in a table, so they take only these words (every other text field is
#: free text): the currency of money (its USD rate) and a ticket's priority (its score).
CLOSED_PAYLOAD_FIELDS: Final[Mapping[str, Mapping[str, tuple[str, ...]]]] = MappingProxyType(
    {
        **{
            name: MappingProxyType({"currency": CURRENCIES})
            for name, schema in PAYLOAD_SCHEMAS.items()
            if "currency" in schema
        },
        "support_ticket": MappingProxyType({"priority": tuple(TICKET_PRIORITIES.tolist())}),
    }
)
_NONE_CLOSED: Final[Mapping[str, tuple[str, ...]]] = MappingProxyType({})
_REQUIRED: Final = {
    name: tuple(field for field in schema if field not in OPTIONAL_PAYLOAD_FIELDS[name])
    for name, schema in PAYLOAD_SCHEMAS.items()
}
_TYPE_WORDS: Final = {
    int: "a whole number",
    float: "a number",
    str: "a string",
    bool: "true or false",
    list: "a list of strings",
}


@dataclass(frozen=True, slots=True)
class PayloadProblem:
    """One thing wrong with a payload: its key (None: the payload as a whole), what is wrong, and the fix."""

    key: str | None
    problem: str
    hint: str


def _value_problem(key: str, kind: type, value: Any, allowed: tuple[str, ...] | None) -> PayloadProblem | None:
    if kind is float:
        typed = isinstance(value, int | float) and not isinstance(value, bool)
    elif kind is int:
        typed = isinstance(value, int) and not isinstance(value, bool)
    elif kind is list:
        typed = isinstance(value, list) and all(isinstance(item, str) for item in value)
    else:
        typed = isinstance(value, kind)
    if not typed:
        word = _TYPE_WORDS[kind]
        return PayloadProblem(key, f"expected {word}, got {short_repr(value)}", f"give {key} as {word}")
    if kind in (int, float) and not abs(value) <= PAYLOAD_NUMBER_LIMIT:  # NaN too
        return PayloadProblem(
            key,
            f"{short_repr(value)} is out of range",
            f"use a number between -{PAYLOAD_NUMBER_LIMIT:.0e} and {PAYLOAD_NUMBER_LIMIT:.0e}",
        )
    if allowed is not None and value not in allowed:
        return PayloadProblem(
            key,
            f"unknown value {short_repr(value)}{suggest(value, allowed)}; allowed: {', '.join(allowed)}",
            f"use one of: {', '.join(allowed)}",
        )
    return None


def missing_fields(event_type: str, payload: Mapping[str, Any]) -> list[PayloadProblem]:
    """The problem of a payload that lacks a field every payload of ``event_type`` has, if it does."""
    required = _REQUIRED[event_type]
    missing = [name for name in required if name not in payload]
    if not missing:
        return []
    return [
        PayloadProblem(
            None,
            f"a {event_type} payload needs {', '.join(missing)}",
            f"Give the payload every field of its schema: {', '.join(required)}.",
        )
    ]


def check_payload(event_type: str, payload: Mapping[str, Any], *, overrides: bool = False) -> list[PayloadProblem]:
    """Every problem of a payload of ``event_type`` (a known type), in the payload's order; none: it is valid.

    A whole payload (the default) must have every required field; keys the type does not have are let through
    (JSON may carry more). ``overrides=True`` checks a story's overrides instead: any of the type's fields, and
    only those. Either way each value must have its field's type, numbers lie within
    :data:`PAYLOAD_NUMBER_LIMIT` and closed fields hold one of their words (:data:`CLOSED_PAYLOAD_FIELDS`).
    """
    schema, closed = PAYLOAD_SCHEMAS[event_type], CLOSED_PAYLOAD_FIELDS.get(event_type, _NONE_CLOSED)
    problems = [] if overrides else missing_fields(event_type, payload)
    for key, value in payload.items():
        kind = schema.get(key)
        if kind is None:
            if overrides:
                problems.append(
                    PayloadProblem(
                        key,
                        f"not a field of {event_type} payloads{suggest(key, schema)}",
                        f"use one of: {', '.join(schema)}",
                    )
                )
            continue
        problem = _value_problem(key, kind, value, closed.get(key))
        if problem is not None:
            problems.append(problem)
    return problems
