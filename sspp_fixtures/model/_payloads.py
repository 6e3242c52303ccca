"""Event payloads per event type, and the signal the worker derives from each.

Both engines go through one columnar path: a type's fields are drawn for many rows at once as NumPy
arrays, then rendered either as dicts (factories, strategies) or as JSON text built from per-type format
templates (the bulk generator, no ``json.dumps`` per row). A signal is a pure function of its event's
type and payload; :func:`derive_signal_data` computes it from a payload dict with the same vectorised
rules the columnar path uses, so both always agree.
"""

from __future__ import annotations

import functools
import json.encoder
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final

import numpy as np
import numpy.typing as npt

from ..errors import ScenarioError
from ._platform import (
    INTERACTION_COUNT_KEY,
    PLATFORM_EVENT_TYPES,
    RESPONSE_TIME_KEY,
    is_platform_event_type,
    platform_signal_score,
)
from ._random import _HEX_PAIRS, categorical
from ._validate import check_choice
from ._vocab import (
    CURRENCIES,
    CURRENCY_DECIMALS,
    EVENT_TYPE_NAMES,
    EVENT_TYPES,
    LOCALES,
    OPTIONAL_PAYLOAD_FIELDS,
    PAYLOAD_SCHEMAS,
    PLANS,
    PRODUCTS,
    SEGMENT_QUANTITY,
    SEGMENTS,
    USD_RATES,
    EventType,
)

__all__ = [
    "SIGNAL_EVENT_FIELDS",
    "SIGNAL_MODEL",
    "SITE_URL",
    "derive_signal_data",
    "make_payload",
    "make_payloads",
    "make_payloads_and_signals_json",
    "make_payloads_json",
]

_encode: Final = json.encoder.encode_basestring
#: The largest magnitude of a payload number the signal rules accept (int64-safe, no overflow to Infinity).
_MAX_PAYLOAD_NUMBER: Final = 1e15
_Array = npt.NDArray[Any]
_Columns = dict[str, _Array]

SITE_URL: Final = "https://www.signalplatform.example"
SIGNAL_MODEL: Final = "sspp-rules/1"
# The payload fields each signal copies (at the top level of signal_data, beside the derived fields), so a signal
# can be read without its event: signal_data->>'amount' of a purchase is its amount. None is named as a derived
# field (signal, score, priority, action, value_usd, model): a test checks it.
SIGNAL_EVENT_FIELDS: Final = {
    "page_view": ("path", "referrer", "duration_seconds"),
    "email_open": ("campaign", "clicked"),
    "inquiry": ("channel", "product", "topic", "seats"),
    "demo_request": ("product", "team_size", "role", "timeframe"),
    "trial_signup": ("product", "plan", "seats"),
    "purchase": ("order_id", "product", "quantity", "amount", "currency"),
    "renewal": ("contract_id", "product", "term_months", "amount", "currency"),
    "upsell": ("product", "from_plan", "to_plan", "seats_added"),
    "webinar_attended": ("webinar_id", "minutes_attended", "asked_question"),
    "support_ticket": ("ticket_id", "category"),  # its "priority" would shadow the signal's (the score has it)
    "churn_risk": ("risk_score", "reasons"),
    **{name: tuple(PAYLOAD_SCHEMAS[name]) for name in PLATFORM_EVENT_TYPES},
}
_PRIORITIES: Final = ("low", "medium", "high")
_ACTIONS: Final = {
    "web_engagement": ("track", "add_to_nurture", "notify_sdr"),
    "email_engagement": ("track", "add_to_nurture", "notify_sdr"),
    "buying_intent": ("add_to_nurture", "notify_sdr", "create_opportunity"),
    "product_qualified_lead": ("add_to_nurture", "notify_sdr", "assign_account_executive"),
    "closed_won": ("send_onboarding", "send_onboarding", "assign_customer_success"),
    "retention": ("track", "schedule_check_in", "schedule_check_in"),
    "expansion": ("track", "notify_account_manager", "notify_account_manager"),
    "event_engagement": ("track", "add_to_nurture", "notify_sdr"),
    "support_risk": ("track", "notify_customer_success", "escalate_to_customer_success"),
    "churn_risk": ("track", "schedule_check_in", "escalate_to_customer_success"),
    "outreach": ("track", "continue_sequence", "notify_sdr"),
    "engagement": ("track", "continue_sequence", "notify_sdr"),
    "high_engagement": ("continue_sequence", "notify_sdr", "notify_account_executive"),
    "intent": ("notify_sdr", "prepare_meeting", "create_opportunity"),
    "high_intent": ("notify_account_executive", "create_opportunity", "create_opportunity"),
}


def _objects(values: Sequence[Any]) -> npt.NDArray[np.object_]:
    array = np.empty(len(values), dtype=object)
    array[:] = values
    return array


#: JSON text of every vocabulary string (filled by :func:`_vocab`): rendering a drawn value is a lookup.
_JSON_TEXT: Final[dict[str, str]] = {}


def _vocab(*values: str) -> npt.NDArray[np.object_]:
    """A fixed vocabulary, its strings' JSON text remembered (never call it per row: the memo would grow)."""
    _JSON_TEXT.update((value, _encode(value)) for value in values)
    return _objects(values)


def _weights(*values: float) -> npt.NDArray[np.float64]:
    array = np.asarray(values, dtype=np.float64)
    return np.asarray(array / array.sum(), dtype=np.float64)


_PAGES: Final = _vocab(
    "/", "/pricing", "/demo", "/contact", "/product/signal-core", "/product/lead-router",
    "/product/forecast-pro", "/integrations", "/customers", "/docs/getting-started", "/docs/api",
    "/blog/pipeline-hygiene", "/blog/intent-signals-101", "/blog/forecasting-playbook", "/careers", "/security",
    "/webinars",
)  # fmt: skip
_URLS: Final = _vocab(*(SITE_URL + path for path in _PAGES.tolist()))
_PAGE_WEIGHTS: Final = _weights(18, 9, 3, 2, 8, 5, 5, 6, 4, 8, 6, 7, 7, 5, 2, 3, 2)
_HIGH_INTENT_PAGES: Final = ("/pricing", "/demo", "/contact")
_REFERRERS: Final = _vocab(
    "(direct)", "https://www.google.com/", "https://www.bing.com/", "https://www.linkedin.com/",
    "https://news.ycombinator.com/", "https://www.g2.com/", "https://duckduckgo.com/", "https://mail.google.com/",
)  # fmt: skip
_REFERRER_WEIGHTS: Final = _weights(35, 30, 5, 12, 3, 7, 3, 5)
_DEVICES: Final = _vocab("desktop", "mobile", "tablet")
_DEVICE_WEIGHTS: Final = _weights(62, 33, 5)

