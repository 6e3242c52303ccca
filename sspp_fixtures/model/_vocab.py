"""The vocabularies of SSPP data: event types, segments, regions and locales, products, lifecycle stages.

Everything here is a plain constant, the single source both engines (factories and the bulk generator)
and the scenario validator read. Weights and shares are defaults a scenario may override.
"""

from __future__ import annotations

from dataclasses import dataclass
from types import MappingProxyType
from typing import Final

from ._platform_rules import INTERACTION_COUNT_KEY, PLATFORM_EVENT_TYPES, PLATFORM_SIGNAL_TYPES, RESPONSE_TIME_KEY

__all__ = [
    "ACTIVITY_EXPONENT",
    "ANNUAL_VALUE_LIMIT",
    "ANNUAL_VALUE_PARAMS",
    "CURRENCIES",
    "CURRENCY_DECIMALS",
    "DEFAULT_EVENT_MIX",
    "DEFAULT_INDUSTRY_WEIGHTS",
    "DEFAULT_LIFECYCLE_SHARES",
    "DEFAULT_LOCALE_SHARES",
    "DEFAULT_SEGMENT_SHARES",
    "DEFAULT_SOURCE_WEIGHTS",
    "EVENT_TYPES",
    "EVENT_TYPE_NAMES",
    "FUNNEL",
    "INDUSTRIES",
    "LIFECYCLE_STAGES",
    "LOCALES",
    "LOCALE_CODES",
    "OPTIONAL_PAYLOAD_FIELDS",
    "PAYLOAD_SCHEMAS",
    "PLANS",
    "PLATFORM_FUNNEL",
    "PRODUCTS",
    "PRODUCT_SLUGS",
    "REGIONS",
    "SEGMENTS",
    "SEGMENT_QUANTITY",
    "SIGNAL_TYPES",
    "SOURCES",
    "USD_RATES",
    "EventType",
    "LocaleInfo",
    "LogNormal",
    "Product",
]


@dataclass(frozen=True, slots=True)
class LocaleInfo:
    """A Faker locale and what follows from it: country (ISO 3166-1 alpha-2), region, currency, offset."""

    locale: str
    country: str
    region: str
    currency: str
    utc_offset_hours: float
    tld: str


@dataclass(frozen=True, slots=True)
class EventType:
    """One event type: its default share of all events and the signal the worker derives from it."""

    name: str
    weight: float
    signal: str
    description: str


@dataclass(frozen=True, slots=True)
class Product:
    """A product sold on the platform; ``unit_price`` is the USD range per seat and month."""

    slug: str
    display_name: str
    unit_price: tuple[float, float]
    weight: float


@dataclass(frozen=True, slots=True)
class LogNormal:
    """A log-normal distribution given by its median and the sigma of the underlying normal."""

    median: float
    sigma: float


REGIONS: Final = ("NA", "EMEA", "APAC", "LATAM")

