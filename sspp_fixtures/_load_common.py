"""What both ways of loading share (one transaction in :mod:`sspp_fixtures.loader`, a shadow schema swapped in by
:mod:`sspp_fixtures._shadow_load`): the report and its timed phases, the load's connections with their network
and lock waits bounded, and errors that say what happened, where, and what to do.
"""

from __future__ import annotations

import contextlib
import math
import os
import socket
import time
from collections.abc import Callable, Generator, Iterator
from dataclasses import dataclass, field
from typing import Any

import psycopg
from psycopg import sql
from psycopg.conninfo import conninfo_to_dict

from ._stallwatch import Stall
from .bulkgen import BINARY_LAYOUTS, BINARY_TYPES, TABLE_ORDER, TABLES, Piece
from .bulkgen._row_cache import scenario_rows
from .dsn import connect, mask_dsn
from .errors import LoadError
from .scenarios import Scenario

__all__ = [
    "LOCK_TIMEOUT",
    "LoadReport",
    "ProgressCallback",
    "abandon",
    "bound_lock_waits",
    "check_live_schema",
    "connect_for_load",
    "copy_format",
    "copy_waits_noted",
    "expected_table_rows",
    "explain_failure",
    "explain_stall",
    "index_build_memory",
    "load_pieces",
    "relation_sizes",
    "sync_sequences",
    "tcp_bound_s",
    "timed_phase",
]

#: Called with (table, rows just sent), with ("phase:<name>", 0) when a phase starts, and with
#: ("index:<name>", 0) before each index is built.
ProgressCallback = Callable[[str, int], None]


LOCK_TIMEOUT = "30s"

#: What one sorted run costs a merge in PostgreSQL 15's tuplesort: 32 blocks of read buffer and one of overhead.
_MERGE_RUN_BYTES = 33 * 8192
_INDEX_MEMORY_MIN = 16 << 20
_INDEX_MEMORY_MAX = 256 << 20
_PARALLEL_PROCESS_MIN = 32 << 20


def index_build_memory(table_bytes: int, *, gin: bool = False, parallel_workers: int = 0) -> str:
    """``maintenance_work_mem`` for building one index on a table of ``table_bytes``: for each process of the build,
    the least memory whose sorted runs are still merged in one pass, at least 16 MB, at most 256 MB.

    More is slower, not faster: measured here (PostgreSQL 15, one build at a time, load-1m's tables), B-tree and
    GIN builds take 25-35 % less time with 4-16 MB than with 256 MB (runs that stay in the CPU caches); on a 4.4M
    row table 16 MB beat both 4 MB (a merge of many runs) and 256 MB. A B-tree build with ``parallel_workers``
    shares the memory among its processes, and PostgreSQL plans a worker only where each process gets 32 MB;
    a GIN build is never parallel (PostgreSQL 15).
    """
    each = int(min(_INDEX_MEMORY_MAX, max(_INDEX_MEMORY_MIN, 2 * math.sqrt(max(0, table_bytes) * _MERGE_RUN_BYTES))))
    if not gin and parallel_workers > 0:
        each = max(each, _PARALLEL_PROCESS_MIN) * (1 + parallel_workers)
    return f"{each >> 20}MB"


def relation_sizes(conn: psycopg.Connection[Any], schema: str) -> dict[str, int]:
    """Table name -> bytes of its heap, for the tables of ``schema``."""
    rows = conn.execute(
        "SELECT relname, pg_catalog.pg_relation_size(oid) FROM pg_catalog.pg_class "
        "WHERE relnamespace = %s::regnamespace AND relkind = 'r'",
        (schema,),
    ).fetchall()
    return {str(name): int(size) for name, size in rows}


#: How long the kernel may wait for a server to acknowledge data we sent before it drops the connection: a frozen
#: (SIGSTOP'd, swapped-out, partitioned) server stops a COPY here instead of forever. A ``tcp_user_timeout`` in the
#: DSN wins. Keepalives (``keepalives_*`` in the DSN win) notice a silent host while we wait for a result.
_NET_TIMEOUT_MS = 60_000


_KEEPALIVES = (("keepalives_idle", "TCP_KEEPIDLE", 30), ("keepalives_interval", "TCP_KEEPINTVL", 10))