_CAMPAIGNS: Final = _vocab(
    "monthly_newsletter", "nurture_week_1", "nurture_week_2", "product_launch", "webinar_invite",
    "case_study_digest", "pricing_update", "renewal_reminder",
)  # fmt: skip
_SUBJECTS: Final = _vocab(
    "Your monthly pipeline digest",
    "Five signals your best deals have in common",
    "How top teams route leads in under 5 minutes",
    "Introducing Forecast Pro: forecasts you can trust",
    "Live webinar: building an intent-driven pipeline",
    "How Northwind doubled qualified meetings",
    "Updates to your plan and pricing",
    "Your subscription renews soon",
)
_CAMPAIGN_WEIGHTS: Final = _weights(25, 15, 12, 12, 12, 10, 7, 7)
_HOT_CAMPAIGNS: Final = ("product_launch", "webinar_invite", "pricing_update")
_CLIENTS: Final = _vocab("gmail", "outlook", "apple_mail", "other")
_CLIENT_WEIGHTS: Final = _weights(40, 35, 20, 5)

_CHANNELS: Final = _vocab("web_form", "email", "chat", "phone")
_CHANNEL_WEIGHTS: Final = _weights(50, 25, 18, 7)
_TOPICS: Final = _vocab("pricing", "features", "integration", "security", "partnership")
_TOPIC_WEIGHTS: Final = _weights(35, 23, 20, 12, 10)
_MESSAGES: Final = (  # two per topic, in _TOPICS order
    "Hi, could you send pricing for {product} for a team of {seats}?",
    "We are comparing vendors. What would {product} cost for {seats} seats on an annual plan?",
    "Does {product} support custom scoring rules? We have {seats} users.",
    "Can {product} show intent signals per account? We are evaluating it for {seats} reps.",
    "Does {product} integrate with our CRM? We would roll it out to {seats} people.",
    "Is there an API to push events into {product}? Our team has {seats} users.",
    "Can you share your SOC 2 report and DPA for {product}? {seats} users would need access.",
    "Where is data stored for {product}? We need EU hosting for {seats} seats.",
    "We are an agency interested in reselling {product} to clients of about {seats} seats.",
    "Could we discuss a partnership around {product}? Our team has {seats} consultants.",
)

_ROLES: Final = _vocab(
    "Founder", "CEO", "CTO", "VP Sales", "VP Marketing", "Head of Revenue Operations", "Sales Manager",
    "Account Executive", "Marketing Manager", "Sales Operations Analyst",
)  # fmt: skip
_DECISION_ROLES: Final = ("Founder", "CEO", "CTO", "VP Sales", "VP Marketing", "Head of Revenue Operations")
_TIMEFRAMES: Final = _vocab("this_week", "next_week", "this_month", "next_quarter")
_TIMEFRAME_WEIGHTS: Final = _weights(25, 30, 30, 15)
_SOON: Final = ("this_week", "next_week")
_SLOTS: Final = _vocab("morning", "afternoon", "evening")
_SLOT_WEIGHTS: Final = _weights(45, 50, 5)

_PLANS: Final = _vocab(*PLANS)
# Plan shares per segment (rows in SEGMENTS order, columns in PLANS order).
_PLAN_BY_SEGMENT: Final = np.array([[50, 40, 10, 0], [15, 45, 35, 5], [0, 20, 40, 40]], dtype=np.float64) / 100
_BILLING_PERIODS: Final = _vocab("monthly", "annual")
_BILLING_MONTHS: Final = np.array([1, 12], dtype=np.int64)
_BILLING_WEIGHTS: Final = _weights(35, 65)
_TERMS: Final = np.array([12, 24, 36], dtype=np.int64)
_TERM_WEIGHTS: Final = _weights(70, 20, 10)
_TRIAL_DAYS: Final = np.array([14, 30], dtype=np.int64)
_TRIAL_WEIGHTS: Final = _weights(70, 30)

_WEBINAR_IDS: Final = _vocab(
    "wb_intent_101", "wb_forecast_accuracy", "wb_speed_to_lead", "wb_revops_stack", "wb_churn_warning",
    "wb_product_tour",
)  # fmt: skip
_WEBINAR_TITLES: Final = _vocab(
    "Intent signals 101",
    "Forecast accuracy without the spreadsheets",
    "Speed to lead: routing that closes",
    "Building the modern RevOps stack",
    "Early warning signs of churn",
    "Live product tour",
)

_CATEGORIES: Final = _vocab("how_to", "bug", "billing", "integration", "account", "outage")
_CATEGORY_WEIGHTS: Final = _weights(30, 25, 15, 15, 10, 5)
_URGENT_CATEGORIES: Final = ("billing", "outage")
_TICKET_SUBJECTS: Final = _vocab(  # two per category, in _CATEGORIES order
    "How do I set up scoring rules?", "How to export signals to CSV",
    "Dashboard does not load", "Signals missing for some accounts",
    "Invoice shows the wrong seat count", "Update our payment method",
    "CRM sync failing with a timeout", "Webhook events not arriving",
    "Add users to our workspace", "Reset our SSO configuration",
    "API returning 503 errors", "Platform unavailable for our team",
)  # fmt: skip
_TICKET_PRIORITIES: Final = _vocab("low", "normal", "high", "urgent")
_TICKET_PRIORITY_WEIGHTS: Final = _weights(30, 45, 20, 5)
_TICKET_PRIORITY_SCORE: Final = {"low": 0.15, "normal": 0.3, "high": 0.6, "urgent": 0.85}
_CHURN_REASONS: Final = (
    "usage_drop", "payment_failed", "champion_left", "negative_nps", "support_escalations",
    "competitor_evaluation", "seat_reduction",
)  # fmt: skip
_REASON_COUNT_WEIGHTS: Final = _weights(50, 35, 15)

