"""How each event type's payload is drawn: one function per type fills a batch of rows, column by column.

The bulk generator, the factories and the strategies all draw here (through :func:`draw_coded` or
:func:`make_payloads`), so a payload looks the same whichever engine made it. Draws run one event type at a
time in ``EVENT_TYPES`` order, each type's fields in a fixed order: the same generator gives the same payloads.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Final

import numpy as np
import numpy.typing as npt

from ..errors import ScenarioError
from ._payload_vocab import (
    BILLING_MONTHS,
    BILLING_PERIODS,
    BILLING_WEIGHTS,
    CALL_OUTCOME_WEIGHTS,
    CALL_OUTCOMES,
    CAMPAIGN_WEIGHTS,
    CAMPAIGNS,
    CATEGORIES,
    CATEGORY_WEIGHTS,
    CHANNEL_WEIGHTS,
    CHANNELS,
    CHURN_REASONS,
    CLIENT_WEIGHTS,
    CLIENTS,
    CURRENCY_ARRAY,
    CURRENCY_INDEX,
    DECIMALS,
    DEVICE_WEIGHTS,
    DEVICES,
    LINK_WEIGHTS,
    LINKS,
    MEETING_MINUTE_WEIGHTS,
    MEETING_MINUTES,
    MEETING_TYPE_WEIGHTS,
    MEETING_TYPES,
    MESSAGES,
    OUTREACH_CAMPAIGN_WEIGHTS,
    OUTREACH_CAMPAIGNS,
    PAGE_WEIGHTS,
    PAGES,
    PLAN_ARRAY,
    PLAN_BY_SEGMENT,
    PRICE_HIGH,
    PRICE_LOW,
    PRODUCT_NAMES,
    PRODUCT_SLUGS,
    PRODUCT_WEIGHTS,
    QTY_HIGH,
    QTY_LOW,
    QTY_MEDIAN,
    QTY_SIGMA,
    RATES,
    REASON_COUNT_WEIGHTS,
    REFERRER_WEIGHTS,
    REFERRERS,
    ROLES,
    SEGMENT_INDEX,
    SLOT_WEIGHTS,
    SLOTS,
    SUBJECTS,
    TERM_WEIGHTS,
    TERMS,
    TICKET_PRIORITIES,
    TICKET_PRIORITY_WEIGHTS,
    TICKET_SUBJECTS,
    TIMEFRAME_WEIGHTS,
    TIMEFRAMES,
    TOPIC_WEIGHTS,
    TOPICS,
    TRIAL_DAYS,
    TRIAL_WEIGHTS,
    URLS,
    WEBINAR_IDS,
    WEBINAR_TITLES,
    objects,
)
from ._platform_rules import INTERACTION_COUNT_KEY, RESPONSE_TIME_KEY
from ._random import _HEX_PAIRS, categorical
from ._validate import check_choice
from ._vocab import EVENT_TYPE_NAMES, OPTIONAL_PAYLOAD_FIELDS, PAYLOAD_SCHEMAS, PLANS

__all__ = ["Array", "Columns", "Group", "draw_coded", "draw_groups", "make_payload", "make_payloads"]

Array = npt.NDArray[Any]
#: A batch of one event type's payloads, field by field (a value of None: the optional key is left out).
Columns = dict[str, Array]


@dataclass(frozen=True, slots=True)
class _Draw:
    """What a type's draw function gets: ``m`` rows with their segment and currency codes."""

    rng: np.random.Generator
    m: int
    segments: npt.NDArray[np.intp]
    currencies: npt.NDArray[np.intp]

    def pick(self, vocabulary: npt.NDArray[np.object_], weights: npt.NDArray[np.float64]) -> Array:
        return vocabulary[categorical(self.rng, self.m, weights)]

    def codes(self, weights: npt.NDArray[np.float64]) -> npt.NDArray[np.intp]:
        return categorical(self.rng, self.m, weights)

    def chance(self, p: float) -> npt.NDArray[np.bool_]:
        return self.rng.random(self.m) < p

    def ids(self, prefix: str, digits: int) -> Array:
        """``prefix`` and ``digits`` random hex digits (``f"{prefix}%0{digits}x"``), assembled as bytes and split."""
        values = self.rng.integers(0, 1 << (4 * digits), size=self.m, dtype=np.uint64)
        width = len(prefix) + digits
        text = np.empty((self.m, width + 1), dtype=np.uint8)
        text[:, : len(prefix)] = np.frombuffer(prefix.encode("ascii"), dtype=np.uint8)
        hex_pairs = np.take(_HEX_PAIRS, values.astype(">u8").view(np.uint8)).view(np.uint8).reshape(self.m, 16)
        text[:, len(prefix) : width] = hex_pairs[:, 16 - digits :]
        text[:, width] = ord("\n")
        return objects(text.tobytes().decode("ascii").split("\n")[: self.m])

    def log_normal_ints(self, median: float, sigma: float, low: int, high: int) -> npt.NDArray[np.int64]:
        values = np.exp(np.log(median) + sigma * self.rng.standard_normal(self.m))
        return np.asarray(np.clip(np.round(values), low, high), dtype=np.int64)

    def quantities(self) -> npt.NDArray[np.int64]:
        """Seats per row, by segment."""
        s = self.segments
        values = np.exp(np.log(QTY_MEDIAN[s]) + QTY_SIGMA[s] * self.rng.standard_normal(self.m))
        return np.asarray(np.clip(np.round(values), QTY_LOW[s], QTY_HIGH[s]), dtype=np.int64)

    def amounts(
        self, products: npt.NDArray[np.intp], units: npt.NDArray[np.int64], months: npt.NDArray[np.int64]
    ) -> npt.NDArray[np.float64]:
        """Prices in each row's currency: unit price x units x months, rounded to the currency's minor unit."""
        unit_usd = PRICE_LOW[products] + (PRICE_HIGH[products] - PRICE_LOW[products]) * self.rng.random(self.m)
        local = unit_usd * units * months * RATES[self.currencies]
        decimals = DECIMALS[self.currencies]
        rounded = np.where(decimals == 0, np.round(local), np.round(local, 2))
        return np.asarray(np.maximum(rounded, np.where(decimals == 0, 1.0, 0.01)), dtype=np.float64)