_KEEPALIVE_PROBES = ("keepalives_count", "TCP_KEEPCNT", 3)


@dataclass
class LoadReport:
    """What a load did: rows per table, time per phase, the worker count and the connections used."""

    database: str
    scenario: str
    seed: int
    fingerprint: str
    workers: int
    rows: dict[str, int] = field(default_factory=lambda: dict.fromkeys(TABLE_ORDER, 0))
    bytes_sent: int = 0
    seconds: dict[str, float] = field(default_factory=dict)
    connections: int = 1
    #: The Dask cluster whose workers copied the rows (``local:N`` or its scheduler, masked); ``None``: this host.
    dask: str | None = None
    #: The rows were read from the row cache (kept by an earlier load of the same scenario), not generated.
    rows_from_cache: bool = False

    @property
    def total_rows(self) -> int:
        return sum(self.rows.values())

    @property
    def total_seconds(self) -> float:
        return sum(self.seconds.values())


def expected_table_rows(scenario: Scenario) -> dict[str, int]:
    """About how many rows each table gets (to deal the tables out among connections, to size a load)."""
    from .model import PLATFORM_SIGNAL_TYPES

    events = scenario.events + scenario.story_event_count
    signals = round(events * scenario.processed_share)
    total = sum(scenario.event_mix.values()) or 1.0
    platform = sum(w for name, w in scenario.event_mix.items() if name in PLATFORM_SIGNAL_TYPES) / total
    return {
        "customers": scenario.customers + len(scenario.stories),
        "events": events,
        "signals": signals,
        "sales_signals": round(signals * platform),
    }


def load_pieces(
    scenario: Scenario, wire: str, report: LoadReport, *, batch_rows: int, row_cache: bool
) -> Generator[Piece, None, None]:
    """The pieces a load sends: the row cache's when it keeps them (``report`` then says so and counts no
    generator process), else the generator's, kept for the next load when ``row_cache`` (see
    :mod:`sspp_fixtures.bulkgen._row_cache`)."""
    source = scenario_rows(
        scenario,
        wire,
        workers=report.workers,
        batch_rows=batch_rows,
        expected_rows=sum(expected_table_rows(scenario).values()),
        use_cache=row_cache,
    )
    if source.from_cache:
        report.rows_from_cache = True
        report.workers = 0
    return source.pieces


def check_live_schema(conn: psycopg.Connection[Any]) -> None:
    """Refuse a live schema the generator cannot fill: a missing column, or an extra NOT NULL one without default."""
    for table, spec in TABLES.items():
        rows = conn.execute(
            "SELECT column_name, is_nullable = 'NO', column_default IS NOT NULL OR is_identity = 'YES' "
            "OR is_generated <> 'NEVER' FROM information_schema.columns "
            "WHERE table_schema = current_schema() AND table_name = %s",
            (table,),
        ).fetchall()
        live = {name: (not_null, has_default) for name, not_null, has_default in rows}
        if not live:
            raise LoadError(f"table {table} does not exist", hint="run sspp-seed migrate on the database first")
        missing = [column for column in spec.columns if column not in live]
        if missing:
            raise LoadError(
                f"table {table} has no column {missing[0]}",
                hint="the database is behind this sspp-fixtures: run sspp-seed migrate first",
                table=table,
                column=missing[0],
            )
        unfillable = [
            c for c, (not_null, default) in live.items() if c not in spec.columns and not_null and not default
        ]
        if unfillable:
            raise LoadError(
                f"table {table}: column {unfillable[0]} is NOT NULL without a default, and the generator does not "
                "know it (a migration added it)",
                hint=f"give {table}.{unfillable[0]} a default in a migration, or upgrade sspp-fixtures",
                table=table,
                column=unfillable[0],
            )