_PRODUCT_SLUGS: Final = _vocab(*(product.slug for product in PRODUCTS))
_PRODUCT_NAMES: Final = _vocab(*(product.display_name for product in PRODUCTS))
_PRODUCT_WEIGHTS: Final = _weights(*(product.weight for product in PRODUCTS))
_PRICE_LOW: Final = np.array([product.unit_price[0] for product in PRODUCTS])
_PRICE_HIGH: Final = np.array([product.unit_price[1] for product in PRODUCTS])
_QTY_MEDIAN: Final = np.array([SEGMENT_QUANTITY[s][0].median for s in SEGMENTS])
_QTY_SIGMA: Final = np.array([SEGMENT_QUANTITY[s][0].sigma for s in SEGMENTS])
_QTY_LOW: Final = np.array([SEGMENT_QUANTITY[s][1][0] for s in SEGMENTS], dtype=np.int64)
_QTY_HIGH: Final = np.array([SEGMENT_QUANTITY[s][1][1] for s in SEGMENTS], dtype=np.int64)
_CURRENCY_ARRAY: Final = _vocab(*CURRENCIES)
_RATES: Final = np.array([USD_RATES[c] for c in CURRENCIES])
_DECIMALS: Final = np.array([CURRENCY_DECIMALS[c] for c in CURRENCIES], dtype=np.int64)
_SEGMENT_INDEX: Final = {segment: i for i, segment in enumerate(SEGMENTS)}
_CURRENCY_INDEX: Final = {currency: i for i, currency in enumerate(CURRENCIES)}
_LOCALE_CURRENCY: Final = np.array([_CURRENCY_INDEX[info.currency] for info in LOCALES], dtype=np.intp)


@dataclass(frozen=True, slots=True)
class _Draw:
    """What a type's draw function gets: ``m`` rows with their segment and currency codes."""

    rng: np.random.Generator
    m: int
    segments: npt.NDArray[np.intp]
    currencies: npt.NDArray[np.intp]

    def pick(self, vocabulary: npt.NDArray[np.object_], weights: npt.NDArray[np.float64]) -> _Array:
        return vocabulary[categorical(self.rng, self.m, weights)]

    def codes(self, weights: npt.NDArray[np.float64]) -> npt.NDArray[np.intp]:
        return categorical(self.rng, self.m, weights)

    def chance(self, p: float) -> npt.NDArray[np.bool_]:
        return self.rng.random(self.m) < p

    def ids(self, prefix: str, digits: int) -> _Array:
        """``prefix`` and ``digits`` random hex digits (``f"{prefix}%0{digits}x"``), assembled as bytes and split."""
        values = self.rng.integers(0, 1 << (4 * digits), size=self.m, dtype=np.uint64)
        width = len(prefix) + digits
        text = np.empty((self.m, width + 1), dtype=np.uint8)
        text[:, : len(prefix)] = np.frombuffer(prefix.encode("ascii"), dtype=np.uint8)
        hex_pairs = np.take(_HEX_PAIRS, values.astype(">u8").view(np.uint8)).view(np.uint8).reshape(self.m, 16)
        text[:, len(prefix) : width] = hex_pairs[:, 16 - digits :]
        text[:, width] = ord("\n")
        return _objects(text.tobytes().decode("ascii").split("\n")[: self.m])

    def log_normal_ints(self, median: float, sigma: float, low: int, high: int) -> npt.NDArray[np.int64]:
        values = np.exp(np.log(median) + sigma * self.rng.standard_normal(self.m))
        return np.asarray(np.clip(np.round(values), low, high), dtype=np.int64)

    def quantities(self) -> npt.NDArray[np.int64]:
        """Seats per row, by segment."""
        s = self.segments
        values = np.exp(np.log(_QTY_MEDIAN[s]) + _QTY_SIGMA[s] * self.rng.standard_normal(self.m))
        return np.asarray(np.clip(np.round(values), _QTY_LOW[s], _QTY_HIGH[s]), dtype=np.int64)

    def amounts(
        self, products: npt.NDArray[np.intp], units: npt.NDArray[np.int64], months: npt.NDArray[np.int64]
    ) -> npt.NDArray[np.float64]:
        """Prices in each row's currency: unit price x units x months, rounded to the currency's minor unit."""
        unit_usd = _PRICE_LOW[products] + (_PRICE_HIGH[products] - _PRICE_LOW[products]) * self.rng.random(self.m)
        local = unit_usd * units * months * _RATES[self.currencies]
        decimals = _DECIMALS[self.currencies]
        rounded = np.where(decimals == 0, np.round(local), np.round(local, 2))
        return np.asarray(np.maximum(rounded, np.where(decimals == 0, 1.0, 0.01)), dtype=np.float64)


def _draw_page_view(d: _Draw) -> _Columns:
    pages = d.codes(_PAGE_WEIGHTS)
    return {
        "url": _URLS[pages],
        "path": _PAGES[pages],
        "referrer": d.pick(_REFERRERS, _REFERRER_WEIGHTS),
        "session_id": d.ids("s_", 16),
        "duration_seconds": d.log_normal_ints(40.0, 1.0, 1, 3600),
        "device": d.pick(_DEVICES, _DEVICE_WEIGHTS),
    }


def _draw_email_open(d: _Draw) -> _Columns:
    campaigns = d.codes(_CAMPAIGN_WEIGHTS)
    return {
        "campaign": _CAMPAIGNS[campaigns],
        "subject": _SUBJECTS[campaigns],
        "message_id": d.ids("msg_", 16),
        "client": d.pick(_CLIENTS, _CLIENT_WEIGHTS),
        "clicked": d.chance(0.18),
    }


