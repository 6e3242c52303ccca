"""The database's half of the doctor: reachable, marked, migrated, loaded, the service roles, backup programs.

One read-only connection with short lock and statement timeouts, so a database busy with a load answers
"locked" instead of making the doctor wait; each check that cannot read what it needs says so and the others
still run. Nothing is written.
"""

from __future__ import annotations

import json
import shlex
import time
from collections.abc import Callable
from typing import Any, TypeVar

import psycopg
from psycopg import sql

from .. import __version__
from .._table_order import TABLE_ORDER
from ..backup import find_client_tools
from ..dsn import connect, mask_dsn
from ..errors import BackupError, DatabaseUnreachableError, ExitCode, MigrationDriftError, MigrationError, UsageError
from ..schema import (
    TargetState,
    inspect_target,
    load_migrations,
    loaded_scenario,
    plan,
    read_marker,
    schema_objects,
    schema_tables,
)
from ._dsntext import malformed_reason
from ._report import Check

__all__ = ["SERVICE_ROLES", "backup_check", "database_checks"]

#: The roles migration 004 creates for the platform's services.
SERVICE_ROLES: tuple[str, ...] = ("sspp_worker", "sspp_api", "sspp_readonly")
#: Tables up to this size are counted exactly; bigger ones report ``pg_class.reltuples`` (an estimate).
EXACT_COUNT_MAX_BYTES = 32 * 1024 * 1024
_T = TypeVar("_T")
_SESSION = (
    "SET default_transaction_read_only = on",
    "SET lock_timeout = '1s'",
    "SET statement_timeout = '3s'",
    "SET idle_in_transaction_session_timeout = '10s'",
)


def database_checks(dsn: str, sink: list[Check], *, connect_timeout_s: int) -> None:
    """Check the database at ``dsn``, appending each check to ``sink`` as soon as it is known."""
    malformed = malformed_reason(dsn)
    if malformed is not None:
        sink.append(_malformed(malformed))
        return
    started = time.perf_counter()
    try:
        conn = connect(dsn, connect_timeout_s=connect_timeout_s, application_name="sspp-seed doctor")
    except UsageError:
        sink.append(_malformed("libpq refused it"))
        return
    except DatabaseUnreachableError as exc:
        sink.append(_unreachable(exc, dsn))
        return
    with conn:
        connect_ms = (time.perf_counter() - started) * 1000
        try:
            sink.append(_reachable(conn, dsn, connect_ms))
        except psycopg.Error as exc:
            sink.append(
                Check(
                    "reachable",
                    "fail",
                    f"{mask_dsn(dsn)} accepted the connection but not a query: {_reason(exc)}",
                    fix="check that the DSN points at a PostgreSQL server, not a proxy that limits sessions",
                    exit_code=ExitCode.UNREACHABLE,
                )
            )
            return
        state = _guarded(sink, "marked", lambda: _marked(conn, dsn))
        _guarded(sink, "migrated", lambda: _migrated(conn, dsn, state))
        _guarded(sink, "loaded", lambda: _loaded(conn, dsn))
        _guarded(sink, "roles", lambda: _roles(conn, dsn))


def _arg(dsn: str) -> str:
    """The masked DSN as a shell argument, for fixes that are commands to copy."""
    return shlex.quote(mask_dsn(dsn))


def _malformed(reason: str) -> Check:
    return Check(
        "reachable",
        "fail",
        f"the DSN is malformed: {reason}",
        fix="write it as postgresql://USER:PASSWORD@HOST:PORT/DBNAME (percent-encode special characters) "
        "or as 'host=... dbname=...'",
        exit_code=ExitCode.USAGE,
    )


def _unreachable(exc: DatabaseUnreachableError, dsn: str) -> Check:
    fix = exc.hint or "check that the server is running and reachable"
    if "--wait" in fix:  # the doctor reports on the spot; it does not wait
        fix = "check that the server is running and that host and port in the DSN are right"
    if "timeout" in exc.message:
        fix = "check host, port and firewall; for a slow or distant server pass a longer --timeout SECONDS"
    if "database" in exc.message and "does not exist" in exc.message:
        fix = f"create it with the schema: sspp-seed init --create --dsn {_arg(dsn)}"
    return Check("reachable", "fail", exc.message, fix=fix, exit_code=ExitCode.UNREACHABLE, data={"dsn": mask_dsn(dsn)})