def copy_format(conn: psycopg.Connection[Any]) -> str:
    """``copy-binary`` when every column the binary COPY sends has a type its bytes are valid for in the live
    schema (the migrations' types), else ``copy``: COPY text, which any compatible type accepts (an adopted
    database's ``timestamptz`` or ``text`` id, a domain)."""
    rows = conn.execute(
        "SELECT c.relname, a.attname, pg_catalog.format_type(a.atttypid, NULL) FROM pg_catalog.pg_attribute a "
        "JOIN pg_catalog.pg_class c ON c.oid = a.attrelid WHERE c.relnamespace = current_schema()::regnamespace "
        "AND c.relkind IN ('r', 'p') AND c.relname = ANY(%s) AND a.attnum > 0 AND NOT a.attisdropped",
        (list(BINARY_LAYOUTS),),
    ).fetchall()
    live = {(table, column): kind for table, column, kind in rows}
    for table, layout in BINARY_LAYOUTS.items():
        if any(live.get((table, column)) not in BINARY_TYPES[kind] for column, kind in layout):
            return "copy"
    return "copy-binary"


def sync_sequences(conn: psycopg.Connection[Any]) -> None:
    """Move each serial column's sequence past the loaded ids (``sales_signals.id``), so the platform's worker
    inserts after them, exactly as if it had written every row itself."""
    serials = conn.execute(
        "SELECT c.relname, a.attname, pg_catalog.pg_get_serial_sequence(quote_ident(c.relname), a.attname) "
        "FROM pg_catalog.pg_attribute a JOIN pg_catalog.pg_class c ON c.oid = a.attrelid "
        "WHERE c.relnamespace = current_schema()::regnamespace AND c.relname = ANY(%s) AND a.attnum > 0 "
        "AND NOT a.attisdropped AND pg_catalog.pg_get_serial_sequence(quote_ident(c.relname), a.attname) IS NOT NULL",
        (list(TABLE_ORDER),),
    ).fetchall()
    for table, column, sequence in serials:
        conn.execute(
            sql.SQL("SELECT pg_catalog.setval({}, COALESCE(max({}), 1), max({}) IS NOT NULL) FROM {}").format(
                sql.Literal(sequence), sql.Identifier(column), sql.Identifier(column), sql.Identifier(table)
            )
        )


@contextlib.contextmanager
def timed_phase(report: LoadReport, name: str, progress: ProgressCallback) -> Iterator[None]:
    progress(f"phase:{name}", 0)
    started = time.perf_counter()
    try:
        yield
    finally:
        report.seconds[name] = report.seconds.get(name, 0.0) + time.perf_counter() - started


def abandon(conn: psycopg.Connection[Any]) -> None:
    """Roll the load back; a connection interrupted in the middle of a COPY cannot: close it, the server rolls
    back (and psycopg has no second rollback to warn about on the way out)."""
    try:
        conn.rollback()
    except psycopg.Error:
        conn.close()


def connect_for_load(dsn: str, application_name: str = "sspp-fixtures") -> psycopg.Connection[Any]:
    """A load's connection, whose network waits are bounded (see :data:`_NET_TIMEOUT_MS`)."""
    conn = connect(dsn, autocommit=False, application_name=application_name)
    _bound_network_waits(conn, dsn)
    return conn


def _bound_network_waits(conn: psycopg.Connection[Any], dsn: str) -> None:
    """TCP keepalives and ``TCP_USER_TIMEOUT`` on the connection's socket, as libpq's own options would set them,
    where the DSN does not set them itself (libpq already has). Unix sockets need none: the kernel sees both ends."""
    given = conninfo_to_dict(dsn)
    with _tcp_socket(conn) as sock:
        if sock is None:
            return
        with contextlib.suppress(OSError):
            if str(given.get("keepalives", "1")) != "0":
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE, 1)
                for name, option, value in (*_KEEPALIVES, _KEEPALIVE_PROBES):
                    if name not in given and hasattr(socket, option):
                        sock.setsockopt(socket.IPPROTO_TCP, getattr(socket, option), value)
            if "tcp_user_timeout" not in given and hasattr(socket, "TCP_USER_TIMEOUT"):
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_USER_TIMEOUT, _NET_TIMEOUT_MS)


#: Noted on a connection error that ended a COPY which had already waited TCP's bound (see copy_waits_noted).
_WAITED_OUT = "sspp-fixtures: the COPY had waited as long as TCP's bound on unacknowledged data when it failed"