# Standard-time offsets (no daylight saving): enough to put business hours in the right place of the UTC day.
LOCALES: Final = (
    LocaleInfo("en_US", "US", "NA", "USD", -5.0, "com"),
    LocaleInfo("en_CA", "CA", "NA", "CAD", -5.0, "ca"),
    LocaleInfo("es_MX", "MX", "LATAM", "MXN", -6.0, "com.mx"),
    LocaleInfo("pt_BR", "BR", "LATAM", "BRL", -3.0, "com.br"),
    LocaleInfo("es_AR", "AR", "LATAM", "ARS", -3.0, "com.ar"),
    LocaleInfo("es_CO", "CO", "LATAM", "COP", -5.0, "com.co"),
    LocaleInfo("en_GB", "GB", "EMEA", "GBP", 0.0, "co.uk"),
    LocaleInfo("en_IE", "IE", "EMEA", "EUR", 0.0, "ie"),
    LocaleInfo("de_DE", "DE", "EMEA", "EUR", 1.0, "de"),
    LocaleInfo("fr_FR", "FR", "EMEA", "EUR", 1.0, "fr"),
    LocaleInfo("es_ES", "ES", "EMEA", "EUR", 1.0, "es"),
    LocaleInfo("it_IT", "IT", "EMEA", "EUR", 1.0, "it"),
    LocaleInfo("nl_NL", "NL", "EMEA", "EUR", 1.0, "nl"),
    LocaleInfo("sv_SE", "SE", "EMEA", "SEK", 1.0, "se"),
    LocaleInfo("pl_PL", "PL", "EMEA", "PLN", 1.0, "pl"),
    LocaleInfo("en_IN", "IN", "APAC", "INR", 5.5, "in"),
    LocaleInfo("zh_CN", "CN", "APAC", "CNY", 8.0, "cn"),
    LocaleInfo("ja_JP", "JP", "APAC", "JPY", 9.0, "co.jp"),
    LocaleInfo("ko_KR", "KR", "APAC", "KRW", 9.0, "co.kr"),
    LocaleInfo("en_AU", "AU", "APAC", "AUD", 10.0, "com.au"),
    LocaleInfo("en_NZ", "NZ", "APAC", "NZD", 12.0, "co.nz"),
)
LOCALE_CODES: Final = tuple(info.locale for info in LOCALES)

DEFAULT_LOCALE_SHARES: Final = MappingProxyType(
    {
        "en_US": 0.33, "en_CA": 0.04, "es_MX": 0.04, "pt_BR": 0.05, "es_AR": 0.01, "es_CO": 0.01,
        "en_GB": 0.10, "en_IE": 0.01, "de_DE": 0.08, "fr_FR": 0.06, "es_ES": 0.03, "it_IT": 0.03,
        "nl_NL": 0.03, "sv_SE": 0.02, "pl_PL": 0.02,
        "en_IN": 0.04, "zh_CN": 0.01, "ja_JP": 0.04, "ko_KR": 0.01, "en_AU": 0.03, "en_NZ": 0.01,
    }
)  # fmt: skip

# Fixed reference rates (units of the currency per USD), so amounts are reproducible; not market data.
USD_RATES: Final = MappingProxyType(
    {
        "USD": 1.0, "CAD": 1.36, "MXN": 17.1, "BRL": 5.0, "ARS": 850.0, "COP": 3900.0, "GBP": 0.79,
        "EUR": 0.92, "SEK": 10.5, "PLN": 4.0, "INR": 83.0, "CNY": 7.2, "JPY": 150.0, "KRW": 1330.0,
        "AUD": 1.52, "NZD": 1.65,
    }
)  # fmt: skip
CURRENCIES: Final = tuple(USD_RATES)
# ISO 4217 minor units; every other currency here has 2.
CURRENCY_DECIMALS: Final = MappingProxyType({code: 0 if code in ("JPY", "KRW") else 2 for code in CURRENCIES})

SEGMENTS: Final = ("smb", "mid_market", "enterprise")
DEFAULT_SEGMENT_SHARES: Final = MappingProxyType({"smb": 0.70, "mid_market": 0.22, "enterprise": 0.08})
# Annual contract value in USD; medians an order of magnitude apart, wide spread inside each segment.
ANNUAL_VALUE_PARAMS: Final = MappingProxyType(
    {
        "smb": LogNormal(median=12_000.0, sigma=0.9),
        "mid_market": LogNormal(median=95_000.0, sigma=0.7),
        "enterprise": LogNormal(median=650_000.0, sigma=0.8),
    }
)
# The largest NUMERIC(14, 2) value.
ANNUAL_VALUE_LIMIT: Final = 999_999_999_999.99
# Seats bought, evaluated or requested per segment: median and the (low, high) clip.
SEGMENT_QUANTITY: Final = MappingProxyType(
    {
        "smb": (LogNormal(median=4.0, sigma=0.7), (1, 40)),
        "mid_market": (LogNormal(median=30.0, sigma=0.7), (5, 400)),
        "enterprise": (LogNormal(median=250.0, sigma=0.8), (40, 10_000)),
    }
)

