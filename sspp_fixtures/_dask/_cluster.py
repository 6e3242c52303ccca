"""A Dask cluster for the chunk tasks: ``--dask local:N`` or ``--dask tcp://host:port``, and the tasks run on it.

A batch of chunks depends only on (scenario, seed, table, chunks), so consecutive batches of one table run as one
pure Dask task whose key says exactly which: a task Dask retries after a failure, or runs again after its worker
died, makes the same data, and the results come back in the plan's order whatever the cluster's size. Progress
comes from the cluster's task stream: the caller hears of each batch as its Dask task completes.
"""

from __future__ import annotations

import hashlib
import logging
import re
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeVar

from .._defaults import DEFAULT_BATCH_ROWS
from .._dsnmask import MASK, mask_dsn
from ..bulkgen._stream import Task, plan_tasks
from ..errors import ClusterError, ClusterUnreachableError, SsppError, UsageError
from ..scenarios import Scenario

if TYPE_CHECKING:  # dask is an optional dependency (the ``dask`` extra)
    from distributed import Client, Future

__all__ = [
    "DEFAULT_RETRIES",
    "INSTALL_HINT",
    "DaskTarget",
    "dask_client",
    "group_tasks",
    "parse_dask",
    "run_batches",
    "run_tasks",
    "task_key",
]

R = TypeVar("R")

INSTALL_HINT = "pip install 'sspp-fixtures[dask]'"
#: Times Dask runs a task again after it raised (a worker that died is handled by the scheduler's own
#: ``allowed-failures``: the task moves to another worker).
DEFAULT_RETRIES = 3
#: Seconds to wait for a scheduler to answer before saying it is unreachable.
DEFAULT_CONNECT_TIMEOUT_S = 10.0

_LOCAL = re.compile(r"local:(\d+)")
_ADDRESS = re.compile(r"[a-z][a-z0-9+.-]*://\S+")
_MAX_LOCAL_WORKERS = 256
#: Planned rows a Dask task covers at least (consecutive batches of one table grouped): the scheduler and each
#: worker spend a few ms of CPU per Dask task, on the cores that make the data. Measured here with
#: :data:`_LOCAL_CONFIG` (``benchmarks/bench_dask.py``, load-1m at scale 4, 10.2M rows, one-chunk batches): the
#: client's process (scheduler, nannies) 0.9 s of CPU instead of 3.1 s, and a local:1 worker 437k rows per CPU
#: second instead of 371k.
_DASK_TASK_ROWS = 40_000
#: Dask tasks per worker thread at least, so that the last ones still spread over the cluster.
_TASKS_PER_THREAD = 8
#: What a local cluster's processes do not do: sample every thread's stack every 10 ms for the dashboard's
#: profile page, wake every 20 ms to see whether the event loop was blocked, read the host's counters every
#: 500 ms. Measured here on load-1m, local:1, one-chunk Dask tasks: a worker's event loop took 10-12 % of its
#: CPU, the profiler a fifth of that; each wake-up also takes the GIL from the thread making the rows.
_LOCAL_CONFIG = {
    "distributed.worker.profile.enabled": False,
    "distributed.admin.tick.interval": "1s",
    "distributed.admin.system-monitor.interval": "2s",
}


@dataclass(frozen=True)
class DaskTarget:
    """What ``--dask`` names: a local cluster of ``workers`` processes, or a running scheduler's ``address``."""

    workers: int | None = None
    address: str | None = None

    def __str__(self) -> str:
        """The target as given, credentials masked: safe for messages and logs."""
        return f"local:{self.workers}" if self.workers is not None else mask_dsn(self.address or "")


def parse_dask(spec: str) -> DaskTarget:
    """Parse a ``--dask`` value: ``local:N`` (a :class:`distributed.LocalCluster` of N worker processes, one thread
    each) or a scheduler address (``tcp://host:8786``, ``tls://...``, any scheme distributed knows)."""
    text = spec.strip()
    local = _LOCAL.fullmatch(text)
    if local:
        workers = int(local.group(1))
        if not 1 <= workers <= _MAX_LOCAL_WORKERS:
            raise UsageError(
                f"--dask {text}: a local cluster needs 1 to {_MAX_LOCAL_WORKERS} workers",
                hint="give local:N with N the worker processes to start, e.g. local:2",
                field="--dask",
                value=text,
            )
        return DaskTarget(workers=workers)
    if _ADDRESS.fullmatch(text):
        return DaskTarget(address=text)
    shown = _mask(text)
    raise UsageError(
        f"--dask {shown!r} is neither local:N nor a scheduler address",
        hint="give local:2 for a cluster on this machine, or the scheduler's address, e.g. tcp://scheduler:8786",
        field="--dask",
        value=shown,
    )


