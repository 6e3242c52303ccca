"""Payloads per event type and the signals derived from them: schema, JSON, money, determinism."""

from __future__ import annotations

import json
from typing import Any

import numpy as np
import pytest

from sspp_fixtures import model
from sspp_fixtures.errors import ScenarioError

N = 20_000


def _is(kind: type, value: Any) -> bool:
    if kind is float:
        return isinstance(value, float)
    if kind is int:
        return isinstance(value, int) and not isinstance(value, bool)
    if kind is list:
        return isinstance(value, list) and bool(value) and all(isinstance(item, str) for item in value)
    return isinstance(value, kind)


@pytest.fixture(scope="module")
def batch() -> tuple[np.ndarray, np.ndarray, np.ndarray, list[str], list[str]]:
    rng = model.derive_rng(21, "payloads")
    uniform_mix = {name: 1 / len(model.EVENT_TYPE_NAMES) for name in model.EVENT_TYPE_NAMES}
    types = model.sample_event_types(rng, N, uniform_mix)
    segments = model.sample_segments(rng, N)
    currencies = np.asarray(model.CURRENCIES)[rng.integers(0, len(model.CURRENCIES), N)]
    payloads, signals = model.make_payloads_and_signals_json(rng, types, segments, currencies)
    return types, segments, currencies, payloads, signals


def test_every_payload_has_its_schema(batch: Any) -> None:
    types, _, currencies, payloads, _ = batch
    for event_type, currency, text in zip(types.tolist(), currencies.tolist(), payloads, strict=True):
        payload = json.loads(text)
        schema = model.PAYLOAD_SCHEMAS[event_type]
        assert [key for key in schema if key in payload] == list(payload)
        assert set(schema) - set(payload) <= model.OPTIONAL_PAYLOAD_FIELDS[event_type]
        for key, value in payload.items():
            assert _is(schema[key], value), (event_type, key, value)
        if "amount" in payload:
            assert payload["amount"] > 0
            assert payload["currency"] == currency
            decimals = model.CURRENCY_DECIMALS[currency]
            assert round(payload["amount"], decimals) == payload["amount"]
        if "product" in payload:
            assert payload["product"] in model.PRODUCT_SLUGS


def test_signals_parse_and_agree_with_derive_signal_data(batch: Any) -> None:
    types, _, _, payloads, signals = batch
    for event_type, payload_text, signal_text in zip(types[:6000].tolist(), payloads, signals, strict=False):
        signal = json.loads(signal_text)
        assert signal == model.derive_signal_data(event_type, json.loads(payload_text))
        assert 0.0 <= signal["score"] <= 1.0
        assert signal["priority"] in ("low", "medium", "high")
        assert signal["signal"] in model.SIGNAL_TYPES
        payload = json.loads(payload_text)
        copied = {key: signal[key] for key in model.SIGNAL_EVENT_FIELDS[event_type] if key in payload}
        assert copied == {key: payload[key] for key in model.SIGNAL_EVENT_FIELDS[event_type] if key in payload}


def test_json_text_and_dicts_come_from_the_same_draws(batch: Any) -> None:
    types, segments, currencies, _, _ = batch
    texts = model.make_payloads_json(model.derive_rng(1, "x"), types[:3000], segments[:3000], currencies[:3000])
    dicts = model.make_payloads(model.derive_rng(1, "x"), types[:3000], segments[:3000], currencies[:3000])
    assert [json.loads(text) for text in texts] == dicts


def test_each_type_appears_with_its_signal(batch: Any) -> None:
    types, _, _, _, signals = batch
    seen = {event_type: json.loads(text)["signal"] for event_type, text in zip(types.tolist(), signals, strict=True)}
    assert set(seen) == set(model.EVENT_TYPE_NAMES)
    by_name = {event_type.name: event_type.signal for event_type in model.EVENT_TYPES}
    assert seen == by_name


def test_amounts_grow_with_the_segment() -> None:
    rng = model.derive_rng(22, "amounts")
    medians = []
    for segment in model.SEGMENTS:
        payloads = model.make_payloads(rng, ["purchase"] * 3000, segment, "USD")
        medians.append(np.median([payload["amount"] for payload in payloads]))
    assert medians[0] < medians[1] < medians[2]


def test_currency_converts_back_to_similar_usd_values() -> None:
    usd = model.make_payloads(model.derive_rng(23, "a"), ["renewal"] * 3000, "mid_market", "USD")
    jpy = model.make_payloads(model.derive_rng(23, "a"), ["renewal"] * 3000, "mid_market", "JPY")
    ratio = np.median([p["amount"] for p in jpy]) / np.median([p["amount"] for p in usd])
    assert ratio == pytest.approx(model.USD_RATES["JPY"], rel=0.01)
    signal = model.derive_signal_data("renewal", jpy[0])
    assert signal["value_usd"] == pytest.approx(jpy[0]["amount"] / model.USD_RATES["JPY"], abs=0.01)


