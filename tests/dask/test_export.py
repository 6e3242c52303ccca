"""Partitioned Parquet and CSV through fsspec, in-process and on a real LocalCluster: the same manifest (rows,
file sha256, row checksums) whatever runs it, nothing duplicated or lost when a worker dies, no manifest when an
export fails."""

from __future__ import annotations

import io
import json
import os
import uuid
import zlib
from pathlib import Path
from typing import Any

import fsspec
import pyarrow.parquet as pq
import pytest
from distributed import Client

from sspp_fixtures._partitioned import MANIFEST, export_partitioned, row_checksum
from sspp_fixtures.bulkgen import TABLE_ORDER, generate
from sspp_fixtures.errors import UsageError, WriteError
from sspp_fixtures.export import export_scenario
from sspp_fixtures.scenarios import Scenario, load_scenario

from ._work import DyingOnceFileSystem, FullDiskFileSystem, files, listed, manifest_at


def test_the_manifest_counts_and_checksums_the_generated_rows(
    small_scenario: Scenario, in_process: dict[str, Any]
) -> None:
    rows = dict.fromkeys(TABLE_ORDER, 0)
    checksums = dict.fromkeys(TABLE_ORDER, 0)
    for piece in generate(small_scenario, "copy", workers=0):
        rows[piece.table] += piece.rows
        checksums[piece.table] += row_checksum(piece.data)
    tables = in_process["tables"]
    assert {table: tables[table]["rows"] for table in TABLE_ORDER} == rows
    assert {table: int(tables[table]["row_checksum"], 16) for table in TABLE_ORDER} == {
        table: value % 2**64 for table, value in checksums.items()
    }
    assert in_process["seed"] == small_scenario.seed
    assert in_process["fingerprint"] == small_scenario.fingerprint()
    assert set(in_process["checksums"]) == {"sha256", "row_checksum"}


def test_parquet_partitions_are_typed_and_hold_the_rows(small_scenario: Scenario) -> None:
    url = f"memory://sspp-test-{uuid.uuid4().hex}/lake"
    report = export_partitioned(small_scenario, "parquet", url)
    memory = fsspec.filesystem("memory")
    manifest = json.loads(memory.cat(f"{url}/{MANIFEST}"))
    for table in TABLE_ORDER:
        read = pq.read_table(io.BytesIO(memory.cat(f"{url}/{manifest['tables'][table]['partitions'][0]['path']}")))
        assert read.num_rows == manifest["tables"][table]["partitions"][0]["rows"]
    schema = pq.read_schema(io.BytesIO(memory.cat(f"{url}/sales_signals/part-00000.parquet")))
    assert str(schema.field("id").type) == "int64"
    assert str(schema.field("signal_score").type) == "decimal128(3, 2)"
    assert str(schema.field("timestamp").type) == "timestamp[us]"
    assert str(schema.field("metadata").type) == "string"
    assert report.rows == {table: manifest["tables"][table]["rows"] for table in TABLE_ORDER}
    memory.rm(url.removeprefix("memory://").split("/")[0], recursive=True)


def test_parquet_timestamps_are_the_times_their_text_says(small_scenario: Scenario, tmp_path: Path) -> None:
    """Timestamps go to Parquet from the chunk maker's ``datetime64`` values, not from their text: the same times."""
    import pyarrow as pa

    from sspp_fixtures._dask import worker_maker
    from sspp_fixtures.bulkgen import TABLES
    from sspp_fixtures.bulkgen._stream import plan_tasks, task_columns

    export_partitioned(small_scenario, "parquet", str(tmp_path))
    texts: dict[str, dict[str, list[str | None]]] = {table: {} for table in TABLE_ORDER}
    for task in plan_tasks(small_scenario):
        for chunk in task_columns(worker_maker(small_scenario), task):
            for column, values in chunk.values.items():
                texts[chunk.table].setdefault(column, []).extend(values)
    checked = 0
    for table in TABLE_ORDER:
        paths = sorted((tmp_path / table).glob("part-*.parquet"))  # named by first chunk: the generation order
        read = pa.concat_tables(pq.read_table(path) for path in paths)
        for column, kind in zip(TABLES[table].columns, TABLES[table].kinds, strict=True):
            if kind == "timestamp":
                expected = pa.array(texts[table][column], pa.string()).cast(pa.timestamp("us"))
                assert read.column(column).combine_chunks().equals(expected), f"{table}.{column}"
                checked += 1
    assert checked == 9


