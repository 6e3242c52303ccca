"""The worker's rules for ``sales_signals``: types, base scores, both modifiers, the cap, rounding, JS semantics.

The expectations are written out here by hand from the platform's facts (not computed with the model), and a
JavaScript implementation run by Node checks the truthiness and comparison rules on awkward JSON values.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sspp_fixtures.model import _platform_rules as platform

TYPES = {
    "email_sent": ("outreach", 0.1),
    "email_opened": ("engagement", 0.3),
    "email_clicked": ("high_engagement", 0.6),
    "meeting_booked": ("intent", 0.8),
    "call_made": ("outreach", 0.5),
    "demo_completed": ("high_intent", 0.9),
}


def test_the_six_types_and_their_signal_types() -> None:
    assert set(platform.PLATFORM_EVENT_TYPES) == set(TYPES)
    for event_type, (signal_type, base) in TYPES.items():
        assert platform.platform_signal_type(event_type) == signal_type
        assert platform.platform_signal_score(event_type, {}) == base
        assert platform.platform_signal_score(event_type, None) == base
        assert platform.is_platform_event_type(event_type)
    assert platform.platform_signal_type("page_view") == "unknown"
    assert platform.platform_signal_score("page_view", {"interactionCount": 9}) == 0.25
    assert not platform.is_platform_event_type("page_view")


@pytest.mark.parametrize(
    ("event_type", "metadata", "expected"),
    [
        ("email_sent", {"responseTimeHours": 2}, 0.2),
        ("email_sent", {"interactionCount": 4}, 0.25),
        ("email_sent", {"responseTimeHours": 2, "interactionCount": 4}, 0.35),
        ("email_opened", {"responseTimeHours": 23.99}, 0.4),
        ("email_opened", {"responseTimeHours": 24}, 0.3),  # not below 24
        ("email_opened", {"responseTimeHours": 0}, 0.3),  # 0 is falsy: "not set"
        ("email_opened", {"interactionCount": 3}, 0.3),  # not above 3
        ("call_made", {"responseTimeHours": 1, "interactionCount": 10}, 0.75),
        ("meeting_booked", {"responseTimeHours": 1}, 0.9),
        ("meeting_booked", {"responseTimeHours": 1, "interactionCount": 5}, 1.0),  # 1.05 capped
        ("demo_completed", {"responseTimeHours": 1, "interactionCount": 5}, 1.0),  # 1.15 capped
        ("demo_completed", {"interactionCount": 5}, 1.0),  # 1.05 capped
        ("email_clicked", {"responseTimeHours": -5}, 0.7),  # truthy and below 24
        ("email_clicked", {"responseTimeHours": "12"}, 0.7),  # a numeric string compares as a number
        ("email_clicked", {"responseTimeHours": "soon"}, 0.6),  # NaN < 24 is false
        ("email_clicked", {"responseTimeHours": True}, 0.7),  # true is 1
        ("email_clicked", {"responseTimeHours": None, "interactionCount": None}, 0.6),
        ("email_clicked", {"interactionCount": "0x10"}, 0.75),  # 16
        ("email_clicked", {"interactionCount": [7]}, 0.75),  # [7] -> "7" -> 7
        ("email_clicked", {"interactionCount": [1, 2]}, 0.6),  # "1,2" -> NaN
        ("email_clicked", {"interactionCount": {"n": 9}}, 0.6),  # "[object Object]" -> NaN
        ("email_clicked", {"responseTimeHours": []}, 0.7),  # [] is truthy, "" -> 0 < 24
        ("email_clicked", {"responseTimeHours": ""}, 0.6),  # "" is falsy
    ],
)
def test_modifiers_cap_and_rounding(event_type: str, metadata: dict[str, Any], expected: float) -> None:
    assert platform.platform_signal_score(event_type, metadata) == expected


def test_score_text_is_decimal_3_2() -> None:
    assert platform.score_text(0.75) == "0.75"
    assert platform.score_text(1.0) == "1.00"
    assert platform.score_text(platform.platform_signal_score("email_sent", {"interactionCount": 9})) == "0.25"


# The rules written in JavaScript from the platform's facts (not the platform's code): Node decides what
# JavaScript makes of each awkward value, and the Python rules must agree on every one.
_JS_RULES = """
const base = {email_sent: 0.1, email_opened: 0.3, email_clicked: 0.6, meeting_booked: 0.8, call_made: 0.5,
              demo_completed: 0.9};
const cases = JSON.parse(require('fs').readFileSync(0, 'utf8'));
const out = cases.map(([type, meta]) => {
  let s = Object.prototype.hasOwnProperty.call(base, type) ? base[type] : 0.1;
  if (meta) {
    const r = meta.responseTimeHours, n = meta.interactionCount;
    if (r && r < 24) s += 0.1;
    if (n && n > 3) s += 0.15;
    s = Math.min(s, 1.0);
  }
  return parseFloat(s.toFixed(2));
});
process.stdout.write(JSON.stringify(out));
"""

_AWKWARD = [
    0, 1, 3, 4, 23, 24, 25, -1, 0.5, 3.0000001, 23.999999, 1e300, -0.0, "", "0", "4", " 5 ", "\t12\n", "1e1", "0x1f",
    "0b101", "0o7", "-0x5", "Infinity", "-Infinity", "infinity", "1_000", ".5", "5.", ".", "+3", "abc", True,
    False, None, [], [5], ["5"], [1, 2], [[30]], [None], {}, {"a": 1}, 10**400,
]  # fmt: skip


@pytest.mark.skipif(shutil.which("node") is None, reason="node is not installed: the JavaScript cross-check needs it")
def test_python_rules_agree_with_javascript_on_awkward_values() -> None:
    cases: list[tuple[str, Any]] = [("email_sent", None), ("unknown_type", {"interactionCount": 9})]
    for event_type in TYPES:
        for value in _AWKWARD:
            cases.append((event_type, {"responseTimeHours": value}))
            cases.append((event_type, {"interactionCount": value}))
            cases.append((event_type, {"responseTimeHours": value, "interactionCount": value}))
    # Python's json writes 10**400 as digits; JavaScript's JSON.parse reads them as Infinity, as the worker would.
    payload = json.dumps(cases)
    result = subprocess.run(
        ["node", "-e", _JS_RULES], input=payload, capture_output=True, text=True, check=True, timeout=60
    )
    expected = json.loads(result.stdout)
    got = [platform.platform_signal_score(event_type, metadata) for event_type, metadata in json.loads(payload)]
    mismatches = [(case, e, g) for case, e, g in zip(cases, expected, got, strict=True) if e != g]
    assert not mismatches, mismatches[:10]


@settings(max_examples=300, deadline=None)
@given(
    event_type=st.sampled_from(sorted(TYPES)),
    response=st.one_of(st.none(), st.floats(min_value=0.01, max_value=500, allow_nan=False)),
    interactions=st.one_of(st.none(), st.integers(min_value=0, max_value=100)),
)
def test_numeric_metadata_follows_the_stated_rules(
    event_type: str, response: float | None, interactions: int | None
) -> None:
    metadata: dict[str, Any] = {}
    if response is not None:
        metadata["responseTimeHours"] = response
    if interactions is not None:
        metadata["interactionCount"] = interactions
    cents = round(TYPES[event_type][1] * 100)
    cents += 10 if response is not None and response < 24 else 0
    cents += 15 if interactions is not None and interactions > 3 else 0
    assert platform.platform_signal_score(event_type, metadata) == min(cents, 100) / 100