def test_make_payload_for_one_event() -> None:
    rng = model.derive_rng(24, "one")
    for event_type in model.EVENT_TYPE_NAMES:
        payload = model.make_payload(event_type, rng, segment="enterprise", currency="EUR")
        schema = model.PAYLOAD_SCHEMAS[event_type]
        assert [key for key in schema if key in payload] == list(payload)
        assert set(schema) - set(payload) <= model.OPTIONAL_PAYLOAD_FIELDS[event_type]
        json.dumps(payload)
        json.dumps(model.derive_signal_data(event_type, payload))


def test_payloads_are_deterministic(batch: Any) -> None:
    types, segments, currencies, _, _ = batch

    def make(seed: int) -> tuple[list[str], list[str]]:
        return model.make_payloads_and_signals_json(model.derive_rng(seed, "p"), types, segments, currencies)

    assert make(1) == make(1)
    assert make(1)[0] != make(2)[0]


def test_derive_signal_data_is_pure_and_checks_its_input() -> None:
    payload = model.make_payload("inquiry", model.derive_rng(25, "i"))
    before = dict(payload)
    assert model.derive_signal_data("inquiry", payload) == model.derive_signal_data("inquiry", payload)
    assert payload == before
    with pytest.raises(ScenarioError, match="needs channel"):
        model.derive_signal_data("inquiry", {k: v for k, v in payload.items() if k != "channel"})
    with pytest.raises(ScenarioError, match=r"payload\.seats"):
        model.derive_signal_data("inquiry", {**payload, "seats": "many"})
    with pytest.raises(ScenarioError, match="event_type"):
        model.derive_signal_data("signup", payload)
    with pytest.raises(ScenarioError, match="currency"):
        model.make_payloads(model.derive_rng(1, "x"), ["purchase"], "smb", "XXX")


def test_buying_intent_scores_rank_as_expected() -> None:
    base = {"channel": "web_form", "product": "signal_core", "topic": "features", "seats": 5, "message": "Hi"}
    pricing = model.derive_signal_data("inquiry", {**base, "topic": "pricing", "channel": "phone"})
    assert pricing["score"] > model.derive_signal_data("inquiry", base)["score"]
    page = {"url": "u", "path": "/pricing", "referrer": "(direct)", "session_id": "s", "duration_seconds": 300}
    assert model.derive_signal_data("page_view", {**page, "device": "desktop"})["priority"] != "low"


@pytest.mark.parametrize(("field", "value"), [("amount", 1e307), ("quantity", 2**63), ("amount", float("nan"))])
def test_numbers_the_signal_rules_cannot_carry_are_refused(field: str, value: object) -> None:
    """Past 1e15 money in USD could overflow to Infinity, which JSONB refuses: a clear error instead."""
    payload = model.make_payload("purchase", np.random.default_rng(1))
    payload[field] = value
    with pytest.raises(ScenarioError, match=rf"payload\.{field}: .* is out of range"):
        model.derive_signal_data("purchase", payload)


def test_closed_fields_are_exactly_the_text_the_signal_rules_look_up() -> None:
    """A text field outside CLOSED_PAYLOAD_FIELDS is free text to the rules; a closed one takes only its words."""
    unknown = "\u2603 in no vocabulary"
    for event_type in model.EVENT_TYPE_NAMES:
        if model.is_platform_event_type(event_type):
            continue
        payload = model.make_payload(event_type, model.derive_rng(26, event_type))
        closed = model.CLOSED_PAYLOAD_FIELDS.get(event_type, {})
        for name, kind in model.PAYLOAD_SCHEMAS[event_type].items():
            if kind is not str:
                continue
            odd = {**payload, name: unknown}
            if name in closed:
                assert payload[name] in closed[name]
                [problem] = model.check_payload(event_type, odd)
                assert (problem.key, problem.problem.split(";")[0]) == (name, f"unknown value {unknown!r}")
                with pytest.raises(ScenarioError, match=rf"payload\.{name}: unknown value"):
                    model.derive_signal_data(event_type, odd)
            else:
                assert model.check_payload(event_type, odd) == []
                model.derive_signal_data(event_type, odd)


def test_check_payload_reports_every_problem() -> None:
    whole = model.make_payload("purchase", model.derive_rng(27, "p"))
    assert model.check_payload("purchase", whole) == []
    assert model.check_payload("purchase", {**whole, "note": "extra keys of a whole payload pass"}) == []
    problems = model.check_payload("purchase", {"quantity": True, "amount": 2e15, "amout": 5}, overrides=True)
    assert [(p.key, p.problem) for p in problems] == [
        ("quantity", "expected a whole number, got True"),
        ("amount", "2000000000000000.0 is out of range"),
        ("amout", "not a field of purchase payloads (did you mean 'amount'?)"),
    ]
    [missing] = model.check_payload("purchase", {"amount": 1.0})
    assert missing.key is None
    assert missing.problem == "a purchase payload needs order_id, product, quantity, billing_period, currency"
    assert model.check_payload("purchase", {"amount": model.PAYLOAD_NUMBER_LIMIT}, overrides=True) == []
