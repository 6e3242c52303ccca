"""Factory rows as :class:`~sspp_fixtures.bulkgen.Columns` chunks, rendered as the bulk engine renders its own,
so the same COPY formatter sends both."""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime
from typing import Any, Final
from uuid import UUID

from ..bulkgen import TABLE_ORDER, TABLES, Columns
from ..errors import UsageError
from ..model import Customer, Event, SalesSignal, Signal
from ._values import naive_utc

__all__ = ["TABLE_OF", "Row", "rows_to_columns"]

Row = Customer | Event | Signal | SalesSignal

#: The table each row class goes to.
TABLE_OF: Final[dict[type[Any], str]] = {
    Customer: "customers",
    Event: "events",
    Signal: "signals",
    SalesSignal: "sales_signals",
}
_MODEL_OF: Final = {table: model for model, table in TABLE_OF.items()}


def _text(value: Any) -> str:
    return value if isinstance(value, str) else str(value)


def _number(value: Any) -> str:
    return str(value) if isinstance(value, int) else f"{value:.2f}"


def _timestamp(value: datetime) -> str:
    return naive_utc(value).isoformat(timespec="microseconds")


def _uuid_text(value: UUID | str) -> str:
    return str(value if isinstance(value, UUID) else UUID(value))


def _json(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


_RENDER: Final = {"text": _text, "number": _number, "timestamp": _timestamp, "uuid": _uuid_text, "json": _json}


def rows_to_columns(table: str, rows: Sequence[Row]) -> Columns:
    """Rows of ``table`` as a :class:`~sspp_fixtures.bulkgen.Columns` chunk, rendered as the bulk engine does.

    Timestamps ISO with microseconds (aware ones converted to naive UTC, as the columns are ``TIMESTAMP``),
    numbers with two decimals, UUIDs canonical, JSON compact, ``None`` as NULL.
    """
    spec = TABLES.get(table)
    if spec is None:
        raise UsageError(f"unknown table {table!r}", hint=f"use one of: {', '.join(TABLE_ORDER)}")
    model = _MODEL_OF[table]
    wrong = next((row for row in rows if not isinstance(row, model)), None)
    if wrong is not None:
        raise UsageError(f"{table} takes {model.__name__} rows, got {type(wrong).__name__}", hint="group rows by table")
    values: dict[str, list[str | None]] = {}
    for column, kind in zip(spec.columns, spec.kinds, strict=True):
        render = _RENDER[kind]
        values[column] = [None if (v := getattr(row, column)) is None else render(v) for row in rows]
    return Columns(table, values, len(rows))