def _draw_inquiry(d: _Draw) -> _Columns:
    products = d.codes(_PRODUCT_WEIGHTS)
    topics = d.codes(_TOPIC_WEIGHTS)
    seats = d.quantities()
    templates = (topics * 2 + d.rng.integers(0, 2, size=d.m)).tolist()
    names = _PRODUCT_NAMES[products].tolist()
    messages = [
        _MESSAGES[t].format(product=name, seats=n) for t, name, n in zip(templates, names, seats.tolist(), strict=True)
    ]
    return {
        "channel": d.pick(_CHANNELS, _CHANNEL_WEIGHTS),
        "product": _PRODUCT_SLUGS[products],
        "topic": _TOPICS[topics],
        "seats": seats,
        "message": _objects(messages),
    }


def _draw_demo_request(d: _Draw) -> _Columns:
    return {
        "product": d.pick(_PRODUCT_SLUGS, _PRODUCT_WEIGHTS),
        "team_size": d.quantities(),
        "role": _ROLES[d.rng.integers(0, len(_ROLES), size=d.m)],
        "timeframe": d.pick(_TIMEFRAMES, _TIMEFRAME_WEIGHTS),
        "preferred_slot": d.pick(_SLOTS, _SLOT_WEIGHTS),
    }


def _plans_by_segment(d: _Draw) -> npt.NDArray[np.intp]:
    cumulative = np.cumsum(_PLAN_BY_SEGMENT, axis=1)[d.segments]
    codes = (d.rng.random(d.m)[:, None] >= cumulative).sum(axis=1)
    return np.asarray(np.minimum(codes, len(PLANS) - 1), dtype=np.intp)


def _draw_trial_signup(d: _Draw) -> _Columns:
    return {
        "trial_id": d.ids("trl_", 12),
        "product": d.pick(_PRODUCT_SLUGS, _PRODUCT_WEIGHTS),
        "plan": _PLANS[_plans_by_segment(d)],
        "seats": d.quantities(),
        "trial_days": _TRIAL_DAYS[d.codes(_TRIAL_WEIGHTS)],
    }


def _draw_purchase(d: _Draw) -> _Columns:
    products = d.codes(_PRODUCT_WEIGHTS)
    quantity = d.quantities()
    billing = d.codes(_BILLING_WEIGHTS)
    return {
        "order_id": d.ids("ord_", 12),
        "product": _PRODUCT_SLUGS[products],
        "quantity": quantity,
        "billing_period": _BILLING_PERIODS[billing],
        "amount": d.amounts(products, quantity, _BILLING_MONTHS[billing]),
        "currency": _CURRENCY_ARRAY[d.currencies],
    }


def _draw_renewal(d: _Draw) -> _Columns:
    products = d.codes(_PRODUCT_WEIGHTS)
    terms = _TERMS[d.codes(_TERM_WEIGHTS)]
    return {
        "contract_id": d.ids("ctr_", 12),
        "product": _PRODUCT_SLUGS[products],
        "term_months": terms,
        "auto_renew": d.chance(0.6),
        "amount": d.amounts(products, d.quantities(), terms),
        "currency": _CURRENCY_ARRAY[d.currencies],
    }