def _guarded(sink: list[Check], name: str, step: Callable[[], tuple[Check, _T]]) -> _T | None:
    """Run one check; a query it could not run becomes that check's ``warn``, and the next checks go on."""
    try:
        check, value = step()
    except psycopg.errors.LockNotAvailable:
        check, value = _could_not(name, "its tables are locked (is a load, reset or migration running?)"), None
    except psycopg.errors.QueryCanceled:
        check, value = _could_not(name, "a query took longer than 3 s"), None
    except psycopg.errors.InsufficientPrivilege as exc:
        check = Check(
            name,
            "warn",
            f"could not check: {_reason(exc)}",
            fix="connect as the database's owner or a superuser to check it",
        )
        value = None
    except psycopg.Error as exc:
        check, value = _could_not(name, _reason(exc)), None
    sink.append(check)
    return value


def _reason(exc: psycopg.Error) -> str:
    """The server's one-line reason for an error (its primary message), else the error's first line."""
    lines = (exc.diag.message_primary or str(exc)).strip().splitlines()
    return lines[0] if lines else type(exc).__name__


def _could_not(name: str, reason: str) -> Check:
    return Check(name, "warn", f"could not check: {reason}", fix="run sspp-seed doctor again when the database is idle")


def _reachable(conn: psycopg.Connection[Any], dsn: str, connect_ms: float) -> Check:
    for statement in _SESSION:
        conn.execute(statement)
    row = conn.execute(
        "SELECT current_setting('server_version'), current_setting('server_version_num')::int, "
        "current_database(), current_user"
    ).fetchone()
    assert row is not None
    version, version_num, database, user = str(row[0]).split()[0], int(row[1]), str(row[2]), str(row[3])
    return Check(
        "reachable",
        "ok",
        f"PostgreSQL {version} at {mask_dsn(dsn)}: database {database} as {user}, connected in {connect_ms:.0f} ms",
        data={
            "dsn": mask_dsn(dsn),
            "server_version": version,
            "server_major": version_num // 10000,
            "database": database,
            "user": user,
            "connect_ms": round(connect_ms, 1),
        },
    )


def _listed(names: tuple[str, ...], limit: int = 4) -> str:
    shown = ", ".join(names[:limit])
    return shown + (f" and {len(names) - limit} more" if len(names) > limit else "")


def _marked(conn: psycopg.Connection[Any], dsn: str) -> tuple[Check, TargetState]:
    marker = read_marker(conn)
    state = inspect_target(conn)
    if marker is not None:
        other = f" (this is {__version__})" if marker.tool_version != __version__ else ""
        return Check(
            "marked",
            "ok",
            f"by {marker.created_by} {marker.tool_version}{other} for {marker.purpose!r} on "
            f"{marker.marked_at:%Y-%m-%d %H:%M}",
            data={
                "marked": True,
                "created_by": marker.created_by,
                "tool_version": marker.tool_version,
                "purpose": marker.purpose,
                "marked_at": marker.marked_at,
            },
        ), state
    ours = schema_objects(load_migrations())
    foreign = state.foreign_tables(ours) + tuple(o.label for o in state.foreign_objects(ours))
    data = {"marked": False, "tables": list(state.tables), "tables_with_rows": list(state.tables_with_rows)}
    if foreign or state.tables_with_rows:
        what = (
            f"objects it did not make ({_listed(foreign)})" if foreign else f"data ({_listed(state.tables_with_rows)})"
        )
        return Check(
            "marked",
            "warn",
            f"not made by sspp-fixtures, and holds {what}: load and reset refuse it",
            fix="use a database made by `sspp-seed init --create --dsn URL`, or pass --force (its data would be lost)",
            data=data,
        ), state
    empty = "empty" if state.empty else "only the SSPP tables, empty"
    return Check(
        "marked",
        "warn",
        f"not made by sspp-fixtures ({empty})",
        fix=f"adopt it: sspp-seed init --dsn {_arg(dsn)}",
        data=data,
    ), state


