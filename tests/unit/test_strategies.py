"""The Hypothesis strategies draw rows that respect the schema's limits and the rows' relations (no database)."""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any
from uuid import UUID

import pytest
from hypothesis import Phase, find, given, settings
from hypothesis import strategies as st
from hypothesis.errors import InvalidArgument

from sspp_fixtures import strategies
from sspp_fixtures.model import (
    COLUMN_LIMITS,
    EVENT_TYPE_NAMES,
    LOCALES,
    OPTIONAL_PAYLOAD_FIELDS,
    PAYLOAD_SCHEMAS,
    SEGMENTS,
    Customer,
    Event,
    Signal,
    derive_signal_data,
)
from sspp_fixtures.strategies import ADVERSARIAL_TIME_RANGE, MAX_ANNUAL_VALUE, customers, events, payloads, signals

SETTINGS = settings(max_examples=50, deadline=None)
LOCALE_INFO = {info.locale: info for info in LOCALES}
COPY_SPECIALS = ("\t", "\n", "\\")


def assert_text_fits(table: str, row: Any) -> None:
    for column, limit in COLUMN_LIMITS[table].items():
        value = getattr(row, column)
        if value is not None:
            assert isinstance(value, str)
            assert len(value) <= limit, (column, len(value))
            assert "\x00" not in value
            value.encode("utf-8")  # no lone surrogates


def assert_json_loads(value: Any) -> None:
    """JSON that JSONB accepts: no NaN/Infinity, no NUL, str keys, only JSON types."""
    if isinstance(value, dict):
        for key, item in value.items():
            assert isinstance(key, str)
            assert "\x00" not in key
            assert_json_loads(item)
    elif isinstance(value, list):
        for item in value:
            assert_json_loads(item)
    elif isinstance(value, float):
        assert math.isfinite(value)
    elif isinstance(value, str):
        assert "\x00" not in value
        value.encode("utf-8")
    else:
        assert value is None or isinstance(value, bool | int)


def assert_customer_valid(customer: Customer) -> None:
    assert isinstance(customer, Customer)
    assert_text_fits("customers", customer)
    assert customer.segment in SEGMENTS
    if customer.locale is None:
        assert customer.country is None
        assert customer.region is None
    else:
        info = LOCALE_INFO[customer.locale]
        assert (customer.country, customer.region) == (info.country, info.region)
    if customer.annual_value is not None:
        assert Decimal(0) <= customer.annual_value <= MAX_ANNUAL_VALUE
        assert customer.annual_value == customer.annual_value.quantize(Decimal("0.01"))
    assert customer.created_at.tzinfo is None
    assert customer.updated_at.tzinfo is None
    assert customer.updated_at >= customer.created_at


@SETTINGS
@given(customers())
def test_customers_respect_the_schema(customer: Customer) -> None:
    assert_customer_valid(customer)
    assert customer.customer_id.startswith("cust_")
    assert strategies.TIME_RANGE[0] <= customer.created_at <= strategies.TIME_RANGE[1]


@SETTINGS
@given(customers(adversarial=True))
def test_adversarial_customers_respect_the_schema(customer: Customer) -> None:
    assert_customer_valid(customer)


@SETTINGS
@given(st.sampled_from(EVENT_TYPE_NAMES).flatmap(lambda t: st.tuples(st.just(t), payloads(t))))
def test_payloads_have_the_schema_and_a_signal(drawn: tuple[str, dict[str, Any]]) -> None:
    event_type, payload = drawn
    schema = PAYLOAD_SCHEMAS[event_type]
    assert [name for name in schema if name in payload] == list(payload)
    assert set(schema) - set(payload) <= OPTIONAL_PAYLOAD_FIELDS[event_type]
    for name, value in payload.items():
        assert isinstance(value, schema[name])
    derive_signal_data(event_type, payload)


@SETTINGS
@given(st.sampled_from(EVENT_TYPE_NAMES).flatmap(lambda t: st.tuples(st.just(t), payloads(t, adversarial=True))))
def test_adversarial_payloads_still_have_a_signal(drawn: tuple[str, dict[str, Any]]) -> None:
    event_type, payload = drawn
    assert (
        set(PAYLOAD_SCHEMAS[event_type]) - set(payload)
        <= OPTIONAL_PAYLOAD_FIELDS[event_type]
        <= set(PAYLOAD_SCHEMAS[event_type])
    )
    assert set(payload) <= set(PAYLOAD_SCHEMAS[event_type])
    assert_json_loads(payload)
    assert_json_loads(derive_signal_data(event_type, payload))


@SETTINGS
@given(st.data())
def test_events_belong_to_their_customer(data: st.DataObject) -> None:
    adversarial = data.draw(st.booleans())
    customer = data.draw(customers(adversarial=adversarial))
    event = data.draw(events(customer=customer, adversarial=adversarial))
    assert isinstance(event, Event)
    assert isinstance(event.id, UUID)
    assert event.customer_id == customer.customer_id
    assert event.received_at >= customer.created_at
    assert_text_fits("events", event)
    assert_json_loads(event.payload)
    if event.event_type in PAYLOAD_SCHEMAS:
        derive_signal_data(event.event_type, event.payload)
    else:
        assert adversarial


