"""``sspp-seed export --format parquet|csv --out URL [--dask ...]`` through the console script's code path."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from sspp_fixtures.errors import ExitCode
from tests.fix_cli import cli_here

from ._work import files, listed, manifest_at


def test_export_on_a_local_cluster_writes_the_in_process_manifest(tmp_path: Path, in_process: dict[str, Any]) -> None:
    out = (tmp_path / "lake").as_uri()
    result = cli_here(
        "export", "demo", "--scale", "0.35", "--format", "parquet", "--out", out, "--dask", "local:1", "--json"
    )
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["manifest"] == f"{out}/manifest.json"
    assert report["rows"] == {table: value["rows"] for table, value in in_process["tables"].items()}
    assert manifest_at(tmp_path / "lake") == in_process
    assert files(tmp_path / "lake") == listed(in_process)


def test_partitioned_csv_is_asked_for_and_plain_csv_keeps_its_layout(tmp_path: Path) -> None:
    assert (
        cli_here("export", "smoke", "--format", "csv", "--out", str(tmp_path / "parts"), "--partitioned").returncode
        == 0
    )
    assert "customers/part-00000.csv" in listed(manifest_at(tmp_path / "parts"))
    assert cli_here("export", "smoke", "--format", "csv", "--out", str(tmp_path / "plain")).returncode == 0
    assert sorted(path.name for path in (tmp_path / "plain").iterdir()) == [
        "customers.csv", "events.csv", "sales_signals.csv", "signals.csv"
    ]  # fmt: skip


def test_what_cannot_be_partitioned_is_refused_before_anything_starts(tmp_path: Path) -> None:
    out = str(tmp_path / "x")
    for args, said in (
        (("--format", "jsonl", "--dask", "local:1"), "jsonl format is written to local files only"),
        (("--format", "sql", "--out", "s3://bucket/seed.sql"), "sql format is written to local files only"),
        (("--format", "parquet", "--workers", "2"), "--dask local:N"),
        (("--format", "parquet", "--dask", "somewhere:8786"), "neither local:N nor a scheduler address"),
    ):
        result = cli_here("export", "smoke", "--out", out, *args)
        assert result.returncode == ExitCode.USAGE, (args, result.stderr)
        assert said in result.stderr
        assert "Traceback" not in result.stderr
    assert not Path(out).exists()
