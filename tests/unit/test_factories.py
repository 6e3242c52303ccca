"""The factories without a database: valid values, traits, overrides, references, determinism, rendering."""

from __future__ import annotations

import json
import statistics
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from uuid import UUID

import numpy as np
import pytest

from sspp_fixtures import model
from sspp_fixtures.bulkgen import CopyText
from sspp_fixtures.errors import UsageError
from sspp_fixtures.factories import (
    FACTORY_CUSTOMER_BASE,
    WINDOW,
    CustomerFactory,
    EventFactory,
    SignalFactory,
    bind_factories,
    reseed,
    rows_to_columns,
)

LOCALES = {info.locale: info for info in model.LOCALES}
SIGNAL_OF = {event_type.name: event_type.signal for event_type in model.EVENT_TYPES}


@pytest.fixture(autouse=True)
def _seeded() -> None:
    reseed(20260401)


def _check_limits(table: str, row: object) -> None:
    for column, limit in model.COLUMN_LIMITS[table].items():
        value = getattr(row, column)
        assert value is None or len(value) <= limit, (column, value)


def test_built_customers_have_valid_consistent_values() -> None:
    customers = CustomerFactory.build_batch(300)
    assert len({c.customer_id for c in customers}) == 300
    for c in customers:
        _check_limits("customers", c)
        assert model.customer_number(c.customer_id) > FACTORY_CUSTOMER_BASE
        assert c.segment in model.SEGMENTS
        assert c.locale in LOCALES
        info = LOCALES[c.locale]
        assert (c.country, c.region) == (info.country, info.region)
        assert c.industry in model.INDUSTRIES
        assert c.lifecycle_stage in model.LIFECYCLE_STAGES
        assert c.annual_value is not None
        assert c.annual_value >= 0
        assert c.annual_value == c.annual_value.quantize(Decimal("0.01"))
        assert c.name
        assert c.contact_name
        assert c.contact_email is not None
        assert c.contact_email.count("@") == 1
        assert c.contact_email.endswith("." + info.tld)
        assert c.contact_email.isascii()
        assert c.phone
        assert c.created_at < WINDOW.start
        assert c.created_at <= c.updated_at < WINDOW.end
    assert len({c.locale for c in customers}) > 5
    assert len({c.segment for c in customers}) == 3


def test_names_come_from_the_customers_locale() -> None:
    japanese = CustomerFactory.build(locale="ja_JP")
    assert (japanese.country, japanese.region) == ("JP", "APAC")
    assert not japanese.name.isascii()
    german = CustomerFactory.build(locale="de_DE")
    assert (german.country, german.region) == ("DE", "EMEA")
    assert german.contact_email is not None
    assert german.contact_email.endswith(".de")


def test_unknown_locale_is_a_usage_error() -> None:
    with pytest.raises(UsageError, match="xx_XX"):
        CustomerFactory.build(locale="xx_XX")


def test_segment_traits_and_value_by_segment() -> None:
    enterprise = CustomerFactory.build_batch(150, enterprise=True)
    smb = CustomerFactory.build_batch(150, smb=True)
    assert {c.segment for c in enterprise} == {"enterprise"}
    assert {c.segment for c in smb} == {"smb"}
    assert {c.segment for c in CustomerFactory.build_batch(20, mid_market=True)} == {"mid_market"}
    median_enterprise = statistics.median(float(c.annual_value or 0) for c in enterprise)
    median_smb = statistics.median(float(c.annual_value or 0) for c in smb)
    assert median_enterprise > 10 * median_smb
    assert CustomerFactory.build(churn_risk=True).lifecycle_stage == "customer"
    assert CustomerFactory.build(churned=True).lifecycle_stage == "churned"


def test_call_time_kwargs_win_over_traits() -> None:
    assert CustomerFactory.build(enterprise=True, segment="smb").segment == "smb"
    event = EventFactory.build(purchase=True, event_type="inquiry")
    assert event.event_type == "inquiry"
    assert set(event.payload) == set(model.PAYLOAD_SCHEMAS["inquiry"])
    payload = {"anything": 1}
    assert EventFactory.build(payload=payload).payload == payload
    when = datetime(2026, 5, 5, 12)
    assert SignalFactory.build(processed_at=when, unprocessed=True).processed_at == when


