"""factory-boy factories for SSPP rows: one object at a time, for tests.

``CustomerFactory``, ``EventFactory``, ``SignalFactory`` and ``SalesSignalFactory`` build the model's row
dataclasses from the same distributions the bulk generator uses (the model's functions, fed by seeded numpy
generators) and Faker in the customer's locale. A signal's ``event`` and an event's ``customer`` are
sub-factories, so references always agree; they are excluded from the rows, never columns. Variants are traits
(``enterprise``, ``churn_risk``, ``purchase``, ``meeting_booked``, …), and call-time keyword arguments win, as in
factory-boy.

``build()`` makes plain objects and never touches a database. ``create()`` and ``create_batch()`` need a
connection bound from outside: :func:`bind_factories` returns factories bound to one connection (the pytest
plugin's ``sspp_factories``), and :func:`bind` binds the plain factories inside a ``with`` block. Every row a
``create`` call makes, sub-objects included, is collected and sent with one COPY per table through
:func:`sspp_fixtures.loader.copy_columns`, in one transaction: ``create_batch(n)`` is three COPYs, not n INSERTs.

:func:`reseed` is the one seeding entry: it reseeds factory-boy's shared random (and so Faker), the numpy
generators and the customer numbering, so the same seed gives the same objects.
"""

# factory-boy's declarations (LazyAttribute, Trait, ...) have no annotations; calling them is the point here.
# mypy: disable-error-code="no-untyped-call"
from __future__ import annotations

import contextlib
import itertools
import json
import re
import secrets
import threading
import types
import unicodedata
from collections.abc import Callable, Iterator, Sequence
from contextvars import ContextVar
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any, Final, TypeVar, cast
from uuid import UUID

import faker
import numpy as np
import numpy.typing as npt
import psycopg
from factory.base import Factory, FactoryOptions, OptionDefault
from factory.declarations import LazyAttribute, LazyFunction, SelfAttribute, SubFactory, Trait
from factory.enums import BUILD_STRATEGY, CREATE_STRATEGY
from factory.random import reseed_random

from .bulkgen import TABLE_ORDER, TABLES, Columns
from .errors import UsageError
from .model import (
    COLUMN_LIMITS,
    EVENT_TYPE_NAMES,
    LOCALES,
    PLATFORM_EVENT_TYPES,
    SEGMENTS,
    Customer,
    Event,
    LocaleInfo,
    SalesSignal,
    Signal,
    Window,
    derive_rng,
    derive_signal_data,
    is_platform_event_type,
    make_payload,
    platform_signal_score,
    platform_signal_type,
    sample_annual_values,
    sample_created_at,
    sample_event_types,
    sample_industries,
    sample_lifecycle_stages,
    sample_locales,
    sample_processing_lag,
    sample_segments,
    sample_sources,
    sample_timestamps,
    sample_updated_at,
    sample_uuids,
    score_text,
    to_datetime,
    to_milliseconds,
    user_ids,
)
from .model import customer_id as format_customer_id

__all__ = [
    "FACTORY_CUSTOMER_BASE",
    "FACTORY_SALES_SIGNAL_BASE",
    "WINDOW",
    "BoundFactories",
    "CustomerFactory",
    "EventFactory",
    "SalesSignalFactory",
    "SignalFactory",
    "bind",
    "bind_factories",
    "reseed",
    "rows_to_columns",
]

Row = Customer | Event | Signal | SalesSignal
T = TypeVar("T", Customer, Event, Signal, SalesSignal)
F = TypeVar("F", bound="_RowFactory[Any]")

#: The time range events fall in (customers are created before it): fixed, so no value depends on the clock.
WINDOW: Final = Window(datetime(2026, 4, 1), datetime(2026, 7, 1))
#: Factory customers are numbered from here (``cust_900000001``…), above any scenario's customers (at most
#: 50 million), so rows a test creates never collide with a scenario loaded into the same database.
FACTORY_CUSTOMER_BASE: Final = 900_000_000
#: Factory ``sales_signals`` ids start above this, far above a scenario's (one per event, at most 50 million) and
#: below the column's INTEGER limit; the table's sequence is left alone, so the worker's own inserts never collide.
FACTORY_SALES_SIGNAL_BASE: Final = 1_900_000_000
#: The users (sales reps) factory events of the platform's types are spread over: ``user_001`` … ``user_025``.
_FACTORY_USERS: Final = 25

