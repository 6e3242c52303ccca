"""The Dask cluster plumbing: ``--dask`` parsing, clients, and chunk tasks run on a real LocalCluster."""

from __future__ import annotations

import hashlib
import socket
from collections.abc import Iterable
from pathlib import Path

import pytest
from distributed import Client

from sspp_fixtures._dask import DaskTarget, dask_client, parse_dask, run_tasks, task_pieces
from sspp_fixtures.bulkgen import Piece, generate
from sspp_fixtures.bulkgen._stream import Task, plan_tasks
from sspp_fixtures.errors import ClusterError, ClusterUnreachableError, ExitCode, UsageError
from sspp_fixtures.scenarios import Scenario

from ._work import failing, pieces_dying_once


def _digests(pieces: Iterable[Piece]) -> dict[str, tuple[int, str]]:
    """Rows and sha256 of each table's bytes, in the order they came."""
    hashes: dict[str, hashlib._Hash] = {}
    rows: dict[str, int] = {}
    for piece in pieces:
        hashes.setdefault(piece.table, hashlib.sha256()).update(piece.data)
        rows[piece.table] = rows.get(piece.table, 0) + piece.rows
    return {table: (rows[table], digest.hexdigest()) for table, digest in hashes.items()}


def _on_cluster(client: Client, scenario: Scenario, **options: object) -> dict[str, tuple[int, str]]:
    return _digests(piece for _, pieces in run_tasks(client, scenario, task_pieces, **options) for piece in pieces)


@pytest.mark.parametrize(
    ("spec", "expected"),
    [
        ("local:2", DaskTarget(workers=2)),
        (" local:1 ", DaskTarget(workers=1)),
        ("tcp://scheduler:8786", DaskTarget(address="tcp://scheduler:8786")),
        ("tls://10.0.0.5:8786", DaskTarget(address="tls://10.0.0.5:8786")),
    ],
)
def test_parse_dask(spec: str, expected: DaskTarget) -> None:
    assert parse_dask(spec) == expected


@pytest.mark.parametrize("spec", ["local:0", "local:x", "scheduler:8786", "local", ""])
def test_parse_dask_refuses_what_it_cannot_use(spec: str) -> None:
    with pytest.raises(UsageError, match="--dask") as caught:
        parse_dask(spec)
    assert caught.value.exit_code == ExitCode.USAGE
    assert caught.value.hint


def test_addresses_are_shown_without_credentials() -> None:
    target = parse_dask("tls://alice:s3cret-pass@scheduler:8786")
    assert "s3cret-pass" not in str(target)
    assert "scheduler:8786" in str(target)
    with pytest.raises(UsageError) as caught:
        parse_dask("alice:s3cret-pass@scheduler")
    assert "s3cret-pass" not in str(caught.value)


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def test_an_unreachable_scheduler_says_what_to_do() -> None:
    address = f"tcp://127.0.0.1:{_free_port()}"
    with pytest.raises(ClusterUnreachableError) as caught, dask_client(address, connect_timeout_s=0.5):
        pass
    error = caught.value
    assert error.exit_code == ExitCode.UNREACHABLE
    assert error.address == address
    assert "did not answer" in str(error)
    assert "local:N" in str(error)


def test_the_cluster_makes_the_in_process_bytes_in_the_plan_order(
    client1: Client, client2: Client, small_scenario: Scenario
) -> None:
    here = _digests(generate(small_scenario, "copy", workers=0))
    assert _on_cluster(client2, small_scenario) == here
    assert _on_cluster(client1, small_scenario) == here
    # Other batch sizes, a window of one task: the same data.
    assert _on_cluster(client2, small_scenario, batch_rows=20_000, max_in_flight=1) == here


def test_progress_hears_of_every_task_as_it_completes(client2: Client, small_scenario: Scenario) -> None:
    heard: list[Task] = []
    yielded = [
        task
        for task, _ in run_tasks(client2, small_scenario, task_pieces, progress=lambda task, pieces: heard.append(task))
    ]
    assert yielded == plan_tasks(small_scenario)
    assert sorted(heard, key=yielded.index) == yielded


def test_a_worker_killed_mid_run_loses_and_duplicates_nothing(
    client2: Client, small_scenario: Scenario, tmp_path: Path
) -> None:
    marker = tmp_path / "died"
    here = _digests(generate(small_scenario, "copy", workers=0))
    results = list(run_tasks(client2, small_scenario, pieces_dying_once, str(marker), 2))
    assert marker.exists(), "the worker was not killed"
    assert [task for task, _ in results] == plan_tasks(small_scenario)
    assert _digests(piece for _, pieces in results for piece in pieces) == here


def test_a_task_that_keeps_failing_is_reported_after_its_retries(client2: Client, small_scenario: Scenario) -> None:
    with pytest.raises(ClusterError) as caught:
        list(run_tasks(client2, small_scenario, failing, retries=1))
    assert caught.value.task == "stories"
    assert "this task always fails" in str(caught.value)