def _draw_upsell(d: _Draw) -> _Columns:
    products = d.codes(_PRODUCT_WEIGHTS)
    from_plan = d.rng.integers(0, len(PLANS) - 1, size=d.m)
    to_plan = from_plan + 1 + d.rng.integers(0, len(PLANS) - 1 - from_plan)
    seats = np.maximum(d.quantities() // 4, 1)
    return {
        "product": _PRODUCT_SLUGS[products],
        "from_plan": _PLANS[from_plan],
        "to_plan": _PLANS[to_plan],
        "seats_added": seats,
        "amount": d.amounts(products, seats, np.full(d.m, 12, dtype=np.int64)),
        "currency": _CURRENCY_ARRAY[d.currencies],
    }


def _draw_webinar_attended(d: _Draw) -> _Columns:
    webinars = d.rng.integers(0, len(_WEBINAR_IDS), size=d.m)
    return {
        "webinar_id": _WEBINAR_IDS[webinars],
        "title": _WEBINAR_TITLES[webinars],
        "minutes_attended": d.log_normal_ints(35.0, 0.6, 1, 120),
        "asked_question": d.chance(0.15),
    }


def _draw_support_ticket(d: _Draw) -> _Columns:
    categories = d.codes(_CATEGORY_WEIGHTS)
    return {
        "ticket_id": d.ids("tkt_", 10),
        "product": d.pick(_PRODUCT_SLUGS, _PRODUCT_WEIGHTS),
        "category": _CATEGORIES[categories],
        "priority": d.pick(_TICKET_PRIORITIES, _TICKET_PRIORITY_WEIGHTS),
        "subject": _TICKET_SUBJECTS[categories * 2 + d.rng.integers(0, 2, size=d.m)],
    }


def _draw_churn_risk(d: _Draw) -> _Columns:
    counts = (d.codes(_REASON_COUNT_WEIGHTS) + 1).tolist()
    order = np.argsort(d.rng.random((d.m, len(_CHURN_REASONS))), axis=1).tolist()
    reasons = np.empty(d.m, dtype=object)
    reasons[:] = [[_CHURN_REASONS[i] for i in row[:k]] for row, k in zip(order, counts, strict=True)]
    return {
        "risk_score": np.round(np.clip(d.rng.beta(5.0, 3.0, size=d.m), 0.05, 0.99), 3),
        "reasons": reasons,
        "days_since_last_login": d.log_normal_ints(14.0, 1.0, 0, 365),
        "active_seat_pct": np.round(np.clip(100.0 * d.rng.beta(4.0, 3.0, size=d.m), 1.0, 100.0), 1),
    }


# The platform's outreach events: small metadata (the keys of the platform's own sample rows) and the two keys
# the worker's scoring reads, present on a realistic share of events so both modifiers are earned.
_OUTREACH_CAMPAIGNS: Final = _vocab(
    "Q4 Outreach", "New Year", "Spring Pipeline", "Product Launch", "Webinar Follow-up", "Re-engagement",
    "Enterprise ABM", "Trial Nurture",
)  # fmt: skip
_OUTREACH_CAMPAIGN_WEIGHTS: Final = _weights(20, 10, 14, 14, 12, 10, 8, 12)
_LINKS: Final = _vocab("demo", "pricing", "case_study", "webinar", "docs", "calendar")
_LINK_WEIGHTS: Final = _weights(30, 25, 15, 10, 10, 10)
_CALL_OUTCOMES: Final = _vocab(
    "no_answer", "voicemail", "connected", "interested", "not_interested", "callback_requested"
)  # fmt: skip
_CALL_OUTCOME_WEIGHTS: Final = _weights(30, 25, 15, 12, 10, 8)
_MEETING_TYPES: Final = _vocab("discovery", "demo", "follow_up", "pricing_review", "technical_deep_dive")
_MEETING_TYPE_WEIGHTS: Final = _weights(35, 30, 15, 12, 8)
_MEETING_MINUTES: Final = np.array([15, 30, 45, 60], dtype=np.int64)
_MEETING_MINUTE_WEIGHTS: Final = _weights(15, 50, 15, 20)


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


def _optional(present: npt.NDArray[np.bool_], values: _Array) -> npt.NDArray[np.object_]:
    """``values`` where ``present``, None (the key is left out) elsewhere."""
    result = np.full(len(present), None, dtype=object)
    result[present] = values[present]
    return result


def _modifier_columns(d: _Draw, event_type: str) -> _Columns:
    m = _MODIFIERS[event_type]
    hours = np.exp(np.log(m.response_hours) + m.response_sigma * d.rng.standard_normal(d.m))
    hours = np.round(np.clip(hours, 0.1, 720.0), 1)
    interactions = 1 + d.rng.poisson(m.prior_interactions, size=d.m)
    return {
        RESPONSE_TIME_KEY: _optional(d.chance(m.response_share), hours.astype(object)),
        INTERACTION_COUNT_KEY: _optional(d.chance(m.count_share), interactions.astype(object)),
    }


def _draw_email_sent(d: _Draw) -> _Columns:
    return {
        "campaign": d.pick(_OUTREACH_CAMPAIGNS, _OUTREACH_CAMPAIGN_WEIGHTS),
        "sequence_step": np.minimum(1 + d.rng.geometric(0.45, size=d.m), 6).astype(np.int64),
        **_modifier_columns(d, "email_sent"),
    }


def _draw_email_opened(d: _Draw) -> _Columns:
    return {"campaign": d.pick(_OUTREACH_CAMPAIGNS, _OUTREACH_CAMPAIGN_WEIGHTS), **_modifier_columns(d, "email_opened")}


def _draw_email_clicked(d: _Draw) -> _Columns:
    return {
        "campaign": d.pick(_OUTREACH_CAMPAIGNS, _OUTREACH_CAMPAIGN_WEIGHTS),
        "link": d.pick(_LINKS, _LINK_WEIGHTS),
        **_modifier_columns(d, "email_clicked"),
    }


def _draw_call_made(d: _Draw) -> _Columns:
    outcomes = d.codes(_CALL_OUTCOME_WEIGHTS)
    talked = outcomes >= 2  # connected and after: a conversation, not a ring or a voicemail
    minutes = np.where(talked, d.log_normal_ints(9.0, 0.7, 2, 90), d.log_normal_ints(1.0, 0.3, 1, 2))
    return {
        "duration": minutes.astype(np.int64),
        "outcome": _CALL_OUTCOMES[outcomes],
        **_modifier_columns(d, "call_made"),
    }


def _draw_meeting_booked(d: _Draw) -> _Columns:
    return {
        "meeting_type": d.pick(_MEETING_TYPES, _MEETING_TYPE_WEIGHTS),
        "duration": _MEETING_MINUTES[d.codes(_MEETING_MINUTE_WEIGHTS)],
        **_modifier_columns(d, "meeting_booked"),
    }


def _draw_demo_completed(d: _Draw) -> _Columns:
    return {
        "attendees": np.minimum(1 + d.rng.poisson(np.where(d.segments == 2, 4.0, 1.5)), 25).astype(np.int64),
        "duration": d.log_normal_ints(45.0, 0.25, 20, 120),
        **_modifier_columns(d, "demo_completed"),
    }


def _isin(values: _Array, allowed: Sequence[str]) -> npt.NDArray[np.float64]:
    return np.isin(values.astype(str), np.asarray(allowed)).astype(np.float64)


def _capped(values: _Array, cap: float) -> npt.NDArray[np.float64]:
    return np.minimum(np.asarray(values, dtype=np.float64) / cap, 1.0)


def _lookup(field: str, values: _Array, table: Mapping[str, Any]) -> npt.NDArray[Any]:
    try:
        return np.array([table[value] for value in values.tolist()])
    except (KeyError, TypeError):
        bad = next(value for value in values.tolist() if not isinstance(value, str) or value not in table)
        raise ScenarioError(
            f"payload.{field}: unknown value {bad!r}; allowed: {', '.join(table)}", field=f"payload.{field}"
        ) from None


def _value_usd(columns: _Columns) -> npt.NDArray[np.float64]:
    rates = _lookup("currency", columns["currency"], USD_RATES).astype(np.float64)
    return np.round(np.asarray(columns["amount"], dtype=np.float64) / rates, 2)


_Scored = tuple[npt.NDArray[np.float64], dict[str, npt.NDArray[np.float64]]]


def _score_page_view(c: _Columns) -> _Scored:
    product_page = np.char.startswith(c["path"].astype(str), "/product/").astype(np.float64)
    score = 0.1 + 0.35 * _isin(c["path"], _HIGH_INTENT_PAGES) + 0.1 * product_page
    return score + 0.15 * _capped(c["duration_seconds"], 300.0), {}


def _score_email_open(c: _Columns) -> _Scored:
    clicked = np.asarray(c["clicked"], dtype=np.float64)
    return 0.15 + 0.35 * clicked + 0.1 * _isin(c["campaign"], _HOT_CAMPAIGNS), {}


def _score_inquiry(c: _Columns) -> _Scored:
    score = 0.45 + 0.2 * _isin(c["topic"], ("pricing",)) + 0.1 * _isin(c["channel"], ("chat", "phone"))
    return score + 0.15 * _capped(c["seats"], 200.0), {}


def _score_demo_request(c: _Columns) -> _Scored:
    score = 0.6 + 0.15 * _isin(c["role"], _DECISION_ROLES) + 0.1 * _isin(c["timeframe"], _SOON)
    return score + 0.1 * _capped(c["team_size"], 500.0), {}


def _score_trial_signup(c: _Columns) -> _Scored:
    return 0.45 + 0.15 * _isin(c["plan"], ("business", "enterprise")) + 0.2 * _capped(c["seats"], 100.0), {}


def _score_purchase(c: _Columns) -> _Scored:
    usd = _value_usd(c)
    return 0.8 + 0.2 * _capped(usd, 100_000.0), {"value_usd": usd}


def _score_renewal(c: _Columns) -> _Scored:
    usd = _value_usd(c)
    auto_renew = np.asarray(c["auto_renew"], dtype=np.float64)
    long_term = (np.asarray(c["term_months"], dtype=np.float64) >= 24).astype(np.float64)
    return 0.5 + 0.2 * auto_renew + 0.1 * long_term + 0.15 * _capped(usd, 100_000.0), {"value_usd": usd}


def _score_upsell(c: _Columns) -> _Scored:
    usd = _value_usd(c)
    return 0.55 + 0.3 * _capped(usd, 50_000.0) + 0.1 * _isin(c["to_plan"], ("enterprise",)), {"value_usd": usd}


def _score_webinar_attended(c: _Columns) -> _Scored:
    asked = np.asarray(c["asked_question"], dtype=np.float64)
    return 0.2 + 0.3 * _capped(c["minutes_attended"], 60.0) + 0.2 * asked, {}


def _score_support_ticket(c: _Columns) -> _Scored:
    base = _lookup("priority", c["priority"], _TICKET_PRIORITY_SCORE).astype(np.float64)
    return base + 0.1 * _isin(c["category"], _URGENT_CATEGORIES), {}


def _score_churn_risk(c: _Columns) -> _Scored:
    reasons = np.array([len(value) for value in c["reasons"].tolist()], dtype=np.float64)
    low_usage = (np.asarray(c["active_seat_pct"], dtype=np.float64) < 30.0).astype(np.float64)
    score = 0.5 * np.asarray(c["risk_score"], dtype=np.float64) + 0.1 * reasons
    return score + 0.2 * _capped(c["days_since_last_login"], 90.0) + 0.1 * low_usage, {}


def _platform_scores(event_type: str) -> Callable[[_Columns], _Scored]:
    """The worker's score of each row (see :mod:`._platform`): the scored keys are the generator's positive
    numbers, so "set" is "present"; each of the four combinations is scored once by the rules themselves."""
    table = np.array(
        [
            [
                platform_signal_score(
                    event_type,
                    {RESPONSE_TIME_KEY: 1.0 if quick else None, INTERACTION_COUNT_KEY: 9 if many else None},
                )
                for many in (False, True)
            ]
            for quick in (False, True)
        ]
    )

    def score(c: _Columns) -> _Scored:
        hours, counts = c[RESPONSE_TIME_KEY], c[INTERACTION_COUNT_KEY]
        quick = np.array([h is not None and 0 < h < 24 for h in hours.tolist()], dtype=np.intp)
        many = np.array([n is not None and n > 3 for n in counts.tolist()], dtype=np.intp)
        return np.asarray(table[quick, many], dtype=np.float64), {}

    return score


_SCORES: Final[dict[str, Callable[[_Columns], _Scored]]] = {
    name: _platform_scores(name) for name in PLATFORM_EVENT_TYPES
}


@dataclass(frozen=True, slots=True)
class _Kind:
    """How one event type is drawn, scored and rendered."""

    name: str
    signal: str
    fields: tuple[tuple[str, type], ...]
    optional: frozenset[str]
    draw: Callable[[_Draw], _Columns]
    score: Callable[[_Columns], _Scored]
    payload_template: str
    event_fields: tuple[str, ...]

    @property
    def required(self) -> tuple[str, ...]:
        return tuple(name for name, _ in self.fields if name not in self.optional)


def _members(fields: Sequence[str], optional: frozenset[str]) -> str:
    """``"a":%s,"b":%s%s``: a slot per field, an optional field's slot holding its whole ``,"key":value`` or
    nothing (optional fields come after the required ones)."""
    return ",".join(f'"{name}":%s' for name in fields if name not in optional) + "%s" * sum(
        name in optional for name in fields
    )


def _kind(event_type: EventType) -> _Kind:
    name = event_type.name
    optional = OPTIONAL_PAYLOAD_FIELDS[name]
    fields = tuple(PAYLOAD_SCHEMAS[name].items())
    if any(field in optional for field, _ in fields[: len(fields) - len(optional)]):
        raise AssertionError(f"{name}: optional payload fields must come last")  # a vocabulary mistake
    return _Kind(
        name=name,
        signal=event_type.signal,
        fields=fields,
        optional=optional,
        draw=globals()[f"_draw_{name}"],
        score=_SCORES.get(name) or globals()[f"_score_{name}"],
        payload_template="{" + _members(tuple(PAYLOAD_SCHEMAS[name]), optional) + "}",
        event_fields=SIGNAL_EVENT_FIELDS[name],
    )


_KINDS: Final = {event_type.name: _kind(event_type) for event_type in EVENT_TYPES}


#: JSON text of the integers 0..9999 and of false/true: rendering a drawn number is a lookup, not a ``str()``.
_INT_JSON: Final = _objects([str(i) for i in range(10_000)])
_BOOL_JSON: Final = _objects(["false", "true"])
#: JSON text of the scores 0.000..1.000 (``repr(i / 1000)``, the float a 3-decimal round gives).
_SCORE_JSON: Final = _objects([repr(i / 1000) for i in range(1001)])
_SCORE_VALUES: Final = np.arange(1001) / 1000


def _fragments(kind: type, values: _Array) -> list[str]:
    """JSON text of each value of one column."""
    if kind is str:
        strings = values.tolist()
        try:
            return list(map(_JSON_TEXT.__getitem__, strings))
        except KeyError:  # not (only) vocabulary: ids, messages
            return list(map(_encode, strings))
    if kind is bool:
        return list(_BOOL_JSON[np.asarray(values, dtype=np.bool_).view(np.uint8)].tolist())
    if kind is int:
        array = np.asarray(values)
        if array.dtype.kind in "iu" and array.size and array.min() >= 0 and array.max() < len(_INT_JSON):
            return list(_INT_JSON[array].tolist())
        return list(map(str, array.tolist()))
    if kind is float:
        return list(map(repr, values.tolist()))
    return ["[" + ",".join(map(_encode, value)) + "]" for value in values.tolist()]


def _signal_heads(signal: str, scores: npt.NDArray[np.float64], priorities: npt.NDArray[np.intp]) -> list[str]:
    """``score,"priority":…,"action":…`` of each row: one lookup per row in a table of every 3-decimal score
    (checked to hold the very same floats), else rendered one by one."""
    with np.errstate(invalid="ignore"):  # a NaN fails the check below
        index = np.clip(np.rint(scores * 1000).astype(np.intp), 0, 1000)
    if np.array_equal(_SCORE_VALUES[index], scores):
        return list(_score_heads(signal)[index].tolist())
    priority_text, action_text = _PRIORITY_JSON.tolist(), _ACTION_JSON[signal].tolist()
    return [
        f'{score!r},"priority":{priority_text[p]},"action":{action_text[p]}'
        for score, p in zip(scores.tolist(), priorities.tolist(), strict=True)
    ]


@functools.cache
def _score_heads(signal: str) -> npt.NDArray[np.object_]:
    _, priorities = _priorities(_SCORE_VALUES)
    priority_text, action_text = _PRIORITY_JSON.tolist(), _ACTION_JSON[signal].tolist()
    return _objects(
        [
            f'{score},"priority":{priority_text[p]},"action":{action_text[p]}'
            for score, p in zip(_SCORE_JSON.tolist(), priorities.tolist(), strict=True)
        ]
    )


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


@dataclass(frozen=True, slots=True)
class _Group:
    kind: _Kind
    rows: npt.NDArray[np.intp]
    columns: _Columns


def _draw_groups(
    rng: np.random.Generator, event_types: npt.ArrayLike, segments: npt.ArrayLike, currencies: npt.ArrayLike
) -> tuple[list[_Group], int]:
    """Draw every row's fields, one event type at a time (in EVENT_TYPES order, so draws are reproducible)."""
    type_codes, n = _event_codes(event_types)
    segment_codes = _codes("segment", segments, n, _SEGMENT_INDEX)
    currency_codes = _codes("currency", currencies, n, _CURRENCY_INDEX)
    return _draw_coded(rng, type_codes, segment_codes, currency_codes), n


def _draw_coded(
    rng: np.random.Generator,
    type_codes: npt.NDArray[np.intp],
    segment_codes: npt.NDArray[np.intp],
    currency_codes: npt.NDArray[np.intp],
) -> list[_Group]:
    order = np.argsort(type_codes, kind="stable")
    bounds = np.searchsorted(type_codes[order], np.arange(len(EVENT_TYPE_NAMES) + 1))
    groups = []
    for code, name in enumerate(EVENT_TYPE_NAMES):
        rows = order[bounds[code] : bounds[code + 1]]
        if len(rows):
            kind = _KINDS[name]
            columns = kind.draw(_Draw(rng, len(rows), segment_codes[rows], currency_codes[rows]))
            groups.append(_Group(kind, rows, columns))
    return groups


def _optional_fragments(name: str, kind: type, values: _Array) -> list[str]:
    """``,"name":value`` of each row holding a value, ``""`` where the key is left out."""
    present = np.flatnonzero([value is not None for value in values.tolist()])
    texts = [""] * len(values)
    if len(present):
        dtype = np.float64 if kind is float else np.int64 if kind is int else object
        head = "," + _encode(name) + ":"
        for row, text in zip(present.tolist(), _fragments(kind, values[present].astype(dtype)), strict=True):
            texts[row] = head + text
    return texts


def _payload_texts(group: _Group) -> tuple[list[str], dict[str, list[str]]]:
    kind = group.kind
    fragments = {
        name: _optional_fragments(name, field_kind, group.columns[name])
        if name in kind.optional
        else _fragments(field_kind, group.columns[name])
        for name, field_kind in kind.fields
    }
    return list(map(kind.payload_template.__mod__, zip(*fragments.values(), strict=True))), fragments


def _priorities(raw: npt.NDArray[np.float64]) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.intp]]:
    """Scores rounded to 3 decimals in [0, 1], and their priority codes (0 low, 1 medium, 2 high)."""
    scores = np.asarray(np.round(np.clip(raw, 0.0, 1.0), 3), dtype=np.float64)
    return scores, (scores >= 0.4).astype(np.intp) + (scores >= 0.7).astype(np.intp)


