"""Template databases: one per fingerprint, built once, shared by every process and run on the server.

A build runs under a PostgreSQL advisory lock keyed on the fingerprint (taken on the maintenance database), so
concurrent callers (xdist workers, two pytest runs) build it once: the others wait, bounded by ``timeout_s``,
then find it ready. The build happens in a database named ``sspp_tpl_<fp20>_b<pid>``; only when everything is
in place (schema, data, reuse machinery, VACUUM FREEZE + ANALYZE) is it renamed to ``sspp_tpl_<fp20>``, flagged
``IS_TEMPLATE``, closed to connections (so no session ever blocks a clone with "source database is being
accessed by other users") and given a JSON comment saying ready + fingerprint, all in one transaction. A build
interrupted half-way keeps its building name: it is never used, and the sweeper drops it.
"""

from __future__ import annotations

import contextlib
import os
import time
from collections.abc import Collection
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import psycopg
from psycopg import sql

from ..databases import drop_database
from ..dsn import connect, database_name, with_database
from ..errors import TemplateError, UsageError
from ._fingerprint import (
    BUILD_SUFFIX,
    OUR_PREFIXES,
    REUSE_FORMAT,
    TEMPLATE_PREFIX,
    template_fingerprint,
    template_name,
)
from ._names import KIND_BUILDING, KIND_PARKED, KIND_TEMPLATE, comment, read_comment, set_comment
from ._reuse import install_reuse

if TYPE_CHECKING:  # the data code loads only when a template is built
    from ..scenarios import Scenario

__all__ = ["TemplateInfo", "drop_templates", "ensure_scenario_template", "ensure_template", "list_templates"]

_POLL_S = (0.02, 0.5)


@dataclass(frozen=True)
class TemplateInfo:
    """A ready template: its database name, fingerprint, how long its build took, and whether this call built it."""

    name: str
    fingerprint: str
    build_seconds: float
    built_now: bool


def _lock_key(fingerprint: str) -> int:
    return int.from_bytes(bytes.fromhex(fingerprint[:16]), "big", signed=True)


def _ready(admin: psycopg.Connection[Any], name: str, fingerprint: str) -> TemplateInfo | None:
    found = read_comment(admin, name)
    if found is None:
        return None
    is_template, data = found
    if not is_template or data is None or data.get("sspp") != KIND_TEMPLATE or data.get("fingerprint") != fingerprint:
        return None
    return TemplateInfo(name, fingerprint, float(data.get("build_seconds", 0.0)), built_now=False)


def _lock_holder(admin: psycopg.Connection[Any], key: int) -> int | None:
    unsigned = key & 0xFFFFFFFFFFFFFFFF
    row = admin.execute(
        "SELECT pid FROM pg_catalog.pg_locks WHERE locktype = 'advisory' AND granted AND objsubid = 1 "
        "AND classid::bigint = %s AND objid::bigint = %s LIMIT 1",
        (unsigned >> 32, unsigned & 0xFFFFFFFF),
    ).fetchone()
    return int(row[0]) if row else None


