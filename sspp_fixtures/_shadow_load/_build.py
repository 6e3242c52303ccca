"""Index builds and ANALYZE of the shadow tables over several connections at once.

The builds are dealt out largest first (the GIN index on ``signals.signal_data`` alone is about half the index
work, so it starts first and the others run beside it). A key's index is built as a unique index, which does not
lock its table against the other builds, and becomes the key once the table's builds are done; then the table
is analyzed, like the single-transaction load does after its indexes.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import psycopg
from psycopg import sql

from .._load_common import index_build_memory
from ..errors import LoadError
from ._live import IndexSpec, LiveTable
from ._workers import Crew, Member

__all__ = ["build_and_analyze", "shadow_index_definition"]


def shadow_index_definition(index: IndexSpec, shadow: str) -> str:
    """``index``'s ``CREATE INDEX`` statement (from ``pg_get_indexdef``) on the shadow table instead of the live."""
    head, on, tail = index.definition.partition(f" ON {index.live_table} USING ")
    if not on:
        raise LoadError(
            f"cannot read the definition of index {index.name} on {index.table}: {index.definition!r}",
            hint="load with --connections 1, and report this with the index definition",
            table=index.table,
        )
    return f"{head} ON {_quoted(shadow)}.{_quoted(index.table)} USING {tail}"


def _quoted(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


@dataclass
class _Plan:
    """What is left to do: index builds in order, then per table its keys and ANALYZE once its builds are done."""

    builds: list[IndexSpec]
    pending: dict[str, int]
    finishing: list[str] = field(default_factory=list)
    running: int = 0
    condition: threading.Condition = field(default_factory=threading.Condition)

    def next(self, crew: Crew) -> IndexSpec | str | None:
        with self.condition:
            while not crew.failed.is_set():
                if self.finishing:
                    self.running += 1
                    return self.finishing.pop(0)
                if self.builds:
                    self.running += 1
                    return self.builds.pop(0)
                if self.running == 0:
                    return None
                self.condition.wait(0.2)
            return None

    def done(self, job: IndexSpec | str) -> None:
        with self.condition:
            self.running -= 1
            if isinstance(job, IndexSpec):
                self.pending[job.table] -= 1
                if self.pending[job.table] == 0:
                    self.finishing.append(job.table)
            self.condition.notify_all()


def build_and_analyze(
    crew: Crew,
    tables: list[LiveTable],
    *,
    shadow: str,
    live: str,
    sizes: dict[str, int],
    parallel_workers: int,
    notify: Callable[[str, int], None],
) -> None:
    """Build every index of ``tables`` on the shadow tables (each with the sort memory its table's size calls for,
    ``parallel_workers`` being the members' setting), make the keys, comment them, ANALYZE each table."""
    by_name = {t.name: t for t in tables}
    builds = sorted(
        (index for table in tables for index in table.indexes),
        key=lambda i: (not i.gin, -sizes.get(i.table, 0), i.table, i.name),
    )
    plan = _Plan(builds, {t.name: len(t.indexes) for t in tables})
    plan.finishing.extend(t.name for t in tables if not t.indexes)
    lock = threading.Lock()

    def work(member: Member) -> None:
        while (job := plan.next(crew)) is not None:
            with lock:
                notify(f"index:{job.name}" if isinstance(job, IndexSpec) else f"analyze:{job}", 0)
            with member.watch.on_server():
                if isinstance(job, IndexSpec):
                    memory = index_build_memory(sizes.get(job.table, 0), gin=job.gin, parallel_workers=parallel_workers)
                    member.conn.execute(sql.SQL("SET maintenance_work_mem = {}").format(sql.Literal(memory)))
                    member.conn.execute(shadow_index_definition(job, shadow).encode())
                else:
                    _finish_table(member.conn, by_name[job], shadow)
            plan.done(job)

    crew.run(work, "index")


def _finish_table(conn: psycopg.Connection[Any], table: LiveTable, shadow: str) -> None:
    target = sql.Identifier(shadow, table.name)
    for index in table.indexes:
        name = sql.Identifier(index.name)
        if index.constraint is not None:
            conn.execute(
                sql.SQL(
                    "ALTER TABLE {} ADD CONSTRAINT {} " + index.constraint + " USING INDEX {}" + index.deferrable
                ).format(target, name, name)
            )
            if index.constraint_comment is not None:
                conn.execute(
                    sql.SQL("COMMENT ON CONSTRAINT {} ON {} IS {}").format(
                        name, target, sql.Literal(index.constraint_comment)
                    )
                )
        if index.comment is not None:
            conn.execute(
                sql.SQL("COMMENT ON INDEX {} IS {}").format(
                    sql.Identifier(shadow, index.name), sql.Literal(index.comment)
                )
            )
    conn.execute(sql.SQL("ANALYZE {}").format(target))
