"""The values of one factory row, drawn from the model's distributions through :mod:`._streams`, and Faker in the
customer's locale. Each function is one field's draw; the factories' declarations only wire them together."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any, Final, cast
from uuid import UUID

import faker
import numpy as np
import numpy.typing as npt

from ..errors import UsageError
from ..model import (
    COLUMN_LIMITS,
    EVENT_TYPE_NAMES,
    LOCALES,
    PLATFORM_EVENT_TYPES,
    Customer,
    Event,
    LocaleInfo,
    Window,
    derive_signal_data,
    is_platform_event_type,
    make_payload,
    sample_annual_values,
    sample_created_at,
    sample_event_types,
    sample_processing_lag,
    sample_timestamps,
    sample_updated_at,
    sample_uuids,
    to_datetime,
    to_milliseconds,
    user_ids,
)
from ..model import customer_id as format_customer_id
from ._streams import state

__all__ = [
    "WINDOW",
    "annual_value",
    "choice",
    "company_name",
    "contact_name",
    "country",
    "created_at",
    "email",
    "event_type",
    "fake",
    "locale_info",
    "milliseconds",
    "naive_utc",
    "next_customer_id",
    "next_sales_signal_id",
    "payload",
    "phone",
    "platform_event_type",
    "platform_type",
    "processing_lag",
    "received_at",
    "region",
    "signal_data",
    "updated_at",
    "user_id",
    "uuid",
    "write_delay",
]

#: The time range events fall in (customers are created before it): fixed, so no value depends on the clock.
WINDOW: Final = Window(datetime(2026, 4, 1), datetime(2026, 7, 1))
#: The users (sales reps) factory events of the platform's types are spread over: ``user_001`` … ``user_025``.
_FACTORY_USERS: Final = 25

_LIMITS: Final = COLUMN_LIMITS["customers"]
_LOCALE_INFO: Final = {info.locale: info for info in LOCALES}
_WORD: Final = re.compile(r"[a-z0-9]+")
_TITLES: Final = frozenset({"mr", "mrs", "ms", "miss", "dr", "prof", "sr", "sra", "dra", "srta", "herr", "frau"})
_LEGAL_FORMS: Final = frozenset({"inc", "llc", "ltd", "plc", "and", "co", "corp", "gmbh", "ag", "sa", "srl", "spa"})


def next_customer_id() -> str:
    return format_customer_id(next(state.numbers))


def next_sales_signal_id() -> int:
    return next(state.sales_signal_ids)


def fake(locale: str | None) -> faker.Faker:
    """A Faker of ``locale``, unseeded on purpose: it draws from the random :func:`reseed` sets."""
    key = info.locale if (info := locale_info(locale)) else "en_US"
    made = state.fakers.get(key)
    if made is None:
        with state.lock:
            made = state.fakers.setdefault(key, faker.Faker(key))
    return made


def choice(name: str, sample: Callable[[np.random.Generator, int], npt.NDArray[np.str_]]) -> Callable[[], str]:
    """A draw of one value of a categorical ``sample_*(rng, n)`` function of the model."""
    return lambda: cast(str, state.draw((name,), lambda rng, n: sample(rng, n).tolist()))


def uuid() -> UUID:
    return cast(UUID, state.draw(("uuid",), lambda rng, n: [UUID(text) for text in sample_uuids(rng, n)]))


def created_at() -> datetime:
    return cast(datetime, state.draw(("created_at",), lambda rng, n: sample_created_at(rng, n, WINDOW).tolist()))


def locale_info(locale: str | None) -> LocaleInfo | None:
    if locale is None:
        return None
    info = _LOCALE_INFO.get(locale)
    if info is None:
        raise UsageError(
            f"locale {locale!r} is not one the model knows",
            hint=f"pass one of: {', '.join(_LOCALE_INFO)}",
            field="locale",
            value=locale,
        )
    return info


def _ascii_words(text: str) -> list[str]:
    return _WORD.findall(unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode().lower())


def email(contact: str | None, company: str, locale: str | None) -> str | None:
    """``first.last@company.tld``; Faker's romanised user names and domain words for non-Latin scripts."""
    if contact is None:
        return None
    generator = fake(locale)
    words = [word for word in _ascii_words(contact) if word not in _TITLES]
    local = f"{words[0]}.{words[-1]}" if len(words) >= 2 else "".join(words)
    if len(local) < 3:
        local = ".".join(_ascii_words(generator.user_name())) or "contact"
    label = "-".join([w for w in _ascii_words(company) if w not in _LEGAL_FORMS and len(w) > 1][:2])
    if len(label) < 3:
        label = "-".join(_ascii_words(generator.domain_word())) or "company"
    info = locale_info(locale)
    return f"{local[:64]}@{label[:40]}.{info.tld if info else 'com'}"


