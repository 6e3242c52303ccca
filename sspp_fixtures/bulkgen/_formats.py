"""One formatter per output: PostgreSQL COPY text (the loader's), CSV, JSON lines, SQL INSERT statements, and
Elasticsearch ``_bulk`` NDJSON of ``sales_signals`` (the documents the platform's worker indexes).

A formatter turns a :class:`Columns` chunk into bytes; ``header``/``footer`` frame a whole table's output.
Like psycopg's ``Writer``, formatting is apart from sending: the same bytes go to a connection or a file.
"""

from __future__ import annotations

import csv
import functools
import io
import json
from typing import ClassVar, Protocol

from ..errors import SsppError
from ..schema._keys import TableKey, table_keys
from ._generate import Columns, Value
from ._tables import TABLES, TableSpec

__all__ = [
    "ES_INDEX",
    "ES_MAPPING",
    "FORMATS",
    "CopyText",
    "Csv",
    "EsBulk",
    "Formatter",
    "JsonLines",
    "SqlInserts",
    "formatter",
]

_COPY_SPECIALS = ("\\", "\t", "\n", "\r")
_COPY_ESCAPES = str.maketrans({"\\": "\\\\", "\t": "\\t", "\n": "\\n", "\r": "\\r"})
# Kinds whose text the generator makes from digits, dashes, colons and dots only.
_NEVER_ESCAPED = frozenset({"uuid", "timestamp", "number"})
_SQL_ROWS_PER_STATEMENT = 500


class Formatter(Protocol):
    name: ClassVar[str]
    extension: ClassVar[str]
    #: Tables whose pieces are PostgreSQL binary COPY streams (see ``_binary``); the others' are text.
    binary_tables: ClassVar[frozenset[str]]

    def header(self, spec: TableSpec) -> bytes: ...

    def rows(self, chunk: Columns) -> bytes: ...

    def footer(self, spec: TableSpec) -> bytes: ...


def _copy_escape(values: list[Value], kind: str) -> list[str]:
    """A column in COPY text: specials backslash-escaped (only when present), NULL as ``\\N``."""
    try:
        probe = "".join(values)  # type: ignore[arg-type]
    except TypeError:  # NULLs among the values
        has_null = True
        probe = "".join(v for v in values if v is not None) if kind not in _NEVER_ESCAPED else ""
    else:
        has_null = False
    if kind not in _NEVER_ESCAPED and any(special in probe for special in _COPY_SPECIALS):
        values = [None if v is None else v.translate(_COPY_ESCAPES) for v in values]
    return ["\\N" if v is None else v for v in values] if has_null else values  # type: ignore[return-value]


def _interleave(columns: list[list[str]]) -> bytes:
    """Rows joined by tabs and newlines, built as one flat list and joined once (twice as fast as per row)."""
    n, width = len(columns[0]), len(columns)
    flat = (["", "\t"] * (width - 1) + ["", "\n"]) * n  # separators in place; values fill the gaps
    for j, column in enumerate(columns):
        flat[2 * j :: 2 * width] = column
    return "".join(flat).encode()


class CopyText:
    """PostgreSQL's COPY text format: tab-separated, ``\\N`` for NULL, backslash escapes."""

    name: ClassVar[str] = "copy"
    extension: ClassVar[str] = "copy"
    binary_tables: ClassVar[frozenset[str]] = frozenset()

    def header(self, spec: TableSpec) -> bytes:
        return b""

    def rows(self, chunk: Columns) -> bytes:
        if not chunk.rows:
            return b""
        spec = TABLES[chunk.table]
        return _interleave(
            [
                chunk.values[c] if c in chunk.clean else _copy_escape(chunk.values[c], k)  # type: ignore[misc]
                for c, k in zip(spec.columns, spec.kinds, strict=True)
            ]
        )

    def footer(self, spec: TableSpec) -> bytes:
        return b""


