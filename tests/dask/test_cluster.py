"""The Dask cluster plumbing: ``--dask`` parsing, clients, and chunk tasks run on a real LocalCluster."""

from __future__ import annotations

import hashlib
import socket
import subprocess
import sys
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import dask
import pytest
from distributed import Client

from sspp_fixtures._dask import DaskTarget, dask_client, group_tasks, parse_dask, run_tasks, task_pieces
from sspp_fixtures.bulkgen import Piece, generate
from sspp_fixtures.bulkgen._stream import Task, plan_tasks
from sspp_fixtures.errors import ClusterError, ClusterUnreachableError, ExitCode, UsageError
from sspp_fixtures.scenarios import Scenario

from ._work import dask_key, failing, pieces_dying_once


def _digests(pieces: Iterable[Piece]) -> dict[str, tuple[int, str]]:
    """Rows and sha256 of each table's bytes, in the order they came."""
    hashes: dict[str, hashlib._Hash] = {}
    rows: dict[str, int] = {}
    for piece in pieces:
        hashes.setdefault(piece.table, hashlib.sha256()).update(piece.data)
        rows[piece.table] = rows.get(piece.table, 0) + piece.rows
    return {table: (rows[table], digest.hexdigest()) for table, digest in hashes.items()}


def _on_cluster(client: Client, scenario: Scenario, **options: Any) -> dict[str, tuple[int, str]]:
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


def test_consecutive_tasks_of_one_table_run_as_one_dask_task(client2: Client, small_scenario: Scenario) -> None:
    plan = plan_tasks(small_scenario)
    assert [task.kind for task in plan] == ["customers", "events", "events", "events", "stories"]
    groups = group_tasks(plan, 2)
    assert groups == [plan[:1], plan[1:3], plan[3:4], plan[4:]]
    results = list(run_tasks(client2, small_scenario, dask_key, group=2))
    assert [task for task, _ in results] == plan
    keys = [key for _, key in results]
    assert keys[1] == keys[2]
    assert len(set(keys)) == len(groups)
    # Grouped, the same bytes in the same order.
    here = _digests(generate(small_scenario, "copy", workers=0))
    assert _on_cluster(client2, small_scenario, group=3) == here


def test_a_long_plan_is_grouped_by_default_yet_spread_over_the_workers(
    client2: Client, small_scenario: Scenario
) -> None:
    """64 one-chunk tasks on 2 worker threads: 4 a Dask task (40,000 rows), 16 Dask tasks, 8 a worker."""
    plan = [Task("events", k, k + 1) for k in range(64)]
    keys = [key for _, key in run_tasks(client2, small_scenario, dask_key, tasks=plan)]
    assert len(set(keys)) == 16
    # A window of 2 tasks in flight caps a group at 2.
    assert len({key for _, key in run_tasks(client2, small_scenario, dask_key, tasks=plan, max_in_flight=2)}) == 32


def test_a_local_cluster_does_not_profile_its_workers(client1: Client) -> None:
    """The statistical profiler (every thread's stack every 10 ms, for the dashboard) is off on our own clusters."""
    profiling = client1.run(lambda dask_worker: "profile" in dask_worker.periodic_callbacks)
    assert set(profiling.values()) == {False}
    assert dask.config.get("distributed.worker.profile.enabled") is True, "the caller's configuration is its own"


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


def test_a_local_cluster_that_cannot_start_says_why(tmp_path: Path) -> None:
    """A script without a ``__main__`` guard: its worker processes import it again and fail to start."""
    script = tmp_path / "no_guard.py"
    script.write_text(
        "from sspp_fixtures._dask import dask_client\n"
        "from sspp_fixtures.errors import ClusterUnreachableError\n"
        "try:\n"
        "    with dask_client('local:1'):\n"
        "        pass\n"
        "except ClusterUnreachableError as exc:\n"
        "    print('ERROR', exc.exit_code, exc)\n"
    )
    result = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, timeout=120, check=False)
    assert "ERROR 3 could not start a local Dask cluster of 1 workers" in result.stdout
    assert "if __name__ == '__main__':" in result.stdout


def test_a_running_scheduler_is_used_and_left_running(client2: Client, small_scenario: Scenario) -> None:
    address = str(client2.scheduler_info()["address"])
    with dask_client(address) as remote:
        assert remote.scheduler_info()["address"] == address
        tasks = [task for task, _ in run_tasks(remote, small_scenario, failing, tasks=plan_tasks(small_scenario)[:2])]
        assert tasks == plan_tasks(small_scenario)[:2]
    assert client2.submit(sum, [1, 2], pure=False).result() == 3, "the cluster was closed with the client"
