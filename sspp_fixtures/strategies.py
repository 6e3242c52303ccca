"""Hypothesis strategies for SSPP rows: :func:`customers`, :func:`events`, :func:`signals` and :func:`payloads`.

Every value a strategy draws loads into the PostgreSQL schema of ``sql/migrations`` (through a parameterised
INSERT or COPY) and reads back equal. Values are valid by construction: each field's valid range is worked out
first (VARCHAR limits from :data:`~sspp_fixtures.model.COLUMN_LIMITS`, the segment CHECK, NUMERIC(14, 2), the
timestamp range) and drawn inside, so Hypothesis never rejects a draw and shrinks towards simple rows.

Two modes:

* normal (default): realistic values from the model's vocabularies, timestamps in :data:`TIME_RANGE`;
* ``adversarial=True``: what a real system eventually meets. Text holds combining marks, right-to-left and
  bidi controls, emoji (ZWJ sequences, astral planes), BOM and zero-width characters, and the characters
  COPY text and CSV must escape (tab, CR, LF, backslash, quotes, ``\\N``); strings reach exactly their
  VARCHAR limit in characters; amounts are 0, 0.01 or the NUMERIC(14, 2) maximum; timestamps span
  :data:`ADVERSARIAL_TIME_RANGE`; event types are free text (the database does not enforce the list) with
  arbitrary JSON payloads (nested objects and arrays, unicode keys, integers of thousands of digits, floats
  from subnormal to 1.8e308).

Related rows are passed in, never looked up: ``events(customer=c)`` uses ``c.customer_id`` and is received
after ``c.created_at``; ``signals(event=e)`` copies the event's id, type and customer and derives
``signal_data`` from its payload. Any field can be overridden by keyword, with a value or a strategy (as in
``hypothesis.extra.django``). Arguments are checked when the strategy is built and raise
:class:`hypothesis.errors.InvalidArgument` naming the parameter and the bad value; values drawn from an
override strategy are checked as they are drawn.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime, timedelta
from decimal import Decimal
from types import MappingProxyType, NoneType
from typing import Any, Final, TypeVar
from uuid import UUID

import numpy as np

try:
    from hypothesis import strategies as st
    from hypothesis.errors import InvalidArgument
    from hypothesis.strategies import DrawFn, SearchStrategy
except ImportError as missing:  # an optional integration: say how to get it
    raise ImportError("sspp_fixtures.strategies needs Hypothesis: pip install 'sspp-fixtures[hypothesis]'") from missing

from .errors import ScenarioError
from .model import (
    ANNUAL_VALUE_LIMIT,
    CLOSED_PAYLOAD_FIELDS,
    COLUMN_LIMITS,
    CURRENCIES,
    EVENT_TYPE_NAMES,
    INDUSTRIES,
    LIFECYCLE_STAGES,
    LOCALES,
    OPTIONAL_PAYLOAD_FIELDS,
    PAYLOAD_NUMBER_LIMIT,
    PAYLOAD_SCHEMAS,
    PLATFORM_EVENT_TYPES,
    SEGMENTS,
    SITE_URL,
    SOURCES,
    Customer,
    Event,
    LocaleInfo,
    SalesSignal,
    Signal,
    customer_id,
    derive_signal_data,
    is_platform_event_type,
    make_payloads,
    platform_signal_score,
    platform_signal_type,
    score_text,
    text_problem,
    to_milliseconds,
)

__all__ = [
    "customers",
    "events",
    "payloads",
    "sales_signals",
    "signals",
]

T = TypeVar("T")

# Timestamps of normal mode: a plausible span for a sales platform's data.
TIME_RANGE: Final = (datetime(2015, 1, 1), datetime(2035, 12, 31, 23, 59, 59, 999_999))
# Timestamps of adversarial mode: all of Python's datetime (0001-01-01 to 9999-12-31, microseconds), which lies
# inside PostgreSQL's TIMESTAMP range (4713 BC to 294276 AD, also microseconds). Years before 1 and after 9999,
# and 'infinity'/'-infinity', load into PostgreSQL but have no datetime to read back into, so they are not drawn.
ADVERSARIAL_TIME_RANGE: Final = (datetime.min, datetime.max)
# The largest NUMERIC(14, 2), twelve digits before the point and two after: the model's ANNUAL_VALUE_LIMIT, whose
# float spells it exactly.
MAX_ANNUAL_VALUE: Final = Decimal(repr(ANNUAL_VALUE_LIMIT))
# JSONB numbers are NUMERIC (up to 131072 digits before the point), but Python refuses to convert integers of
# more than 4300 digits to or from text (sys.int_info.default_max_str_digits), which json.dumps/json.loads do.
MAX_JSON_INT_DIGITS: Final = 4300

_CENTS: Final = Decimal("0.01")
_MAX_CENTS: Final = int(MAX_ANNUAL_VALUE * 100)
# Numbers of known payload fields stay within the model's bound (PAYLOAD_NUMBER_LIMIT, 1e15): derive_signal_data's
# arithmetic (amount / rate, rounding to cents) stays finite and warning-free, and the JSON text of a float has no
# exponent, so the number reads back from JSONB as the same float (JSONB stores numbers as NUMERIC and prints them
# without exponent: a float of 1e16 or more reads back as an int).
_PAYLOAD_INT: Final = (-int(PAYLOAD_NUMBER_LIMIT), int(PAYLOAD_NUMBER_LIMIT))
_ADVERSARIAL_PAYLOAD_TEXT: Final = 300
_ADVERSARIAL_JSON_KEY: Final = 50
_NORMAL_TEXT: Final = 60

_LOCALES_BY_CODE: Final = MappingProxyType({info.locale: info for info in LOCALES})

# Characters and short sequences that break naive text handling. NUL (U+0000) is absent on purpose: PostgreSQL
# text cannot hold it at all (TEXT/VARCHAR values are C strings inside the server: "invalid byte sequence for
# encoding UTF8: 0x00"), and JSONB refuses the escape \u0000 ("unsupported Unicode escape sequence"). Lone
# surrogates (U+D800-U+DFFF) are absent too: they are not characters and cannot be encoded as UTF-8.
_EDGE_FRAGMENTS: Final = (
    "\t", "\n", "\r", "\r\n", "\\", "\\N", "\\.", '"', "'", ",", ";", "|", " ", "  ", "%s", "{}", "[]",
    "NULL", "null", "e\u0301", "\u0301", "\u0308\u0308\u0308", "\u202e", "\u200f", "\u200b", "\u200d", "\ufeff",
    "\u2028", "\u2029", "\u00a0", "\x7f", "\x01", "\x1b", "\x85",
    "\u05e9\u05dc\u05d5\u05dd", "\u0645\u0631\u062d\u0628\u0627", "\u0928\u092e\u0938\u094d\u0924\u0947",
    "\u6f22\u5b57", "\uff21", "\U0001d518", "\U0001f600", "\U0001f469\u200d\U0001f469\u200d\U0001f467",
    "\U0001f3f3\ufe0f\u200d\U0001f308", "\U0001f1fa\U0001f1f8", "\uffff", "\ufffd", "\U0010ffff",
    "'; DROP TABLE customers; --",
)  # fmt: skip
_ALPHABET: Final = st.characters(codec="utf-8", exclude_characters="\x00")
_PLAIN_ALPHABET: Final = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789 .-&'"

# Timestamps worth hitting on purpose: the ends of datetime, the Unix and PostgreSQL epochs and their
# neighbours, a leap day, the Gregorian switch (both Python and PostgreSQL use the proleptic calendar).
_EDGE_TIMES: Final = (
    datetime.min, datetime.max, datetime(1970, 1, 1), datetime(1969, 12, 31, 23, 59, 59, 999_999),
    datetime(2000, 1, 1), datetime(1999, 12, 31, 23, 59, 59, 999_999), datetime(2000, 2, 29, 12),
    datetime(1582, 10, 10), datetime(2038, 1, 19, 3, 14, 8),
)  # fmt: skip


def _fail(parameter: str, value: object, why: str) -> InvalidArgument:
    return InvalidArgument(f"{parameter}={value!r}: {why}")


# --- checking values --------------------------------------------------------------------------------------


def _check_text(parameter: str, value: str, limit: int | None) -> None:
    problem = text_problem(value)
    if problem is not None:
        raise _fail(parameter, value, problem)
    if limit is not None and len(value) > limit:
        raise _fail(parameter, value, f"{len(value)} characters, more than the column's VARCHAR({limit})")


def _check_json(parameter: str, value: object, path: str = "") -> None:
    """Raise unless ``value`` is JSON that JSONB stores and gives back (no NaN/Infinity, NUL, surrogates)."""
    where = f"{parameter}{path}"
    if value is None or isinstance(value, bool):
        return
    if isinstance(value, int):
        if len(str(abs(value))) > MAX_JSON_INT_DIGITS:
            raise _fail(where, value, f"an integer of more than {MAX_JSON_INT_DIGITS} digits")
    elif isinstance(value, float):
        if not math.isfinite(value):
            raise _fail(where, value, "JSONB has no NaN or Infinity; use a finite number or null")
    elif isinstance(value, str):
        _check_text(where, value, None)
    elif isinstance(value, list | tuple):
        for index, item in enumerate(value):
            _check_json(parameter, item, f"{path}[{index}]")
    elif isinstance(value, dict):
        for key, item in value.items():
            if not isinstance(key, str):
                raise _fail(where, key, "JSON object keys must be str")
            _check_text(f"{where} key", key, None)
            _check_json(parameter, item, f"{path}[{key!r}]")
    else:
        raise _fail(where, value, f"{type(value).__name__} is not a JSON value")


def _check_datetime(parameter: str, value: datetime) -> None:
    if value.tzinfo is not None:
        raise _fail(parameter, value, "the columns are TIMESTAMP (without time zone); give a naive datetime in UTC")


def _check_decimal(parameter: str, value: Decimal) -> None:
    if not value.is_finite() or value < 0 or value > MAX_ANNUAL_VALUE:
        raise _fail(parameter, value, f"must be between 0 and {MAX_ANNUAL_VALUE} (NUMERIC(14, 2), CHECK >= 0)")
    exponent = value.as_tuple().exponent
    if isinstance(exponent, int) and exponent < -2:
        raise _fail(parameter, value, "more than 2 decimal places: NUMERIC(14, 2) would round it; quantize to 0.01")


_Checker = Callable[[str, Any], None]


def _typed(types: tuple[type, ...], check: _Checker | None = None) -> _Checker:
    names = " or ".join("None" if t is NoneType else t.__name__ for t in types)

    def checker(parameter: str, value: Any) -> None:
        if not isinstance(value, types) or (isinstance(value, bool) and bool not in types):
            raise _fail(parameter, value, f"expected {names}, got {type(value).__name__}")
        if value is not None and check is not None:
            check(parameter, value)

    return checker


def _text(table: str, column: str, *, nullable: bool = False) -> _Checker:
    limit = COLUMN_LIMITS[table][column]
    return _typed((str, NoneType) if nullable else (str,), lambda p, v: _check_text(p, v, limit))


def _choice(allowed: Sequence[str], *, nullable: bool = False) -> _Checker:
    def check(parameter: str, value: str) -> None:
        if value not in allowed:
            raise _fail(parameter, value, f"allowed: {', '.join(allowed)}")

    return _typed((str, NoneType) if nullable else (str,), check)


def _country(parameter: str, value: str) -> None:
    if len(value) != 2:
        raise _fail(parameter, value, "country is CHAR(2): shorter values come back blank-padded; give 2 characters")
    _check_text(parameter, value, 2)


_CUSTOMER_CHECKS: Final[Mapping[str, _Checker]] = MappingProxyType(
    {
        "customer_id": _text("customers", "customer_id"),
        "name": _text("customers", "name"),
        "contact_name": _text("customers", "contact_name", nullable=True),
        "contact_email": _text("customers", "contact_email", nullable=True),
        "phone": _text("customers", "phone", nullable=True),
        "industry": _text("customers", "industry", nullable=True),
        "segment": _choice(SEGMENTS),
        "region": _text("customers", "region", nullable=True),
        "country": _typed((str, NoneType), _country),
        "locale": _choice(tuple(_LOCALES_BY_CODE), nullable=True),
        "lifecycle_stage": _text("customers", "lifecycle_stage"),
        "annual_value": _typed((Decimal, NoneType), _check_decimal),
        "created_at": _typed((datetime,), _check_datetime),
        "updated_at": _typed((datetime,), _check_datetime),
    }
)
_EVENT_CHECKS: Final[Mapping[str, _Checker]] = MappingProxyType(
    {
        "id": _typed((UUID,)),
        "customer_id": _text("events", "customer_id"),
        "payload": _typed((dict,), _check_json),
        "source": _text("events", "source"),
        "received_at": _typed((datetime,), _check_datetime),
        "user_id": _text("events", "user_id", nullable=True),
    }
)
_SIGNAL_CHECKS: Final[Mapping[str, _Checker]] = MappingProxyType(
    {
        "id": _typed((UUID,)),
        "event_type": _text("signals", "event_type"),
        "customer_id": _text("signals", "customer_id"),
        "signal_data": _typed((dict,), _check_json),
        "processed_at": _typed((datetime, NoneType), _check_datetime),
        "created_at": _typed((datetime, NoneType), _check_datetime),
        "event_id": _typed((UUID, NoneType)),
    }
)


def _checked(parameter: str, check: _Checker, value: T) -> T:
    check(parameter, value)
    return value


def _as_strategy(parameter: str, value: object, check: _Checker) -> SearchStrategy[Any]:
    """A value or strategy as a strategy: a value is checked now, a strategy's draws as they are drawn."""
    if isinstance(value, SearchStrategy):
        return value.map(functools.partial(_checked, parameter, check))
    check(parameter, value)
    return st.just(value)