def _signal_arrays(
    kind: _Kind, columns: _Columns
) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.intp], dict[str, npt.NDArray[np.float64]]]:
    raw, extras = kind.score(columns)
    scores, priorities = _priorities(raw)
    return scores, priorities, extras


def _signal_columns(kind: _Kind, columns: _Columns) -> tuple[list[float], list[int], dict[str, list[float]]]:
    scores, priorities, extras = _signal_arrays(kind, columns)
    return scores.tolist(), priorities.tolist(), {name: values.tolist() for name, values in extras.items()}


_PRIORITY_JSON: Final = _objects([_encode(p) for p in _PRIORITIES])
_ACTION_JSON: Final = {signal: _objects([_encode(a) for a in actions]) for signal, actions in _ACTIONS.items()}


def _signal_texts(
    group: _Group, payload_fragments: Mapping[str, list[str]]
) -> tuple[list[str], npt.NDArray[np.float64]]:
    kind = group.kind
    scores, priorities, extras = _signal_arrays(kind, group.columns)
    template = (
        "{"
        + _members(kind.event_fields, kind.optional)
        + ',"signal":'
        + _encode(kind.signal).replace("%", "%%")
        + ',"score":%s'
        + "".join(f',"{name}":%s' for name in extras)
        + ',"model":'
        + _encode(SIGNAL_MODEL).replace("%", "%%")
        + "}"
    )
    columns = [
        *(payload_fragments[name] for name in kind.event_fields if name not in kind.optional),
        *(payload_fragments[name] for name in kind.event_fields if name in kind.optional),
        _signal_heads(kind.signal, scores, priorities),
        *(list(map(repr, values.tolist())) for values in extras.values()),
    ]
    return list(map(template.__mod__, zip(*columns, strict=True))), scores