INDUSTRIES: Final = (
    "software", "financial_services", "healthcare", "manufacturing", "retail", "education", "media",
    "telecommunications", "logistics", "energy", "real_estate", "professional_services", "government",
    "hospitality", "nonprofit",
)  # fmt: skip
DEFAULT_INDUSTRY_WEIGHTS: Final = MappingProxyType(
    {
        "software": 0.18, "financial_services": 0.11, "healthcare": 0.09, "manufacturing": 0.10,
        "retail": 0.09, "education": 0.05, "media": 0.05, "telecommunications": 0.04, "logistics": 0.05,
        "energy": 0.03, "real_estate": 0.04, "professional_services": 0.10, "government": 0.02,
        "hospitality": 0.03, "nonprofit": 0.02,
    }
)  # fmt: skip

LIFECYCLE_STAGES: Final = ("lead", "prospect", "trial", "customer", "churned")
DEFAULT_LIFECYCLE_SHARES: Final = MappingProxyType(
    {"lead": 0.30, "prospect": 0.25, "trial": 0.10, "customer": 0.30, "churned": 0.05}
)

SOURCES: Final = ("api", "webhook", "crm_sync", "batch_import")
DEFAULT_SOURCE_WEIGHTS: Final = MappingProxyType({"api": 0.80, "webhook": 0.10, "crm_sync": 0.06, "batch_import": 0.04})

PRODUCTS: Final = (
    Product("signal_core", "Signal Core", (25.0, 60.0), 0.30),
    Product("signal_insights", "Signal Insights", (40.0, 90.0), 0.18),
    Product("lead_router", "Lead Router", (15.0, 35.0), 0.20),
    Product("forecast_pro", "Forecast Pro", (60.0, 150.0), 0.14),
    Product("data_connectors", "Data Connectors", (10.0, 30.0), 0.10),
    Product("enterprise_suite", "Enterprise Suite", (120.0, 300.0), 0.08),
)
PRODUCT_SLUGS: Final = tuple(product.slug for product in PRODUCTS)
PLANS: Final = ("starter", "professional", "business", "enterprise")

# Default shares sum to 1; the top of the funnel is far the most common. The last six are the platform's own
# event types (the only ones its API accepts): a sales team's outreach, from the first email to a demo.
EVENT_TYPES: Final = (
    EventType("page_view", 0.400, "web_engagement", "a page of the vendor's site was viewed"),
    EventType("email_open", 0.120, "email_engagement", "a marketing email was opened"),
    EventType("inquiry", 0.045, "buying_intent", "a question came in through a form, email, chat or phone"),
    EventType("demo_request", 0.025, "buying_intent", "a demo was requested"),
    EventType("trial_signup", 0.015, "product_qualified_lead", "a trial was started"),
    EventType("purchase", 0.010, "closed_won", "an order was placed"),
    EventType("renewal", 0.006, "retention", "a contract was renewed"),
    EventType("upsell", 0.004, "expansion", "a customer moved to a bigger plan or added seats"),
    EventType("webinar_attended", 0.020, "event_engagement", "a webinar was attended"),
    EventType("support_ticket", 0.035, "support_risk", "a support ticket was opened"),
    EventType("churn_risk", 0.008, "churn_risk", "the health model flagged the account"),
    EventType("email_sent", 0.140, PLATFORM_SIGNAL_TYPES["email_sent"], "a sales rep emailed the account"),
    EventType("email_opened", 0.070, PLATFORM_SIGNAL_TYPES["email_opened"], "the account opened a rep's email"),
    EventType("email_clicked", 0.040, PLATFORM_SIGNAL_TYPES["email_clicked"], "the account clicked a rep's link"),
    EventType("call_made", 0.032, PLATFORM_SIGNAL_TYPES["call_made"], "a sales rep called the account"),
    EventType(
        "meeting_booked", 0.018, PLATFORM_SIGNAL_TYPES["meeting_booked"], "a meeting with the account was booked"
    ),
    EventType("demo_completed", 0.012, PLATFORM_SIGNAL_TYPES["demo_completed"], "a demo was given to the account"),
)
EVENT_TYPE_NAMES: Final = tuple(event_type.name for event_type in EVENT_TYPES)
DEFAULT_EVENT_MIX: Final = MappingProxyType({event_type.name: event_type.weight for event_type in EVENT_TYPES})
# The acquisition funnel, widest first: each step is rarer than the one before.
FUNNEL: Final = ("page_view", "email_open", "inquiry", "demo_request", "trial_signup", "purchase")
# The sales team's funnel (the platform's event types), first touch first: each step is rarer than the one before.
PLATFORM_FUNNEL: Final = PLATFORM_EVENT_TYPES
SIGNAL_TYPES: Final = tuple(dict.fromkeys(event_type.signal for event_type in EVENT_TYPES))