def _overrides(
    function: str, overrides: Mapping[str, object], checks: Mapping[str, _Checker]
) -> dict[str, SearchStrategy[Any]]:
    unknown = sorted(set(overrides) - set(checks))
    if unknown:
        raise InvalidArgument(
            f"{function}() got an override of unknown field {unknown[0]!r}; fields: {', '.join(checks)}"
        )
    return {name: _as_strategy(name, value, checks[name]) for name, value in overrides.items()}


def _check_flag(parameter: str, value: object) -> None:
    if not isinstance(value, bool):
        raise _fail(parameter, value, "expected True or False")


# --- building blocks --------------------------------------------------------------------------------------


def _adversarial_text(max_size: int) -> SearchStrategy[str]:
    """Text of 0 to ``max_size`` characters rich in edge cases, often exactly ``max_size`` long."""
    fragment = st.one_of(st.sampled_from(_EDGE_FRAGMENTS), st.text(_ALPHABET, min_size=1, max_size=8))
    joined = st.lists(fragment, max_size=12).map("".join)
    return st.one_of(
        joined.map(lambda text: text[:max_size]),
        # Repeat the fragments up to exactly the limit: the VARCHAR(n) boundary, counted in characters.
        joined.map(lambda text: ((text or "x") * max_size)[:max_size]),
        st.text(_ALPHABET, min_size=max_size, max_size=max_size),
        st.text(_ALPHABET, max_size=max_size),
    )


