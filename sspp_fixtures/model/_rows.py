"""Plain row objects, one per table, whose fields are exactly the table's columns in column order."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from types import MappingProxyType
from typing import Any, ClassVar, Final
from uuid import UUID

__all__ = [
    "COLUMN_LIMITS",
    "CUSTOMER_COLUMNS",
    "EVENT_COLUMNS",
    "SALES_SIGNAL_COLUMNS",
    "SIGNAL_COLUMNS",
    "Customer",
    "Event",
    "SalesSignal",
    "Signal",
]

CUSTOMER_COLUMNS: Final = (
    "customer_id", "name", "contact_name", "contact_email", "phone", "industry", "segment", "region",
    "country", "locale", "lifecycle_stage", "annual_value", "created_at", "updated_at",
)  # fmt: skip
EVENT_COLUMNS: Final = ("id", "event_type", "customer_id", "payload", "source", "received_at", "user_id")
SIGNAL_COLUMNS: Final = (
    "id", "event_type", "customer_id", "signal_data", "processed_at", "created_at", "event_id",
)  # fmt: skip
SALES_SIGNAL_COLUMNS: Final = (
    "id", "account_id", "user_id", "event_type", "signal_type", "signal_score", "timestamp", "processed_at",
    "metadata", "created_at", "updated_at",
)  # fmt: skip

# Character limits of the text columns (VARCHAR(n), CHAR(n)) per table, as in sql/migrations.
COLUMN_LIMITS: Final = MappingProxyType(
    {
        "customers": MappingProxyType(
            {
                "customer_id": 100, "name": 200, "contact_name": 200, "contact_email": 254, "phone": 50,
                "industry": 50, "segment": 20, "region": 20, "country": 2, "locale": 10, "lifecycle_stage": 20,
            }
        ),
        "events": MappingProxyType({"event_type": 50, "customer_id": 100, "source": 50, "user_id": 255}),
        "signals": MappingProxyType({"event_type": 50, "customer_id": 100}),
        "sales_signals": MappingProxyType(
            {"account_id": 255, "user_id": 255, "event_type": 100, "signal_type": 100}
        ),
    }
)  # fmt: skip


@dataclass(frozen=True, slots=True)
class Customer:
    """A row of ``customers``: the cached metadata of one customer (timestamps are naive UTC)."""

    COLUMNS: ClassVar[tuple[str, ...]] = CUSTOMER_COLUMNS

    customer_id: str
    name: str
    contact_name: str | None
    contact_email: str | None
    phone: str | None
    industry: str | None
    segment: str
    region: str | None
    country: str | None
    locale: str | None
    lifecycle_stage: str
    annual_value: Decimal | None
    created_at: datetime
    updated_at: datetime

    def as_row(self) -> tuple[Any, ...]:
        """The values in column order, as a loader writes them."""
        return tuple(getattr(self, column) for column in self.COLUMNS)


@dataclass(frozen=True, slots=True)
class Event:
    """A row of ``events``: one event as the API received it (``received_at`` is naive UTC); ``user_id`` is the
    user (sales rep) who acted, for the platform's event types."""

    COLUMNS: ClassVar[tuple[str, ...]] = EVENT_COLUMNS

    id: UUID
    event_type: str
    customer_id: str
    payload: dict[str, Any]
    source: str
    received_at: datetime
    user_id: str | None = None

    def as_row(self) -> tuple[Any, ...]:
        """The values in column order, as a loader writes them."""
        return tuple(getattr(self, column) for column in self.COLUMNS)


@dataclass(frozen=True, slots=True)
class Signal:
    """A row of ``signals``: what the worker derived from one event; ``event_id`` traces it back."""

    COLUMNS: ClassVar[tuple[str, ...]] = SIGNAL_COLUMNS

    id: UUID
    event_type: str
    customer_id: str
    signal_data: dict[str, Any]
    processed_at: datetime | None
    created_at: datetime | None
    event_id: UUID | None

    def as_row(self) -> tuple[Any, ...]:
        """The values in column order, as a loader writes them."""
        return tuple(getattr(self, column) for column in self.COLUMNS)


@dataclass(frozen=True, slots=True)
class SalesSignal:
    """A row of ``sales_signals``: what the platform's worker stored for one event of its six types.

    ``account_id`` is the customer's id, ``timestamp`` the event's time, ``metadata`` the event's metadata;
    ``signal_type`` and ``signal_score`` follow the worker's rules (times are naive UTC).
    """

    COLUMNS: ClassVar[tuple[str, ...]] = SALES_SIGNAL_COLUMNS

    id: int
    account_id: str
    user_id: str
    event_type: str
    signal_type: str
    signal_score: Decimal
    timestamp: datetime
    processed_at: datetime
    metadata: dict[str, Any] | None
    created_at: datetime
    updated_at: datetime

    def as_row(self) -> tuple[Any, ...]:
        """The values in column order, as a loader writes them."""
        return tuple(getattr(self, column) for column in self.COLUMNS)
