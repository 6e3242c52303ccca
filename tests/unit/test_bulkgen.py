"""The bulk generator without a database: determinism, formats, and the golden checksum of `smoke`."""

from __future__ import annotations

import csv
import hashlib
import io
import json
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pytest

from sspp_fixtures.bulkgen import CHUNK_ROWS, TABLES, generate
from sspp_fixtures.scenarios import Scenario, load_scenario

#: sha256 of every COPY byte `smoke` makes. It changes only when the data changes: if this test fails, the data
#: of every user's seed changed. Make sure that was meant (Faker upgrade, model change), say so in the changelog,
#: then update the constant.
SMOKE_GOLDEN = "238306a173a61f798131cc06d78330fd621efb31981ee605820b642da8c4dc16"


def digest(scenario: Scenario, fmt: str = "copy", **options: int) -> dict[str, str]:
    per_table: dict[str, hashlib._Hash] = {t: hashlib.sha256() for t in TABLES}
    for piece in generate(scenario, fmt, **options):
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

    values: dict[str, list[str | None]] = {c: ["x"] for c in TABLES["customers"].columns}
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


# --- the fast paths of the generator render exactly what the plain Python rendering would ---------------------


def test_timestamps_render_like_isoformat() -> None:
    from datetime import datetime, timedelta

    from sspp_fixtures.bulkgen._generate import _timestamps

    rng = np.random.default_rng(5)
    low = int(np.datetime64("0001-01-01T00:00:00", "us").astype(np.int64))
    high = int(np.datetime64("9999-12-31T23:59:59.999999", "us").astype(np.int64))
    micros = np.concatenate([rng.integers(low, high, 5000), [low, high, 0, -1, 951_782_400_000_000]])
    values = micros.astype("datetime64[us]")
    values[::7] = np.datetime64("NaT")
    epoch = datetime(1970, 1, 1)
    expected = [
        None if np.isnat(v) else (epoch + timedelta(microseconds=int(m))).isoformat(timespec="microseconds")
        for v, m in zip(values, micros.tolist(), strict=True)
    ]
    assert _timestamps(values) == expected
    assert _timestamps(np.array([np.datetime64("NaT", "us")] * 3)) == [None, None, None]
    assert _timestamps(np.array([], dtype="datetime64[us]")) == []


def test_customer_ids_render_like_format() -> None:
    from sspp_fixtures.model import customer_ids

    numbers = [0, 1, 42, 999, 1000, 99_999, 999_999, 1_000_000, 1_234_567, 10**12]
    assert customer_ids(np.array(numbers)) == [f"cust_{n:06d}" for n in numbers]
    assert customer_ids(np.array([], dtype=np.int64)) == []


def test_uuids_render_like_the_uuid_module() -> None:
    import uuid

    from sspp_fixtures.model import derive_rng, sample_uuids

    raw = derive_rng(3, "uuids").integers(0, 256, size=(2000, 16), dtype=np.uint8)
    raw[:, 6] = (raw[:, 6] & 0x0F) | 0x40
    raw[:, 8] = (raw[:, 8] & 0x3F) | 0x80
    assert sample_uuids(derive_rng(3, "uuids"), 2000) == [str(uuid.UUID(bytes=row.tobytes())) for row in raw]


def test_payload_and_signal_json_are_json_dumps_byte_for_byte() -> None:
    """The bulk path's JSON (templates, lookup tables) is exactly ``json.dumps`` of the dicts the factories use."""
    from sspp_fixtures import model

    rng = model.derive_rng(8, "json")
    n = 30_000
    types = model.sample_event_types(rng, n, {name: 1 / len(model.EVENT_TYPE_NAMES) for name in model.EVENT_TYPE_NAMES})
    segments = np.asarray(model.SEGMENTS)[rng.integers(0, len(model.SEGMENTS), n)]
    currencies = np.asarray(model.CURRENCIES)[rng.integers(0, len(model.CURRENCIES), n)]
    payloads, signals = model.make_payloads_and_signals_json(model.derive_rng(9, "x"), types, segments, currencies)
    dicts = model.make_payloads(model.derive_rng(9, "x"), types, segments, currencies)

    def dumps(value: object) -> str:
        return json.dumps(value, ensure_ascii=False, separators=(",", ":"))

    assert payloads == [dumps(d) for d in dicts]
    expected = [dumps(model.derive_signal_data(t, d)) for t, d in zip(types.tolist(), dicts, strict=True)]
    assert signals == expected