def _plain_text(max_size: int, min_size: int = 1) -> SearchStrategy[str]:
    return st.text(_PLAIN_ALPHABET, min_size=min_size, max_size=min(max_size, _NORMAL_TEXT))


def _timestamps(low: datetime, high: datetime, adversarial: bool) -> SearchStrategy[datetime]:
    """Naive timestamps in [low, high]; adversarial mode also hits the edge instants inside that range."""
    inside = st.datetimes(min_value=low, max_value=high)
    if not adversarial:
        return inside
    edges = [when for when in _EDGE_TIMES if low <= when <= high]
    return st.one_of(st.sampled_from([low, high, *edges]), inside)


def _later(start: datetime, max_lag: timedelta, adversarial: bool) -> SearchStrategy[datetime]:
    """A timestamp at ``start`` or up to ``max_lag`` after (up to the end of time in adversarial mode)."""
    end = ADVERSARIAL_TIME_RANGE[1] if adversarial or start > datetime.max - max_lag else start + max_lag
    return _timestamps(start, end, adversarial)


def _time_range(adversarial: bool) -> tuple[datetime, datetime]:
    return ADVERSARIAL_TIME_RANGE if adversarial else TIME_RANGE


def _nullable(strategy: SearchStrategy[T]) -> SearchStrategy[T | None]:
    return st.one_of(st.none(), strategy)


