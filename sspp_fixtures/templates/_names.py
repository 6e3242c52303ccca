"""Names and database comments that make the tool's databases recognisable (and sweepable) from the server.

Every database this package creates carries a JSON ``COMMENT ON DATABASE`` saying what it is, which host and
process made it and when: ``{"sspp": "template" | "building" | "test", "host": ..., "pid": ..., "created": ...}``.
The sweeper reads those comments (one query on the maintenance database) and never touches a database whose
name and comment do not both say it is ours.
"""

from __future__ import annotations

import json
import re
import socket
import time
from typing import Any

import psycopg
from psycopg import sql

__all__ = ["KIND_BUILDING", "KIND_PARKED", "KIND_TEMPLATE", "KIND_TEST", "comment", "read_comment", "set_comment"]

KIND_TEMPLATE = "template"
KIND_BUILDING = "building"
KIND_TEST = "test"
#: A test database a run left, restored, for the next run of its template (``sspp_tpl_<fp20>_k<pid>_<n>``).
KIND_PARKED = "parked"


def hostname() -> str:
    return socket.gethostname()


def comment(kind: str, **extra: Any) -> str:
    """The JSON comment of a database of ``kind`` made by this process now."""
    import os

    data: dict[str, Any] = {"sspp": kind, "host": hostname(), "pid": os.getpid(), "created": round(time.time(), 3)}
    data.update(extra)
    return json.dumps(data, sort_keys=True, separators=(",", ":"))


def parse_comment(text: str | None) -> dict[str, Any] | None:
    """The comment's data if it is one of ours, else ``None``."""
    if not text:
        return None
    try:
        data = json.loads(text)
    except ValueError:
        return None
    if not isinstance(data, dict) or data.get("sspp") not in (KIND_TEMPLATE, KIND_BUILDING, KIND_TEST, KIND_PARKED):
        return None
    return data


def set_comment(admin: psycopg.Connection[Any], name: str, text: str) -> None:
    admin.execute(sql.SQL("COMMENT ON DATABASE {} IS {}").format(sql.Identifier(name), sql.Literal(text)))


def read_comment(admin: psycopg.Connection[Any], name: str) -> tuple[bool, dict[str, Any] | None] | None:
    """``(datistemplate, comment data)`` of database ``name``, or ``None`` when it does not exist."""
    row = admin.execute(
        "SELECT datistemplate, pg_catalog.shobj_description(oid, 'pg_database') FROM pg_catalog.pg_database "
        "WHERE datname = %s",
        (name,),
    ).fetchone()
    if row is None:
        return None
    return bool(row[0]), parse_comment(row[1])


_UNSAFE = re.compile(r"[^a-z0-9]+")


def safe_label(text: str, limit: int) -> str:
    """``text`` reduced to lowercase letters and digits, at most ``limit`` characters (``x`` if nothing is left)."""
    return _UNSAFE.sub("", text.lower())[:limit] or "x"