class Csv:
    """RFC 4180 CSV with a header line; an empty unquoted field is NULL (as PostgreSQL's CSV COPY reads it)."""

    name: ClassVar[str] = "csv"
    extension: ClassVar[str] = "csv"
    binary_tables: ClassVar[frozenset[str]] = frozenset()

    def header(self, spec: TableSpec) -> bytes:
        return (",".join(spec.columns) + "\r\n").encode()

    def rows(self, chunk: Columns) -> bytes:
        buffer = io.StringIO()
        writer = csv.writer(buffer, lineterminator="\r\n")
        columns = [chunk.values[c] for c in TABLES[chunk.table].columns]
        writer.writerows(zip(*columns, strict=True))
        return buffer.getvalue().encode()

    def footer(self, spec: TableSpec) -> bytes:
        return b""


class JsonLines:
    """One JSON object per line; JSONB columns are nested objects, numbers are numbers."""

    name: ClassVar[str] = "jsonl"
    extension: ClassVar[str] = "jsonl"
    binary_tables: ClassVar[frozenset[str]] = frozenset()

    def header(self, spec: TableSpec) -> bytes:
        return b""

    def rows(self, chunk: Columns) -> bytes:
        spec = TABLES[chunk.table]
        rendered: list[list[str]] = []
        for column, kind in zip(spec.columns, spec.kinds, strict=True):
            key = json.dumps(column) + ":"
            values = chunk.values[column]
            if kind in ("json", "number"):
                rendered.append([key + ("null" if v is None else v) for v in values])
            else:
                rendered.append([key + json.dumps(v, ensure_ascii=False) for v in values])
        lines = ["{" + ",".join(parts) + "}" for parts in zip(*rendered, strict=True)]
        return ("\n".join(lines) + "\n").encode() if lines else b""

    def footer(self, spec: TableSpec) -> bytes:
        return b""


def _sql_literal(value: Value, kind: str) -> str:
    if value is None:
        return "NULL"
    if kind == "number":
        return value
    return "'" + value.replace("'", "''") + "'"


@functools.cache
def _keys() -> dict[str, TableKey]:
    return table_keys()


def _key(spec: TableSpec) -> TableKey:
    """The table's primary key, which its rows must carry: without it a second run would insert them again."""
    key = _keys().get(spec.name)
    if key is None:
        raise SsppError(
            f"table {spec.name} has no primary key in sql/migrations, so its INSERTs cannot skip rows already there",
            hint=f"declare a PRIMARY KEY for {spec.name} in its CREATE TABLE",
        )
    missing = [column for column in key.columns if column not in spec.columns]
    if missing:
        raise SsppError(
            f"the rows of {spec.name} lack its primary key ({', '.join(missing)}), so running its INSERTs twice "
            "would store them twice",
            hint=f"generate {', '.join(missing)} for {spec.name} (explicit ids; the seed moves the sequence past them)",
        )
    return key


class SqlInserts:
    """Plain multi-row ``INSERT`` statements: runnable by psql and by a driver's ``execute()``, and more than once.

    Each statement skips rows whose primary key is already there (``ON CONFLICT (key) DO NOTHING``); after a table
    whose key comes from a sequence, the footer moves the sequence past the highest id, so later INSERTs that take
    ids from it (the platform's own) do not collide with the explicit ones.
    """

    name: ClassVar[str] = "sql"
    extension: ClassVar[str] = "sql"
    binary_tables: ClassVar[frozenset[str]] = frozenset()

    def header(self, spec: TableSpec) -> bytes:
        return f"-- {spec.name}\n".encode()

    def rows(self, chunk: Columns) -> bytes:
        if not chunk.rows:
            return b""
        spec = TABLES[chunk.table]
        columns = [
            [_sql_literal(v, kind) for v in chunk.values[column]]
            for column, kind in zip(spec.columns, spec.kinds, strict=True)
        ]
        tuples = ["(" + ", ".join(row) + ")" for row in zip(*columns, strict=True)]
        prefix = f"INSERT INTO {spec.name} ({', '.join(spec.columns)}) VALUES\n"
        suffix = f"\nON CONFLICT ({', '.join(_key(spec).columns)}) DO NOTHING;\n"
        statements = [
            prefix + ",\n".join(tuples[i : i + _SQL_ROWS_PER_STATEMENT]) + suffix
            for i in range(0, len(tuples), _SQL_ROWS_PER_STATEMENT)
        ]
        return "".join(statements).encode()

    def footer(self, spec: TableSpec) -> bytes:
        key = _key(spec)
        if key.sequence is None:
            return b""
        (column,) = key.columns
        return f"SELECT setval('{key.sequence}', GREATEST((SELECT max({column}) FROM {spec.name}), 1));\n".encode()


