"""What replay sends: one platform event, as the platform's API receives it and as its queue holds it.

An event's body is the JSON the API takes on ``POST /events`` and the job data Bull stores for it:
``{accountId, userId, eventType, timestamp, metadata}``, in that order, compact, UTF-8 unescaped (the API passes
the body through ``JSON.stringify``, which keeps non-ASCII characters as they are).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import NamedTuple, Protocol

import numpy as np
import numpy.typing as npt

__all__ = ["EventBatch", "ReplayEvent", "SentEvent", "event_body", "iso_millis", "json_string"]


class EventBatch(Protocol):
    """Columns of platform events (the generator's ``PlatformEvents``): equal-length fields, one event per row.

    ``timestamp`` is naive UTC (``datetime64[ms]``), ``metadata`` JSON object text, ``index`` the event's unique
    position in the scenario (the tie-breaker between events of the same millisecond).
    """

    @property
    def account_id(self) -> list[str]: ...
    @property
    def user_id(self) -> list[str]: ...
    @property
    def event_type(self) -> list[str]: ...
    @property
    def timestamp(self) -> npt.NDArray[np.datetime64]: ...
    @property
    def metadata(self) -> list[str]: ...
    @property
    def index(self) -> npt.NDArray[np.int64]: ...


class ReplayEvent(NamedTuple):
    """One event of the scenario; tuples order by (time, index), which is the order replay sends them in."""

    time_ms: int  # scenario time, milliseconds since 1970-01-01 UTC
    position: int  # the batch's ``index``: unique, breaks ties between events of the same millisecond
    account_id: str
    user_id: str
    event_type: str
    metadata: str  # JSON object text


@dataclass(frozen=True, slots=True)
class SentEvent:
    """One event as sent: its position in the run, its time as sent, its body, and its kind of invalidity (or None)."""

    seq: int
    time_ms: int
    body: str
    invalid: str | None = None


#: A JSON value as JavaScript's JSON.stringify writes it (compact, non-ASCII kept).
json_string = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode


def iso_millis(time_ms: int) -> str:
    """``2026-06-30T14:05:09.120Z``: the form JavaScript's ``Date.toISOString()`` gives and the API accepts."""
    moment = datetime.fromtimestamp(time_ms // 1000, UTC)
    return f"{moment:%Y-%m-%dT%H:%M:%S}.{time_ms % 1000:03d}Z"


def event_body(account_id: str, user_id: str, event_type: str, timestamp: str, metadata: str) -> str:
    """The API's request body (and Bull's job data) for one event; ``metadata`` is JSON object text."""
    return (
        f'{{"accountId":{json_string(account_id)},"userId":{json_string(user_id)},"eventType":{json_string(event_type)},'
        f'"timestamp":"{timestamp}","metadata":{metadata}}}'
    )
