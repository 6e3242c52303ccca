"""The factories: each field a lazy declaration over :mod:`._values`, references as sub-factories, variants as
traits (one per segment, per event type), call-time keyword arguments winning as in factory-boy."""

# factory-boy's declarations (LazyAttribute, Trait, ...) have no annotations; calling them is the point here.
# mypy: disable-error-code="no-untyped-call"
from __future__ import annotations

from decimal import Decimal
from typing import Any, Final

from factory.declarations import LazyAttribute, LazyFunction, SelfAttribute, SubFactory, Trait

from ..model import (
    EVENT_TYPE_NAMES,
    PLATFORM_EVENT_TYPES,
    SEGMENTS,
    Customer,
    Event,
    SalesSignal,
    Signal,
    is_platform_event_type,
    platform_signal_score,
    platform_signal_type,
    sample_industries,
    sample_lifecycle_stages,
    sample_locales,
    sample_segments,
    sample_sources,
    score_text,
)
from . import _values as values
from ._persist import RowFactory

__all__ = ["CustomerFactory", "EventFactory", "SalesSignalFactory", "SignalFactory"]


def _params(declarations: dict[str, Any]) -> type:
    """A ``class Params`` from a mapping, so traits can be generated (one per event type, per segment)."""
    return type("Params", (), declarations)


class CustomerFactory(RowFactory[Customer]):
    """A customer: Faker company and contact in its locale, country and region of the locale, value by segment.

    Traits: ``smb``, ``mid_market``, ``enterprise`` (the segment), ``churn_risk`` (a paying customer, the kind
    the health model flags), ``churned``. ``created_at`` is before :data:`WINDOW`, so before its events.
    """

    class Meta:
        model = Customer

    customer_id = LazyFunction(values.next_customer_id)
    segment = LazyFunction(values.choice("segment", sample_segments))
    locale = LazyFunction(values.choice("locale", sample_locales))
    name = LazyAttribute(lambda o: values.company_name(o.locale))
    contact_name = LazyAttribute(lambda o: values.contact_name(o.locale))
    contact_email = LazyAttribute(lambda o: values.email(o.contact_name, o.name, o.locale))
    phone = LazyAttribute(lambda o: values.phone(o.locale))
    industry = LazyFunction(values.choice("industry", sample_industries))
    region = LazyAttribute(lambda o: values.region(o.locale))
    country = LazyAttribute(lambda o: values.country(o.locale))
    lifecycle_stage = LazyFunction(values.choice("lifecycle_stage", sample_lifecycle_stages))
    annual_value = LazyAttribute(lambda o: values.annual_value(o.segment))
    created_at = LazyFunction(values.created_at)
    updated_at = LazyAttribute(lambda o: values.updated_at(o.created_at))

    Params = _params(
        {
            **{segment: Trait(segment=segment) for segment in SEGMENTS},
            "churn_risk": Trait(lifecycle_stage="customer"),
            "churned": Trait(lifecycle_stage="churned"),
        }
    )


_CUSTOMER_TRAITS: Final = (*SEGMENTS, "churned")


class EventFactory(RowFactory[Event]):
    """An event of a customer (a sub-factory, or ``customer=`` an existing one): payload of its type.

    Traits: one per event type (``purchase``, ``inquiry``, ``trial_signup``, …); ``churn_risk`` is also the
    customer's; the customer's ``smb`` / ``mid_market`` / ``enterprise`` / ``churned``; ``uncached`` (no
    customer row, a fresh ``customer_id``: the worker sees events of customers not cached yet).
    """

    class Meta:
        model = Event
        exclude = ("customer",)

    customer = SubFactory(CustomerFactory)
    id = LazyFunction(values.uuid)
    event_type = LazyAttribute(lambda o: values.event_type(o.platform_only))
    customer_id = SelfAttribute("customer.customer_id")
    payload = LazyAttribute(lambda o: values.payload(o.event_type, o.customer))
    source = LazyFunction(values.choice("source", sample_sources))
    received_at = LazyAttribute(
        lambda o: (
            values.milliseconds(values.received_at(o.customer))
            if is_platform_event_type(o.event_type)
            else values.received_at(o.customer)
        )
    )
    user_id = LazyAttribute(lambda o: values.user_id(o.event_type))

    Params = _params(
        {
            **{name: Trait(event_type=name) for name in EVENT_TYPE_NAMES},
            **{name: Trait(**{f"customer__{name}": True}) for name in _CUSTOMER_TRAITS},
            "churn_risk": Trait(event_type="churn_risk", customer__churn_risk=True),
            "uncached": Trait(customer=None, customer_id=LazyFunction(values.next_customer_id)),
            "platform_only": False,  # draw the type among the platform's six (a sales_signals row's event)
        }
    )


_EVENT_TRAITS: Final = (*EVENT_TYPE_NAMES, *_CUSTOMER_TRAITS, "uncached")


class SignalFactory(RowFactory[Signal]):
    """The signal the worker made of an event (a sub-factory, or ``event=`` an existing one).

    ``signal_data`` is derived from the event's payload; ``processed_at`` follows ``received_at`` by the model's
    log-normal lag (``lag=`` sets it). Traits: ``unprocessed`` (no ``processed_at`` yet), and every event trait
    (``purchase``, ``enterprise``, ``churn_risk``, …) passed on to the event.
    """

    class Meta:
        model = Signal
        exclude = ("event", "lag", "write_delay")

    event = SubFactory(EventFactory)
    lag = LazyFunction(values.processing_lag)
    write_delay = LazyFunction(values.write_delay)
    id = LazyFunction(values.uuid)
    event_type = SelfAttribute("event.event_type")
    customer_id = SelfAttribute("event.customer_id")
    signal_data = LazyAttribute(lambda o: values.signal_data(o.event))
    processed_at = LazyAttribute(lambda o: o.event.received_at + o.lag)
    created_at = LazyAttribute(lambda o: (o.processed_at or o.event.received_at) + o.write_delay)
    event_id = SelfAttribute("event.id")

    Params = _params(
        {
            "unprocessed": Trait(processed_at=None),
            **{name: Trait(**{f"event__{name}": True}) for name in _EVENT_TRAITS},
        }
    )


class SalesSignalFactory(RowFactory[SalesSignal]):
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
    lag = LazyFunction(values.processing_lag)
    write_delay = LazyFunction(values.write_delay)
    id = LazyFunction(values.next_sales_signal_id)
    account_id = SelfAttribute("event.customer_id")
    user_id = LazyAttribute(lambda o: o.event.user_id or values.user_id(values.platform_type(o.event.event_type)))
    event_type = LazyAttribute(lambda o: values.platform_type(o.event.event_type))
    signal_type = LazyAttribute(lambda o: platform_signal_type(o.event_type))
    signal_score = LazyAttribute(lambda o: Decimal(score_text(platform_signal_score(o.event_type, o.metadata))))
    timestamp = LazyAttribute(lambda o: values.milliseconds(o.event.received_at))
    processed_at = LazyAttribute(lambda o: values.milliseconds(o.timestamp + o.lag))
    metadata = SelfAttribute("event.payload")
    created_at = LazyAttribute(lambda o: o.processed_at + o.write_delay)
    updated_at = SelfAttribute("created_at")

    Params = _params(
        {
            **{name: Trait(**{f"event__{name}": True}) for name in PLATFORM_EVENT_TYPES},
            **{name: Trait(**{f"event__{name}": True}) for name in _CUSTOMER_TRAITS},
        }
    )