#: The index the platform's worker writes signals to, and the mapping it creates the index with.
ES_INDEX = "sales-signals"
ES_MAPPING: dict[str, object] = {
    "mappings": {
        "properties": {
            "accountId": {"type": "keyword"},
            "userId": {"type": "keyword"},
            "eventType": {"type": "keyword"},
            "signalType": {"type": "keyword"},
            "signalScore": {"type": "float"},
            "timestamp": {"type": "date"},
            "processedAt": {"type": "date"},
            "metadata": {"type": "object", "enabled": False},
        }
    }
}


def _es_date(value: Value) -> str:
    """A JavaScript ``Date`` as JSON writes it: ``2026-06-09T19:04:03.461Z`` (the times are UTC, to the ms)."""
    assert value is not None
    return '"' + value[:23].replace(" ", "T") + 'Z"'


def _es_metadata(metadata: Value) -> str:
    """The metadata member of a document (left out, as JSON.stringify leaves out ``undefined``, when NULL)."""
    return "" if metadata is None else ',"metadata":' + metadata


class EsBulk:
    """Elasticsearch ``_bulk`` NDJSON of ``sales_signals``: an ``index`` action (``_id`` = the row's id) and the
    document the platform's worker indexes for it; the other tables have no documents."""

    name: ClassVar[str] = "es-bulk"
    extension: ClassVar[str] = "ndjson"
    binary_tables: ClassVar[frozenset[str]] = frozenset()
    tables: ClassVar[tuple[str, ...]] = ("sales_signals",)

    def header(self, spec: TableSpec) -> bytes:
        return b""

    def rows(self, chunk: Columns) -> bytes:
        if chunk.table not in self.tables or not chunk.rows:
            return b""
        v = chunk.values
        index = json.dumps(ES_INDEX)
        lines = [
            f'{{"index":{{"_index":{index},"_id":"{row_id}"}}}}\n'
            f'{{"accountId":{json.dumps(account, ensure_ascii=False)},"userId":{json.dumps(user, ensure_ascii=False)},'
            f'"eventType":{json.dumps(event_type)},"signalType":{json.dumps(signal_type)},'
            f'"signalScore":{"null" if score is None else repr(float(score))},"timestamp":{_es_date(timestamp)},'
            f'"processedAt":{_es_date(processed_at)}{_es_metadata(metadata)}}}\n'
            for row_id, account, user, event_type, signal_type, score, timestamp, processed_at, metadata in zip(
                v["id"], v["account_id"], v["user_id"], v["event_type"], v["signal_type"], v["signal_score"],
                v["timestamp"], v["processed_at"], v["metadata"], strict=True,
            )
        ]  # fmt: skip
        return "".join(lines).encode()

    def footer(self, spec: TableSpec) -> bytes:
        return b""


FORMATS: dict[str, type[Formatter]] = {f.name: f for f in (CopyText, Csv, JsonLines, SqlInserts, EsBulk)}


def formatter(name: str) -> Formatter:
    """A formatter by name: one of :data:`FORMATS`, or ``copy-binary`` (the loader's wire format)."""
    if name == "copy-binary":
        from ._binary import CopyBinary  # it builds on CopyText, so it lives in a module of its own

        return CopyBinary()
    return FORMATS[name]()