def tcp_bound_s(conn: psycopg.Connection[Any]) -> float | None:
    """The ``TCP_USER_TIMEOUT`` on ``conn``'s socket in seconds, however it was set (the DSN, or
    :func:`connect_for_load`); ``None`` where there is none (a Unix socket, a platform without it)."""
    if not hasattr(socket, "TCP_USER_TIMEOUT"):
        return None
    with _tcp_socket(conn) as sock:
        if sock is None:
            return None
        try:
            bound_ms = sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_USER_TIMEOUT)
        except OSError:
            return None
    return bound_ms / 1000 if bound_ms > 0 else None


@contextlib.contextmanager
def _tcp_socket(conn: psycopg.Connection[Any]) -> Iterator[socket.socket | None]:
    """A duplicate of ``conn``'s socket when it is a TCP one (closed on exit), else ``None`` (a Unix socket, or
    a descriptor that cannot be had)."""
    try:
        sock = socket.socket(fileno=os.dup(conn.pgconn.socket))
    except (OSError, psycopg.Error):
        yield None
        return
    with sock:
        yield sock if sock.family in (socket.AF_INET, socket.AF_INET6) else None


@contextlib.contextmanager
def copy_waits_noted(bound_s: float | None) -> Iterator[None]:
    """Note on a connection error raised in the block whether the block had waited ``bound_s`` (the socket's
    :func:`tcp_bound_s`) by then. libpq keeps a send's "Connection timed out" to itself while it can read something
    else, and the read then says only "server closed the connection unexpectedly"; a COPY that failed so, after
    waiting that long, was ended by TCP's bound: its server stopped acknowledging."""
    started = time.monotonic()
    try:
        yield
    except psycopg.OperationalError as exc:
        if bound_s is not None and time.monotonic() - started >= bound_s:
            exc.add_note(_WAITED_OUT)
        raise


def _timed_out(exc: BaseException) -> bool:
    """Whether TCP's bound ended the connection: said by ``exc``, noted on it by :func:`copy_waits_noted`, or said
    by an error it was raised while handling (a COPY whose send timed out is ended by psycopg, and the end's own
    failure, "server closed the connection", is what reaches the load)."""
    seen: set[int] = set()
    error: BaseException | None = exc
    while error is not None and id(error) not in seen:
        seen.add(id(error))
        if "timed out" in str(error).lower() or _WAITED_OUT in getattr(error, "__notes__", ()):
            return True
        error = error.__cause__ or error.__context__
    return False


def _network_timeout_s(dsn: str) -> float:
    given = conninfo_to_dict(dsn).get("tcp_user_timeout")
    return int(str(given)) / 1000 if given and str(given).isdigit() and int(str(given)) > 0 else _NET_TIMEOUT_MS / 1000


def bound_lock_waits(conn: psycopg.Connection[Any]) -> str:
    """Wait at most 30 s for the tables' locks, unless the session already has a ``lock_timeout`` (the DSN's
    ``options=-c lock_timeout=...`` or ``$PGOPTIONS``); return the wait in force."""
    row = conn.execute("SELECT current_setting('lock_timeout')").fetchone()
    if row is not None and str(row[0]) not in ("0", ""):
        return str(row[0])
    conn.execute(f"SET LOCAL lock_timeout = '{LOCK_TIMEOUT}'")
    return LOCK_TIMEOUT


_LOCK_HOLDERS = """
    SELECT DISTINCT a.pid, a.usename, a.application_name, a.state, left(a.query, 120), c.relname
    FROM pg_catalog.pg_locks l
    JOIN pg_catalog.pg_stat_activity a ON a.pid = l.pid
    JOIN pg_catalog.pg_class c ON c.oid = l.relation
    WHERE l.granted AND l.locktype = 'relation' AND l.pid <> pg_catalog.pg_backend_pid()
      AND l.database = (SELECT oid FROM pg_catalog.pg_database WHERE datname = current_database())
      AND c.relnamespace = current_schema()::regnamespace AND c.relname = ANY(%s)
    ORDER BY a.pid, c.relname
"""