def _mask(text: str) -> str:
    """``text`` with any credentials hidden, also when it is not a URL (``user:password@host``)."""
    if _ADDRESS.fullmatch(text) or "@" not in text:
        return mask_dsn(text)
    return f"{MASK}@{text.rsplit('@', 1)[1]}"


def _distributed() -> Any:
    try:
        import distributed
    except ImportError:
        raise ClusterError("--dask needs dask.distributed, which is not installed", hint=INSTALL_HINT) from None
    return distributed


@contextmanager
def dask_client(spec: str | DaskTarget, *, connect_timeout_s: float = DEFAULT_CONNECT_TIMEOUT_S) -> Iterator[Client]:
    """A :class:`distributed.Client` for ``spec`` (see :func:`parse_dask`); a local cluster it starts is closed on
    exit, a remote one is only disconnected from."""
    target = spec if isinstance(spec, DaskTarget) else parse_dask(spec)
    distributed = _distributed()  # imported before the configuration is changed, so that its own stays loaded
    if target.workers is not None:
        import dask

        try:
            # Quiet: a worker's failed heartbeat while the cluster shuts down on a busy machine would print a
            # traceback; a task that fails for good reaches the caller as a ClusterError all the same. The nannies
            # hand the configuration on to the worker processes they start.
            with dask.config.set(_LOCAL_CONFIG):
                cluster = distributed.LocalCluster(
                    n_workers=target.workers,
                    threads_per_worker=1,
                    processes=True,
                    dashboard_address=":0",
                    silence_logs=logging.CRITICAL,
                )
        except (OSError, TimeoutError, RuntimeError) as exc:
            raise ClusterUnreachableError(
                f"could not start a local Dask cluster of {target.workers} workers: {type(exc).__name__}: {exc}",
                hint="check free memory and ports, or give fewer workers; in a Python script, start it under "
                "if __name__ == '__main__': (its worker processes import the script again)",
                address=str(target),
            ) from None
        try:
            with distributed.Client(cluster) as client:
                yield client
        finally:
            cluster.close()
        return
    try:
        client = distributed.Client(target.address, timeout=connect_timeout_s)
    except (OSError, TimeoutError) as exc:
        raise ClusterUnreachableError(
            f"the Dask scheduler at {target} did not answer within {connect_timeout_s:g}s ({type(exc).__name__})",
            hint="check the address and port (default 8786), that the scheduler runs and that this machine may "
            "reach it; or use --dask local:N for a cluster on this machine",
            address=str(target),
        ) from None
    try:
        yield client
    finally:
        client.close()


def task_key(task: Task, token: str) -> str:
    """The Dask key of a chunk task: what it makes (``token``: the scenario with its seed, and the work) and which
    chunks. Equal keys mean equal results, so Dask may run a task again, or reuse a result, safely."""
    return f"sspp-{task.kind}-{token}-{task.first}-{task.stop}"


def _group_key(group: Sequence[Task], token: str) -> str:
    """:func:`task_key` of a group of one; a larger group's key names every batch's first chunk and the last stop."""
    bounds = [task.first for task in group] + [group[-1].stop]
    return f"sspp-{group[0].kind}-{token}-{'-'.join(map(str, bounds))}"


def group_tasks(tasks: Sequence[Task], size: int) -> list[list[Task]]:
    """``tasks`` in their order, cut into runs of at most ``size`` consecutive tasks of one kind."""
    groups: list[list[Task]] = []
    for task in tasks:
        if groups and len(groups[-1]) < size and groups[-1][-1].kind == task.kind:
            groups[-1].append(task)
        else:
            groups.append([task])
    return groups


def run_batches(work: Callable[..., R], scenario: Scenario, tasks: Sequence[Task], *args: object) -> list[R]:
    """On a worker: ``work(scenario, task, *args)`` for each of ``tasks`` in turn, as one Dask task."""
    return [work(scenario, task, *args) for task in tasks]