def test_default_call_builds_without_a_database() -> None:
    customer: object = CustomerFactory()  # type: ignore[no-untyped-call]  # factory-boy's metaclass __call__
    assert isinstance(customer, model.Customer)


def test_events_agree_with_their_customer() -> None:
    customer = CustomerFactory.build(locale="de_DE", enterprise=True)
    events = EventFactory.build_batch(50, customer=customer, purchase=True)
    for event in events:
        _check_limits("events", event)
        assert event.customer_id == customer.customer_id
        assert event.received_at > customer.created_at
        assert WINDOW.start <= event.received_at < WINDOW.end
        assert event.payload["currency"] == "EUR"
        assert event.source in model.SOURCES
    sub = EventFactory.build(customer__customer_id="cust_000777", customer__locale="ja_JP", renewal=True)
    assert sub.customer_id == "cust_000777"
    assert sub.payload["currency"] == "JPY"


def test_received_at_follows_a_customer_created_late() -> None:
    late = CustomerFactory.build(created_at=WINDOW.end + timedelta(days=3))
    event = EventFactory.build(customer=late)
    assert event.received_at > late.created_at


def test_signals_agree_with_their_event() -> None:
    for _ in range(200):
        event = EventFactory.build()
        signal = SignalFactory.build(event=event)
        _check_limits("signals", signal)
        assert signal.event_id == event.id
        assert (signal.event_type, signal.customer_id) == (event.event_type, event.customer_id)
        assert signal.processed_at is not None
        assert signal.created_at is not None
        assert event.received_at < signal.processed_at <= event.received_at + timedelta(hours=6)
        assert signal.processed_at < signal.created_at
        assert signal.signal_data == model.derive_signal_data(event.event_type, event.payload)
    deep = SignalFactory.build(event__customer__customer_id="cust_000555", event__event_type="demo_request")
    assert (deep.customer_id, deep.event_type) == ("cust_000555", "demo_request")
    assert deep.signal_data["signal"] == "buying_intent"


def test_lag_parameter_sets_processing_delay() -> None:
    event = EventFactory.build()
    signal = SignalFactory.build(event=event, lag=timedelta(minutes=7))
    assert signal.processed_at == event.received_at + timedelta(minutes=7)


@pytest.mark.parametrize("event_type", model.EVENT_TYPE_NAMES)
def test_every_event_type_is_buildable_with_its_signal(event_type: str) -> None:
    event = EventFactory.build(**{event_type: True})
    assert event.event_type == event_type
    keys = list(event.payload)
    assert [key for key in model.PAYLOAD_SCHEMAS[event_type] if key in keys] == keys
    assert set(model.PAYLOAD_SCHEMAS[event_type]) - set(keys) <= model.OPTIONAL_PAYLOAD_FIELDS[event_type]
    signal = SignalFactory.build(event=event)
    assert signal.signal_data == model.derive_signal_data(event_type, event.payload)
    assert signal.signal_data["signal"] == SIGNAL_OF[event_type]
    via_trait = SignalFactory.build(**{event_type: True})
    assert via_trait.event_type == event_type
    assert via_trait.signal_data["signal"] == SIGNAL_OF[event_type]


def test_default_event_types_follow_the_mix() -> None:
    types = [event.event_type for event in EventFactory.build_batch(400)]
    assert types.count("page_view") > types.count("email_open") > types.count("purchase")


def test_churn_risk_unprocessed_and_uncached_traits() -> None:
    risky = SignalFactory.build(churn_risk=True)
    assert risky.event_type == "churn_risk"
    assert risky.signal_data["signal"] == "churn_risk"
    event = EventFactory.build(churn_risk=True)
    assert set(event.payload) == set(model.PAYLOAD_SCHEMAS["churn_risk"])
    pending = SignalFactory.build(unprocessed=True)
    assert pending.processed_at is None
    assert pending.created_at is not None
    uncached = EventFactory.build(uncached=True)
    number = model.customer_number(uncached.customer_id)
    assert number > FACTORY_CUSTOMER_BASE
    assert model.customer_number(CustomerFactory.build().customer_id) == number + 1  # no customer was made
    assert SignalFactory.build(enterprise=True, purchase=True).signal_data["quantity"] >= 40


