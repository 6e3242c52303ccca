"""The bulk generator without a database: determinism, formats, and the golden checksum of `smoke`."""

from __future__ import annotations

import csv
import hashlib
import io
import json
from pathlib import Path

import pytest

from sspp_fixtures.bulkgen import CHUNK_ROWS, TABLES, generate
from sspp_fixtures.scenarios import Scenario, load_scenario

#: sha256 of every COPY byte `smoke` makes. It changes only when the data changes: if this test fails, the data
#: of every user's seed changed. Make sure that was meant (Faker upgrade, model change), say so in the changelog,
#: then update the constant.
SMOKE_GOLDEN = "195709cbd64365a5fd0ef039fc2f6b5645256e3ddc4da7cd5e2bec537f27baa6"


def digest(scenario: Scenario, fmt: str = "copy", **options: int) -> dict[str, str]:
    per_table: dict[str, hashlib._Hash] = {t: hashlib.sha256() for t in TABLES}
    for piece in generate(scenario, fmt, **options):  # type: ignore[arg-type]
        per_table[piece.table].update(piece.data)
    return {t: h.hexdigest() for t, h in per_table.items()}


@pytest.fixture(scope="module")
def medium() -> Scenario:
    """Several chunks per table, and stories, so batching and parallelism are really exercised."""
    return load_scenario("demo").with_overrides(scale=0.5)


def test_same_data_whatever_workers_and_batch_size(medium: Scenario) -> None:
    assert medium.events > 2 * CHUNK_ROWS
    reference = digest(medium, workers=0, batch_rows=CHUNK_ROWS)
    assert digest(medium, workers=1, batch_rows=5 * CHUNK_ROWS) == reference
    assert digest(medium, workers=2, batch_rows=3 * CHUNK_ROWS) == reference
    assert digest(medium, workers=2, batch_rows=CHUNK_ROWS) == reference


def test_another_seed_gives_other_data(medium: Scenario) -> None:
    assert digest(medium.with_overrides(seed=1), workers=0) != digest(medium, workers=0)


def test_smoke_golden_checksum() -> None:
    whole = hashlib.sha256()
    for piece in generate(load_scenario("smoke"), "copy", workers=0):
        whole.update(piece.table.encode())
        whole.update(piece.data)
    assert whole.hexdigest() == SMOKE_GOLDEN, (
        "the data of `smoke` changed: if that was meant (Faker or model change), update SMOKE_GOLDEN"
    )


def test_copy_text_escapes_and_nulls(tmp_path: Path) -> None:
    from sspp_fixtures.bulkgen import CopyText
    from sspp_fixtures.bulkgen._generate import Columns

    values = {c: ["x"] for c in TABLES["customers"].columns}
    values["name"] = ["Tab\there \\ back\nslash"]
    values["phone"] = [None]
    line = CopyText().rows(Columns("customers", values, 1)).decode()
    fields = line.rstrip("\n").split("\t")
    assert fields[1] == "Tab\\there \\\\ back\\nslash"
    assert fields[4] == "\\N"


def test_csv_and_jsonl_parse_back() -> None:
    scenario = load_scenario("smoke")
    csv_text = b"".join(p.data for p in generate(scenario, "csv", workers=0) if p.table == "events").decode()
    rows = list(csv.reader(io.StringIO(csv_text)))
    assert all(len(row) == len(TABLES["events"].columns) for row in rows)
    assert all(isinstance(json.loads(row[3]), dict) for row in rows)
    jsonl = b"".join(p.data for p in generate(scenario, "jsonl", workers=0) if p.table == "signals").decode()
    objects = [json.loads(line) for line in jsonl.splitlines()]
    assert objects
    assert all(isinstance(o["signal_data"], dict) and o["event_id"] for o in objects)
