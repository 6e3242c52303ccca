"""A load over several connections: fill a shadow schema in parallel, then swap it in (see the package doc)."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import psycopg
from psycopg import sql

from .._load_common import (
    LoadReport,
    ProgressCallback,
    bound_lock_waits,
    check_live_schema,
    connect_for_load,
    copy_format,
    expected_table_rows,
    explain_failure,
    explain_stall,
    load_pieces,
    relation_sizes,
    sync_sequences,
    timed_phase,
)
from .._stallwatch import StallWatch
from ..bulkgen import TABLE_ORDER, Piece
from ..dsn import connect
from ..errors import LoadError
from ..scenarios import Scenario
from ..schema import load_purpose, write_marker
from ._build import build_and_analyze
from ._fill import assign_tables, fill_shadow
from ._live import LiveTable, LiveView, read_live_tables, read_views, unsupported_features
from ._shadow import claim_shadow_schema, drop_shadow_schema, release_shadow_schema
from ._swap import swap_in
from ._workers import Crew, Member

__all__ = [
    "ShadowFill",
    "ShadowTarget",
    "UnsupportedTables",
    "default_connections",
    "expected_table_rows",
    "load_in_parallel",
]

#: Below this many rows a parallel load does not pay. Measured here (2 busy cores, reloads, min of 3, 1 vs 2
#: connections): smoke (2.7k rows) 0.53 vs 0.52 s, demo (137k) 2.35 vs 1.47 s, load-100k (254k) 3.68 vs 2.49 s.
#: Small scenarios keep one transaction: no gain, and 4 fewer connections per load (template builds under xdist).
_PARALLEL_FROM_ROWS = 100_000
_MAX_CONNECTIONS = len(TABLE_ORDER)  # a table is copied by one connection, so more would only build indexes
_APPLICATION = "sspp-fixtures parallel load"
#: A backend whose client was killed mid-statement (an index build, a lock wait in the swap) ends within a
#: second, freeing its locks, instead of when the statement is done.
_CHECK_CLIENT = "SET client_connection_check_interval = '1s'"


class UnsupportedTables(LoadError):
    """The live tables have what the swap would not rebuild (raised before any work: a default choice of
    connections falls back to one transaction)."""


@dataclass(frozen=True)
class ShadowTarget:
    """What a fill other than the load's own (the Dask workers') gets: the coordinator's connection (autocommit,
    its server calls under ``watch``), the claimed shadow schema, the live schema and the live tables."""

    conn: psycopg.Connection[Any]
    watch: StallWatch
    shadow: str
    live: str
    tables: list[LiveTable]


#: Fills the claimed shadow schema in place of the load's connections (it creates the shadow tables too).
ShadowFill = Callable[[ShadowTarget], None]


def default_connections(dsn: str, scenario: Scenario) -> int:
    """1 for a small scenario; else min(4, cores, what the server has room for: each connection brings a watch)."""
    if sum(expected_table_rows(scenario).values()) < _PARALLEL_FROM_ROWS:
        return 1
    with connect(dsn) as conn:
        row = conn.execute(
            "SELECT current_setting('max_connections')::int - current_setting('superuser_reserved_connections')::int"
            " - (SELECT count(*) FROM pg_catalog.pg_stat_activity WHERE backend_type = 'client backend')"
        ).fetchone()
    room = int(row[0]) if row else 0
    return max(1, min(_MAX_CONNECTIONS, os.cpu_count() or 1, (room - 4) // 2))


def load_in_parallel(
    dsn: str,
    scenario: Scenario,
    report: LoadReport,
    *,
    connections: int,
    batch_rows: int,
    stall_timeout_s: float,
    progress: ProgressCallback,
    fill: ShadowFill | None = None,
    row_cache: bool = True,
) -> None:
    """Load ``scenario`` over ``connections`` connections into a shadow schema, then swap it in atomically.

    The live tables are not touched until the swap, one short transaction; any failure before or during it
    leaves them as they were, and the shadow schema is dropped (or, after a kill, by the next load's sweep).
    ``fill`` replaces the copy over the load's own connections (the Dask path); they still build the indexes.
    ``row_cache``: read the rows from the row cache when it keeps them, and keep them there when not.
    """
    report.connections = max(1, min(_MAX_CONNECTIONS, connections))
    with (
        connect_for_load(dsn, application_name=_APPLICATION) as coordinator,
        StallWatch(dsn, coordinator, timeout_s=stall_timeout_s, idle_between=True) as watch,
        contextlib.ExitStack() as stack,
    ):
        load = _ParallelLoad(
            dsn, scenario, report, (coordinator, watch), stack, stall_timeout_s, progress, row_cache=row_cache
        )
        try:
            load.prepare()
            if fill is None:
                load.copy(batch_rows)
            else:
                load.fill_with(fill)
            load.index()
            load.swap()
        except psycopg.Error as exc:
            load.give_up()
            stall = next((w.stall for w in load.watches if w.stall is not None), None)
            if stall is not None:
                raise explain_stall(stall, report, dsn, load.phase) from None
            raise explain_failure(exc, report, dsn, coordinator, load.lock_wait) from None
        except BaseException:
            load.give_up()
            raise


class _ParallelLoad:
    """The state of one parallel load between its phases."""

    def __init__(
        self,
        dsn: str,
        scenario: Scenario,
        report: LoadReport,
        coordinator: tuple[psycopg.Connection[Any], StallWatch],
        stack: contextlib.ExitStack,
        stall_timeout_s: float,
        progress: ProgressCallback,
        *,
        row_cache: bool,
    ) -> None:
        self.dsn = dsn
        self.scenario = scenario
        self.report = report
        self.coordinator, self.watch = coordinator
        self.stack = stack
        self.stall_timeout_s = stall_timeout_s
        self.given = progress
        self.watches: list[StallWatch] = [self.watch]
        self.members: list[Member] = []
        self.crew = Crew(self.members)
        self.shadow: str | None = None
        self.live = ""
        self.tables: list[LiveTable] = []
        self.views: list[LiveView] = []
        self.phase = "prepare"
        self.lock_wait = "30s"
        self.wire = "copy"
        self.row_cache = row_cache
        self.coordinator.autocommit = True

    def progress(self, what: str, rows: int) -> None:
        if what.startswith("phase:"):
            self.phase = what.removeprefix("phase:")
        self.given(what, rows)

    def prepare(self) -> None:
        conn = self.coordinator
        with timed_phase(self.report, "prepare", self.progress), self.watch.on_server():
            conn.execute(_CHECK_CLIENT)
            check_live_schema(conn)
            row = conn.execute("SELECT current_schema()").fetchone()
            self.live = str(row[0]) if row else "public"
            problems = unsupported_features(conn, self.live)
            if problems:
                raise UnsupportedTables(
                    f"cannot load over several connections: {problems[0]}; nothing was loaded",
                    hint="load with --connections 1 (one transaction), which keeps such tables as they are",
                    database=self.report.database,
                )
            self.tables = read_live_tables(conn, self.live)
            self.wire = copy_format(conn)
            self.views = read_views(conn, self.live)
            self.shadow = claim_shadow_schema(conn, f"{self.scenario.name}, seed {self.scenario.seed}")
            for _ in range(self.report.connections):
                self.members.append(_member(self.stack, self.dsn, self.report.connections, self.stall_timeout_s))
                self.watches.append(self.members[-1].watch)

    def copy(self, batch_rows: int) -> None:
        assert self.shadow is not None
        report = self.report

        def sent(piece: Piece) -> None:
            report.rows[piece.table] += piece.rows
            report.bytes_sent += len(piece.data)
            self.progress(piece.table, piece.rows)

        with timed_phase(report, "copy", self.progress):
            pieces = load_pieces(self.scenario, self.wire, report, batch_rows=batch_rows, row_cache=self.row_cache)
            with contextlib.closing(pieces):
                fill_shadow(
                    self.crew,
                    pieces,
                    shadow=self.shadow,
                    live=self.live,
                    assigned=assign_tables(expected_table_rows(self.scenario), report.connections),
                    reloptions={t.name: t.reloptions for t in self.tables},
                    sent=sent,
                )

    def fill_with(self, fill: ShadowFill) -> None:
        assert self.shadow is not None
        with timed_phase(self.report, "copy", self.progress):
            fill(ShadowTarget(self.coordinator, self.watch, self.shadow, self.live, self.tables))

    def index(self) -> None:
        assert self.shadow is not None
        with timed_phase(self.report, "indexes", self.progress):
            for member in self.members:
                member.conn.autocommit = True
            with self.watch.on_server():
                sizes = relation_sizes(self.coordinator, self.shadow)
            build_and_analyze(
                self.crew,
                self.tables,
                shadow=self.shadow,
                live=self.live,
                sizes=sizes,
                parallel_workers=_parallel_workers(self.report.connections),
                notify=self.progress,
            )

    def swap(self) -> None:
        assert self.shadow is not None
        scenario = self.scenario
        conn = self.coordinator
        with timed_phase(self.report, "commit", self.progress), self.watch.on_server():
            conn.autocommit = False
            self.lock_wait = bound_lock_waits(conn)
            swap_in(
                conn,
                shadow=self.shadow,
                live=self.live,
                tables=self.tables,
                views=self.views,
                last_steps=[
                    ("sequences", _restart_sequences(self.tables)),
                    ("marker", lambda c: write_marker(c, purpose=load_purpose(scenario.name, scenario.seed))),
                ],
            )
            conn.commit()
            self.shadow = None

    def give_up(self) -> None:
        """Close the load's connections (the server rolls their work back) and drop the shadow schema, unless the
        server stalled: then nothing more is asked of it (the next load's sweep drops the schema)."""
        for member in self.members:
            with contextlib.suppress(Exception):
                member.conn.close()
        with contextlib.suppress(Exception):
            self.stack.close()
        shadow, conn = self.shadow, self.coordinator
        if shadow is None or any(w.stall is not None for w in self.watches):
            conn.close()
            return
        with contextlib.suppress(Exception), self.watch.on_server():
            if not conn.closed:
                conn.rollback()
                conn.autocommit = True
                drop_shadow_schema(conn, shadow)
                release_shadow_schema(conn, shadow)
                return
        with contextlib.suppress(Exception), connect(self.dsn, application_name=_APPLICATION) as other:
            drop_shadow_schema(other, shadow)


def _member(stack: contextlib.ExitStack, dsn: str, connections: int, stall_timeout_s: float) -> Member:
    conn = stack.enter_context(connect_for_load(dsn, application_name=_APPLICATION))
    conn.autocommit = True
    for statement in (
        "SET synchronous_commit = off",
        f"SET max_parallel_maintenance_workers = {_parallel_workers(connections)}",
        _CHECK_CLIENT,
    ):
        conn.execute(statement)
    conn.autocommit = False
    return Member(conn, stack.enter_context(StallWatch(dsn, conn, timeout_s=stall_timeout_s, idle_between=True)))


def _parallel_workers(connections: int) -> int:
    """Parallel workers per index build: the connections already build side by side; on few cores, more workers
    per build only compete."""
    return max(0, min(4, os.cpu_count() or 1) // connections - 1)


def _restart_sequences(tables: list[LiveTable]) -> Callable[[psycopg.Connection[Any]], None]:
    """Move each owned sequence past the loaded ids, as the single-transaction load does, but rolled back with
    the swap: ``setval`` alone is not transactional, a sequence restarted in the transaction is (new storage)."""

    def step(conn: psycopg.Connection[Any]) -> None:
        for table in tables:
            for sequence, _column in table.sequences:
                conn.execute(sql.SQL("ALTER SEQUENCE {} RESTART").format(sql.SQL(sequence)))
        sync_sequences(conn)

    return step
