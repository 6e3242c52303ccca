"""The signal the worker derives from each event (``signals.signal_data``, rules ``sspp-rules/1``), type by type.

A signal is a pure function of its event's type and payload: a score in [0, 1] from the payload's fields (one
function per type, below), its priority and the action it calls for, the payload's key fields, and money in
USD where the event carries an amount. The rules work on whole columns, so the bulk generator scores a batch
at once; :func:`derive_signal_data` applies the very same rules to one payload, so both always agree. The
platform's six types are scored by its worker's rules (:mod:`._platform_rules`).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any, Final

import numpy as np
import numpy.typing as npt

from ..errors import ScenarioError
from ._payload_draws import Array, Columns
from ._payload_rules import PayloadProblem, check_payload, missing_fields
from ._payload_vocab import TICKET_PRIORITIES
from ._platform_rules import (
    INTERACTION_COUNT_KEY,
    PLATFORM_EVENT_TYPES,
    RESPONSE_TIME_KEY,
    is_platform_event_type,
    platform_signal_score,
)
from ._validate import check_choice
from ._vocab import EVENT_TYPE_NAMES, EVENT_TYPES, PAYLOAD_SCHEMAS, USD_RATES

__all__ = [
    "ACTIONS",
    "PRIORITIES",
    "SIGNALS",
    "SIGNAL_EVENT_FIELDS",
    "SIGNAL_MODEL",
    "derive_signal_data",
    "priorities",
    "signal_arrays",
]

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
PRIORITIES: Final = ("low", "medium", "high")
ACTIONS: Final = {
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


# Words the rules score: pages and campaigns that show intent, people who decide, soon, urgent ticket kinds.
_HIGH_INTENT_PAGES: Final = ("/pricing", "/demo", "/contact")
_HOT_CAMPAIGNS: Final = ("product_launch", "webinar_invite", "pricing_update")
_DECISION_ROLES: Final = ("Founder", "CEO", "CTO", "VP Sales", "VP Marketing", "Head of Revenue Operations")
_SOON: Final = ("this_week", "next_week")
_URGENT_CATEGORIES: Final = ("billing", "outage")
#: The score of a ticket by priority (a closed field: the payload rules accept only these words).
_TICKET_PRIORITY_SCORE: Final = dict(zip(TICKET_PRIORITIES.tolist(), (0.15, 0.3, 0.6, 0.85), strict=True))


def _isin(values: Array, allowed: Sequence[str]) -> npt.NDArray[np.float64]:
    return np.isin(values.astype(str), np.asarray(allowed)).astype(np.float64)


def _capped(values: Array, cap: float) -> npt.NDArray[np.float64]:
    return np.minimum(np.asarray(values, dtype=np.float64) / cap, 1.0)


def _lookup(values: Array, table: Mapping[str, float]) -> npt.NDArray[np.float64]:
    """``table`` of each value (a closed field's: :func:`~._payload_rules.check_payload` refuses other words)."""
    return np.array([table[value] for value in values.tolist()], dtype=np.float64)


def _value_usd(columns: Columns) -> npt.NDArray[np.float64]:
    rates = _lookup(columns["currency"], USD_RATES)
    return np.round(np.asarray(columns["amount"], dtype=np.float64) / rates, 2)


_Scored = tuple[npt.NDArray[np.float64], dict[str, npt.NDArray[np.float64]]]


def _score_page_view(c: Columns) -> _Scored:
    product_page = np.char.startswith(c["path"].astype(str), "/product/").astype(np.float64)
    score = 0.1 + 0.35 * _isin(c["path"], _HIGH_INTENT_PAGES) + 0.1 * product_page
    return score + 0.15 * _capped(c["duration_seconds"], 300.0), {}


def _score_email_open(c: Columns) -> _Scored:
    clicked = np.asarray(c["clicked"], dtype=np.float64)
    return 0.15 + 0.35 * clicked + 0.1 * _isin(c["campaign"], _HOT_CAMPAIGNS), {}


def _score_inquiry(c: Columns) -> _Scored:
    score = 0.45 + 0.2 * _isin(c["topic"], ("pricing",)) + 0.1 * _isin(c["channel"], ("chat", "phone"))
    return score + 0.15 * _capped(c["seats"], 200.0), {}


def _score_demo_request(c: Columns) -> _Scored:
    score = 0.6 + 0.15 * _isin(c["role"], _DECISION_ROLES) + 0.1 * _isin(c["timeframe"], _SOON)
    return score + 0.1 * _capped(c["team_size"], 500.0), {}


def _score_trial_signup(c: Columns) -> _Scored:
    return 0.45 + 0.15 * _isin(c["plan"], ("business", "enterprise")) + 0.2 * _capped(c["seats"], 100.0), {}


def _score_purchase(c: Columns) -> _Scored:
    usd = _value_usd(c)
    return 0.8 + 0.2 * _capped(usd, 100_000.0), {"value_usd": usd}


def _score_renewal(c: Columns) -> _Scored:
    usd = _value_usd(c)
    auto_renew = np.asarray(c["auto_renew"], dtype=np.float64)
    long_term = (np.asarray(c["term_months"], dtype=np.float64) >= 24).astype(np.float64)
    return 0.5 + 0.2 * auto_renew + 0.1 * long_term + 0.15 * _capped(usd, 100_000.0), {"value_usd": usd}


def _score_upsell(c: Columns) -> _Scored:
    usd = _value_usd(c)
    return 0.55 + 0.3 * _capped(usd, 50_000.0) + 0.1 * _isin(c["to_plan"], ("enterprise",)), {"value_usd": usd}


def _score_webinar_attended(c: Columns) -> _Scored:
    asked = np.asarray(c["asked_question"], dtype=np.float64)
    return 0.2 + 0.3 * _capped(c["minutes_attended"], 60.0) + 0.2 * asked, {}


def _score_support_ticket(c: Columns) -> _Scored:
    base = _lookup(c["priority"], _TICKET_PRIORITY_SCORE)
    return base + 0.1 * _isin(c["category"], _URGENT_CATEGORIES), {}


def _score_churn_risk(c: Columns) -> _Scored:
    reasons = np.array([len(value) for value in c["reasons"].tolist()], dtype=np.float64)
    low_usage = (np.asarray(c["active_seat_pct"], dtype=np.float64) < 30.0).astype(np.float64)
    score = 0.5 * np.asarray(c["risk_score"], dtype=np.float64) + 0.1 * reasons
    return score + 0.2 * _capped(c["days_since_last_login"], 90.0) + 0.1 * low_usage, {}


def _platform_scores(event_type: str) -> Callable[[Columns], _Scored]:
    """The worker's score of each row (see :mod:`._platform_rules`): the scored keys are the generator's positive
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

    def score(c: Columns) -> _Scored:
        hours, counts = c[RESPONSE_TIME_KEY], c[INTERACTION_COUNT_KEY]
        quick = np.array([h is not None and 0 < h < 24 for h in hours.tolist()], dtype=np.intp)
        many = np.array([n is not None and n > 3 for n in counts.tolist()], dtype=np.intp)
        return np.asarray(table[quick, many], dtype=np.float64), {}

    return score


#: Each event type's scoring rule.
_SCORES: Final[Mapping[str, Callable[[Columns], _Scored]]] = {
    name: _platform_scores(name) if name in PLATFORM_EVENT_TYPES else globals()[f"_score_{name}"]
    for name in EVENT_TYPE_NAMES
}
#: The signal of each event type (``signal_data->>'signal'``).
SIGNALS: Final = {event_type.name: event_type.signal for event_type in EVENT_TYPES}


def priorities(raw: npt.NDArray[np.float64]) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.intp]]:
    """Scores rounded to 3 decimals in [0, 1], and their priority codes (0 low, 1 medium, 2 high)."""
    scores = np.asarray(np.round(np.clip(raw, 0.0, 1.0), 3), dtype=np.float64)
    return scores, (scores >= 0.4).astype(np.intp) + (scores >= 0.7).astype(np.intp)


def signal_arrays(
    event_type: str, columns: Columns
) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.intp], dict[str, npt.NDArray[np.float64]]]:
    """The score, priority code and extra derived fields (``value_usd``) of each row of one event type."""
    raw, extras = _SCORES[event_type](columns)
    scores, codes = priorities(raw)
    return scores, codes, extras


def _column(kind: type, value: Any) -> Array:
    """One checked payload value as a column of one row, for the columnar rules."""
    array: Array = np.empty(1, dtype=object if kind in (str, list) else kind)
    array[0] = value
    return array


def _payload_error(problems: Sequence[PayloadProblem]) -> ScenarioError:
    fields = ["payload" if p.key is None else f"payload.{p.key}" for p in problems]
    return ScenarioError(
        "; ".join(f"{field}: {p.problem}" for field, p in zip(fields, problems, strict=True)),
        hint=problems[0].hint,
        field=fields[0],
    )


def derive_signal_data(event_type: str, payload: Mapping[str, Any]) -> dict[str, Any]:
    """The ``signal_data`` the worker writes for an event: the event's key fields, then the signal name, score
    in [0, 1], priority, action, money in USD where the event carries an amount, and the rules' version.

    Pure and deterministic; a payload :func:`~._payload_rules.check_payload` finds a problem in is refused. The
    platform's six event types are scored by the platform worker's rules
    (:func:`~sspp_fixtures.model.platform_signal_score`), whatever JSON their metadata holds beside the
    required keys.
    """
    check_choice("event_type", event_type, EVENT_TYPE_NAMES)
    platform = is_platform_event_type(event_type)
    problems = missing_fields(event_type, payload) if platform else check_payload(event_type, payload)
    if problems:
        raise _payload_error(problems)
    if platform:
        scores, codes = priorities(np.array([platform_signal_score(event_type, payload)]))
        extras: dict[str, npt.NDArray[np.float64]] = {}
    else:
        columns = {name: _column(kind, payload[name]) for name, kind in PAYLOAD_SCHEMAS[event_type].items()}
        scores, codes, extras = signal_arrays(event_type, columns)
    signal, priority = SIGNALS[event_type], int(codes[0])
    return {
        **{name: payload[name] for name in SIGNAL_EVENT_FIELDS[event_type] if name in payload},
        "signal": signal,
        "score": float(scores[0]),
        "priority": PRIORITIES[priority],
        "action": ACTIONS[signal][priority],
        **{name: values.tolist()[0] for name, values in extras.items()},
        "model": SIGNAL_MODEL,
    }
