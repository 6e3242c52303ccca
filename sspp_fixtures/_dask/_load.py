"""A parallel load whose COPY runs on a Dask cluster: each worker copies its chunks straight into the shadow schema.

The coordinator (this process) claims the shadow schema and creates its tables *committed*, so the workers'
connections see them; a committed table cannot take ``COPY ... FREEZE`` (that needs the table created in the
COPY's own transaction), so these rows are written unfrozen. Each chunk task then makes its batch and, on its
own connection and in one transaction, claims the batch's chunks in the shadow schema's ledger (one row per
(table, chunk), unique) and COPYs the rows. A task Dask runs again after its worker died is therefore safe
either way: if the first attempt committed, the claim finds the chunks taken and the retry copies nothing (no
duplicate); if it died before its commit, the server rolled its claim back with its rows (no loss). Once every
task is done the coordinator checks that the ledger holds every planned chunk, drops it, and the load goes on
with the shadow load's own steps: index builds, ANALYZE and the swap.

The workers receive the DSN and connect themselves: a password in it travels with the tasks (never printed:
masked). A DSN without one leaves the password to each worker's own ``PGPASSWORD`` or ``.pgpass`` (libpq).
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
import socket
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import psycopg
from psycopg import sql

from .._load_common import LoadReport, ProgressCallback, connect_for_load, timed_phase
from .._shadow_load import ShadowTarget, UnsupportedTables, create_shadow_table, load_in_parallel
from ..bulkgen import chunk_count, copy_statement
from ..bulkgen._stream import Task, plan_tasks
from ..dsn import mask_dsn
from ..errors import LoadError
from ..scenarios import Scenario
from ._cluster import DaskTarget, dask_client, parse_dask, run_tasks
from ._worker import task_pieces

if TYPE_CHECKING:  # dask is an optional dependency (the ``dask`` extra)
    from distributed import Client

__all__ = ["LEDGER", "Copied", "copy_task", "create_ledger", "ledger_keys", "load_on_dask"]

#: The ledger table in the shadow schema: which chunks are in. Dropped before the swap.
LEDGER = "sspp_load_ledger"
#: The workers' connections say what they are (and which process on which host: a backend leads to its worker).
_APPLICATION = "sspp-fixtures dask load"
_EVENT_TABLES = ("events", "signals", "sales_signals")


@dataclass(frozen=True)
class Copied:
    """What one chunk task copied (``again``: an earlier attempt had committed it, so this one copied nothing)."""

    rows: dict[str, int]
    bytes: int
    again: bool


def ledger_keys(scenario: Scenario, task: Task) -> list[tuple[str, int]]:
    """The (table, chunk) pairs a task fills. The stories are one more chunk of each table, after the generated
    ones (as :mod:`~sspp_fixtures.bulkgen` numbers them)."""
    if task.kind == "customers":
        return [("customers", k) for k in range(task.first, task.stop)]
    if task.kind == "events":
        return [(table, k) for table in _EVENT_TABLES for k in range(task.first, task.stop)]
    stories = chunk_count(scenario.events)
    return [("customers", chunk_count(scenario.customers)), *((table, stories) for table in _EVENT_TABLES)]


def create_ledger(conn: psycopg.Connection[Any], shadow: str) -> None:
    """The ledger of the shadow schema ``shadow`` (in ``conn``'s transaction)."""
    conn.execute(
        sql.SQL(
            "CREATE TABLE {} (table_name text NOT NULL, chunk integer NOT NULL, PRIMARY KEY (table_name, chunk))"
        ).format(sql.Identifier(shadow, LEDGER))
    )


def copy_task(scenario: Scenario, task: Task, dsn: str, shadow: str) -> Copied:
    """On a worker: make ``task``'s batch and COPY it into ``shadow`` with its ledger rows, in one transaction.

    The claim comes before the COPY: a second attempt running beside the first waits on the ledger's key until
    the first ends, then copies only if the first rolled back.
    """
    pieces = task_pieces(scenario, task)
    keys = ledger_keys(scenario, task)
    rows = {piece.table: piece.rows for piece in pieces}
    size = sum(len(piece.data) for piece in pieces)
    application = f"{_APPLICATION} {os.getpid()}@{socket.gethostname()}"
    with connect_for_load(dsn, application_name=application[:63]) as conn:
        conn.execute("SET LOCAL synchronous_commit = off")  # the coordinator's later commits flush it anyway
        conn.execute(sql.SQL("SET LOCAL search_path = {}").format(sql.Identifier(shadow)))
        claimed = conn.execute(
            sql.SQL(
                "INSERT INTO {} (table_name, chunk) SELECT * FROM unnest(%s::text[], %s::integer[]) "
                "ON CONFLICT DO NOTHING RETURNING 1"
            ).format(sql.Identifier(LEDGER)),
            ([table for table, _ in keys], [chunk for _, chunk in keys]),
        ).fetchall()
        if not claimed:
            conn.rollback()
            return Copied(rows, size, again=True)
        if len(claimed) != len(keys):
            raise LoadError(
                f"chunk task {task.kind} {task.first}-{task.stop}: {len(keys) - len(claimed)} of its {len(keys)} "
                f"chunks were already in shadow schema {shadow}; nothing was loaded",
                hint="this is a bug (two loads' tasks in one shadow schema?): please report it",
                database=conn.info.dbname,
            )
        with conn.cursor() as cursor:
            for piece in pieces:
                if piece.rows:
                    with cursor.copy(copy_statement(piece.table, binary=piece.binary)) as copy:
                        copy.write(piece.data)
        conn.commit()
    return Copied(rows, size, again=False)


@dataclass
class _DaskFill:
    """The copy phase of one load on a cluster (a :data:`~sspp_fixtures._shadow_load.ShadowFill`)."""

    client: Client
    dsn: str
    scenario: Scenario
    report: LoadReport
    batch_rows: int
    progress: ProgressCallback

    def __call__(self, target: ShadowTarget) -> None:
        conn = target.conn
        with target.watch.on_server(), conn.transaction():
            for live_table in target.tables:
                create_shadow_table(conn, target.shadow, target.live, live_table.name, live_table.reloptions)
            create_ledger(conn, target.shadow)
        tasks = plan_tasks(self.scenario, self.batch_rows)

        def done(_task: Task, copied: Copied) -> None:
            for table, rows in copied.rows.items():
                if rows:
                    self.progress(table, rows)

        for _task, copied in run_tasks(
            self.client, self.scenario, copy_task, self.dsn, target.shadow, tasks=tasks, progress=done
        ):
            for table, rows in copied.rows.items():
                self.report.rows[table] += rows
            self.report.bytes_sent += copied.bytes
        with target.watch.on_server():
            self._check_ledger(target, tasks)

    def _check_ledger(self, target: ShadowTarget, tasks: list[Task]) -> None:
        """Every planned chunk is in, once (the key sees to that), and nothing else; then the ledger goes."""
        conn = target.conn
        ledger = sql.Identifier(target.shadow, LEDGER)
        found = set(conn.execute(sql.SQL("SELECT table_name, chunk FROM {}").format(ledger)).fetchall())
        planned = {key for task in tasks for key in ledger_keys(self.scenario, task)}
        if found != planned:
            missing = sorted(planned - found)
            extra = sorted(found - planned)
            raise LoadError(
                f"the Dask workers' chunks do not match the plan ({len(missing)} missing, e.g. {missing[:3]}; "
                f"{len(extra)} unplanned, e.g. {extra[:3]}); the live tables are as they were",
                hint="run the load again; if it happens again, please report it",
                database=self.report.database,
            )
        conn.execute(sql.SQL("DROP TABLE {}").format(ledger))


@contextmanager
def _client(dask: DaskTarget | Client, report: LoadReport, progress: ProgressCallback) -> Iterator[Client]:
    """A client of ``dask`` (a local cluster started here is closed on exit); its start is the "cluster" phase."""
    if not isinstance(dask, DaskTarget):
        report.dask = mask_dsn(str(dask.scheduler_info()["address"]))
        yield dask
        return
    report.dask = str(dask)
    with contextlib.ExitStack() as stack:
        with timed_phase(report, "cluster", progress):
            client = stack.enter_context(dask_client(dask))
        yield client


def load_on_dask(
    dsn: str,
    scenario: Scenario,
    report: LoadReport,
    *,
    dask: str | DaskTarget | Client,
    connections: int,
    batch_rows: int,
    stall_timeout_s: float,
    progress: ProgressCallback,
) -> None:
    """Load ``scenario`` through a shadow schema filled by the chunk tasks on the Dask cluster ``dask`` (a
    ``--dask`` value, or a client of a running cluster); ``connections`` of this process build the indexes.

    As atomic as :func:`~sspp_fixtures._shadow_load.load_in_parallel`: the live tables change only in the swap.
    """
    target = parse_dask(dask) if isinstance(dask, str) else dask
    with _client(target, report, progress) as client:
        try:
            load_in_parallel(
                dsn,
                scenario,
                report,
                connections=connections,
                batch_rows=batch_rows,
                stall_timeout_s=stall_timeout_s,
                progress=progress,
                fill=_DaskFill(client, dsn, scenario, report, batch_rows, progress),
            )
        except UnsupportedTables as exc:  # a cluster always fills a shadow schema: only a plain load keeps them
            raise dataclasses.replace(
                exc, hint="load without --dask, with --connections 1 (one transaction), which keeps such tables"
            ) from None
