"""The tables as the generator writes them: column names and what kind of value each holds."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from .._table_order import TABLE_ORDER
from ..model import CUSTOMER_COLUMNS, EVENT_COLUMNS, SALES_SIGNAL_COLUMNS, SIGNAL_COLUMNS

__all__ = ["TABLES", "TABLE_ORDER", "Kind", "TableSpec"]

Kind = Literal["text", "json", "number", "timestamp", "uuid"]


@dataclass(frozen=True)
class TableSpec:
    name: str
    columns: tuple[str, ...]
    kinds: tuple[Kind, ...]

    def kind(self, column: str) -> Kind:
        return self.kinds[self.columns.index(column)]


def _spec(name: str, columns: tuple[str, ...], special: dict[str, Kind]) -> TableSpec:
    return TableSpec(name, columns, tuple(special.get(column, "text") for column in columns))


TABLES: dict[str, TableSpec] = {
    "customers": _spec(
        "customers",
        CUSTOMER_COLUMNS,
        {"annual_value": "number", "created_at": "timestamp", "updated_at": "timestamp"},
    ),
    "events": _spec("events", EVENT_COLUMNS, {"id": "uuid", "payload": "json", "received_at": "timestamp"}),
    "signals": _spec(
        "signals",
        SIGNAL_COLUMNS,
        {
            "id": "uuid",
            "signal_data": "json",
            "processed_at": "timestamp",
            "created_at": "timestamp",
            "event_id": "uuid",
        },
    ),
    "sales_signals": _spec(
        "sales_signals",
        SALES_SIGNAL_COLUMNS,
        {
            "id": "number",
            "signal_score": "number",
            "timestamp": "timestamp",
            "processed_at": "timestamp",
            "metadata": "json",
            "created_at": "timestamp",
            "updated_at": "timestamp",
        },
    ),
}