def _group_size(client: Client, planned: Sequence[Task], batch_rows: int, window: int) -> int:
    """Batches per Dask task: enough for :data:`_DASK_TASK_ROWS`, few enough for :data:`_TASKS_PER_THREAD` Dask
    tasks per worker thread, and never more than the window of batches in flight."""
    threads = max(1, sum(client.nthreads().values()))  # type: ignore[no-untyped-call]
    wanted = max(1, _DASK_TASK_ROWS // max(1, batch_rows))
    spread = max(1, len(planned) // (threads * _TASKS_PER_THREAD))
    return max(1, min(wanted, spread, window))


def _token(scenario: Scenario, work: Callable[..., object], args: Sequence[object]) -> str:
    identity = "\0".join([scenario.fingerprint(), f"{work.__module__}.{work.__qualname__}", *map(repr, args)])
    return hashlib.sha256(identity.encode()).hexdigest()[:16]


def run_tasks(
    client: Client,
    scenario: Scenario,
    work: Callable[..., R],
    *args: object,
    tasks: Sequence[Task] | None = None,
    batch_rows: int = DEFAULT_BATCH_ROWS,
    retries: int = DEFAULT_RETRIES,
    max_in_flight: int | None = None,
    group: int | None = None,
    progress: Callable[[Task, R], None] | None = None,
) -> Iterator[tuple[Task, R]]:
    """Run ``work(scenario, task, *args)`` on the cluster for each chunk task; yield ``(task, result)`` in the
    plan's order (:func:`~sspp_fixtures.bulkgen._stream.plan_tasks`), whatever order they complete in.

    ``work`` must be a module-level function the workers can import. Up to ``group`` consecutive tasks of one
    table run in turn as one Dask task (default: see :func:`_group_size`; each still runs on its own, as
    ``work(scenario, task, *args)``). ``progress(task, result)`` is called for each task as its Dask task
    completes (the task stream). At most ``max_in_flight`` tasks are submitted but not yet yielded (default:
    all), which bounds the memory results held back for ordering take. A Dask task that raises is retried
    ``retries`` times, all its chunk tasks again; one that still fails raises its error here (a
    :class:`ClusterError` unless it is an :class:`SsppError`). Stopping the iteration cancels the tasks not yet
    done.
    """
    distributed = _distributed()
    planned = list(plan_tasks(scenario, batch_rows) if tasks is None else tasks)
    window = len(planned) if max_in_flight is None else max(1, max_in_flight)
    size = _group_size(client, planned, batch_rows, window) if group is None else max(1, min(group, window))
    groups = group_tasks(planned, size)
    token = _token(scenario, work, args)
    index_of: dict[object, int] = {}
    futures: dict[int, Future[list[R]]] = {}
    done: dict[int, list[R]] = {}
    completed = distributed.as_completed()
    submitted = next_out = 0  # groups
    in_flight = 0  # chunk tasks submitted and not yet yielded

    def submit_more() -> None:
        nonlocal submitted, in_flight
        while submitted < len(groups) and (in_flight == 0 or in_flight + len(groups[submitted]) <= window):
            batches = groups[submitted]
            future = client.submit(
                run_batches, work, scenario, batches, *args, key=_group_key(batches, token), retries=retries,
                pure=True,
            )  # fmt: skip
            index_of[future.key] = submitted
            futures[submitted] = future
            completed.add(future)
            submitted += 1
            in_flight += len(batches)

    try:
        submit_more()
        while next_out < len(groups):
            if next_out not in done:
                future = next(completed)
                index = index_of[future.key]
                results = _result(future, groups[index], client)
                done[index] = results
                if progress is not None:
                    for task, result in zip(groups[index], results, strict=True):
                        progress(task, result)
                continue
            results = done.pop(next_out)
            del futures[next_out]
            for task, result in zip(groups[next_out], results, strict=True):
                yield task, result
                in_flight -= 1
            next_out += 1
            submit_more()
    finally:
        if futures:
            client.cancel(list(futures.values()))  # type: ignore[no-untyped-call]


def _result(future: Future[list[R]], group: Sequence[Task], client: Client) -> list[R]:
    try:
        return future.result()
    except SsppError:
        raise
    except Exception as exc:
        first, last = group[0], group[-1]
        name = f"{first.kind} {first.first}-{last.stop}" if first.kind != "stories" else "stories"
        address = mask_dsn(str(getattr(client.scheduler, "address", "")))
        raise ClusterError(
            f"chunk task {name} failed on the Dask cluster at {address}: {type(exc).__name__}: {exc}",
            hint="see the workers' logs; a worker that keeps dying may lack memory (give it more, or lower "
            "--batch-rows)",
            address=address,
            task=name,
        ) from None