def _migrated(conn: psycopg.Connection[Any], dsn: str, state: TargetState | None) -> tuple[Check, None]:
    try:
        known = load_migrations()
    except MigrationError as exc:
        return Check("migrated", "fail", exc.message, fix=exc.hint or "reinstall sspp-fixtures"), None
    latest = known[-1]
    data: dict[str, Any] = {"latest": latest.version, "latest_label": latest.label}
    try:
        current = plan(conn, known)
    except MigrationDriftError as exc:
        return Check(
            "migrated", "fail", f"drift: {exc.message}", fix=exc.hint or "", data={**data, "drift": exc.message}
        ), None
    applied = [a.label for a in current.applied]
    pending = [m.label for m in current.pending]
    data.update(version=current.current_version, applied=applied, pending=pending, drift=None)
    if not current.applied:
        made = sorted(schema_tables(known) & set(state.tables)) if state is not None else []
        if made:
            return Check(
                "migrated",
                "warn",
                f"no migration recorded, but the database holds tables the migrations make ({_listed(tuple(made))}): "
                "made by the platform's own init.sql, or outside sspp-fixtures",
                fix=f"sspp-seed migrate --dry-run --dsn {_arg(dsn)} shows the migrations they already match (migrate "
                "records those without running them, then applies the rest) or, if they match only in part, "
                "every difference",
                data=data,
            ), None
        return Check(
            "migrated",
            "warn",
            f"no migration applied (the latest is {latest.label})",
            fix=f"sspp-seed init --dsn {_arg(dsn)}",
            data=data,
        ), None
    if pending:
        return Check(
            "migrated",
            "warn",
            f"at version {current.current_version:03d}, {len(pending)} pending: {_listed(tuple(pending))}",
            fix=f"sspp-seed migrate --dsn {_arg(dsn)}",
            data=data,
        ), None
    last = current.applied[-1]
    return Check(
        "migrated",
        "ok",
        f"at version {current.current_version:03d}, the latest ({latest.label}); last applied "
        f"{last.applied_at:%Y-%m-%d %H:%M} by {last.applied_by}",
        data=data,
    ), None


def _row_counts(conn: psycopg.Connection[Any]) -> tuple[dict[str, int | None], dict[str, str]]:
    """Rows per SSPP table that exists: exact for small tables, ``pg_class.reltuples`` for big ones."""
    counts: dict[str, int | None] = {}
    methods: dict[str, str] = {}
    for table in TABLE_ORDER:
        row = conn.execute(
            "SELECT reltuples::bigint, pg_catalog.pg_relation_size(oid) FROM pg_catalog.pg_class "
            "WHERE oid = pg_catalog.to_regclass(%s)",
            (table,),
        ).fetchone()
        if row is None:
            continue
        estimate, size = int(row[0]), int(row[1])
        if size <= EXACT_COUNT_MAX_BYTES:
            exact = conn.execute(sql.SQL("SELECT count(*) FROM {}").format(sql.Identifier(table))).fetchone()
            counts[table], methods[table] = (int(exact[0]) if exact else 0), "exact"
        else:
            counts[table], methods[table] = (estimate if estimate >= 0 else None), "estimate"
    return counts, methods


