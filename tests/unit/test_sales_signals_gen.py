"""The generator's ``sales_signals``: one row per processed platform event, ids by place, scores by the rules,
and the Elasticsearch documents of the same rows."""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path

import pytest

from sspp_fixtures import model
from sspp_fixtures.bulkgen import ES_MAPPING, TABLES, generate
from sspp_fixtures.export import export_scenario
from sspp_fixtures.scenarios import Scenario, load_scenario

DERIVED = {"signal", "score", "priority", "action", "value_usd", "model"}


@pytest.fixture(scope="module")
def sample() -> Scenario:
    return load_scenario("smoke").with_overrides(scale=20)


def rows(scenario: Scenario, table: str, workers: int = 0) -> list[dict[str, str]]:
    columns = TABLES[table].columns
    text = b"".join(p.data for p in generate(scenario, "copy", workers=workers) if p.table == table).decode()
    return [dict(zip(columns, line.split("\t"), strict=True)) for line in text.splitlines()]


def test_no_copied_event_field_shadows_a_derived_one() -> None:
    for event_type, fields in model.SIGNAL_EVENT_FIELDS.items():
        assert not DERIVED & set(fields), event_type


def test_one_row_per_processed_platform_event_with_ids_by_place(sample: Scenario) -> None:
    sales = rows(sample, "sales_signals")
    events = rows(sample, "events")
    signals = {r["event_id"] for r in rows(sample, "signals")}
    processed_platform = [
        e for e in events if e["event_type"] in model.PLATFORM_SIGNAL_TYPES and e["id"] in signals
    ]  # fmt: skip
    assert len(sales) == len(processed_platform) > 5000
    ids = [int(r["id"]) for r in sales]
    assert len(set(ids)) == len(ids)
    assert max(ids) <= sample.events + sample.story_event_count
    # Row i of the events is id i + 1 (the stories' come after all of them).
    by_place = {i + 1: e for i, e in enumerate(events[: sample.events])}
    for row in sales:
        event = by_place.get(int(row["id"]))
        if event is None:
            assert int(row["id"]) > sample.events
            continue
        assert (row["account_id"], row["user_id"], row["event_type"]) == (
            event["customer_id"],
            event["user_id"],
            event["event_type"],
        )
        assert row["timestamp"] == event["received_at"]
        assert row["metadata"] == event["payload"]


def test_scores_and_types_follow_the_rules(sample: Scenario) -> None:
    for row in rows(sample, "sales_signals"):
        signal_type, score = model.platform_signal(row["event_type"], json.loads(row["metadata"]))
        assert row["signal_type"] == signal_type
        assert row["signal_score"] == model.score_text(score)


def test_same_rows_whatever_the_workers(sample: Scenario) -> None:
    assert rows(sample, "sales_signals", workers=0) == rows(sample, "sales_signals", workers=2)


def test_events_of_other_types_have_no_user(sample: Scenario) -> None:
    for event in rows(sample, "events"):
        platform = event["event_type"] in model.PLATFORM_SIGNAL_TYPES
        assert (event["user_id"] != "\\N") == platform, event


def test_es_bulk_documents_are_the_rows(sample: Scenario, tmp_path: Path) -> None:
    report = export_scenario(sample, "es-bulk", tmp_path / "es", workers=0)
    assert set(report.files) == {"sales_signals"}
    lines = (tmp_path / "es" / "sales-signals.ndjson").read_text().splitlines()
    mapping = json.loads((tmp_path / "es" / "sales-signals.mapping.json").read_text())
    assert mapping == ES_MAPPING
    assert mapping["mappings"]["properties"]["metadata"] == {"type": "object", "enabled": False}
    sales = rows(sample, "sales_signals")
    assert len(lines) == 2 * len(sales)
    for row, action, document in zip(sales, lines[::2], lines[1::2], strict=True):
        assert json.loads(action) == {"index": {"_index": "sales-signals", "_id": row["id"]}}
        doc = json.loads(document)
        assert list(doc) == [
            "accountId", "userId", "eventType", "signalType", "signalScore", "timestamp", "processedAt", "metadata",
        ]  # fmt: skip
        assert (doc["accountId"], doc["userId"], doc["eventType"], doc["signalType"]) == (
            row["account_id"],
            row["user_id"],
            row["event_type"],
            row["signal_type"],
        )
        assert doc["signalScore"] == float(row["signal_score"])
        assert doc["timestamp"] == row["timestamp"][:23] + "Z"
        assert doc["processedAt"] == row["processed_at"][:23] + "Z"
        assert doc["metadata"] == json.loads(row["metadata"])


def test_platform_events_are_the_sales_signals_events(sample: Scenario) -> None:
    """What a replay sends (every platform event, processed or not) agrees with the rows a load writes."""
    from sspp_fixtures.bulkgen import ChunkMaker, chunk_count, load_pools, scenario_locales

    maker = ChunkMaker(sample, load_pools(scenario_locales(sample)))
    batches = [maker.platform_events(k) for k in range(chunk_count(sample.events))]
    batches.append(maker.story_platform_events())
    sent = {
        int(index) + 1: (account, user, event_type, stamp, metadata)
        for batch in batches
        for account, user, event_type, stamp, metadata, index in zip(
            batch.account_id, batch.user_id, batch.event_type, batch.timestamp.tolist(), batch.metadata,
            batch.index.tolist(), strict=True,
        )
    }  # fmt: skip
    stored = rows(sample, "sales_signals")
    assert len(sent) > len(stored) > 0.8 * len(sent)  # the unprocessed ones have no row
    for row in stored:
        account, user, event_type, stamp, metadata = sent[int(row["id"])]
        assert (row["account_id"], row["user_id"], row["event_type"], row["metadata"]) == (
            account, user, event_type, metadata,
        )  # fmt: skip
        assert datetime.fromisoformat(row["timestamp"]) == stamp
    assert all(event_type in model.PLATFORM_SIGNAL_TYPES for _, _, event_type, _, _ in sent.values())