_NO_USER: Final = st.none()


def _user_ids(adversarial: bool) -> SearchStrategy[str]:
    if adversarial:
        return _adversarial_text(COLUMN_LIMITS["sales_signals"]["user_id"])
    return st.integers(min_value=1, max_value=9_999).map("user_{:03d}".format)


def _customer_ids(adversarial: bool) -> SearchStrategy[str]:
    if adversarial:
        return _adversarial_text(COLUMN_LIMITS["customers"]["customer_id"])
    return st.integers(min_value=1, max_value=999_999).map(customer_id)


def _annual_values(adversarial: bool) -> SearchStrategy[Decimal]:
    def from_cents(cents: int) -> Decimal:
        return (Decimal(cents) / 100).quantize(_CENTS)

    values = st.integers(min_value=0, max_value=_MAX_CENTS).map(from_cents)
    if adversarial:
        return st.one_of(st.sampled_from([Decimal("0.00"), Decimal("0.01"), MAX_ANNUAL_VALUE]), values)
    return values


_TLDS: Final = tuple(sorted({info.tld for info in LOCALES}))


def _emails(adversarial: bool) -> SearchStrategy[str]:
    limit = COLUMN_LIMITS["customers"]["contact_email"]
    if adversarial:
        return _adversarial_text(limit)
    label = st.text("abcdefghijklmnopqrstuvwxyz0123456789", min_size=1, max_size=20)
    return st.builds(lambda local, domain, tld: f"{local}@{domain}.{tld}", label, label, st.sampled_from(_TLDS))


def _phones(adversarial: bool) -> SearchStrategy[str]:
    if adversarial:
        return _adversarial_text(COLUMN_LIMITS["customers"]["phone"])
    return st.builds(
        lambda country, number: f"+{country} {number}",
        st.integers(min_value=1, max_value=999),
        st.text("0123456789", min_size=6, max_size=12),
    )


def _open_vocabulary(vocabulary: Sequence[str], limit: int, adversarial: bool) -> SearchStrategy[str]:
    """A column the database does not constrain: the model's words, or in adversarial mode any text."""
    words = st.sampled_from(vocabulary)
    return st.one_of(words, _adversarial_text(limit)) if adversarial else words


# --- customers --------------------------------------------------------------------------------------------