def make_payloads_json(
    rng: np.random.Generator, event_types: npt.ArrayLike, segments: npt.ArrayLike, currencies: npt.ArrayLike
) -> list[str]:
    """The payload of each event as JSON text (for COPY), drawn from ``rng``.

    ``segments`` and ``currencies`` are the events' customers' (one per row, or one for all); amounts scale
    with the segment and are in the currency.
    """
    groups, n = _draw_groups(rng, event_types, segments, currencies)
    texts = np.empty(n, dtype=object)
    for group in groups:
        texts[group.rows] = _payload_texts(group)[0]
    return list(texts.tolist())


def make_payloads_and_signals_json(
    rng: np.random.Generator, event_types: npt.ArrayLike, segments: npt.ArrayLike, currencies: npt.ArrayLike
) -> tuple[list[str], list[str]]:
    """Payload JSON and the derived ``signal_data`` JSON of each event (same draws as :func:`make_payloads_json`)."""
    groups, n = _draw_groups(rng, event_types, segments, currencies)
    payloads, signals, _ = _payload_and_signal_texts(groups, n)
    return payloads, signals


def payloads_signals_and_scores_of_codes(
    rng: np.random.Generator,
    type_codes: npt.NDArray[np.intp],
    segment_codes: npt.NDArray[np.intp],
    locale_codes: npt.NDArray[np.intp],
) -> tuple[list[str], list[str], npt.NDArray[np.float64]]:
    """:func:`make_payloads_and_signals_json` of codes (``EVENT_TYPE_NAMES``, ``SEGMENTS``, ``LOCALE_CODES``
    indices; the currency is the locale's), with the same draws, and each row's signal score: for the bulk
    generator (package-internal)."""
    groups = _draw_coded(rng, type_codes, segment_codes, _LOCALE_CURRENCY[locale_codes])
    return _payload_and_signal_texts(groups, len(type_codes))