_LIMITS: Final = COLUMN_LIMITS["customers"]
_LOCALE_INFO: Final = {info.locale: info for info in LOCALES}
_TABLE_OF: Final[dict[type[Any], str]] = {
    Customer: "customers",
    Event: "events",
    Signal: "signals",
    SalesSignal: "sales_signals",
}
_MODEL_OF: Final = {table: model for model, table in _TABLE_OF.items()}
_WORD: Final = re.compile(r"[a-z0-9]+")
_TITLES: Final = frozenset({"mr", "mrs", "ms", "miss", "dr", "prof", "sr", "sra", "dra", "srta", "herr", "frau"})
_LEGAL_FORMS: Final = frozenset({"inc", "llc", "ltd", "plc", "and", "co", "corp", "gmbh", "ag", "sa", "srl", "spa"})


# --- random state: per-field numpy streams, factory-boy's random (shared with Faker), the customer numbering ---

_BLOCK: Final = 256


class _Stream:
    """One field's values, drawn :data:`_BLOCK` at a time from the field's own generator.

    A vectorised model call per block costs what one call per row would, and a field's values do not shift
    when a test overrides another field.
    """

    def __init__(self, rng: np.random.Generator, draw: Callable[[np.random.Generator, int], list[Any]]) -> None:
        self._rng = rng
        self._draw = draw
        self._values: list[Any] = []
        self._next = 0
        self._lock = threading.Lock()

    def __call__(self) -> Any:
        with self._lock:  # threads building at once never get the same value (two equal UUIDs)
            if self._next == len(self._values):
                self._values = self._draw(self._rng, _BLOCK)
                self._next = 0
            self._next += 1
            return self._values[self._next - 1]


class _RandomState:
    """Everything the factories draw from; :meth:`reset` starts it all again from one seed."""

    def __init__(self, seed: int) -> None:
        self.fakers: dict[str, faker.Faker] = {}
        self.lock = threading.Lock()
        self.reset(seed)

    def reset(self, seed: int) -> None:
        self.seed = seed
        self.streams: dict[tuple[str, ...], _Stream] = {}
        self.rng = derive_rng(seed, "factories", "rows")  # draws that depend on other fields (payloads)
        self.numbers = itertools.count(FACTORY_CUSTOMER_BASE + 1)
        self.sales_signal_ids = itertools.count(FACTORY_SALES_SIGNAL_BASE + 1)

    def draw(self, key: tuple[str, ...], sample: Callable[[np.random.Generator, int], list[Any]]) -> Any:
        stream = self.streams.get(key)
        if stream is None:
            with self.lock:
                stream = self.streams.setdefault(key, _Stream(derive_rng(self.seed, "factories", *key), sample))
        return stream()


_random = _RandomState(secrets.randbits(63))  # unseeded, like factory-boy and Faker, until reseed()


def reseed(seed: int) -> None:
    """Make the factories reproducible: the same ``seed`` gives the same objects, in the same order.

    Reseeds factory-boy's shared random (which Faker draws from), the numpy generators the model's functions
    draw from, and restarts customer numbering at ``cust_900000001``. Call it at the start of a test (on a
    fresh database: customers created after a reseed reuse the ids of those created before it).
    """
    if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
        raise UsageError(f"reseed: expected an integer >= 0, got {seed!r}", hint="pass a seed such as 42")
    reseed_random(seed)
    _random.reset(seed)


def _rng() -> np.random.Generator:
    return _random.rng


def _next_customer_id() -> str:
    return format_customer_id(next(_random.numbers))


def _next_sales_signal_id() -> int:
    return next(_random.sales_signal_ids)


def _fake(locale: str | None) -> faker.Faker:
    """A Faker of ``locale``, unseeded on purpose: it draws from the random :func:`reseed` sets."""
    key = info.locale if (info := _locale_info(locale)) else "en_US"
    fake = _random.fakers.get(key)
    if fake is None:
        with _random.lock:
            fake = _random.fakers.setdefault(key, faker.Faker(key))
    return fake