def _take_lock(admin: psycopg.Connection[Any], key: int, name: str, timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    delay = _POLL_S[0]
    while True:
        row = admin.execute("SELECT pg_catalog.pg_try_advisory_lock(%s)", (key,)).fetchone()
        if row and row[0]:
            return
        if time.monotonic() + delay > deadline:
            holder = _lock_holder(admin, key)
            who = f"server process {holder}" if holder else "another process"
            raise TemplateError(
                f"waited {timeout_s:g}s for {who} to finish building template {name}",
                hint="let that build finish (a large scenario takes minutes), raise the timeout, or end the stuck "
                f"build (SELECT pg_terminate_backend({holder or 'pid'}))",
                template=name,
                holder_pid=holder,
                timeout_s=timeout_s,
            )
        time.sleep(delay)
        delay = min(delay * 1.5, _POLL_S[1])


def ensure_template(
    admin_dsn: str,
    scenario: Scenario,
    *,
    timeout_s: float = 600.0,
    extra_sql: str | None = None,
    workers: int | None = None,
) -> TemplateInfo:
    """The ready template holding ``scenario``'s data, built now if no process built it before.

    ``admin_dsn`` connects to the maintenance database as a role that may create databases (event triggers
    need a superuser). Concurrent callers serialize on an advisory lock; a caller that waits longer than
    ``timeout_s`` for another's build gets a :class:`TemplateError`. ``extra_sql`` runs in the template after
    the data is loaded (it is part of the fingerprint); ``workers`` is passed to the loader (``None``: auto).
    """
    fingerprint = template_fingerprint(scenario, extra_sql=extra_sql)
    name = template_name(fingerprint)
    if database_name(admin_dsn).startswith(TEMPLATE_PREFIX):
        raise UsageError("the admin DSN points at a template database", hint="point it at the maintenance database")
    with connect(admin_dsn) as admin:
        ready = _ready(admin, name, fingerprint)
        if ready is not None:
            return ready
        key = _lock_key(fingerprint)
        _take_lock(admin, key, name, timeout_s)
        try:
            ready = _ready(admin, name, fingerprint)
            if ready is not None:
                return ready
            # A database with the final name that is not a finished template cannot come from us: only a
            # finished build is renamed to it. Whoever made it, it is not usable; replace it.
            if read_comment(admin, name) is not None:
                drop_database(admin, name, prefixes=OUR_PREFIXES)
            return _build(admin, admin_dsn, scenario, fingerprint, name, extra_sql, workers)
        finally:
            with contextlib.suppress(psycopg.Error):
                admin.execute("SELECT pg_catalog.pg_advisory_unlock(%s)", (key,))


def ensure_scenario_template(admin_dsn: str, reference: str, *, seed: int | None = None) -> TemplateInfo:
    """:func:`ensure_template` for the scenario ``reference`` names (with ``seed``, if given).

    When the memo (:mod:`._memo`) knows the fingerprint and that template is ready, the scenario is not even
    loaded: a process whose template exists imports none of the data code.
    """
    from ._memo import recall_fingerprint, remember_fingerprint

    fingerprint = recall_fingerprint(reference, seed)
    if fingerprint is not None:
        with connect(admin_dsn) as admin:
            ready = _ready(admin, template_name(fingerprint), fingerprint)
        if ready is not None:
            return ready
    from ..scenarios import iter_chain_paths, load_scenario

    scenario = load_scenario(reference).with_overrides(seed=seed)
    info = ensure_template(admin_dsn, scenario)
    remember_fingerprint(reference, seed, iter_chain_paths(reference), info.fingerprint)
    return info


def _build(
    admin: psycopg.Connection[Any],
    admin_dsn: str,
    scenario: Scenario,
    fingerprint: str,
    name: str,
    extra_sql: str | None,
    workers: int | None,
) -> TemplateInfo:
    from ..loader import load_scenario_into
    from ..schema import write_marker

    started = time.perf_counter()
    building = f"{name}{BUILD_SUFFIX}{os.getpid()}"
    drop_database(admin, building, prefixes=OUR_PREFIXES)
    admin.execute(sql.SQL("CREATE DATABASE {} TEMPLATE template0").format(sql.Identifier(building)))
    set_comment(admin, building, comment(KIND_BUILDING, fingerprint=fingerprint, scenario=scenario.name))
    dsn = with_database(admin_dsn, building)
    try:
        load_scenario_into(dsn, scenario, workers=workers)
        with connect(dsn) as conn:
            write_marker(conn, purpose=f"sspp-fixtures template {name}")
            if extra_sql:
                conn.execute(extra_sql.encode())
            install_reuse(conn, fingerprint=fingerprint, reuse_format=REUSE_FORMAT)
            conn.execute("VACUUM (FREEZE, ANALYZE)")
        seconds = time.perf_counter() - started
        ident = sql.Identifier(name)
        with admin.transaction():
            admin.execute(sql.SQL("ALTER DATABASE {} RENAME TO {}").format(sql.Identifier(building), ident))
            admin.execute(sql.SQL("ALTER DATABASE {} WITH IS_TEMPLATE true ALLOW_CONNECTIONS false").format(ident))
            set_comment(
                admin,
                name,
                comment(
                    KIND_TEMPLATE,
                    fingerprint=fingerprint,
                    scenario=scenario.name,
                    seed=scenario.seed,
                    build_seconds=round(seconds, 3),
                ),
            )
    except BaseException as exc:
        with contextlib.suppress(Exception):
            drop_database(admin, building, prefixes=OUR_PREFIXES)
        if isinstance(exc, psycopg.Error):
            raise TemplateError(
                f"building template {name} for scenario {scenario.name!r} failed: "
                f"{(exc.diag.message_primary or str(exc)).strip()}",
                hint="the admin role must be a superuser (the template installs event triggers) and extra_sql "
                "must run in an empty SSPP database; fix the cause above and run again",
                template=name,
                sqlstate=exc.sqlstate,
            ) from exc
        raise
    return TemplateInfo(name, fingerprint, seconds, built_now=True)


def list_templates(admin: psycopg.Connection[Any]) -> list[tuple[str, bool, dict[str, Any] | None]]:
    """``(name, datistemplate, comment data)`` of every ``sspp_tpl_*`` database (finished or being built)."""
    from ._names import parse_comment

    rows = admin.execute(
        "SELECT datname, datistemplate, pg_catalog.shobj_description(oid, 'pg_database') "
        "FROM pg_catalog.pg_database WHERE datname LIKE %s ORDER BY datname",
        (TEMPLATE_PREFIX.replace("_", "\\_") + "%",),
    ).fetchall()
    return [(str(n), bool(t), parse_comment(c)) for n, t, c in rows]


def drop_templates(
    admin_dsn: str,
    *,
    names: Collection[str] | None = None,
    keep: Collection[str] = (),
    older_than_s: float | None = None,
) -> list[str]:
    """Drop finished templates: all of them, or only ``names``, or those built more than ``older_than_s`` ago.

    Names in ``keep`` are kept; templates being built are left to :func:`sweep`. Clones already made from a
    template are not affected; the databases parked for its next runs are dropped with it. Returns the names of
    the templates dropped.
    """
    dropped: list[str] = []
    now = time.time()
    with connect(admin_dsn) as admin:
        for name, _is_template, data in list_templates(admin):
            if name in keep or data is None or data.get("sspp") != KIND_TEMPLATE:
                continue
            if names is not None and name not in names:
                continue
            if older_than_s is not None and now - float(data.get("created", now)) < older_than_s:
                continue
            drop_database(admin, name, prefixes=OUR_PREFIXES)
            dropped.append(name)
        for name, _is_template, data in list_templates(admin):  # the databases parked for the next runs go too
            if data is not None and data.get("sspp") == KIND_PARKED and data.get("template") in dropped:
                with contextlib.suppress(psycopg.Error):
                    drop_database(admin, name, prefixes=OUR_PREFIXES)
    return dropped