@st.composite
def _draw_customer(draw: DrawFn, fields: Mapping[str, SearchStrategy[Any]], adversarial: bool) -> Customer:
    limits = COLUMN_LIMITS["customers"]
    low, high = _time_range(adversarial)

    def value(name: str, default: SearchStrategy[Any]) -> Any:
        return draw(fields.get(name, default))

    locale_code = value("locale", _nullable(st.sampled_from(tuple(_LOCALES_BY_CODE))))
    info: LocaleInfo | None = _LOCALES_BY_CODE.get(locale_code) if locale_code is not None else None
    created_at = value("created_at", _timestamps(low, high, adversarial))
    return Customer(
        customer_id=value("customer_id", _customer_ids(adversarial)),
        name=value("name", _adversarial_text(limits["name"]) if adversarial else _plain_text(limits["name"])),
        contact_name=value(
            "contact_name",
            _nullable(
                _adversarial_text(limits["contact_name"]) if adversarial else _plain_text(limits["contact_name"])
            ),
        ),
        contact_email=value("contact_email", _nullable(_emails(adversarial))),
        phone=value("phone", _nullable(_phones(adversarial))),
        industry=value("industry", _nullable(_open_vocabulary(INDUSTRIES, limits["industry"], adversarial))),
        segment=value("segment", st.sampled_from(SEGMENTS)),
        region=value("region", st.just(info.region if info else None)),
        country=value("country", st.just(info.country if info else None)),
        locale=locale_code,
        lifecycle_stage=value(
            "lifecycle_stage", _open_vocabulary(LIFECYCLE_STAGES, limits["lifecycle_stage"], adversarial)
        ),
        annual_value=value("annual_value", _nullable(_annual_values(adversarial))),
        created_at=created_at,
        updated_at=value("updated_at", _later(created_at, timedelta(days=3 * 365), adversarial)),
    )


def customers(*, adversarial: bool = False, **overrides: object) -> SearchStrategy[Customer]:
    """Rows of ``customers`` that satisfy the schema.

    ``customer_id`` is ``cust_NNNNNN`` (any text in adversarial mode); text fits its VARCHAR; ``segment`` is
    one of :data:`~sspp_fixtures.model.SEGMENTS` (the CHECK); ``locale``, ``country`` and ``region`` agree
    (all three null together); ``annual_value`` is a NUMERIC(14, 2) >= 0; ``updated_at >= created_at``.
    ``overrides`` set fields by name, to a value or a strategy; a ``locale`` override still sets ``country``
    and ``region`` unless those are overridden too, and ``updated_at`` follows an overridden ``created_at``.
    """
    _check_flag("adversarial", adversarial)
    fields = _overrides("customers", overrides, _CUSTOMER_CHECKS)
    created, updated = overrides.get("created_at"), overrides.get("updated_at")
    if isinstance(created, datetime) and isinstance(updated, datetime) and updated < created:
        raise _fail("updated_at", updated, f"earlier than created_at={created!r}")
    return _draw_customer(fields, adversarial)


# --- payloads ---------------------------------------------------------------------------------------------


def _decimal_places(value: float) -> int:
    text = repr(float(value))
    return len(text.split(".")[1]) if "." in text and "e" not in text else 0


@functools.cache
def _observed(event_type: str) -> tuple[dict[str, Any], ...]:
    """A few hundred payloads of ``event_type`` as the model makes them: fixed seed, every segment and currency."""
    n = len(SEGMENTS) * len(CURRENCIES) * 10
    return tuple(
        make_payloads(
            np.random.default_rng(20_240_601),
            [event_type] * n,
            [SEGMENTS[i % len(SEGMENTS)] for i in range(n)],
            [CURRENCIES[i % len(CURRENCIES)] for i in range(n)],
        )
    )


def _seen(event_type: str, field: str) -> list[Any]:
    return [row[field] for row in _observed(event_type) if field in row]


@functools.cache
def _payload_fields(event_type: str) -> dict[str, SearchStrategy[Any]]:
    """Per-field strategies of a known event type in normal mode: the values the model itself produces.

    Text fields sample the values seen in :func:`_observed`, numbers range between the smallest and largest
    seen (with as many decimals), lists take subsets of the words seen.
    """
    fields: dict[str, SearchStrategy[Any]] = {}
    for name, kind in PAYLOAD_SCHEMAS[event_type].items():
        seen = _seen(event_type, name)
        if kind is bool:
            fields[name] = st.booleans()
        elif kind is int:
            fields[name] = st.integers(min_value=min(seen), max_value=max(seen))
        elif kind is float:
            scale = 10 ** max(_decimal_places(v) for v in seen)
            low, high = math.ceil(min(seen) * scale), math.floor(max(seen) * scale)
            fields[name] = st.integers(min_value=low, max_value=high).map(functools.partial(_divide, scale=scale))
        elif kind is list:
            words = list(dict.fromkeys(word for value in seen for word in value))
            longest = max(len(value) for value in seen)
            fields[name] = st.lists(st.sampled_from(words), min_size=1, max_size=longest, unique=True)
        else:
            fields[name] = st.sampled_from(list(dict.fromkeys(seen)))
    return fields


def _divide(units: int, *, scale: int) -> float:
    return units / scale