# --- values of one row, from the model ---


def _choice(name: str, sample: Callable[[np.random.Generator, int], npt.NDArray[np.str_]]) -> Callable[[], str]:
    """A draw of one value of a categorical ``sample_*(rng, n)`` function of the model."""
    return lambda: cast(str, _random.draw((name,), lambda rng, n: sample(rng, n).tolist()))


def _uuid() -> UUID:
    return cast(UUID, _random.draw(("uuid",), lambda rng, n: [UUID(text) for text in sample_uuids(rng, n)]))


def _created_at() -> datetime:
    return cast(datetime, _random.draw(("created_at",), lambda rng, n: sample_created_at(rng, n, WINDOW).tolist()))


def _locale_info(locale: str | None) -> LocaleInfo | None:
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


def _email(contact: str | None, company: str, locale: str | None) -> str | None:
    """``first.last@company.tld``; Faker's romanised user names and domain words for non-Latin scripts."""
    if contact is None:
        return None
    fake = _fake(locale)
    words = [word for word in _ascii_words(contact) if word not in _TITLES]
    local = f"{words[0]}.{words[-1]}" if len(words) >= 2 else "".join(words)
    if len(local) < 3:
        local = ".".join(_ascii_words(fake.user_name())) or "contact"
    label = "-".join([w for w in _ascii_words(company) if w not in _LEGAL_FORMS and len(w) > 1][:2])
    if len(label) < 3:
        label = "-".join(_ascii_words(fake.domain_word())) or "company"
    info = _locale_info(locale)
    return f"{local[:64]}@{label[:40]}.{info.tld if info else 'com'}"


def _phone(locale: str | None) -> str:
    fake = _fake(locale)
    for _ in range(4):
        phone = str(fake.phone_number())
        if len(phone) <= _LIMITS["phone"]:
            return phone
    return phone[: _LIMITS["phone"]]


def _naive_utc(value: datetime) -> datetime:
    return value.astimezone(UTC).replace(tzinfo=None) if value.tzinfo is not None else value


def _annual_value(segment: str) -> Decimal:
    def sample(rng: np.random.Generator, n: int) -> list[Decimal]:
        return [Decimal(f"{value:.2f}") for value in sample_annual_values(rng, [segment] * n).tolist()]

    return cast(Decimal, _random.draw(("annual_value", segment), sample))


def _updated_at(created_at: datetime) -> datetime:
    created = np.array([_naive_utc(created_at)], dtype="datetime64[us]")
    return to_datetime(sample_updated_at(_rng(), created, WINDOW)[0])


def _received_at(customer: Customer | None) -> datetime:
    """In :data:`WINDOW`, in the customer's business hours, and after the customer was created."""
    info = _locale_info(customer.locale) if customer is not None else None
    offset = info.utc_offset_hours if info else 0.0
    if customer is not None and _naive_utc(customer.created_at) >= WINDOW.start:
        start = _naive_utc(customer.created_at) + timedelta(microseconds=1)
        window = Window(start, max(WINDOW.end, start + timedelta(days=1)))
        return to_datetime(sample_timestamps(_rng(), 1, window, utc_offsets=offset)[0])

    def sample(rng: np.random.Generator, n: int) -> list[datetime]:
        return list(sample_timestamps(rng, n, WINDOW, utc_offsets=offset).tolist())

    return cast(datetime, _random.draw(("received_at", str(offset)), sample))


def _known_type(event_type: str, what: str) -> str:
    if event_type not in EVENT_TYPE_NAMES:
        raise UsageError(
            f"event_type {event_type!r} has no {what} model",
            hint=f"pass {what}=... yourself, or use one of: {', '.join(EVENT_TYPE_NAMES)}",
            field="event_type",
            value=event_type,
        )
    return event_type


def _payload(event_type: str, customer: Customer | None) -> dict[str, Any]:
    info = _locale_info(customer.locale) if customer is not None else None
    return make_payload(
        _known_type(event_type, "payload"),
        _rng(),
        segment=customer.segment if customer is not None else "smb",
        currency=info.currency if info else "USD",
    )


def _signal_data(event: Event) -> dict[str, Any]:
    return derive_signal_data(_known_type(event.event_type, "signal_data"), event.payload)