def phone(locale: str | None) -> str:
    generator = fake(locale)
    for _ in range(4):
        number = str(generator.phone_number())
        if len(number) <= _LIMITS["phone"]:
            return number
    return number[: _LIMITS["phone"]]


def naive_utc(value: datetime) -> datetime:
    return value.astimezone(UTC).replace(tzinfo=None) if value.tzinfo is not None else value


def annual_value(segment: str) -> Decimal:
    def sample(rng: np.random.Generator, n: int) -> list[Decimal]:
        return [Decimal(f"{value:.2f}") for value in sample_annual_values(rng, [segment] * n).tolist()]

    return cast(Decimal, state.draw(("annual_value", segment), sample))


def updated_at(created: datetime) -> datetime:
    created_array = np.array([naive_utc(created)], dtype="datetime64[us]")
    return to_datetime(sample_updated_at(state.rng, created_array, WINDOW)[0])


def received_at(customer: Customer | None) -> datetime:
    """In :data:`WINDOW`, in the customer's business hours, and after the customer was created."""
    info = locale_info(customer.locale) if customer is not None else None
    offset = info.utc_offset_hours if info else 0.0
    if customer is not None and naive_utc(customer.created_at) >= WINDOW.start:
        start = naive_utc(customer.created_at) + timedelta(microseconds=1)
        window = Window(start, max(WINDOW.end, start + timedelta(days=1)))
        return to_datetime(sample_timestamps(state.rng, 1, window, utc_offsets=offset)[0])

    def sample(rng: np.random.Generator, n: int) -> list[datetime]:
        return list(sample_timestamps(rng, n, WINDOW, utc_offsets=offset).tolist())

    return cast(datetime, state.draw(("received_at", str(offset)), sample))


def _known_type(event_type: str, what: str) -> str:
    if event_type not in EVENT_TYPE_NAMES:
        raise UsageError(
            f"event_type {event_type!r} has no {what} model",
            hint=f"pass {what}=... yourself, or use one of: {', '.join(EVENT_TYPE_NAMES)}",
            field="event_type",
            value=event_type,
        )
    return event_type


def payload(event_type: str, customer: Customer | None) -> dict[str, Any]:
    info = locale_info(customer.locale) if customer is not None else None
    return make_payload(
        _known_type(event_type, "payload"),
        state.rng,
        segment=customer.segment if customer is not None else "smb",
        currency=info.currency if info else "USD",
    )


def signal_data(event: Event) -> dict[str, Any]:
    return derive_signal_data(_known_type(event.event_type, "signal_data"), event.payload)


def user_id(event_type: str) -> str | None:
    """The sales rep who acted, for the platform's event types (``user_001`` …); None for the others."""
    if not is_platform_event_type(event_type):
        return None

    def sample(rng: np.random.Generator, n: int) -> list[str | None]:
        return user_ids(rng.integers(1, _FACTORY_USERS + 1, size=n))

    return cast(str, state.draw(("user_id",), sample))


def platform_type(event_type: str) -> str:
    if not is_platform_event_type(event_type):
        raise UsageError(
            f"sales_signals hold only the platform's event types, not {event_type!r}",
            hint=f"use one of: {', '.join(PLATFORM_EVENT_TYPES)}",
            field="event_type",
            value=event_type,
        )
    return event_type


def platform_event_type() -> str:
    return cast(
        str,
        state.draw(
            ("platform_event_type",),
            lambda rng, n: [PLATFORM_EVENT_TYPES[i] for i in rng.integers(0, len(PLATFORM_EVENT_TYPES), n).tolist()],
        ),
    )


def milliseconds(value: datetime) -> datetime:
    """Naive UTC, to the millisecond: the platform's worker writes its times as JavaScript dates."""
    return to_milliseconds(naive_utc(value))


def processing_lag() -> timedelta:
    return cast(timedelta, state.draw(("lag",), lambda rng, n: sample_processing_lag(rng, n).tolist()))


def write_delay() -> timedelta:
    """From processing to the row's INSERT: 0.2 to 50 ms, as the model's worker."""

    def sample(rng: np.random.Generator, n: int) -> list[timedelta]:
        return [timedelta(microseconds=us) for us in rng.integers(200, 50_000, size=n).tolist()]

    return cast(timedelta, state.draw(("write_delay",), sample))


def company_name(locale: str | None) -> str:
    return str(fake(locale).company())[: _LIMITS["name"]]


def contact_name(locale: str | None) -> str:
    return str(fake(locale).name())[: _LIMITS["contact_name"]]


def region(locale: str | None) -> str | None:
    return info.region if (info := locale_info(locale)) else None


def country(locale: str | None) -> str | None:
    return info.country if (info := locale_info(locale)) else None


_any_event_type: Final = choice("event_type", sample_event_types)


def event_type(platform_only: bool) -> str:
    """Any event type of the model, or one of the platform's six (a ``sales_signals`` row's event)."""
    return platform_event_type() if platform_only else _any_event_type()