def _adversarial_field(kind: type, closed: Sequence[str] | None) -> SearchStrategy[Any]:
    if closed is not None:
        return st.sampled_from(closed)
    if kind is bool:
        return st.booleans()
    if kind is int:
        return st.one_of(st.sampled_from([0, -1, 1, *_PAYLOAD_INT]), st.integers(*_PAYLOAD_INT))
    if kind is float:
        edges = st.sampled_from([0.0, -0.0, 0.01, 5e-324, 2.2250738585072014e-308, 999_999_999_999.99])
        return st.one_of(
            edges,
            st.floats(min_value=-PAYLOAD_NUMBER_LIMIT, max_value=PAYLOAD_NUMBER_LIMIT),
            st.integers(*_PAYLOAD_INT),
        )
    if kind is list:
        return st.lists(_adversarial_text(_ADVERSARIAL_JSON_KEY), max_size=8)
    return _adversarial_text(_ADVERSARIAL_PAYLOAD_TEXT)


def _json_values() -> SearchStrategy[Any]:
    """Any JSON value JSONB stores: nested arrays and objects, unicode, huge integers, every finite float."""
    bound = 10**MAX_JSON_INT_DIGITS - 1
    scalars = st.one_of(
        st.none(),
        st.booleans(),
        st.integers(),
        st.sampled_from([bound, -bound, 2**63, -(2**63) - 1, 2**64]),
        st.integers(min_value=-bound, max_value=bound),
        st.floats(allow_nan=False, allow_infinity=False),
        _adversarial_text(_ADVERSARIAL_PAYLOAD_TEXT),
    )
    keys = _adversarial_text(_ADVERSARIAL_JSON_KEY)
    return st.recursive(
        scalars,
        lambda children: st.one_of(st.lists(children, max_size=4), st.dictionaries(keys, children, max_size=4)),
        max_leaves=12,
    )


def _json_objects() -> SearchStrategy[dict[str, Any]]:
    return st.dictionaries(_adversarial_text(_ADVERSARIAL_JSON_KEY), _json_values(), max_size=6)


def _known_payloads(event_type: str, adversarial: bool) -> SearchStrategy[dict[str, Any]]:
    schema = PAYLOAD_SCHEMAS[event_type]
    if adversarial:
        closed = CLOSED_PAYLOAD_FIELDS.get(event_type, {})
        fields = {name: _adversarial_field(kind, closed.get(name)) for name, kind in schema.items()}
    else:
        fields = _payload_fields(event_type)
    # Optional fields (the worker's scored keys) are sometimes left out, as the model leaves them out. In the
    # schema's order, as the model writes payloads (fixed_dictionaries does not keep it).
    optional = OPTIONAL_PAYLOAD_FIELDS[event_type]
    ordered = st.fixed_dictionaries(
        {name: value for name, value in fields.items() if name not in optional},
        optional={name: value for name, value in fields.items() if name in optional},
    ).map(lambda payload: {name: payload[name] for name in schema if name in payload})
    if not adversarial and "url" in schema and "path" in schema:
        return ordered.map(lambda payload: {**payload, "url": SITE_URL + payload["path"]})
    return ordered


def _check_event_type(parameter: str, value: object, adversarial: bool) -> str:
    if not isinstance(value, str):
        raise _fail(parameter, value, f"expected str, got {type(value).__name__}")
    if adversarial:
        _check_text(parameter, value, COLUMN_LIMITS["events"]["event_type"])
    elif value not in EVENT_TYPE_NAMES:
        raise _fail(
            parameter,
            value,
            f"unknown event type; known: {', '.join(EVENT_TYPE_NAMES)} (free text needs adversarial=True)",
        )
    return value


def _payloads_of(event_type: str, adversarial: bool) -> SearchStrategy[dict[str, Any]]:
    if event_type in PAYLOAD_SCHEMAS:
        return _known_payloads(event_type, adversarial)
    return _json_objects()


def payloads(event_type: str, *, adversarial: bool = False) -> SearchStrategy[dict[str, Any]]:
    """Payloads of ``event_type``: its fields (:data:`~sspp_fixtures.model.PAYLOAD_SCHEMAS`), each of its type.

    Every payload of a known type is one :func:`~sspp_fixtures.model.derive_signal_data` accepts. In normal
    mode values are the model's own; in adversarial mode text is any text (except the fields the signal rules
    look up, such as ``currency``), integers span ±1e15 and floats run from subnormal to 1e15 (and include 0).
    An event type the model does not know is allowed only in adversarial mode: its payload is an arbitrary
    JSON object.
    """
    _check_flag("adversarial", adversarial)
    return _payloads_of(_check_event_type("event_type", event_type, adversarial), adversarial)


# --- events -----------------------------------------------------------------------------------------------


def _event_types(event_type: str | SearchStrategy[str] | None, adversarial: bool) -> SearchStrategy[str]:
    if event_type is None:
        known = st.sampled_from(EVENT_TYPE_NAMES)
        if adversarial:
            return st.one_of(known, _adversarial_text(COLUMN_LIMITS["events"]["event_type"]))
        return known
    if isinstance(event_type, SearchStrategy):
        return event_type.map(lambda value: _check_event_type("event_type", value, adversarial))
    return st.just(_check_event_type("event_type", event_type, adversarial))