def _payload_and_signal_texts(groups: list[_Group], n: int) -> tuple[list[str], list[str], npt.NDArray[np.float64]]:
    payloads = np.empty(n, dtype=object)
    signals = np.empty(n, dtype=object)
    scores = np.zeros(n, dtype=np.float64)
    for group in groups:
        texts, fragments = _payload_texts(group)
        payloads[group.rows] = texts
        signals[group.rows], scores[group.rows] = _signal_texts(group, fragments)
    return list(payloads.tolist()), list(signals.tolist()), scores


def make_payloads(
    rng: np.random.Generator, event_types: npt.ArrayLike, segments: npt.ArrayLike, currencies: npt.ArrayLike
) -> list[dict[str, Any]]:
    """The payload of each event as a dict (same draws as :func:`make_payloads_json`)."""
    groups, n = _draw_groups(rng, event_types, segments, currencies)
    result = np.empty(n, dtype=object)
    for group in groups:
        names = [name for name, _ in group.kind.fields]
        values = [group.columns[name].tolist() for name in names]
        optional = group.kind.optional
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


def _column(field: str, kind: type, value: Any) -> _Array:
    valid = (
        isinstance(value, str)
        if kind is str
        else isinstance(value, bool)
        if kind is bool
        else isinstance(value, int) and not isinstance(value, bool)
        if kind is int
        else isinstance(value, int | float) and not isinstance(value, bool)
        if kind is float
        else isinstance(value, list) and all(isinstance(item, str) for item in value)
    )
    if not valid:
        raise ScenarioError(
            f"payload.{field}: expected {kind.__name__}, got {value!r}", field=f"payload.{field}", value=value
        )
    if kind in (int, float) and not (math.isfinite(value) and abs(value) <= _MAX_PAYLOAD_NUMBER):
        # Beyond this, money converted to USD overflows to Infinity, which JSON and JSONB refuse.
        raise ScenarioError(
            f"payload.{field}: {value!r} is out of range",
            hint=f"use a number between -{_MAX_PAYLOAD_NUMBER:.0e} and {_MAX_PAYLOAD_NUMBER:.0e}",
            field=f"payload.{field}",
            value=value,
        )
    array: _Array = np.empty(1, dtype=object if kind in (str, list) else kind)
    array[0] = value
    return array


def derive_signal_data(event_type: str, payload: Mapping[str, Any]) -> dict[str, Any]:
    """The ``signal_data`` the worker writes for an event: the event's key fields, then the signal name, score
    in [0, 1], priority, action, money in USD where the event carries an amount, and the rules' version.

    Pure and deterministic. The platform's six event types are scored by the platform worker's rules
    (:func:`~sspp_fixtures.model.platform_signal_score`), whatever JSON their metadata holds.
    """
    kind = _KINDS[check_choice("event_type", event_type, EVENT_TYPE_NAMES)]
    missing = [name for name in kind.required if name not in payload]
    if missing:
        raise ScenarioError(
            f"payload: a {event_type} payload needs {', '.join(missing)}",
            hint=f"Give the payload every field of its schema: {', '.join(kind.required)}.",
            field=f"payload.{missing[0]}",
        )
    fields = {name: payload[name] for name in kind.event_fields if name in payload}
    if is_platform_event_type(event_type):
        scores, priorities = _priorities(np.array([platform_signal_score(event_type, payload)]))
        extras: dict[str, list[float]] = {}
    else:
        columns = {name: _column(name, field_kind, payload[name]) for name, field_kind in kind.fields}
        score_list, priority_list, extras = _signal_columns(kind, columns)
        scores, priorities = np.array(score_list), np.array(priority_list, dtype=np.intp)
    priority = int(priorities[0])
    return {
        **fields,
        "signal": kind.signal,
        "score": float(scores[0]),
        "priority": _PRIORITIES[priority],
        "action": _ACTIONS[kind.signal][priority],
        **{name: values[0] for name, values in extras.items()},
        "model": SIGNAL_MODEL,
    }
