"""The words and numbers payloads are drawn from: each field's vocabulary and how often each value comes up.

Plain constants, read by the draws (:mod:`._payload_draws`) and the signal rules (:mod:`._signal_rules`). Every
fixed word is also listed in :data:`WORDS`, so the JSON rendering can look a drawn word's JSON text up instead
of encoding it per row.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Final

import numpy as np
import numpy.typing as npt

from ._vocab import CURRENCIES, CURRENCY_DECIMALS, LOCALES, PLANS, PRODUCTS, SEGMENT_QUANTITY, SEGMENTS, USD_RATES

__all__ = [
    "BILLING_MONTHS",
    "BILLING_PERIODS",
    "BILLING_WEIGHTS",
    "CALL_OUTCOMES",
    "CALL_OUTCOME_WEIGHTS",
    "CAMPAIGNS",
    "CAMPAIGN_WEIGHTS",
    "CATEGORIES",
    "CATEGORY_WEIGHTS",
    "CHANNELS",
    "CHANNEL_WEIGHTS",
    "CHURN_REASONS",
    "CLIENTS",
    "CLIENT_WEIGHTS",
    "CURRENCY_ARRAY",
    "CURRENCY_INDEX",
    "DECIMALS",
    "DEVICES",
    "DEVICE_WEIGHTS",
    "LINKS",
    "LINK_WEIGHTS",
    "LOCALE_CURRENCY",
    "MEETING_MINUTES",
    "MEETING_MINUTE_WEIGHTS",
    "MEETING_TYPES",
    "MEETING_TYPE_WEIGHTS",
    "MESSAGES",
    "OUTREACH_CAMPAIGNS",
    "OUTREACH_CAMPAIGN_WEIGHTS",
    "PAGES",
    "PAGE_WEIGHTS",
    "PLAN_ARRAY",
    "PLAN_BY_SEGMENT",
    "PRICE_HIGH",
    "PRICE_LOW",
    "PRODUCT_NAMES",
    "PRODUCT_SLUGS",
    "PRODUCT_WEIGHTS",
    "QTY_HIGH",
    "QTY_LOW",
    "QTY_MEDIAN",
    "QTY_SIGMA",
    "RATES",
    "REASON_COUNT_WEIGHTS",
    "REFERRERS",
    "REFERRER_WEIGHTS",
    "ROLES",
    "SEGMENT_INDEX",
    "SITE_URL",
    "SLOTS",
    "SLOT_WEIGHTS",
    "SUBJECTS",
    "TERMS",
    "TERM_WEIGHTS",
    "TICKET_PRIORITIES",
    "TICKET_PRIORITY_WEIGHTS",
    "TICKET_SUBJECTS",
    "TIMEFRAMES",
    "TIMEFRAME_WEIGHTS",
    "TOPICS",
    "TOPIC_WEIGHTS",
    "TRIAL_DAYS",
    "TRIAL_WEIGHTS",
    "URLS",
    "WEBINAR_IDS",
    "WEBINAR_TITLES",
    "WORDS",
    "objects",
]

SITE_URL: Final = "https://www.signalplatform.example"
#: Every word of a fixed vocabulary below, in the order they were declared (filled by :func:`_vocab`).
WORDS: Final[dict[str, None]] = {}


def objects(values: Sequence[Any]) -> npt.NDArray[np.object_]:
    """``values`` as a NumPy array of Python objects (strings stay ``str``, lists stay lists)."""
    array = np.empty(len(values), dtype=object)
    array[:] = values
    return array


def _vocab(*values: str) -> npt.NDArray[np.object_]:
    """A fixed vocabulary, its words listed in :data:`WORDS` (module level only: the list would grow)."""
    WORDS.update(dict.fromkeys(values))
    return objects(values)


def _weights(*values: float) -> npt.NDArray[np.float64]:
    array = np.asarray(values, dtype=np.float64)
    return np.asarray(array / array.sum(), dtype=np.float64)


PAGES: Final = _vocab(
    "/", "/pricing", "/demo", "/contact", "/product/signal-core", "/product/lead-router",
    "/product/forecast-pro", "/integrations", "/customers", "/docs/getting-started", "/docs/api",
    "/blog/pipeline-hygiene", "/blog/intent-signals-101", "/blog/forecasting-playbook", "/careers", "/security",
    "/webinars",
)  # fmt: skip
URLS: Final = _vocab(*(SITE_URL + path for path in PAGES.tolist()))
PAGE_WEIGHTS: Final = _weights(18, 9, 3, 2, 8, 5, 5, 6, 4, 8, 6, 7, 7, 5, 2, 3, 2)
REFERRERS: Final = _vocab(
    "(direct)", "https://www.google.com/", "https://www.bing.com/", "https://www.linkedin.com/",
    "https://news.ycombinator.com/", "https://www.g2.com/", "https://duckduckgo.com/", "https://mail.google.com/",
)  # fmt: skip
REFERRER_WEIGHTS: Final = _weights(35, 30, 5, 12, 3, 7, 3, 5)
DEVICES: Final = _vocab("desktop", "mobile", "tablet")
DEVICE_WEIGHTS: Final = _weights(62, 33, 5)

CAMPAIGNS: Final = _vocab(
    "monthly_newsletter", "nurture_week_1", "nurture_week_2", "product_launch", "webinar_invite",
    "case_study_digest", "pricing_update", "renewal_reminder",
)  # fmt: skip
SUBJECTS: Final = _vocab(
    "Your monthly pipeline digest",
    "Five signals your best deals have in common",
    "How top teams route leads in under 5 minutes",
    "Introducing Forecast Pro: forecasts you can trust",
    "Live webinar: building an intent-driven pipeline",
    "How Northwind doubled qualified meetings",
    "Updates to your plan and pricing",
    "Your subscription renews soon",
)
CAMPAIGN_WEIGHTS: Final = _weights(25, 15, 12, 12, 12, 10, 7, 7)
CLIENTS: Final = _vocab("gmail", "outlook", "apple_mail", "other")
CLIENT_WEIGHTS: Final = _weights(40, 35, 20, 5)

CHANNELS: Final = _vocab("web_form", "email", "chat", "phone")
CHANNEL_WEIGHTS: Final = _weights(50, 25, 18, 7)
TOPICS: Final = _vocab("pricing", "features", "integration", "security", "partnership")
TOPIC_WEIGHTS: Final = _weights(35, 23, 20, 12, 10)
MESSAGES: Final = (  # two per topic, in TOPICS order
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

ROLES: Final = _vocab(
    "Founder", "CEO", "CTO", "VP Sales", "VP Marketing", "Head of Revenue Operations", "Sales Manager",
    "Account Executive", "Marketing Manager", "Sales Operations Analyst",
)  # fmt: skip
TIMEFRAMES: Final = _vocab("this_week", "next_week", "this_month", "next_quarter")
TIMEFRAME_WEIGHTS: Final = _weights(25, 30, 30, 15)
SLOTS: Final = _vocab("morning", "afternoon", "evening")
SLOT_WEIGHTS: Final = _weights(45, 50, 5)

PLAN_ARRAY: Final = _vocab(*PLANS)
# Plan shares per segment (rows in SEGMENTS order, columns in PLANS order).
PLAN_BY_SEGMENT: Final = np.array([[50, 40, 10, 0], [15, 45, 35, 5], [0, 20, 40, 40]], dtype=np.float64) / 100
BILLING_PERIODS: Final = _vocab("monthly", "annual")
BILLING_MONTHS: Final = np.array([1, 12], dtype=np.int64)
BILLING_WEIGHTS: Final = _weights(35, 65)
TERMS: Final = np.array([12, 24, 36], dtype=np.int64)
TERM_WEIGHTS: Final = _weights(70, 20, 10)
TRIAL_DAYS: Final = np.array([14, 30], dtype=np.int64)
TRIAL_WEIGHTS: Final = _weights(70, 30)

WEBINAR_IDS: Final = _vocab(
    "wb_intent_101", "wb_forecast_accuracy", "wb_speed_to_lead", "wb_revops_stack", "wb_churn_warning",
    "wb_product_tour",
)  # fmt: skip
WEBINAR_TITLES: Final = _vocab(
    "Intent signals 101",
    "Forecast accuracy without the spreadsheets",
    "Speed to lead: routing that closes",
    "Building the modern RevOps stack",
    "Early warning signs of churn",
    "Live product tour",
)

CATEGORIES: Final = _vocab("how_to", "bug", "billing", "integration", "account", "outage")
CATEGORY_WEIGHTS: Final = _weights(30, 25, 15, 15, 10, 5)
TICKET_SUBJECTS: Final = _vocab(  # two per category, in CATEGORIES order
    "How do I set up scoring rules?", "How to export signals to CSV",
    "Dashboard does not load", "Signals missing for some accounts",
    "Invoice shows the wrong seat count", "Update our payment method",
    "CRM sync failing with a timeout", "Webhook events not arriving",
    "Add users to our workspace", "Reset our SSO configuration",
    "API returning 503 errors", "Platform unavailable for our team",
)  # fmt: skip
TICKET_PRIORITIES: Final = _vocab("low", "normal", "high", "urgent")
TICKET_PRIORITY_WEIGHTS: Final = _weights(30, 45, 20, 5)
CHURN_REASONS: Final = (
    "usage_drop", "payment_failed", "champion_left", "negative_nps", "support_escalations",
    "competitor_evaluation", "seat_reduction",
)  # fmt: skip
REASON_COUNT_WEIGHTS: Final = _weights(50, 35, 15)

PRODUCT_SLUGS: Final = _vocab(*(product.slug for product in PRODUCTS))
PRODUCT_NAMES: Final = _vocab(*(product.display_name for product in PRODUCTS))
PRODUCT_WEIGHTS: Final = _weights(*(product.weight for product in PRODUCTS))
PRICE_LOW: Final = np.array([product.unit_price[0] for product in PRODUCTS])
PRICE_HIGH: Final = np.array([product.unit_price[1] for product in PRODUCTS])
QTY_MEDIAN: Final = np.array([SEGMENT_QUANTITY[s][0].median for s in SEGMENTS])
QTY_SIGMA: Final = np.array([SEGMENT_QUANTITY[s][0].sigma for s in SEGMENTS])
QTY_LOW: Final = np.array([SEGMENT_QUANTITY[s][1][0] for s in SEGMENTS], dtype=np.int64)
QTY_HIGH: Final = np.array([SEGMENT_QUANTITY[s][1][1] for s in SEGMENTS], dtype=np.int64)
CURRENCY_ARRAY: Final = _vocab(*CURRENCIES)
RATES: Final = np.array([USD_RATES[c] for c in CURRENCIES])
DECIMALS: Final = np.array([CURRENCY_DECIMALS[c] for c in CURRENCIES], dtype=np.int64)
SEGMENT_INDEX: Final = {segment: i for i, segment in enumerate(SEGMENTS)}
CURRENCY_INDEX: Final = {currency: i for i, currency in enumerate(CURRENCIES)}
LOCALE_CURRENCY: Final = np.array([CURRENCY_INDEX[info.currency] for info in LOCALES], dtype=np.intp)

# The platform's outreach events: small metadata (the keys of the platform's own sample rows) and the two keys
# the worker's scoring reads, present on a realistic share of events so both modifiers are earned.
OUTREACH_CAMPAIGNS: Final = _vocab(
    "Q4 Outreach", "New Year", "Spring Pipeline", "Product Launch", "Webinar Follow-up", "Re-engagement",
    "Enterprise ABM", "Trial Nurture",
)  # fmt: skip
OUTREACH_CAMPAIGN_WEIGHTS: Final = _weights(20, 10, 14, 14, 12, 10, 8, 12)
LINKS: Final = _vocab("demo", "pricing", "case_study", "webinar", "docs", "calendar")
LINK_WEIGHTS: Final = _weights(30, 25, 15, 10, 10, 10)
CALL_OUTCOMES: Final = _vocab(
    "no_answer", "voicemail", "connected", "interested", "not_interested", "callback_requested"
)  # fmt: skip
CALL_OUTCOME_WEIGHTS: Final = _weights(30, 25, 15, 12, 10, 8)
MEETING_TYPES: Final = _vocab("discovery", "demo", "follow_up", "pricing_review", "technical_deep_dive")
MEETING_TYPE_WEIGHTS: Final = _weights(35, 30, 15, 12, 8)
MEETING_MINUTES: Final = np.array([15, 30, 45, 60], dtype=np.int64)
MEETING_MINUTE_WEIGHTS: Final = _weights(15, 50, 15, 20)