def _lock_holders(conn: psycopg.Connection[Any]) -> str:
    """Who holds a lock on the load's tables now: pid, user, application, state and query of each session."""
    try:
        rows = conn.execute(_LOCK_HOLDERS, (list(TABLE_ORDER),)).fetchall()
        conn.rollback()
    except psycopg.Error:
        return ""
    holders: dict[int, tuple[str, str, str, str, list[str]]] = {}
    for pid, user, application, state, query, table in rows:
        holders.setdefault(pid, (user, application or "-", state or "?", " ".join(str(query).split()), []))[4].append(
            table
        )
    return "; ".join(
        f"pid {pid} (user {user}, application {application}, {state}: {query!r}) holds {', '.join(tables)}"
        for pid, (user, application, state, query, tables) in holders.items()
    )


def explain_stall(stall: Stall, report: LoadReport, dsn: str, phase: str) -> LoadError:
    sent = ", ".join(f"{n:,} {t}" for t, n in report.rows.items() if n) or "no rows"
    if stall.doing is None:
        seen = "the server accepted no new connection to look at its backend"
    else:
        seen = f"its backend (pid {stall.backend_pid}) was last seen {stall.doing}"
    return LoadError(
        f"the server at {mask_dsn(dsn)} stopped working on the load: nothing moved for {stall.seconds:g}s in the "
        f"load's {phase} phase ({sent} sent); {seen}; the load stopped and nothing was loaded (the server rolls the "
        "transaction back when it resumes)",
        hint="check that server (a stopped or frozen process, full memory, a paused machine), then run the load "
        "again; --stall-timeout SECONDS sets how long to wait",
    )


def explain_failure(
    exc: psycopg.Error, report: LoadReport, dsn: str, conn: psycopg.Connection[Any], lock_wait: str = LOCK_TIMEOUT
) -> LoadError:
    sent = ", ".join(f"{n:,} {t}" for t, n in report.rows.items() if n)
    nothing = "the transaction was rolled back and nothing was loaded"
    if exc.sqlstate == "53100":  # disk_full
        primary = (exc.diag.message_primary or str(exc)).strip()
        return LoadError(
            f"the server at {mask_dsn(dsn)} ran out of disk space during the load ({sent or 'no rows'} sent): "
            f"{primary}; {nothing}",
            hint="free space on the server's disk (or its tablespace), or load a smaller scenario (--scale), "
            "then run the load again",
            sqlstate=exc.sqlstate,
        )
    if exc.sqlstate == "55P03":  # lock_not_available: our lock_timeout expired
        holders = _lock_holders(conn)
        who = f": {holders}" if holders else " (by a session that has ended since)"
        return LoadError(
            f"the load waited {lock_wait} for its tables, which another session kept locked{who}; {nothing}",
            hint="end that session or ask its owner to (SELECT pg_terminate_backend(PID) ends one), then run "
            "the load again",
            sqlstate=exc.sqlstate,
        )
    if isinstance(exc, psycopg.OperationalError) and _timed_out(exc):
        return LoadError(
            f"the server at {mask_dsn(dsn)} stopped answering: it acknowledged nothing for "
            f"{_network_timeout_s(dsn):g}s during the load ({sent or 'no rows'} sent), so the connection was dropped "
            "and nothing was loaded (the server rolls the transaction back when it resumes)",
            hint="check that server (stopped or frozen process, full memory, network down), then run the load again; "
            "tcp_user_timeout=MS in the DSN sets how long to wait",
            sqlstate=exc.sqlstate,
        )
    if isinstance(exc, psycopg.OperationalError) or exc.sqlstate in (None, "57P01", "57P02", "57P03"):
        return LoadError(
            f"lost the connection to {mask_dsn(dsn)} during the load ({sent or 'no rows'} sent); "
            "the transaction was rolled back and nothing was loaded",
            hint="check the server and run the load again",
            sqlstate=exc.sqlstate,
        )
    diag = exc.diag
    where = f" ({diag.context.strip().splitlines()[0]})" if diag.context else ""
    return LoadError(
        f"the load failed: {(diag.message_primary or str(exc)).strip()}{where}; "
        "the transaction was rolled back and nothing was loaded",
        hint="this is a bug if the scenario validated: please report it with the scenario file",
        sqlstate=exc.sqlstate,
    )