def _draw_page_view(d: _Draw) -> Columns:
    pages = d.codes(PAGE_WEIGHTS)
    return {
        "url": URLS[pages],
        "path": PAGES[pages],
        "referrer": d.pick(REFERRERS, REFERRER_WEIGHTS),
        "session_id": d.ids("s_", 16),
        "duration_seconds": d.log_normal_ints(40.0, 1.0, 1, 3600),
        "device": d.pick(DEVICES, DEVICE_WEIGHTS),
    }


def _draw_email_open(d: _Draw) -> Columns:
    campaigns = d.codes(CAMPAIGN_WEIGHTS)
    return {
        "campaign": CAMPAIGNS[campaigns],
        "subject": SUBJECTS[campaigns],
        "message_id": d.ids("msg_", 16),
        "client": d.pick(CLIENTS, CLIENT_WEIGHTS),
        "clicked": d.chance(0.18),
    }


def _draw_inquiry(d: _Draw) -> Columns:
    products = d.codes(PRODUCT_WEIGHTS)
    topics = d.codes(TOPIC_WEIGHTS)
    seats = d.quantities()
    templates = (topics * 2 + d.rng.integers(0, 2, size=d.m)).tolist()
    names = PRODUCT_NAMES[products].tolist()
    messages = [
        MESSAGES[t].format(product=name, seats=n) for t, name, n in zip(templates, names, seats.tolist(), strict=True)
    ]
    return {
        "channel": d.pick(CHANNELS, CHANNEL_WEIGHTS),
        "product": PRODUCT_SLUGS[products],
        "topic": TOPICS[topics],
        "seats": seats,
        "message": objects(messages),
    }


def _draw_demo_request(d: _Draw) -> Columns:
    return {
        "product": d.pick(PRODUCT_SLUGS, PRODUCT_WEIGHTS),
        "team_size": d.quantities(),
        "role": ROLES[d.rng.integers(0, len(ROLES), size=d.m)],
        "timeframe": d.pick(TIMEFRAMES, TIMEFRAME_WEIGHTS),
        "preferred_slot": d.pick(SLOTS, SLOT_WEIGHTS),
    }