def _customers_of(
    customer: Customer | SearchStrategy[Customer] | None, adversarial: bool
) -> SearchStrategy[Customer | None]:
    if customer is None:
        return st.none()
    if isinstance(customer, Customer):
        return st.just(customer)
    if isinstance(customer, SearchStrategy):
        return customer.map(functools.partial(_checked, "customer", _typed((Customer,))))
    raise _fail("customer", customer, f"expected a Customer, a strategy of Customer or None, got {type(customer)}")


@st.composite
def _draw_event(
    draw: DrawFn,
    event_types: SearchStrategy[str],
    parents: SearchStrategy[Customer | None],
    fields: Mapping[str, SearchStrategy[Any]],
    adversarial: bool,
) -> Event:
    low, high = _time_range(adversarial)
    parent = draw(parents)
    event_type = draw(event_types)
    if parent is not None:
        owner = parent.customer_id
        # An event comes after its customer was created: start the range there.
        low = max(low, parent.created_at)
        high = high if low <= high else ADVERSARIAL_TIME_RANGE[1]
    else:
        owner = draw(fields.get("customer_id", _customer_ids(adversarial)))
    return Event(
        id=draw(fields.get("id", st.uuids())),
        event_type=event_type,
        customer_id=owner,
        payload=draw(fields.get("payload", _payloads_of(event_type, adversarial))),
        source=draw(fields.get("source", _open_vocabulary(SOURCES, COLUMN_LIMITS["events"]["source"], adversarial))),
        received_at=draw(fields.get("received_at", _timestamps(low, high, adversarial))),
        user_id=draw(
            fields.get("user_id", _user_ids(adversarial) if is_platform_event_type(event_type) else st.none())
        ),
    )


def events(
    event_type: str | SearchStrategy[str] | None = None,
    customer: Customer | SearchStrategy[Customer] | None = None,
    *,
    adversarial: bool = False,
    **overrides: object,
) -> SearchStrategy[Event]:
    """Rows of ``events``: an event of ``event_type`` (any known type when None) with a matching payload.

    ``customer`` is the parent row (a value or a strategy): the event takes its ``customer_id`` and is
    received at or after its ``created_at``. Without one, ``customer_id`` is drawn alone (no customer row
    is implied; the schema has no foreign key). In adversarial mode ``event_type`` may be free text of up to
    50 characters, and an unknown type's payload is arbitrary JSON. ``overrides`` set other fields.
    """
    _check_flag("adversarial", adversarial)
    fields = _overrides("events", overrides, _EVENT_CHECKS)
    if customer is not None and "customer_id" in fields:
        raise InvalidArgument("events(): give either customer= or customer_id=, not both")
    if event_type is not None and not isinstance(event_type, str | SearchStrategy):
        raise _fail("event_type", event_type, "expected str, a strategy of str or None")
    return _draw_event(_event_types(event_type, adversarial), _customers_of(customer, adversarial), fields, adversarial)


# --- signals ----------------------------------------------------------------------------------------------


def _signal_data(event: Event) -> SearchStrategy[dict[str, Any]]:
    if event.event_type in PAYLOAD_SCHEMAS:
        return st.just(derive_signal_data(event.event_type, event.payload))
    # The worker has no rule for a type the model does not know: any JSON object stands for what it wrote.
    return _json_objects()


@st.composite
def _draw_signal(
    draw: DrawFn, parents: SearchStrategy[Event], fields: Mapping[str, SearchStrategy[Any]], adversarial: bool
) -> Signal:
    event = draw(parents)
    lag = timedelta(hours=6)
    processed_at = draw(fields.get("processed_at", _later(event.received_at, lag, adversarial)))
    start = processed_at if processed_at is not None else event.received_at
    return Signal(
        id=draw(fields.get("id", st.uuids())),
        event_type=draw(fields.get("event_type", st.just(event.event_type))),
        customer_id=draw(fields.get("customer_id", st.just(event.customer_id))),
        signal_data=draw(fields.get("signal_data", _signal_data(event))),
        processed_at=processed_at,
        created_at=draw(fields.get("created_at", _later(start, timedelta(seconds=5), adversarial))),
        event_id=draw(fields.get("event_id", st.just(event.id))),
    )


def signals(
    event: Event | SearchStrategy[Event] | None = None, *, adversarial: bool = False, **overrides: object
) -> SearchStrategy[Signal]:
    """Rows of ``signals``: what the worker writes for ``event`` (drawn with :func:`events` when None).

    ``event_id``, ``event_type`` and ``customer_id`` are the event's; ``signal_data`` is
    :func:`~sspp_fixtures.model.derive_signal_data` of its payload (an arbitrary JSON object for an event
    type the model does not know, which only adversarial events have); ``processed_at >= received_at`` and
    ``created_at >= processed_at``. ``overrides`` set fields, and win over what the event implies.
    """
    _check_flag("adversarial", adversarial)
    fields = _overrides("signals", overrides, _SIGNAL_CHECKS)
    if event is None:
        parents: SearchStrategy[Event] = events(adversarial=adversarial)
    elif isinstance(event, Event):
        if event.event_type in PAYLOAD_SCHEMAS and "signal_data" not in fields:
            _derive_now(event)
        parents = st.just(event)
    elif isinstance(event, SearchStrategy):
        parents = event.map(functools.partial(_checked, "event", _typed((Event,))))
    else:
        raise _fail("event", event, f"expected an Event, a strategy of Event or None, got {type(event).__name__}")
    return _draw_signal(parents, fields, adversarial)