def _user_id(event_type: str) -> str | None:
    """The sales rep who acted, for the platform's event types (``user_001`` …); None for the others."""
    if not is_platform_event_type(event_type):
        return None

    def sample(rng: np.random.Generator, n: int) -> list[str | None]:
        return user_ids(rng.integers(1, _FACTORY_USERS + 1, size=n))

    return cast(str, _random.draw(("user_id",), sample))


def _platform_type(event_type: str) -> str:
    if not is_platform_event_type(event_type):
        raise UsageError(
            f"sales_signals hold only the platform's event types, not {event_type!r}",
            hint=f"use one of: {', '.join(PLATFORM_EVENT_TYPES)}",
            field="event_type",
            value=event_type,
        )
    return event_type


def _platform_event_type() -> str:
    return cast(
        str,
        _random.draw(
            ("platform_event_type",),
            lambda rng, n: [PLATFORM_EVENT_TYPES[i] for i in rng.integers(0, len(PLATFORM_EVENT_TYPES), n).tolist()],
        ),
    )


def _milliseconds(value: datetime) -> datetime:
    """Naive UTC, to the millisecond: the platform's worker writes its times as JavaScript dates."""
    return to_milliseconds(_naive_utc(value))


def _processing_lag() -> timedelta:
    return cast(timedelta, _random.draw(("lag",), lambda rng, n: sample_processing_lag(rng, n).tolist()))


def _write_delay() -> timedelta:
    """From processing to the row's INSERT: 0.2 to 50 ms, as the model's worker."""

    def sample(rng: np.random.Generator, n: int) -> list[timedelta]:
        return [timedelta(microseconds=us) for us in rng.integers(200, 50_000, size=n).tolist()]

    return cast(timedelta, _random.draw(("write_delay",), sample))


# --- persistence: rows of a create() call are collected, then sent with one COPY per table ---


def _text(value: Any) -> str:
    return value if isinstance(value, str) else str(value)


def _number(value: Any) -> str:
    return str(value) if isinstance(value, int) else f"{value:.2f}"


def _timestamp(value: datetime) -> str:
    return _naive_utc(value).isoformat(timespec="microseconds")


def _uuid_text(value: UUID | str) -> str:
    return str(value if isinstance(value, UUID) else UUID(value))