# The keys and JSON types of each event type's payload, in the order they are written.
_SCHEMAS: dict[str, dict[str, type]] = {
    "page_view": {
        "url": str, "path": str, "referrer": str, "session_id": str, "duration_seconds": int,
        "device": str,
    },
    "email_open": {"campaign": str, "subject": str, "message_id": str, "client": str, "clicked": bool},
    "inquiry": {"channel": str, "product": str, "topic": str, "seats": int, "message": str},
    "demo_request": {
        "product": str, "team_size": int, "role": str, "timeframe": str, "preferred_slot": str,
    },
    "trial_signup": {"trial_id": str, "product": str, "plan": str, "seats": int, "trial_days": int},
    "purchase": {
        "order_id": str, "product": str, "quantity": int, "billing_period": str, "amount": float,
        "currency": str,
    },
    "renewal": {
        "contract_id": str, "product": str, "term_months": int, "auto_renew": bool, "amount": float,
        "currency": str,
    },
    "upsell": {
        "product": str, "from_plan": str, "to_plan": str, "seats_added": int, "amount": float,
        "currency": str,
    },
    "webinar_attended": {
        "webinar_id": str, "title": str, "minutes_attended": int, "asked_question": bool,
    },
    "support_ticket": {
        "ticket_id": str, "product": str, "category": str, "priority": str, "subject": str,
    },
    "churn_risk": {
        "risk_score": float, "reasons": list, "days_since_last_login": int, "active_seat_pct": float,
    },
    # The platform's metadata: its sample rows' keys, and the two the worker's scoring reads (both optional).
    "email_sent": {
        "campaign": str, "sequence_step": int, RESPONSE_TIME_KEY: float, INTERACTION_COUNT_KEY: int,
    },
    "email_opened": {"campaign": str, RESPONSE_TIME_KEY: float, INTERACTION_COUNT_KEY: int},
    "email_clicked": {"campaign": str, "link": str, RESPONSE_TIME_KEY: float, INTERACTION_COUNT_KEY: int},
    "call_made": {"duration": int, "outcome": str, RESPONSE_TIME_KEY: float, INTERACTION_COUNT_KEY: int},
    "meeting_booked": {
        "meeting_type": str, "duration": int, RESPONSE_TIME_KEY: float, INTERACTION_COUNT_KEY: int,
    },
    "demo_completed": {"attendees": int, "duration": int, RESPONSE_TIME_KEY: float, INTERACTION_COUNT_KEY: int},
}  # fmt: skip
PAYLOAD_SCHEMAS: Final = MappingProxyType({name: MappingProxyType(fields) for name, fields in _SCHEMAS.items()})
# Fields a payload may leave out (every other field is always present); the worker's modifiers read them.
OPTIONAL_PAYLOAD_FIELDS: Final = MappingProxyType(
    {
        name: frozenset({RESPONSE_TIME_KEY, INTERACTION_COUNT_KEY}) if name in PLATFORM_SIGNAL_TYPES else frozenset()
        for name in _SCHEMAS
    }
)

# Share of its events each customer produces follows a bounded power law with this exponent.
ACTIVITY_EXPONENT: Final = 1.05