def _derive_now(event: Event) -> None:
    """Fail now, naming the parameter, if the signal rules refuse the given event's payload."""
    try:
        derive_signal_data(event.event_type, event.payload)
    except ScenarioError as exc:
        raise _fail("event", event, f"its payload has no signal: {exc}") from None


# --- sales_signals ----------------------------------------------------------------------------------------

_SALES_SIGNAL_CHECKS: Final[Mapping[str, _Checker]] = MappingProxyType(
    {
        "id": _typed((int,)),
        "account_id": _text("sales_signals", "account_id"),
        "user_id": _text("sales_signals", "user_id"),
        "timestamp": _typed((datetime,), _check_datetime),
        "processed_at": _typed((datetime,), _check_datetime),
        "metadata": _typed((dict, NoneType), _check_json),
        "created_at": _typed((datetime,), _check_datetime),
        "updated_at": _typed((datetime,), _check_datetime),
    }
)
#: ``sales_signals.id`` is an INTEGER.
_MAX_SERIAL: Final = 2**31 - 1


@st.composite
def _draw_sales_signal(
    draw: DrawFn, parents: SearchStrategy[Event], fields: Mapping[str, SearchStrategy[Any]], adversarial: bool
) -> SalesSignal:
    event = draw(parents)
    metadata = draw(fields.get("metadata", st.just(event.payload)))
    timestamp = draw(fields.get("timestamp", st.just(to_milliseconds(event.received_at))))
    processed_at = draw(
        fields.get("processed_at", _later(timestamp, timedelta(hours=6), adversarial).map(to_milliseconds))
    )
    created_at = draw(fields.get("created_at", _later(processed_at, timedelta(seconds=5), adversarial)))
    return SalesSignal(
        id=draw(fields.get("id", st.integers(min_value=1, max_value=_MAX_SERIAL))),
        account_id=draw(fields.get("account_id", st.just(event.customer_id))),
        user_id=draw(
            fields.get("user_id", st.just(event.user_id) if event.user_id is not None else _user_ids(adversarial))
        ),
        event_type=event.event_type,
        signal_type=platform_signal_type(event.event_type),
        signal_score=Decimal(score_text(platform_signal_score(event.event_type, metadata))),
        timestamp=timestamp,
        processed_at=processed_at,
        metadata=metadata,
        created_at=created_at,
        updated_at=draw(fields.get("updated_at", st.just(created_at))),
    )


def sales_signals(
    event: Event | SearchStrategy[Event] | None = None, *, adversarial: bool = False, **overrides: object
) -> SearchStrategy[SalesSignal]:
    """Rows of ``sales_signals``: what the platform's worker stores for ``event`` (one of its six types; drawn
    with :func:`events` when None).

    ``account_id``, ``user_id``, ``event_type`` and ``metadata`` are the event's; ``signal_type`` and
    ``signal_score`` follow the worker's rules from the metadata (also when ``metadata=`` overrides it: in
    adversarial mode, any JSON object); times are to the millisecond and ``processed_at >= timestamp``.
    ``overrides`` set the other fields (``event_type``, ``signal_type`` and ``signal_score`` follow the rules).
    """
    _check_flag("adversarial", adversarial)
    for derived in ("event_type", "signal_type", "signal_score"):
        if derived in overrides:
            raise InvalidArgument(f"sales_signals(): {derived} follows the worker's rules; pass event= instead")
    fields = _overrides("sales_signals", overrides, _SALES_SIGNAL_CHECKS)
    if event is None:
        parents: SearchStrategy[Event] = events(st.sampled_from(PLATFORM_EVENT_TYPES), adversarial=adversarial)
        if adversarial and "metadata" not in fields:
            fields = {**fields, "metadata": st.one_of(st.none(), _json_objects(), _payloads_of("email_sent", True))}
    elif isinstance(event, Event):
        parents = st.just(_checked("event", _platform_event, event))
    elif isinstance(event, SearchStrategy):
        parents = event.map(functools.partial(_checked, "event", _platform_event))
    else:
        raise _fail("event", event, f"expected an Event, a strategy of Event or None, got {type(event).__name__}")
    return _draw_sales_signal(parents, fields, adversarial)


def _platform_event(parameter: str, value: object) -> None:
    _typed((Event,))(parameter, value)
    assert isinstance(value, Event)
    if not is_platform_event_type(value.event_type):
        raise _fail(
            parameter, value, f"sales_signals hold only the platform's types: {', '.join(PLATFORM_EVENT_TYPES)}"
        )