def test_csv_partitions_hold_the_csv_export_rows_in_order(two_chunks: Scenario, tmp_path: Path) -> None:
    export_partitioned(two_chunks, "csv", str(tmp_path / "parts"))
    export_scenario(two_chunks, "csv", tmp_path / "whole", workers=0)
    manifest = manifest_at(tmp_path / "parts")
    for table in TABLE_ORDER:
        header, *whole = (tmp_path / "whole" / f"{table}.csv").read_bytes().splitlines(keepends=True)
        joined = []
        for partition in manifest["tables"][table]["partitions"]:
            first, *rows = (tmp_path / "parts" / partition["path"]).read_bytes().splitlines(keepends=True)
            assert first == header
            joined += rows
        assert joined == whole


def test_one_or_two_workers_write_the_in_process_files(
    client1: Client, client2: Client, small_scenario: Scenario, tmp_path: Path, in_process: dict[str, Any]
) -> None:
    for name, client in (("one", client1), ("two", client2)):
        export_partitioned(small_scenario, "parquet", (tmp_path / name).as_uri(), client=client)
        manifest = manifest_at(tmp_path / name)
        assert manifest == in_process, name
        assert files(tmp_path / name) == listed(manifest)


def test_a_worker_killed_mid_write_leaves_no_duplicate_and_loses_nothing(
    client2: Client, small_scenario: Scenario, tmp_path: Path, in_process: dict[str, Any]
) -> None:
    marker = tmp_path / "died"
    root = tmp_path / "lake"
    dying = DyingOnceFileSystem(str(marker), "events/part-00002.parquet", os.getpid())
    export_partitioned(small_scenario, "parquet", str(root), client=client2, filesystem=dying)
    assert marker.exists(), "no worker died"
    assert manifest_at(root) == in_process
    assert files(root) == listed(in_process), "a duplicate or a temporary file was left"


def test_a_failed_export_leaves_no_manifest_and_no_partition(tmp_path: Path) -> None:
    smoke = load_scenario("smoke")
    root = tmp_path / "lake"
    export_partitioned(smoke, "csv", str(root))
    full = FullDiskFileSystem("signals/part-00001.csv")  # the stories' signals, after the other partitions
    with pytest.raises(WriteError, match="no manifest was written") as caught:
        export_partitioned(smoke, "csv", str(root), filesystem=full)
    assert caught.value.errno is not None
    assert files(root) == set()


def test_partitions_of_an_earlier_export_are_swept(two_chunks: Scenario, tmp_path: Path) -> None:
    export_partitioned(two_chunks, "csv", str(tmp_path), batch_rows=10_000)
    export_partitioned(two_chunks, "csv", str(tmp_path), batch_rows=20_000)
    manifest = manifest_at(tmp_path)
    assert files(tmp_path) == listed(manifest)
    assert [p["path"] for p in manifest["tables"]["events"]["partitions"]] == [
        "events/part-00000.csv", "events/part-00002.csv"
    ]  # fmt: skip


def test_a_cluster_cannot_write_to_this_process_memory(client1: Client, small_scenario: Scenario) -> None:
    with pytest.raises(UsageError, match="memory://"):
        export_partitioned(small_scenario, "parquet", "memory://sspp-test/nowhere", client=client1)


@pytest.fixture(scope="module")
def two_chunks() -> Scenario:
    """Two events chunks and the stories: a few thousand rows."""
    return load_scenario("smoke").with_overrides(scale=9)


def test_only_parquet_and_csv_are_partitioned(small_scenario: Scenario, tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="jsonl"):
        export_partitioned(small_scenario, "jsonl", str(tmp_path))