def test_json_fragments_render_like_json_dumps() -> None:
    from sspp_fixtures.model._payload_json import _fragments
    from sspp_fixtures.model._payload_vocab import objects as _objects

    def dumps(values: Sequence[object]) -> list[str]:
        return [json.dumps(value, ensure_ascii=False) for value in values]

    ints = [0, 7, 9999, 10_000, 123_456, -3]
    assert _fragments(int, np.array(ints)) == dumps(ints)
    assert _fragments(int, np.array(ints[:3])) == dumps(ints[:3])
    assert _fragments(bool, np.array([True, False, True])) == dumps([True, False, True])
    vocabulary = ["pricing", "/demo", "monthly_newsletter"]
    assert _fragments(str, _objects(vocabulary)) == dumps(vocabulary)
    others = ["pricing", 'say "hi"\n', "tab\there", "Zoë", "\u2028"]
    assert _fragments(str, _objects(others)) == dumps(others)
    assert _fragments(float, np.array([0.1, 1e16, 2.5])) == dumps([0.1, 1e16, 2.5])


def test_signal_heads_fall_back_when_scores_are_not_on_the_table() -> None:
    from sspp_fixtures.model._payload_json import _signal_heads
    from sspp_fixtures.model._signal_rules import priorities as _priorities

    on_grid, priorities = _priorities(np.array([0.0, 0.3994, 0.4, 0.7, 1.0, 2.0]))
    assert _signal_heads("retention", on_grid, priorities) == [
        '0.0,"priority":"low","action":"track"',
        '0.399,"priority":"low","action":"track"',
        '0.4,"priority":"medium","action":"schedule_check_in"',
        '0.7,"priority":"high","action":"schedule_check_in"',
        '1.0,"priority":"high","action":"schedule_check_in"',
        '1.0,"priority":"high","action":"schedule_check_in"',
    ]
    off_grid = np.array([0.1234, 0.5, np.nan])
    assert _signal_heads("retention", off_grid, np.array([0, 1, 0])) == [
        '0.1234,"priority":"low","action":"track"',
        '0.5,"priority":"medium","action":"schedule_check_in"',
        'nan,"priority":"low","action":"track"',
    ]


def test_clean_columns_hold_no_null_and_nothing_copy_escapes(medium: Scenario) -> None:
    """Columns a chunk marks clean skip the formatter's checks: they must really need none."""
    from sspp_fixtures import model
    from sspp_fixtures.bulkgen import ChunkMaker, load_pools, scenario_locales

    vocabularies = (
        model.EVENT_TYPE_NAMES, model.SOURCES, model.INDUSTRIES, model.SEGMENTS, model.REGIONS,
        model.LOCALE_CODES, model.LIFECYCLE_STAGES, tuple(info.country for info in model.LOCALES),
    )  # fmt: skip
    assert not any(special in word for words in vocabularies for word in words for special in "\\\t\n\r")
    maker = ChunkMaker(medium, load_pools(scenario_locales(medium)))
    chunks = [maker.customers(0), *maker.events(0), *maker.events(1)]
    for chunk in chunks:
        assert chunk.clean
        for column in chunk.clean:
            values = chunk.values[column]
            assert len(values) == chunk.rows, (chunk.table, column)
            assert None not in values, (chunk.table, column)
            assert not any(special in "".join(values) for special in "\\\t\n\r"), (chunk.table, column)  # type: ignore[arg-type]


def test_copy_text_checks_columns_not_marked_clean() -> None:
    from sspp_fixtures.bulkgen import CopyText
    from sspp_fixtures.bulkgen._generate import Columns

    values: dict[str, list[str | None]] = {c: ["a", "b"] for c in TABLES["signals"].columns}
    values["signal_data"] = ['{"m":"x\\\\y"}', '{"m":"tab\there"}']
    values["processed_at"] = [None, "2026-01-01T00:00:00.000000"]
    values["event_id"] = ["e", None]
    text = CopyText().rows(Columns("signals", values, 2, clean=frozenset({"id"}))).decode()
    first, second = (line.split("\t") for line in text.splitlines())
    assert first[3] == '{"m":"x\\\\\\\\y"}'
    assert second[3] == '{"m":"tab\\there"}'
    assert first[4] == "\\N"
    assert second[6] == "\\N"


def test_spool_files_are_reused_and_removed(medium: Scenario, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Workers hand batches over through at most ``workers + 1`` spool files, removed with their folder."""
    import os

    from sspp_fixtures.bulkgen import _stream

    folder = tmp_path / "spool"

    def spool_dir() -> str:
        folder.mkdir()
        return str(folder)

    monkeypatch.setattr(_stream, "_spool_dir", spool_dir)
    seen: set[str] = set()
    pieces = 0
    for _ in generate(medium, "copy", workers=2, batch_rows=CHUNK_ROWS):
        seen.update(os.listdir(folder))
        pieces += 1
    assert pieces > 6
    assert 1 <= len(seen) <= 3
    assert not folder.exists()
