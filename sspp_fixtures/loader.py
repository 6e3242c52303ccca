"""Loading generated rows into PostgreSQL with COPY, atomically: a load lands whole or not at all.

With ``connections=1`` the load is one transaction (below). With more, a shadow schema is filled over that many
connections and swapped in at the end (:mod:`sspp_fixtures._shadow_load`); the live tables are untouched until
that swap, one short transaction.

The target is checked first (empty: initialized; marked: used; unmarked with data: refused) and its live
columns compared with the model, so a migration the model does not know stops the load before any COPY.
Inside the transaction the tables are emptied, their indexes dropped, the rows streamed with one COPY per
batch while worker processes generate the next batches, the indexes rebuilt and the tables analyzed.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import psycopg
from psycopg import sql

from ._kept_rows import row_cache_budget
from ._load_common import (
    LOCK_TIMEOUT,
    LoadReport,
    ProgressCallback,
    abandon,
    bound_lock_waits,
    check_live_schema,
    connect_for_load,
    copy_format,
    copy_waits_noted,
    explain_failure,
    explain_stall,
    index_build_memory,
    load_pieces,
    relation_sizes,
    sync_sequences,
    tcp_bound_s,
    timed_phase,
)
from ._shadow_load import UnsupportedTables, default_connections, load_in_parallel, sweep_shadow_schemas
from ._stallwatch import DEFAULT_STALL_TIMEOUT_S, StallWatch
from .bulkgen import DEFAULT_BATCH_ROWS, TABLE_ORDER, Piece, copy_statement, default_workers
from .dsn import database_name
from .scenarios import Scenario
from .schema import init_database, load_purpose, write_marker

if TYPE_CHECKING:  # dask is an optional dependency (the ``dask`` extra)
    from distributed import Client

    from ._dask import DaskTarget

__all__ = [
    "LoadReport",
    "ProgressCallback",
    "check_live_schema",
    "load_scenario_into",
]


@dataclass(frozen=True)
class _SavedIndex:
    table: str
    name: str
    definition: str
    constraint: bool


def _drop_indexes(conn: psycopg.Connection[Any]) -> list[_SavedIndex]:
    """Drop every index and primary/unique key of the tables, returning what rebuilds them."""
    saved: list[_SavedIndex] = []
    rows = conn.execute(
        """
        SELECT t.relname, i.relname, pg_catalog.pg_get_indexdef(i.oid), c.conname,
               pg_catalog.pg_get_constraintdef(c.oid)
        FROM pg_catalog.pg_index x
        JOIN pg_catalog.pg_class i ON i.oid = x.indexrelid
        JOIN pg_catalog.pg_class t ON t.oid = x.indrelid
        LEFT JOIN pg_catalog.pg_constraint c ON c.conindid = i.oid AND c.contype IN ('p', 'u', 'x')
        WHERE t.relnamespace = current_schema()::regnamespace AND t.relname = ANY(%s)
        ORDER BY c.conname IS NULL, t.relname, i.relname
        """,
        (list(TABLE_ORDER),),
    ).fetchall()
    for table, index, index_def, constraint, constraint_def in rows:
        if constraint is not None:
            saved.append(_SavedIndex(table, constraint, constraint_def, True))
            conn.execute(
                sql.SQL("ALTER TABLE {} DROP CONSTRAINT {}").format(sql.Identifier(table), sql.Identifier(constraint))
            )
        else:
            saved.append(_SavedIndex(table, index, index_def, False))
            conn.execute(sql.SQL("DROP INDEX {}").format(sql.Identifier(index)))
    return saved


def _rebuild_indexes(conn: psycopg.Connection[Any], saved: list[_SavedIndex], progress: ProgressCallback) -> None:
    row = conn.execute("SELECT current_schema(), current_setting('max_parallel_maintenance_workers')::int").fetchone()
    assert row is not None
    sizes = relation_sizes(conn, str(row[0]))
    for index in saved:
        progress(f"index:{index.name}", 0)
        memory = index_build_memory(
            sizes.get(index.table, 0), gin=" USING gin " in index.definition, parallel_workers=int(row[1])
        )
        conn.execute(sql.SQL("SET LOCAL maintenance_work_mem = {}").format(sql.Literal(memory)))
        if index.constraint:
            conn.execute(
                sql.SQL("ALTER TABLE {} ADD CONSTRAINT {} ").format(
                    sql.Identifier(index.table), sql.Identifier(index.name)
                )
                + sql.SQL(index.definition)  # from pg_get_constraintdef, not user input
            )
        else:
            conn.execute(index.definition.encode())


def _send(
    conn: psycopg.Connection[Any], pieces: Iterable[Piece], report: LoadReport, progress: ProgressCallback
) -> None:
    bound_s = tcp_bound_s(conn)
    with conn.cursor() as cursor:
        for piece in pieces:
            if not piece.rows:
                continue
            with copy_waits_noted(bound_s), cursor.copy(copy_statement(piece.table, binary=piece.binary)) as copy:
                copy.write(piece.data)
            report.rows[piece.table] += piece.rows
            report.bytes_sent += len(piece.data)
            progress(piece.table, piece.rows)


def _loaded_in_parallel(
    dsn: str,
    scenario: Scenario,
    report: LoadReport,
    connections: int,
    batch_rows: int,
    stall_timeout_s: float,
    progress: ProgressCallback,
    *,
    asked: bool,
    dask: str | DaskTarget | Client | None,
    row_cache: bool,
) -> bool:
    """Load over ``connections`` connections (the rows copied by the Dask cluster ``dask`` if given); ``False``
    when the tables have what the swap would not rebuild and the count was the default's choice without Dask
    (one transaction keeps such tables as they are)."""
    options: dict[str, Any] = {
        "connections": connections,
        "batch_rows": batch_rows,
        "stall_timeout_s": stall_timeout_s,
        "progress": progress,
    }
    try:
        if dask is None:
            load_in_parallel(dsn, scenario, report, row_cache=row_cache, **options)
        else:
            from ._dask._load import load_on_dask

            report.workers = 0  # none here: the cluster generates
            load_on_dask(dsn, scenario, report, dask=dask, **options)
    except UnsupportedTables:
        if asked or dask is not None:
            raise
        report.connections = 1
        return False
    return True


def load_scenario_into(
    dsn: str,
    scenario: Scenario,
    *,
    workers: int | None = None,
    batch_rows: int = DEFAULT_BATCH_ROWS,
    force: bool = False,
    wait_s: float = 0.0,
    progress: ProgressCallback | None = None,
    stall_timeout_s: float = DEFAULT_STALL_TIMEOUT_S,
    connections: int | None = None,
    dask: str | DaskTarget | Client | None = None,
    row_cache: bool = True,
) -> LoadReport:
    """Load ``scenario``'s data into the database at ``dsn``, replacing what its SSPP tables held.

    ``connections``: 1 loads in one transaction; more fill a shadow schema over that many connections and swap
    it in (see :mod:`sspp_fixtures._shadow_load`); default: 1 for small scenarios (or tables the swap would not
    rebuild, such as a foreign key), else as many as cores and the server allow (at most 4). Either way the load
    is atomic, and shadow schemas left by a killed parallel load are swept first.

    ``dask`` (``local:N``, a scheduler's address, or a client): the chunk tasks run on that Dask cluster, whose
    workers COPY straight into the shadow schema (see :mod:`sspp_fixtures._dask._load`); this process's
    ``connections`` then build the indexes and swap. The data is the same as without it.

    ``row_cache``: a scenario of 100k rows or more is read from the row cache when an earlier load kept it there
    (same scenario, seed and code; see :mod:`sspp_fixtures.bulkgen._row_cache`), else generated and kept for the
    next load; ``False`` generates and keeps nothing. The Dask path always generates on the cluster.

    A server that shows no sign of work for ``stall_timeout_s`` seconds (frozen, paused) ends the load with a
    :class:`LoadError` instead of a wait without end (see :mod:`sspp_fixtures._stallwatch`).
    """
    if row_cache:
        row_cache_budget()  # a bad budget is said before any work
    given = progress or (lambda _table, _rows: None)
    report = LoadReport(
        database=database_name(dsn),
        scenario=scenario.name,
        seed=scenario.seed,
        fingerprint=scenario.fingerprint(),
        workers=default_workers(scenario) if workers is None else max(0, workers),
    )
    with timed_phase(report, "prepare", given):
        # first, or a killed parallel load's tables in their shadow schema would look like foreign data
        sweep_shadow_schemas(dsn, wait_s=wait_s)
        # the marker changes only at the commit
        init_database(dsn, force=force, mark=False, wait_s=wait_s, command="load")
        count = default_connections(dsn, scenario) if connections is None else max(1, connections)
    if (count > 1 or dask is not None) and _loaded_in_parallel(
        dsn,
        scenario,
        report,
        count,
        batch_rows,
        stall_timeout_s,
        given,
        asked=connections is not None,
        dask=dask,
        row_cache=row_cache,
    ):
        return report
    lock_wait = LOCK_TIMEOUT
    phase = "prepare"
    with connect_for_load(dsn) as conn, StallWatch(dsn, conn, timeout_s=stall_timeout_s) as watch:

        def notify(what: str, rows: int) -> None:
            nonlocal phase
            watch.touch()
            if what.startswith("phase:"):
                phase = what.removeprefix("phase:")
            given(what, rows)

        try:
            with timed_phase(report, "prepare", notify):
                check_live_schema(conn)
                lock_wait = bound_lock_waits(conn)
                conn.execute("SET LOCAL synchronous_commit = off")
                # Parallel B-tree builds (measured: 4.6 s -> 2.7 s for the signals indexes of load-1m).
                conn.execute(f"SET LOCAL max_parallel_maintenance_workers = {min(4, os.cpu_count() or 1)}")
                conn.execute(sql.SQL("TRUNCATE {}").format(sql.SQL(", ").join(map(sql.Identifier, TABLE_ORDER))))
                saved = _drop_indexes(conn)
                wire = copy_format(conn)
            with timed_phase(report, "copy", notify):
                pieces = load_pieces(scenario, wire, report, batch_rows=batch_rows, row_cache=row_cache)
                with contextlib.closing(pieces):
                    _send(conn, watch.client_work(pieces), report, notify)
            with timed_phase(report, "indexes", notify):
                _rebuild_indexes(conn, saved, notify)
                sync_sequences(conn)
            with timed_phase(report, "analyze", notify):
                conn.execute(sql.SQL("ANALYZE {}").format(sql.SQL(", ").join(map(sql.Identifier, TABLE_ORDER))))
            with timed_phase(report, "commit", notify):
                write_marker(conn, purpose=load_purpose(scenario.name, scenario.seed))
                conn.commit()
        except psycopg.Error as exc:
            abandon(conn)
            if watch.stall is not None:
                raise explain_stall(watch.stall, report, dsn, phase) from None
            raise explain_failure(exc, report, dsn, conn, lock_wait) from None
        except BaseException:
            abandon(conn)
            raise
    return report