def test_the_arrow_row_checksum_is_the_copy_text_one_with_escapes_and_nulls() -> None:
    from sspp_fixtures._partitioned._write import _arrow_row_checksum, _strings
    from sspp_fixtures.bulkgen import TABLES, Columns
    from sspp_fixtures.bulkgen._formats import CopyText

    spec = TABLES["customers"]
    values: dict[str, list[str | None]] = {column: [f"{column}-{i}" for i in range(4)] for column in spec.columns}
    values["name"] = ["tab\there", "new\nline\r", "back\\slash", None]
    values["annual_value"] = ["1.00", None, "3.00", "4.50"]
    chunk = Columns("customers", values, 4)
    expected = row_checksum(CopyText().rows(chunk))
    lines = CopyText().rows(chunk).split(b"\n")[:-1]
    assert expected == sum(map(zlib.crc32, lines)) % 2**64  # the manifest's definition, with the stdlib's CRC-32
    assert _arrow_row_checksum("customers", [chunk], _strings("customers", [chunk])) == expected
    assert row_checksum(CopyText().rows(Columns("customers", {c: v[::-1] for c, v in values.items()}, 4))) == expected


@pytest.mark.parametrize(
    "data",
    [b"", b"\\N", b"cust_1\t2026-01-01T00:00:00.000000", "M\u00fcller \u65e5\u672c".encode(), bytes(range(256)) * 9],
)
def test_the_row_checksums_crc32_is_zlibs(data: bytes) -> None:
    from sspp_fixtures._partitioned._crc import crc32

    assert crc32(data) == zlib.crc32(data)
    assert crc32(memoryview(data)[1:]) == zlib.crc32(data[1:])


def test_the_arrow_row_checksum_of_no_rows_is_zero() -> None:
    from sspp_fixtures._partitioned._write import _arrow_row_checksum, _strings
    from sspp_fixtures.bulkgen import TABLES, Columns

    chunk = Columns.empty("events", TABLES["events"].columns)
    assert _arrow_row_checksum("events", [chunk], _strings("events", [chunk])) == 0


def test_timestamp_strings_for_parquet_are_the_chunks_text_with_nulls() -> None:
    import numpy as np
    import pyarrow as pa

    from sspp_fixtures._partitioned._write import _stamp_strings
    from sspp_fixtures.bulkgen._generate import _timestamps

    values = np.array(
        ["2026-03-01T00:00:00", "NaT", "0999-12-31T23:59:59.999999", "2026-03-01T12:34:56.000123", "NaT"],
        dtype="datetime64[us]",
    )
    made = _stamp_strings(values)
    assert made.equals(pa.array(_timestamps(values), pa.string()))
    assert made.null_count == 2
    assert _stamp_strings(values[:0]).equals(pa.array([], pa.string()))


class _NoTimestampText(dict[str, list[str | None]]):
    """A chunk's values that fail when a timestamp column's text is read."""

    def __getitem__(self, name: str) -> list[str | None]:
        if name in {"created_at", "updated_at"}:
            raise AssertionError(f"{name}'s text was read")
        return super().__getitem__(name)


def test_a_parquet_partition_takes_timestamps_from_their_values_not_their_text() -> None:
    import numpy as np

    from sspp_fixtures._partitioned._write import _arrow_row_checksum, _strings
    from sspp_fixtures.bulkgen import TABLES, Columns
    from sspp_fixtures.bulkgen._formats import CopyText
    from sspp_fixtures.bulkgen._generate import _timestamps

    spec = TABLES["customers"]
    times = {"created_at": np.array(["2026-01-02T03:04:05.678901", "NaT"], dtype="datetime64[us]")}
    times["updated_at"] = times["created_at"]
    values: dict[str, list[str | None]] = {column: [f"{column}-{i}" for i in range(2)] for column in spec.columns}
    values["annual_value"] = ["1.00", "2.00"]
    values.update({name: _timestamps(stamps) for name, stamps in times.items()})
    expected = row_checksum(CopyText().rows(Columns("customers", values, 2)))
    chunk = Columns("customers", _NoTimestampText(values), 2, times=times)
    assert _arrow_row_checksum("customers", [chunk], _strings("customers", [chunk])) == expected


def test_the_chunk_makers_timestamp_text_is_made_from_its_values_once(small_scenario: Scenario) -> None:
    from sspp_fixtures._dask._worker import worker_maker
    from sspp_fixtures.bulkgen import TABLES
    from sspp_fixtures.bulkgen._generate import _timestamps

    events, _, sales = worker_maker(small_scenario).events(0)
    assert events.values["received_at"] == _timestamps(events.times["received_at"])
    assert events.values["received_at"] is events.values["received_at"]
    assert sales.values["created_at"] is sales.values["updated_at"]
    assert list(sales.values) == list(TABLES["sales_signals"].columns)