@SETTINGS
@given(st.data())
def test_signals_follow_their_event(data: st.DataObject) -> None:
    adversarial = data.draw(st.booleans())
    event = data.draw(events(adversarial=adversarial))
    signal = data.draw(signals(event, adversarial=adversarial))
    assert isinstance(signal, Signal)
    assert (signal.event_id, signal.event_type, signal.customer_id) == (event.id, event.event_type, event.customer_id)
    assert signal.processed_at is not None
    assert signal.created_at is not None
    assert event.received_at <= signal.processed_at <= signal.created_at
    assert_text_fits("signals", signal)
    assert_json_loads(signal.signal_data)
    if event.event_type in PAYLOAD_SCHEMAS:
        assert signal.signal_data == derive_signal_data(event.event_type, event.payload)


@SETTINGS
@given(signals(events(customer=customers())))
def test_strategies_compose_as_parents(signal: Signal) -> None:
    assert signal.event_type in EVENT_TYPE_NAMES
    assert signal.customer_id.startswith("cust_")


# --- overrides --------------------------------------------------------------------------------------------


@SETTINGS
@given(
    customers(
        name="Northwind",
        segment=st.just("enterprise"),
        locale="de_DE",
        created_at=datetime(2020, 1, 1),
        annual_value=st.sampled_from([None, Decimal("12.50")]),
    )
)
def test_customer_overrides_win_and_relations_follow(customer: Customer) -> None:
    assert customer.name == "Northwind"
    assert customer.segment == "enterprise"
    assert (customer.locale, customer.country, customer.region) == ("de_DE", "DE", "EMEA")
    assert customer.created_at == datetime(2020, 1, 1)
    assert customer.updated_at >= customer.created_at
    assert customer.annual_value in (None, Decimal("12.50"))


@SETTINGS
@given(events("purchase", customer_id="cust_000042", source=st.just("webhook")))
def test_event_overrides_win(event: Event) -> None:
    assert (event.event_type, event.customer_id, event.source) == ("purchase", "cust_000042", "webhook")
    assert set(event.payload) == set(PAYLOAD_SCHEMAS["purchase"])


@SETTINGS
@given(signals(signal_data={"signal": "manual"}, processed_at=None, event_id=st.none()))
def test_signal_overrides_win(signal: Signal) -> None:
    assert signal.signal_data == {"signal": "manual"}
    assert signal.processed_at is None
    assert signal.event_id is None
    assert signal.created_at is not None


@SETTINGS
@given(events(st.sampled_from(["inquiry", "renewal"])))
def test_event_type_may_be_a_strategy(event: Event) -> None:
    assert event.event_type in ("inquiry", "renewal")


# --- argument errors, raised when the strategy is built -----------------------------------------------------


@pytest.mark.parametrize(
    ("build", "match"),
    [
        (lambda: payloads("teleport"), r"event_type='teleport': unknown event type"),
        (lambda: events("teleport"), r"event_type='teleport': unknown event type"),
        (lambda: payloads("x" * 51, adversarial=True), r"event_type='x+': 51 characters, more than .*VARCHAR\(50\)"),
        (lambda: customers(nickname="Bob"), r"customers\(\) got an override of unknown field 'nickname'"),
        (lambda: events(colour="red"), r"events\(\) got an override of unknown field 'colour'"),
        (lambda: signals(score=1), r"signals\(\) got an override of unknown field 'score'"),
        (lambda: customers(name=42), r"name=42: expected str, got int"),
        (lambda: customers(name="x" * 201), r"name='x+': 201 characters, more than the column's VARCHAR\(200\)"),
        (
            lambda: customers(name="a\x00b"),
            r"name='a\\x00b': holds a NUL character \(U\+0000\), which PostgreSQL text cannot hold",
        ),
        (lambda: customers(segment="startup"), r"segment='startup': allowed: smb, mid_market, enterprise"),
        (lambda: customers(annual_value=1.5), r"annual_value=1.5: expected Decimal or None, got float"),
        (lambda: customers(annual_value=Decimal("-1")), r"annual_value=Decimal\('-1'\): must be between 0"),
        (lambda: customers(annual_value=Decimal("0.005")), r"more than 2 decimal places"),
        (lambda: customers(country="D"), r"country='D': country is CHAR\(2\)"),
        (lambda: customers(created_at=datetime(2020, 1, 1, tzinfo=UTC)), r"created_at=.*naive datetime"),
        (
            lambda: customers(created_at=datetime(2020, 1, 2), updated_at=datetime(2020, 1, 1)),
            r"updated_at=.*: earlier than created_at",
        ),
        (lambda: customers(adversarial="yes"), r"adversarial='yes': expected True or False"),  # type: ignore[arg-type]
        (lambda: events(payload={"amount": float("nan")}), r"payload\['amount'\]=nan: JSONB has no NaN or Infinity"),
        (lambda: events(payload=[1, 2]), r"payload=\[1, 2\]: expected dict, got list"),
        (lambda: events(customer="cust_1"), r"customer='cust_1': expected a Customer"),  # type: ignore[arg-type]
        (
            lambda: events(customer=Customer.__new__(Customer), customer_id="c"),
            r"give either customer= or customer_id=",
        ),
        (lambda: signals(event=42), r"event=42: expected an Event"),  # type: ignore[arg-type]
        (lambda: signals(event_id="e1"), r"event_id='e1': expected UUID or None, got str"),
        (
            lambda: signals(Event(UUID(int=1), "purchase", "c", {"amount": 1.0}, "api", datetime(2020, 1, 1))),
            r"event=.*its payload has no signal: payload: a purchase payload needs order_id",
        ),
    ],
)
def test_bad_arguments_fail_eagerly_naming_the_parameter(build: Any, match: str) -> None:
    with pytest.raises(InvalidArgument, match=match):
        build()