def test_unknown_event_type_needs_its_payload() -> None:
    with pytest.raises(UsageError, match="payload="):
        EventFactory.build(event_type="brand_new_type")
    event = EventFactory.build(event_type="brand_new_type", payload={"x": 1})
    with pytest.raises(UsageError, match="signal_data="):
        SignalFactory.build(event=event)
    assert SignalFactory.build(event=event, signal_data={"signal": "x"}).event_type == "brand_new_type"


def _everything() -> list[object]:
    return [*CustomerFactory.build_batch(5), *EventFactory.build_batch(5), *SignalFactory.build_batch(5)]


def test_reseed_makes_objects_reproducible() -> None:
    reseed(7)
    first = _everything()
    reseed(7)
    assert _everything() == first
    reseed(8)
    assert _everything() != first


def test_reseed_rejects_a_bad_seed() -> None:
    with pytest.raises(UsageError, match="seed"):
        reseed(-1)


def test_rows_to_columns_renders_as_the_bulk_engine() -> None:
    aware = datetime(2026, 5, 1, 12, 0, tzinfo=UTC) + timedelta(hours=0)
    customer = CustomerFactory.build(phone=None, annual_value=Decimal("12.5"), created_at=aware)
    columns = rows_to_columns("customers", [customer])
    assert columns.table == "customers"
    assert columns.rows == 1
    assert list(columns.values) == list(model.CUSTOMER_COLUMNS)
    assert columns.values["phone"] == [None]
    assert columns.values["annual_value"] == ["12.50"]
    assert columns.values["created_at"] == ["2026-05-01T12:00:00.000000"]
    event = EventFactory.build(payload={"message": "Grüße\tand\nmore", "n": 1.5})
    values = rows_to_columns("events", [event]).values
    assert values["payload"] == ['{"message":"Grüße\\tand\\nmore","n":1.5}']
    assert values["id"] == [str(event.id)]
    assert CopyText().rows(rows_to_columns("events", [event])).count(b"\n") == 1


def test_rows_to_columns_matches_the_model_batches_text() -> None:
    """Objects from the bulk engine's batches render back to exactly the text the bulk engine wrote."""
    window = model.Window.ending(datetime(2026, 6, 30), 30)
    batch = model.sample_events(model.derive_rng(5, "events", 0), 400, window, seed=5, n_customers=40)
    events = rows_to_columns("events", list(batch.events())).values
    assert events["id"] == batch.id
    assert events["payload"] == batch.payload
    assert events["received_at"] == np.datetime_as_string(batch.received_at, unit="us").tolist()
    done = np.flatnonzero(batch.processed).tolist()
    signals = rows_to_columns("signals", list(batch.signals())).values
    assert signals["signal_data"] == [batch.signal_data[i] for i in done]
    assert signals["event_id"] == [batch.id[i] for i in done]
    pools = model.build_pools(5, ["en_US"], model.PoolSizes(companies=40, people=40, phones=40))
    people = model.sample_customers(
        model.derive_rng(5, "customers", 0), np.arange(1, 41), pools, window, seed=5, locale_shares={"en_US": 1.0}
    )
    customers = rows_to_columns("customers", list(people.rows())).values
    assert customers["annual_value"] == [f"{value:.2f}" for value in people.annual_value.tolist()]
    assert customers["updated_at"] == np.datetime_as_string(people.updated_at, unit="us").tolist()
    assert customers["name"] == people.name.tolist()


def test_rows_to_columns_rejects_mismatched_rows() -> None:
    with pytest.raises(UsageError, match="Customer rows"):
        rows_to_columns("customers", [EventFactory.build()])
    with pytest.raises(UsageError, match="unknown table"):
        rows_to_columns("orders", [])


def test_json_columns_are_compact_and_reloadable() -> None:
    signal = SignalFactory.build(purchase=True)
    text = rows_to_columns("signals", [signal]).values["signal_data"][0]
    assert text is not None
    assert ": " not in text
    assert json.loads(text) == signal.signal_data
    assert UUID(rows_to_columns("signals", [signal]).values["event_id"][0] or "") == signal.event_id


def test_create_without_a_connection_says_how_to_bind() -> None:
    with pytest.raises(UsageError, match="bind_factories"):
        CustomerFactory.create()
    with pytest.raises(UsageError, match="bind_factories"):
        SignalFactory.create_batch(3)
    with pytest.raises(UsageError, match=r"psycopg\.Connection"):
        bind_factories("postgresql://localhost/db")  # type: ignore[arg-type]