def _plans_by_segment(d: _Draw) -> npt.NDArray[np.intp]:
    cumulative = np.cumsum(PLAN_BY_SEGMENT, axis=1)[d.segments]
    codes = (d.rng.random(d.m)[:, None] >= cumulative).sum(axis=1)
    return np.asarray(np.minimum(codes, len(PLANS) - 1), dtype=np.intp)


def _draw_trial_signup(d: _Draw) -> Columns:
    return {
        "trial_id": d.ids("trl_", 12),
        "product": d.pick(PRODUCT_SLUGS, PRODUCT_WEIGHTS),
        "plan": PLAN_ARRAY[_plans_by_segment(d)],
        "seats": d.quantities(),
        "trial_days": TRIAL_DAYS[d.codes(TRIAL_WEIGHTS)],
    }


def _draw_purchase(d: _Draw) -> Columns:
    products = d.codes(PRODUCT_WEIGHTS)
    quantity = d.quantities()
    billing = d.codes(BILLING_WEIGHTS)
    return {
        "order_id": d.ids("ord_", 12),
        "product": PRODUCT_SLUGS[products],
        "quantity": quantity,
        "billing_period": BILLING_PERIODS[billing],
        "amount": d.amounts(products, quantity, BILLING_MONTHS[billing]),
        "currency": CURRENCY_ARRAY[d.currencies],
    }


def _draw_renewal(d: _Draw) -> Columns:
    products = d.codes(PRODUCT_WEIGHTS)
    terms = TERMS[d.codes(TERM_WEIGHTS)]
    return {
        "contract_id": d.ids("ctr_", 12),
        "product": PRODUCT_SLUGS[products],
        "term_months": terms,
        "auto_renew": d.chance(0.6),
        "amount": d.amounts(products, d.quantities(), terms),
        "currency": CURRENCY_ARRAY[d.currencies],
    }