def _json(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


_RENDER: Final = {"text": _text, "number": _number, "timestamp": _timestamp, "uuid": _uuid_text, "json": _json}


def rows_to_columns(table: str, rows: Sequence[Row]) -> Columns:
    """Rows of ``table`` as a :class:`~sspp_fixtures.bulkgen.Columns` chunk, rendered as the bulk engine does.

    Timestamps ISO with microseconds (aware ones converted to naive UTC, as the columns are ``TIMESTAMP``),
    numbers with two decimals, UUIDs canonical, JSON compact, ``None`` as NULL.
    """
    spec = TABLES.get(table)
    if spec is None:
        raise UsageError(f"unknown table {table!r}", hint=f"use one of: {', '.join(TABLE_ORDER)}")
    model = _MODEL_OF[table]
    wrong = next((row for row in rows if not isinstance(row, model)), None)
    if wrong is not None:
        raise UsageError(f"{table} takes {model.__name__} rows, got {type(wrong).__name__}", hint="group rows by table")
    values: dict[str, list[str | None]] = {}
    for column, kind in zip(spec.columns, spec.kinds, strict=True):
        render = _RENDER[kind]
        values[column] = [None if (v := getattr(row, column)) is None else render(v) for row in rows]
    return Columns(table, values, len(rows))


@dataclass
class _Session:
    """The rows one ``create``/``create_batch`` call made, waiting for their COPY.

    They land together or not at all: in a transaction of their own on an autocommit connection, else in the
    caller's transaction (behind a savepoint when one is open), which the caller commits.
    """

    connection: psycopg.Connection[Any]
    rows: dict[str, list[Row]] = field(default_factory=lambda: {table: [] for table in TABLE_ORDER})

    def flush(self) -> None:
        from . import loader  # engines sit below the loader: only persisting reaches up to it

        chunks = [rows_to_columns(table, self.rows[table]) for table in TABLE_ORDER if self.rows[table]]
        if not chunks:
            return
        conn = self.connection
        if conn.autocommit or conn.info.transaction_status == psycopg.pq.TransactionStatus.INTRANS:
            with conn.transaction():  # its own transaction, or a savepoint in the caller's
                loader.copy_columns(conn, chunks)
        else:  # opens the caller's transaction, which the caller commits or rolls back
            loader.copy_columns(conn, chunks)


_session: ContextVar[_Session | None] = ContextVar("sspp_factories_session", default=None)
_bound_connection: ContextVar[psycopg.Connection[Any] | None] = ContextVar("sspp_factories_connection", default=None)


def _check_connection(connection: object) -> psycopg.Connection[Any]:
    if not isinstance(connection, psycopg.Connection):
        raise UsageError(
            f"the factories need a psycopg.Connection, got {type(connection).__name__}",
            hint="open one with sspp_fixtures.dsn.connect(dsn) and pass it to bind_factories()",
        )
    return connection


class _Options(FactoryOptions):
    """factory-boy's options plus ``Meta.connection``: the psycopg connection ``create`` writes to."""

    connection: psycopg.Connection[Any] | None

    @property
    def declarations(self) -> dict[str, Any]:
        """factory-boy's declarations, plus each trait's flag at its default ``False``.

        A trait not passed is otherwise looked up, missed, and factory-boy formats an AttributeError holding
        the repr of every declaration: with one trait per event type that was most of the time of a build.
        """
        flags = {name: False for name, parameter in self.parameters.items() if isinstance(parameter, Trait)}
        return {**flags, **super().declarations}

    def _build_default_options(self) -> list[Any]:
        defaults: list[Any] = super()._build_default_options()
        return [*defaults, OptionDefault("connection", None, inherit=True)]


class _RowFactory(Factory[T]):
    """Base of the three factories: builds by default, persists through the bound connection with COPY."""

    _options_class = _Options

    class Meta:
        abstract = True
        strategy = BUILD_STRATEGY

    @classmethod
    @contextlib.contextmanager
    def _collecting(cls) -> Iterator[_Session]:
        """The session of the ``create`` call in progress, or a new one sent when the outermost call ends."""
        active = _session.get()
        if active is not None:
            yield active
            return
        connection = cast(_Options, cls._meta).connection or _bound_connection.get()
        if connection is None:
            raise UsageError(
                f"{cls.__name__}.create() has no database connection",
                hint="bind one: factories = bind_factories(conn), then factories.customers.create(); "
                "or `with bind(conn):` around the call; build() needs none",
            )
        session = _Session(connection)
        token = _session.set(session)
        try:
            yield session
        finally:
            _session.reset(token)
        session.flush()

    @classmethod
    def _generate(cls, strategy: str, params: dict[str, Any]) -> T:
        if strategy != CREATE_STRATEGY:
            return cast(T, super()._generate(strategy, params))
        with cls._collecting():
            return cast(T, super()._generate(strategy, params))

    @classmethod
    def _create(cls, model_class: type[T], *args: Any, **kwargs: Any) -> T:
        row = model_class(*args, **kwargs)
        session = _session.get()
        if session is None:
            raise UsageError(f"{cls.__name__}._create() was called directly", hint="call create() instead")
        session.rows[_TABLE_OF[model_class]].append(row)
        return row

    @classmethod
    def create_batch(cls, size: int, **kwargs: Any) -> list[T]:
        """``size`` objects (and their sub-objects) persisted with one COPY per table, in one transaction."""
        with cls._collecting():
            return [cls.create(**kwargs) for _ in range(size)]


def _params(declarations: dict[str, Any]) -> type:
    """A ``class Params`` from a mapping, so traits can be generated (one per event type, per segment)."""
    return type("Params", (), declarations)


# --- the factories ---


class CustomerFactory(_RowFactory[Customer]):
    """A customer: Faker company and contact in its locale, country and region of the locale, value by segment.

    Traits: ``smb``, ``mid_market``, ``enterprise`` (the segment), ``churn_risk`` (a paying customer, the kind
    the health model flags), ``churned``. ``created_at`` is before :data:`WINDOW`, so before its events.
    """

    class Meta:
        model = Customer

    customer_id = LazyFunction(_next_customer_id)
    segment = LazyFunction(_choice("segment", sample_segments))
    locale = LazyFunction(_choice("locale", sample_locales))
    name = LazyAttribute(lambda o: str(_fake(o.locale).company())[: _LIMITS["name"]])
    contact_name = LazyAttribute(lambda o: str(_fake(o.locale).name())[: _LIMITS["contact_name"]])
    contact_email = LazyAttribute(lambda o: _email(o.contact_name, o.name, o.locale))
    phone = LazyAttribute(lambda o: _phone(o.locale))
    industry = LazyFunction(_choice("industry", sample_industries))
    region = LazyAttribute(lambda o: info.region if (info := _locale_info(o.locale)) else None)
    country = LazyAttribute(lambda o: info.country if (info := _locale_info(o.locale)) else None)
    lifecycle_stage = LazyFunction(_choice("lifecycle_stage", sample_lifecycle_stages))
    annual_value = LazyAttribute(lambda o: _annual_value(o.segment))
    created_at = LazyFunction(_created_at)
    updated_at = LazyAttribute(lambda o: _updated_at(o.created_at))

    Params = _params(
        {
            **{segment: Trait(segment=segment) for segment in SEGMENTS},
            "churn_risk": Trait(lifecycle_stage="customer"),
            "churned": Trait(lifecycle_stage="churned"),
        }
    )


_CUSTOMER_TRAITS: Final = (*SEGMENTS, "churned")
_any_event_type: Final = _choice("event_type", sample_event_types)


class EventFactory(_RowFactory[Event]):
    """An event of a customer (a sub-factory, or ``customer=`` an existing one): payload of its type.

    Traits: one per event type (``purchase``, ``inquiry``, ``trial_signup``, …); ``churn_risk`` is also the
    customer's; the customer's ``smb`` / ``mid_market`` / ``enterprise`` / ``churned``; ``uncached`` (no
    customer row, a fresh ``customer_id``: the worker sees events of customers not cached yet).
    """

    class Meta:
        model = Event
        exclude = ("customer",)

    customer = SubFactory(CustomerFactory)
    id = LazyFunction(_uuid)
    event_type = LazyAttribute(lambda o: _platform_event_type() if o.platform_only else _any_event_type())
    customer_id = SelfAttribute("customer.customer_id")
    payload = LazyAttribute(lambda o: _payload(o.event_type, o.customer))
    source = LazyFunction(_choice("source", sample_sources))
    received_at = LazyAttribute(
        lambda o: (
            _milliseconds(_received_at(o.customer))
            if is_platform_event_type(o.event_type)
            else _received_at(o.customer)
        )
    )
    user_id = LazyAttribute(lambda o: _user_id(o.event_type))

    Params = _params(
        {
            **{name: Trait(event_type=name) for name in EVENT_TYPE_NAMES},
            **{name: Trait(**{f"customer__{name}": True}) for name in _CUSTOMER_TRAITS},
            "churn_risk": Trait(event_type="churn_risk", customer__churn_risk=True),
            "uncached": Trait(customer=None, customer_id=LazyFunction(_next_customer_id)),
            "platform_only": False,  # draw the type among the platform's six (a sales_signals row's event)
        }
    )


_EVENT_TRAITS: Final = (*EVENT_TYPE_NAMES, *_CUSTOMER_TRAITS, "uncached")


class SignalFactory(_RowFactory[Signal]):
    """The signal the worker made of an event (a sub-factory, or ``event=`` an existing one).

    ``signal_data`` is derived from the event's payload; ``processed_at`` follows ``received_at`` by the model's
    log-normal lag (``lag=`` sets it). Traits: ``unprocessed`` (no ``processed_at`` yet), and every event trait
    (``purchase``, ``enterprise``, ``churn_risk``, …) passed on to the event.
    """

    class Meta:
        model = Signal
        exclude = ("event", "lag", "write_delay")

    event = SubFactory(EventFactory)
    lag = LazyFunction(_processing_lag)
    write_delay = LazyFunction(_write_delay)
    id = LazyFunction(_uuid)
    event_type = SelfAttribute("event.event_type")
    customer_id = SelfAttribute("event.customer_id")
    signal_data = LazyAttribute(lambda o: _signal_data(o.event))
    processed_at = LazyAttribute(lambda o: o.event.received_at + o.lag)
    created_at = LazyAttribute(lambda o: (o.processed_at or o.event.received_at) + o.write_delay)
    event_id = SelfAttribute("event.id")

    Params = _params(
        {
            "unprocessed": Trait(processed_at=None),
            **{name: Trait(**{f"event__{name}": True}) for name in _EVENT_TRAITS},
        }
    )


class SalesSignalFactory(_RowFactory[SalesSignal]):
    """The ``sales_signals`` row the platform's worker stored for an event of its six types (a sub-factory, or
    ``event=`` an existing one); ``signal_type`` and ``signal_score`` follow the worker's rules from the event's
    metadata, times are to the millisecond as the worker writes them.

    Traits: one per platform event type (``email_sent``, ``meeting_booked``, …), and the customer's ``smb`` /
    ``mid_market`` / ``enterprise`` / ``churned``. Ids start above :data:`FACTORY_SALES_SIGNAL_BASE`.
    """

    class Meta:
        model = SalesSignal
        exclude = ("event", "lag", "write_delay")

    event = SubFactory(EventFactory, platform_only=True)
    lag = LazyFunction(_processing_lag)
    write_delay = LazyFunction(_write_delay)
    id = LazyFunction(_next_sales_signal_id)
    account_id = SelfAttribute("event.customer_id")
    user_id = LazyAttribute(lambda o: o.event.user_id or _user_id(_platform_type(o.event.event_type)))
    event_type = LazyAttribute(lambda o: _platform_type(o.event.event_type))
    signal_type = LazyAttribute(lambda o: platform_signal_type(o.event_type))
    signal_score = LazyAttribute(lambda o: Decimal(score_text(platform_signal_score(o.event_type, o.metadata))))
    timestamp = LazyAttribute(lambda o: _milliseconds(o.event.received_at))
    processed_at = LazyAttribute(lambda o: _milliseconds(o.timestamp + o.lag))
    metadata = SelfAttribute("event.payload")
    created_at = LazyAttribute(lambda o: o.processed_at + o.write_delay)
    updated_at = SelfAttribute("created_at")

    Params = _params(
        {
            **{name: Trait(**{f"event__{name}": True}) for name in PLATFORM_EVENT_TYPES},
            **{name: Trait(**{f"event__{name}": True}) for name in _CUSTOMER_TRAITS},
        }
    )


# --- binding to a connection ---


@dataclass(frozen=True)
class BoundFactories:
    """The factories bound to one connection: ``customers()``/``create()`` persist, ``build()`` does not."""

    connection: psycopg.Connection[Any]
    customers: type[CustomerFactory]
    events: type[EventFactory]
    signals: type[SignalFactory]
    sales_signals: type[SalesSignalFactory]


def _bound(base: type[F], connection: psycopg.Connection[Any]) -> type[F]:
    meta = type("Meta", (), {"connection": connection, "strategy": CREATE_STRATEGY})
    namespace = {"Meta": meta, "__doc__": base.__doc__, "__module__": __name__}
    return cast(type[F], types.new_class(f"Bound{base.__name__}", (base,), exec_body=lambda ns: ns.update(namespace)))


def bind_factories(connection: psycopg.Connection[Any]) -> BoundFactories:
    """Subclasses of the factories whose ``create`` writes to ``connection`` (and whose call creates).

    Each call makes its own classes, so tests and threads with their own connections never share one;
    they share the customer numbering, so their customers never collide.
    """
    connection = _check_connection(connection)
    return BoundFactories(
        connection=connection,
        customers=_bound(CustomerFactory, connection),
        events=_bound(EventFactory, connection),
        signals=_bound(SignalFactory, connection),
        sales_signals=_bound(SalesSignalFactory, connection),
    )


@contextlib.contextmanager
def bind(connection: psycopg.Connection[Any]) -> Iterator[BoundFactories]:
    """Inside the block, ``create`` of the plain factories writes to ``connection`` (this thread/task only)."""
    bound = bind_factories(connection)
    token = _bound_connection.set(connection)
    try:
        yield bound
    finally:
        _bound_connection.reset(token)
