"""Each table's primary key as the migrations declare it, and the sequence that feeds it, if any.

What an idempotent seed needs: ``INSERT ... ON CONFLICT (key) DO NOTHING`` skips rows already there, and after
rows with explicit ids a ``setval`` moves the key's sequence past them, so the platform's own INSERTs (which take
ids from the sequence) do not collide. Read from the migration files, the schema's one source of truth; a test
checks the result against the catalog of a migrated database.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass

from ..errors import MigrationError
from ._migrations import Migration, load_migrations

__all__ = ["TableKey", "table_keys"]

_CREATE_TABLE = re.compile(r"\bCREATE\s+TABLE\s+(?:IF\s+NOT\s+EXISTS\s+)?(?:\w+\.)?(\w+)\s*\(", re.IGNORECASE)
_TABLE_PRIMARY_KEY = re.compile(r"^(?:CONSTRAINT\s+\w+\s+)?PRIMARY\s+KEY\s*\(([^)]*)\)", re.IGNORECASE)
_COLUMN = re.compile(r"^(\w+)\s+(.*)$", re.DOTALL)
_PRIMARY_KEY = re.compile(r"\bPRIMARY\s+KEY\b", re.IGNORECASE)
_SERIAL = re.compile(
    r"^(?:SMALL|BIG)?SERIAL\d?\b|\bGENERATED\s+(?:ALWAYS|BY\s+DEFAULT)\s+AS\s+IDENTITY\b", re.IGNORECASE
)
_NEXTVAL = re.compile(r"\bnextval\s*\(\s*'([^']+)'", re.IGNORECASE)


@dataclass(frozen=True)
class TableKey:
    """A table's primary key columns and, for a one-column key fed by a sequence, that sequence's name."""

    table: str
    columns: tuple[str, ...]
    sequence: str | None = None


def _body(sql: str, start: int) -> str:
    """The text between the parenthesis opening at ``start - 1`` and its match."""
    depth = 1
    for position in range(start, len(sql)):
        char = sql[position]
        if char == "(":
            depth += 1
        elif char == ")":
            depth -= 1
            if depth == 0:
                return sql[start:position]
    raise MigrationError("unbalanced parentheses in a CREATE TABLE", hint="fix the migration")


def _items(body: str) -> list[str]:
    """The body's column and constraint definitions: split at commas outside parentheses."""
    items: list[str] = []
    current: list[str] = []
    depth = 0
    for char in body:
        if char == "," and depth == 0:
            items.append("".join(current).strip())
            current = []
            continue
        depth += (char == "(") - (char == ")")
        current.append(char)
    items.append("".join(current).strip())
    return [item for item in items if item]


def _key_of(table: str, body: str) -> TableKey | None:
    for item in _items(body):
        declared = _TABLE_PRIMARY_KEY.match(item)
        if declared:
            return TableKey(table, tuple(c.strip().lower() for c in declared[1].split(",")))
    for item in _items(body):
        column = _COLUMN.match(item)
        if column and _PRIMARY_KEY.search(column[2]):
            name, definition = column[1].lower(), column[2]
            nextval = _NEXTVAL.search(definition)
            if nextval:
                sequence: str | None = nextval[1].split(".")[-1].strip('"')
            else:
                sequence = f"{table}_{name}_seq" if _SERIAL.search(definition) else None
            return TableKey(table, (name,), sequence)
    return None


@functools.cache
def _keys(migrations: tuple[Migration, ...]) -> dict[str, TableKey]:
    keys: dict[str, TableKey] = {}
    for migration in migrations:
        text = re.sub(r"--[^\n]*", "", migration.sql)
        for match in _CREATE_TABLE.finditer(text):
            table = match[1].lower()
            key = _key_of(table, _body(text, match.end()))
            if key is not None:
                keys[table] = key
    return keys


def table_keys(migrations: tuple[Migration, ...] | None = None) -> dict[str, TableKey]:
    """``{table: TableKey}`` for every table the migrations create with a primary key."""
    return dict(_keys(migrations if migrations is not None else load_migrations()))
