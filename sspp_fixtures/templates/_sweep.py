"""Dropping what crashed or killed runs left on the server: test databases and half-built templates.

Only databases whose name has one of this package's prefixes *and* whose comment says they are ours (or, for a
test database without its comment yet, whose name embeds a dead pid) are considered. A database made by a
process on this host is dropped when that process is gone; one made on another host (a shared server) when it
is older than ``older_than_s``. Finished templates are dropped only when ``templates_older_than_s`` is given.
"""

from __future__ import annotations

import os
import re
import time
from typing import Any

import psycopg

from .._stale import pid_alive
from ..databases import drop_database
from ..dsn import connect
from ._fingerprint import BUILD_SUFFIX, OUR_PREFIXES, PARK_SUFFIX, TEMPLATE_PREFIX, TEST_PREFIX
from ._names import KIND_BUILDING, KIND_PARKED, KIND_TEMPLATE, KIND_TEST, hostname, parse_comment

__all__ = ["sweep"]

_BUILDING = re.compile(rf"^{TEMPLATE_PREFIX}[0-9a-f]{{20}}{BUILD_SUFFIX}(\d+)$")
_PARKED = re.compile(rf"^({TEMPLATE_PREFIX}[0-9a-f]{{20}}){PARK_SUFFIX}\d+_\d+$")
#: A database parked for a next run that none claimed within this long is dropped.
PARKED_MAX_AGE_S = 24 * 3600.0
_TEST = re.compile(rf"^{TEST_PREFIX}[0-9a-f]{{8}}_[a-z0-9]+_(\d+)_\d+$")
_DAY_S = 24 * 3600.0


def _abandoned(data: dict[str, Any] | None, name_pid: int | None, *, older_than_s: float, now: float) -> bool:
    if data is None:
        # Created but not commented yet (a crash between the two statements): only the name's pid tells.
        return name_pid is not None and name_pid != os.getpid() and not pid_alive(name_pid)
    pid = int(data.get("pid", 0))
    if data.get("host") == hostname():
        return pid != os.getpid() and not pid_alive(pid)
    return now - float(data.get("created", now)) > older_than_s


def sweep(admin_dsn: str, *, older_than_s: float = _DAY_S, templates_older_than_s: float | None = None) -> list[str]:
    """Drop abandoned ``sspp_t_*`` test databases, ``sspp_tpl_*_b*`` half-built templates and ``sspp_tpl_*_k*``
    parked databases whose template is gone (or goes now) or that none claimed for a day; return their names."""
    dropped: list[str] = []
    now = time.time()
    with connect(admin_dsn) as admin:
        rows = admin.execute(
            "SELECT datname, pg_catalog.shobj_description(oid, 'pg_database') FROM pg_catalog.pg_database "
            "WHERE datname LIKE %s OR datname LIKE %s ORDER BY datname",
            (TEST_PREFIX.replace("_", "\\_") + "%", TEMPLATE_PREFIX.replace("_", "\\_") + "%"),
        ).fetchall()
        names = {str(row[0]) for row in rows}
        for name, text in rows:
            data = parse_comment(text)
            kind = data.get("sspp") if data else None
            if (parked := _PARKED.match(name)) is not None:
                if kind != KIND_PARKED or data is None:
                    continue
                template = parked.group(1)  # sorts before its parked databases: dropped above if it went
                if (
                    template in names
                    and template not in dropped
                    and now - float(data.get("created", now)) <= PARKED_MAX_AGE_S
                ):
                    continue
            elif (test := _TEST.match(name)) is not None:
                if kind not in (None, KIND_TEST):
                    continue
                if not _abandoned(data, int(test.group(1)), older_than_s=older_than_s, now=now):
                    continue
            elif (building := _BUILDING.match(name)) is not None:
                if kind != KIND_BUILDING:
                    continue
                if not _abandoned(data, int(building.group(1)), older_than_s=older_than_s, now=now):
                    continue
            elif kind == KIND_TEMPLATE and data is not None and templates_older_than_s is not None:
                if now - float(data.get("created", now)) <= templates_older_than_s:
                    continue
            else:
                continue
            try:
                drop_database(admin, name, prefixes=OUR_PREFIXES)
            except psycopg.Error:
                continue  # in use by a clone being made, or gone already: the next sweep tries again
            dropped.append(name)
    return dropped
