"""The model's vocabularies and row types agree with themselves and with sql/migrations."""

from __future__ import annotations

import dataclasses
import math
import re
from pathlib import Path

import pytest

from sspp_fixtures import model
from sspp_fixtures.errors import ScenarioError

MIGRATIONS = Path(__file__).resolve().parents[2] / "sql" / "migrations"


def _tables() -> dict[str, list[tuple[str, str]]]:
    """Column (name, type) pairs of each CREATE TABLE in the migrations (and columns added later), in order."""
    text = "\n".join(path.read_text() for path in sorted(MIGRATIONS.glob("*.sql")))
    text = re.sub(r"--[^\n]*", "", text)
    tables = {}
    for name, body in re.findall(r"CREATE TABLE (?:IF NOT EXISTS )?(\w+) \((.*?)\n\);", text, flags=re.S):
        columns = []
        for line in body.splitlines():
            match = re.match(r"\s+(\w+)\s+([A-Z]+(?:\(\d+(?:, \d+)?\))?)", line)
            if match and match.group(1) not in ("CONSTRAINT", "CHECK"):
                columns.append((match.group(1), match.group(2)))
        tables[name] = columns
    for name, column, type_ in re.findall(
        r"ALTER TABLE (\w+) ADD COLUMN (?:IF NOT EXISTS )?(\w+) ([A-Z]+(?:\(\d+(?:, \d+)?\))?)", text
    ):
        tables[name].append((column, type_))
    return tables


def test_columns_match_the_migrations() -> None:
    tables = _tables()
    assert [c for c, _ in tables["customers"]] == list(model.CUSTOMER_COLUMNS)
    assert [c for c, _ in tables["events"]] == list(model.EVENT_COLUMNS)
    assert [c for c, _ in tables["signals"]] == list(model.SIGNAL_COLUMNS)
    assert [c for c, _ in tables["sales_signals"]] == list(model.SALES_SIGNAL_COLUMNS)


def test_column_limits_match_the_migrations() -> None:
    for table, columns in _tables().items():
        limits = {
            name: int(match.group(1))
            for name, type_ in columns
            if (match := re.fullmatch(r"(?:VARCHAR|CHAR)\((\d+)\)", type_))
        }
        assert dict(model.COLUMN_LIMITS[table]) == limits


@pytest.mark.parametrize(("cls", "columns"), [
    (model.Customer, model.CUSTOMER_COLUMNS),
    (model.Event, model.EVENT_COLUMNS),
    (model.Signal, model.SIGNAL_COLUMNS),
    (model.SalesSignal, model.SALES_SIGNAL_COLUMNS),
])  # fmt: skip
def test_row_dataclasses_have_exactly_the_columns(cls: type, columns: tuple[str, ...]) -> None:
    assert tuple(field.name for field in dataclasses.fields(cls)) == columns
    assert columns == cls.COLUMNS  # type: ignore[attr-defined]


def test_default_shares_sum_to_one() -> None:
    for shares in (
        model.DEFAULT_EVENT_MIX,
        model.DEFAULT_SEGMENT_SHARES,
        model.DEFAULT_LOCALE_SHARES,
        model.DEFAULT_LIFECYCLE_SHARES,
        model.DEFAULT_INDUSTRY_WEIGHTS,
        model.DEFAULT_SOURCE_WEIGHTS,
    ):
        assert math.isclose(math.fsum(shares.values()), 1.0, abs_tol=1e-9)


def test_default_event_weights_follow_the_funnel() -> None:
    weights = [model.DEFAULT_EVENT_MIX[name] for name in model.FUNNEL]
    assert weights == sorted(weights, reverse=True)
    assert len(set(weights)) == len(weights)
    assert model.DEFAULT_EVENT_MIX["page_view"] == max(model.DEFAULT_EVENT_MIX.values())
    assert model.DEFAULT_EVENT_MIX["page_view"] > 2 * model.DEFAULT_EVENT_MIX["email_open"]
    assert len(model.EVENT_TYPE_NAMES) >= 8
    assert {"renewal", "support_ticket", "churn_risk"} <= set(model.EVENT_TYPE_NAMES)


def test_every_event_type_has_a_schema_and_signal_fields() -> None:
    assert set(model.PAYLOAD_SCHEMAS) == set(model.EVENT_TYPE_NAMES)
    assert set(model.SIGNAL_EVENT_FIELDS) == set(model.EVENT_TYPE_NAMES)
    for name, fields in model.SIGNAL_EVENT_FIELDS.items():
        assert set(fields) <= set(model.PAYLOAD_SCHEMAS[name])
    assert set(model.PAYLOAD_SCHEMAS["purchase"]) >= {"amount", "currency", "product", "quantity"}
    assert set(model.PAYLOAD_SCHEMAS["inquiry"]) >= {"channel", "product", "message"}


def test_vocabulary_values_fit_their_columns() -> None:
    limits = model.COLUMN_LIMITS
    assert all(len(name) <= limits["events"]["event_type"] for name in model.EVENT_TYPE_NAMES)
    assert all(len(source) <= limits["events"]["source"] for source in model.SOURCES)
    assert all(len(s) <= limits["customers"]["segment"] for s in model.SEGMENTS)
    assert all(len(s) <= limits["customers"]["lifecycle_stage"] for s in model.LIFECYCLE_STAGES)
    assert all(len(s) <= limits["customers"]["industry"] for s in model.INDUSTRIES)
    assert all(len(r) <= limits["customers"]["region"] for r in model.REGIONS)
    for info in model.LOCALES:
        assert len(info.country) == 2
        assert info.country.isupper()
        assert len(info.locale) <= limits["customers"]["locale"]
        assert info.region in model.REGIONS
        assert info.currency in model.USD_RATES
    assert set(model.LOCALE_CODES) == set(model.DEFAULT_LOCALE_SHARES)


def test_scenario_errors_name_the_field_and_what_is_allowed() -> None:
    rng = model.derive_rng(1, "test")
    with pytest.raises(ScenarioError, match=r"segment_shares: shares must add up to 1, these add up to 0\.9") as sums:
        model.sample_segments(rng, 10, {"smb": 0.5, "mid_market": 0.2, "enterprise": 0.2})
    assert sums.value.field == "segment_shares"
    with pytest.raises(ScenarioError, match=r"event_mix\.signup.*allowed: page_view") as unknown:
        model.sample_event_types(rng, 10, {"page_view": 0.9, "signup": 0.1})
    assert "page_view" in (unknown.value.allowed or ())
    with pytest.raises(ScenarioError, match=r"event_type.*'signup'.*allowed:"):
        model.make_payload("signup", rng)
    with pytest.raises(ScenarioError, match="segment"):
        model.sample_annual_values(rng, ["smb", "startup"])
    with pytest.raises(ScenarioError, match=r"locale_shares\.xx_XX"):
        model.sample_locales(rng, 3, {"xx_XX": 1.0})
    with pytest.raises(ScenarioError, match=r"segment_shares\.smb.*>= 0"):
        model.sample_segments(rng, 3, {"smb": -0.5, "mid_market": 1.5})