def test_bad_values_from_an_override_strategy_fail_when_drawn() -> None:
    strategy = customers(name=st.just("x" * 201))  # building is fine: a strategy's values are checked as drawn
    with pytest.raises(InvalidArgument, match=r"name='x+': 201 characters"):
        find(strategy, lambda _: True)


def test_unknown_event_types_from_a_strategy_fail_when_drawn() -> None:
    with pytest.raises(InvalidArgument, match=r"event_type='teleport': unknown event type"):
        find(events(st.just("teleport")), lambda _: True)


# --- adversarial mode really reaches the edges --------------------------------------------------------------

# Searching only: shrinking an adversarial row to a minimal one would cost seconds and prove nothing more here.
FIND = settings(max_examples=2000, deadline=None, database=None, phases=[Phase.generate])


def test_adversarial_names_reach_the_varchar_limit_in_characters() -> None:
    customer = find(
        customers(adversarial=True), lambda c: len(c.name) == 200 and len(c.name.encode()) > 200, settings=FIND
    )
    assert len(customer.name) == 200


def test_adversarial_text_holds_copy_and_csv_specials() -> None:
    customer = find(customers(adversarial=True), lambda c: all(ch in c.name for ch in COPY_SPECIALS), settings=FIND)
    assert "\t" in customer.name


@pytest.mark.parametrize(
    "fragment",
    ["\u0301", "\u202e", "\U0001f469\u200d\U0001f469\u200d\U0001f467", '"', "'", "\r", "\\N"],
    ids=["combining", "rtl-override", "emoji-zwj", "double-quote", "quote", "cr", "copy-null-marker"],
)
def test_adversarial_text_holds_unicode_edge_cases(fragment: str) -> None:
    find(customers(adversarial=True), lambda c: fragment in c.name, settings=FIND)


@pytest.mark.parametrize("amount", [Decimal("0"), Decimal("0.01"), MAX_ANNUAL_VALUE])
def test_adversarial_annual_values_hit_the_extremes(amount: Decimal) -> None:
    find(customers(adversarial=True), lambda c: c.annual_value == amount, settings=FIND)


@pytest.mark.parametrize("when", ADVERSARIAL_TIME_RANGE)
def test_adversarial_timestamps_hit_the_ends_of_the_range(when: datetime) -> None:
    find(customers(adversarial=True), lambda c: when in (c.created_at, c.updated_at), settings=FIND)


def test_adversarial_amounts_include_zero() -> None:
    payload = find(payloads("purchase", adversarial=True), lambda p: p["amount"] == 0, settings=FIND)
    assert derive_signal_data("purchase", payload)["value_usd"] == 0


def test_adversarial_event_types_are_free_text_up_to_50_characters() -> None:
    event = find(events(adversarial=True), lambda e: len(e.event_type) == 50, settings=FIND)
    assert event.event_type not in EVENT_TYPE_NAMES


def test_adversarial_free_text_payloads_hold_nested_json_and_big_numbers() -> None:
    def nested_big(value: Any, depth: int = 0) -> bool:
        if isinstance(value, dict):
            return any(nested_big(v, depth + 1) for v in value.values())
        if isinstance(value, list):
            return any(nested_big(v, depth + 1) for v in value)
        return depth >= 2 and isinstance(value, int) and not isinstance(value, bool) and abs(value) >= 2**63

    find(events(adversarial=True), lambda e: nested_big(e.payload), settings=FIND)


def test_adversarial_signals_may_lag_far_behind() -> None:
    pairs = events(adversarial=True).flatmap(lambda e: st.tuples(st.just(e), signals(e, adversarial=True)))
    _, signal = find(
        pairs,
        lambda pair: (
            pair[1].processed_at is not None and pair[1].processed_at - pair[0].received_at > timedelta(days=365 * 100)
        ),
        settings=FIND,
    )
    assert signal.processed_at is not None