def _draw_upsell(d: _Draw) -> Columns:
    products = d.codes(PRODUCT_WEIGHTS)
    from_plan = d.rng.integers(0, len(PLANS) - 1, size=d.m)
    to_plan = from_plan + 1 + d.rng.integers(0, len(PLANS) - 1 - from_plan)
    seats = np.maximum(d.quantities() // 4, 1)
    return {
        "product": PRODUCT_SLUGS[products],
        "from_plan": PLAN_ARRAY[from_plan],
        "to_plan": PLAN_ARRAY[to_plan],
        "seats_added": seats,
        "amount": d.amounts(products, seats, np.full(d.m, 12, dtype=np.int64)),
        "currency": CURRENCY_ARRAY[d.currencies],
    }


def _draw_webinar_attended(d: _Draw) -> Columns:
    webinars = d.rng.integers(0, len(WEBINAR_IDS), size=d.m)
    return {
        "webinar_id": WEBINAR_IDS[webinars],
        "title": WEBINAR_TITLES[webinars],
        "minutes_attended": d.log_normal_ints(35.0, 0.6, 1, 120),
        "asked_question": d.chance(0.15),
    }


def _draw_support_ticket(d: _Draw) -> Columns:
    categories = d.codes(CATEGORY_WEIGHTS)
    return {
        "ticket_id": d.ids("tkt_", 10),
        "product": d.pick(PRODUCT_SLUGS, PRODUCT_WEIGHTS),
        "category": CATEGORIES[categories],
        "priority": d.pick(TICKET_PRIORITIES, TICKET_PRIORITY_WEIGHTS),
        "subject": TICKET_SUBJECTS[categories * 2 + d.rng.integers(0, 2, size=d.m)],
    }


def _draw_churn_risk(d: _Draw) -> Columns:
    counts = (d.codes(REASON_COUNT_WEIGHTS) + 1).tolist()
    order = np.argsort(d.rng.random((d.m, len(CHURN_REASONS))), axis=1).tolist()
    reasons = np.empty(d.m, dtype=object)
    reasons[:] = [[CHURN_REASONS[i] for i in row[:k]] for row, k in zip(order, counts, strict=True)]
    return {
        "risk_score": np.round(np.clip(d.rng.beta(5.0, 3.0, size=d.m), 0.05, 0.99), 3),
        "reasons": reasons,
        "days_since_last_login": d.log_normal_ints(14.0, 1.0, 0, 365),
        "active_seat_pct": np.round(np.clip(100.0 * d.rng.beta(4.0, 3.0, size=d.m), 1.0, 100.0), 1),
    }


@dataclass(frozen=True, slots=True)
class _Modifiers:
    """How often an event type carries each scored key, and how its values are spread.

    ``response_hours`` is the median of a log-normal time to respond (the first modifier needs < 24 hours);
    ``prior_interactions`` the mean number of earlier touches (the second needs more than 3 in all).
    """

    response_share: float
    response_hours: float
    response_sigma: float
    count_share: float
    prior_interactions: float


_MODIFIERS: Final = {
    "email_sent": _Modifiers(0.30, 18.0, 1.0, 0.55, 0.8),
    "email_opened": _Modifiers(0.85, 5.0, 1.3, 0.60, 1.5),
    "email_clicked": _Modifiers(0.85, 8.0, 1.2, 0.65, 2.2),
    "call_made": _Modifiers(0.45, 20.0, 0.9, 0.70, 2.5),
    "meeting_booked": _Modifiers(0.55, 30.0, 0.9, 0.80, 3.5),
    "demo_completed": _Modifiers(0.35, 48.0, 0.8, 0.90, 5.0),
}


def _optional(present: npt.NDArray[np.bool_], values: Array) -> npt.NDArray[np.object_]:
    """``values`` where ``present``, None (the key is left out) elsewhere."""
    result = np.full(len(present), None, dtype=object)
    result[present] = values[present]
    return result


def _modifier_columns(d: _Draw, event_type: str) -> Columns:
    m = _MODIFIERS[event_type]
    hours = np.exp(np.log(m.response_hours) + m.response_sigma * d.rng.standard_normal(d.m))
    hours = np.round(np.clip(hours, 0.1, 720.0), 1)
    interactions = 1 + d.rng.poisson(m.prior_interactions, size=d.m)
    return {
        RESPONSE_TIME_KEY: _optional(d.chance(m.response_share), hours.astype(object)),
        INTERACTION_COUNT_KEY: _optional(d.chance(m.count_share), interactions.astype(object)),
    }


def _draw_email_sent(d: _Draw) -> Columns:
    return {
        "campaign": d.pick(OUTREACH_CAMPAIGNS, OUTREACH_CAMPAIGN_WEIGHTS),
        "sequence_step": np.minimum(1 + d.rng.geometric(0.45, size=d.m), 6).astype(np.int64),
        **_modifier_columns(d, "email_sent"),
    }


def _draw_email_opened(d: _Draw) -> Columns:
    return {"campaign": d.pick(OUTREACH_CAMPAIGNS, OUTREACH_CAMPAIGN_WEIGHTS), **_modifier_columns(d, "email_opened")}


def _draw_email_clicked(d: _Draw) -> Columns:
    return {
        "campaign": d.pick(OUTREACH_CAMPAIGNS, OUTREACH_CAMPAIGN_WEIGHTS),
        "link": d.pick(LINKS, LINK_WEIGHTS),
        **_modifier_columns(d, "email_clicked"),
    }


def _draw_call_made(d: _Draw) -> Columns:
    outcomes = d.codes(CALL_OUTCOME_WEIGHTS)
    talked = outcomes >= 2  # connected and after: a conversation, not a ring or a voicemail
    minutes = np.where(talked, d.log_normal_ints(9.0, 0.7, 2, 90), d.log_normal_ints(1.0, 0.3, 1, 2))
    return {
        "duration": minutes.astype(np.int64),
        "outcome": CALL_OUTCOMES[outcomes],
        **_modifier_columns(d, "call_made"),
    }


def _draw_meeting_booked(d: _Draw) -> Columns:
    return {
        "meeting_type": d.pick(MEETING_TYPES, MEETING_TYPE_WEIGHTS),
        "duration": MEETING_MINUTES[d.codes(MEETING_MINUTE_WEIGHTS)],
        **_modifier_columns(d, "meeting_booked"),
    }


def _draw_demo_completed(d: _Draw) -> Columns:
    return {
        "attendees": np.minimum(1 + d.rng.poisson(np.where(d.segments == 2, 4.0, 1.5)), 25).astype(np.int64),
        "duration": d.log_normal_ints(45.0, 0.25, 20, 120),
        **_modifier_columns(d, "demo_completed"),
    }


def _codes(field: str, values: npt.ArrayLike, n: int, index: Mapping[str, int]) -> npt.NDArray[np.intp]:
    array = np.asarray(values)
    if array.ndim == 0:
        return np.full(n, index[check_choice(field, str(array), tuple(index))], dtype=np.intp)
    if array.shape != (n,):
        raise ScenarioError(f"{field}: expected {n} values, got shape {array.shape}", field=field)
    codes = np.full(n, -1, dtype=np.intp)
    for value, code in index.items():  # a few vectorised compares beat sorting the strings
        codes[array == value] = code
    unknown = np.flatnonzero(codes < 0)
    if len(unknown):
        check_choice(field, array[unknown[0]].item(), tuple(index))
    return codes


def _event_codes(event_types: npt.ArrayLike) -> tuple[npt.NDArray[np.intp], int]:
    array = np.asarray(event_types)
    if array.ndim != 1:
        raise ScenarioError("event_types: expected a one-dimensional array of event type names", field="event_types")
    return _codes("event_type", array, len(array), {name: i for i, name in enumerate(EVENT_TYPE_NAMES)}), len(array)


#: Each event type's draw function (``_draw_<type>``).
_DRAWS: Final[Mapping[str, Callable[[_Draw], Columns]]] = {
    name: globals()[f"_draw_{name}"] for name in EVENT_TYPE_NAMES
}


@dataclass(frozen=True, slots=True)
class Group:
    """The rows of one event type in a batch, and their payloads' columns."""

    event_type: str
    rows: npt.NDArray[np.intp]
    columns: Columns


def draw_groups(
    rng: np.random.Generator, event_types: npt.ArrayLike, segments: npt.ArrayLike, currencies: npt.ArrayLike
) -> tuple[list[Group], int]:
    """Draw every row's fields, one event type at a time (in EVENT_TYPES order, so draws are reproducible)."""
    type_codes, n = _event_codes(event_types)
    segment_codes = _codes("segment", segments, n, SEGMENT_INDEX)
    currency_codes = _codes("currency", currencies, n, CURRENCY_INDEX)
    return draw_coded(rng, type_codes, segment_codes, currency_codes), n


def draw_coded(
    rng: np.random.Generator,
    type_codes: npt.NDArray[np.intp],
    segment_codes: npt.NDArray[np.intp],
    currency_codes: npt.NDArray[np.intp],
) -> list[Group]:
    """:func:`draw_groups` of codes (indices in ``EVENT_TYPE_NAMES``, ``SEGMENTS`` and ``CURRENCIES``)."""
    order = np.argsort(type_codes, kind="stable")
    bounds = np.searchsorted(type_codes[order], np.arange(len(EVENT_TYPE_NAMES) + 1))
    groups = []
    for code, name in enumerate(EVENT_TYPE_NAMES):
        rows = order[bounds[code] : bounds[code + 1]]
        if len(rows):
            columns = _DRAWS[name](_Draw(rng, len(rows), segment_codes[rows], currency_codes[rows]))
            groups.append(Group(name, rows, columns))
    return groups


def make_payloads(
    rng: np.random.Generator, event_types: npt.ArrayLike, segments: npt.ArrayLike, currencies: npt.ArrayLike
) -> list[dict[str, Any]]:
    """The payload of each event as a dict (same draws as :func:`~._payload_json.make_payloads_json`).

    ``segments`` and ``currencies`` are the events' customers' (one per row, or one for all); amounts scale
    with the segment and are in the currency.
    """
    groups, n = draw_groups(rng, event_types, segments, currencies)
    result = np.empty(n, dtype=object)
    for group in groups:
        names = list(PAYLOAD_SCHEMAS[group.event_type])
        values = [group.columns[name].tolist() for name in names]
        optional = OPTIONAL_PAYLOAD_FIELDS[group.event_type]
        result[group.rows] = [
            {name: value for name, value in zip(names, row, strict=True) if value is not None or name not in optional}
            for row in zip(*values, strict=True)
        ]
    return list(result.tolist())


def make_payload(
    event_type: str, rng: np.random.Generator, *, segment: str = "smb", currency: str = "USD"
) -> dict[str, Any]:
    """One payload of ``event_type`` for a customer of ``segment`` paying in ``currency``."""
    check_choice("event_type", event_type, EVENT_TYPE_NAMES)
    return make_payloads(rng, [event_type], segment, currency)[0]