def _provenance(conn: psycopg.Connection[Any]) -> dict[str, Any]:
    """Scenario and seed when the tool recorded them: on clones of its templates, or in the marker of a load."""
    query = "SELECT pg_catalog.shobj_description(oid, 'pg_database') FROM pg_catalog.pg_database WHERE datname = %s"

    def comment_of(name: str) -> dict[str, Any]:
        row = conn.execute(query, (name,)).fetchone()
        try:
            data = json.loads(row[0]) if row and row[0] else None
        except ValueError:
            return {}
        return data if isinstance(data, dict) and "sspp" in data else {}

    here = conn.execute("SELECT current_database()").fetchone()
    own = comment_of(str(here[0])) if here else {}
    template = own.get("template")
    source = comment_of(str(template)) if own.get("sspp") == "test" and template else own
    found: dict[str, Any] = {key: source[key] for key in ("scenario", "seed") if key in source}
    if found and template:
        found["template"] = template
    if not found and (loaded := loaded_scenario(read_marker(conn))) is not None:
        found = {"scenario": loaded[0], "seed": loaded[1]}
    return found


def _loaded(conn: psycopg.Connection[Any], dsn: str) -> tuple[Check, None]:
    counts, methods = _row_counts(conn)
    if not counts:
        return Check(
            "loaded",
            "skip",
            "no SSPP tables yet",
            fix=f"sspp-seed init --dsn {_arg(dsn)}, then sspp-seed load smoke --dsn {_arg(dsn)}",
            data={"counts": {}},
        ), None
    shown = ", ".join(
        f"{'≈' if methods[t] == 'estimate' else ''}{'?' if n is None else f'{n:,}'} {t}" for t, n in counts.items()
    )
    how = "≈: pg_class.reltuples estimate, others exact" if "estimate" in methods.values() else "exact count"
    origin = _provenance(conn)
    if origin:
        made = f"scenario {origin.get('scenario', '?')}, seed {origin.get('seed', '?')}"
        made += f" (template {origin['template']})" if "template" in origin else ""
    else:
        made = "scenario and seed not recorded"
    data = {"counts": counts, "method": methods, **origin}
    if not any(counts.values()):
        return Check(
            "loaded",
            "warn",
            f"the SSPP tables are empty ({shown})",
            fix=f"sspp-seed load smoke --dsn {_arg(dsn)}  (other scenarios: sspp-seed scenarios list)",
            data=data,
        ), None
    return Check("loaded", "ok", f"{shown} ({how}); {made}", data=data), None


def _roles(conn: psycopg.Connection[Any], dsn: str) -> tuple[Check, None]:
    rows = conn.execute("SELECT rolname FROM pg_catalog.pg_roles WHERE rolname = ANY(%s)", (list(SERVICE_ROLES),))
    present = {str(row[0]) for row in rows}
    missing = tuple(role for role in SERVICE_ROLES if role not in present)
    fix = f"sspp-seed migrate --dsn {_arg(dsn)} (migration 004 creates the roles and grants)"
    if missing:
        return Check(
            "roles", "warn", f"missing: {', '.join(missing)}", fix=fix, data={"present": sorted(present)}
        ), None
    blind = [
        f"{role} on {table}"
        for role, table in conn.execute(
            "SELECT r, t FROM unnest(%s::text[]) AS r, unnest(%s::text[]) AS t "
            "WHERE pg_catalog.to_regclass(t) IS NOT NULL AND NOT pg_catalog.has_table_privilege(r, t, 'SELECT')",
            (list(SERVICE_ROLES), list(TABLE_ORDER)),
        )
    ]
    data = {"present": list(SERVICE_ROLES), "missing_select": blind}
    if blind:
        return Check("roles", "warn", f"exist, but cannot read: {_listed(tuple(blind))}", fix=fix, data=data), None
    return Check("roles", "ok", f"{', '.join(SERVICE_ROLES)} exist", data=data), None


def backup_check(server_major: int) -> Check:
    """The client programs ``backup`` and ``restore`` would run against this server, or why none fits."""
    try:
        tools = find_client_tools(min_major=server_major)
    except BackupError as exc:
        return Check(
            "backup programs",
            "warn",
            exc.message,
            fix=exc.hint or "install PostgreSQL's client programs",
            data={"server_major": server_major},
        )
    return Check(
        "backup programs",
        "ok",
        f"backup and restore will run PostgreSQL {tools.version} programs from {tools.bin_dir}",
        data={"server_major": server_major, "version": tools.version, "bin_dir": str(tools.bin_dir)},
    )
