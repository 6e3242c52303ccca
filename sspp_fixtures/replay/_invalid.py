"""Events the platform's API must reject (``--invalid SHARE``), for negative-path load tests.

Each kind breaks one rule of the API's ``CreateEventDto`` under its global ``ValidationPipe`` (whitelist,
forbidNonWhitelisted): a type outside the six, no metadata, a property the DTO does not declare, a timestamp that
is not ISO 8601, an empty account id. Which events are made invalid, and how, depends only on the seed and the
event's position in the run, so ``verify`` finds the same ones again.
"""

from __future__ import annotations

from typing import Final

import numpy as np

from ..model import derive_rng
from ._events import ReplayEvent, event_body

__all__ = ["INVALID_KINDS", "InvalidPlan", "invalid_body"]

#: Each kind of invalid event, with the message the API answers it with.
INVALID_KINDS: Final = {
    "unknown_event_type": "eventType must be one of the following values: email_sent, email_opened, ...",
    "missing_metadata": "metadata must be an object",
    "extra_field": "property source should not exist",
    "bad_timestamp": "timestamp must be a valid ISO 8601 date string",
    "empty_account_id": "accountId should not be empty",
}
_KINDS: Final = tuple(INVALID_KINDS)
_BLOCK: Final = 4096
#: The type that no platform rule knows (the generator's own funnel has it; the API does not).
_UNKNOWN_TYPE: Final = "page_view"


def invalid_body(kind: str, event: ReplayEvent, timestamp: str) -> str:
    """The body of ``event`` broken the way ``kind`` says."""
    account, user, event_type, metadata = event.account_id, event.user_id, event.event_type, event.metadata
    if kind == "unknown_event_type":
        return event_body(account, user, _UNKNOWN_TYPE, timestamp, metadata)
    if kind == "missing_metadata":
        without = event_body(account, user, event_type, timestamp, "{}")
        return without[: without.rindex(',"metadata":')] + "}"
    if kind == "extra_field":
        return event_body(account, user, event_type, timestamp, metadata)[:-1] + ',"source":"sspp-replay"}'
    if kind == "bad_timestamp":
        return event_body(account, user, event_type, timestamp.replace("T", " at ").removesuffix("Z"), metadata)
    if kind == "empty_account_id":
        return event_body("", user, event_type, timestamp, metadata)
    raise ValueError(f"unknown kind of invalid event {kind!r}")


class InvalidPlan:
    """Which positions of a run are sent invalid, and how: a fixed function of (seed, share, position)."""

    def __init__(self, seed: int, share: float) -> None:
        self.seed = seed
        self.share = share
        self._block = -1
        self._draws: np.ndarray = np.empty(0)
        self._kinds: list[int] = []

    def kind(self, seq: int) -> str | None:
        if self.share <= 0:
            return None
        block, offset = divmod(seq, _BLOCK)
        if block != self._block:
            rng = derive_rng(self.seed, "replay-invalid", block)
            self._draws = rng.random(_BLOCK)
            self._kinds = rng.integers(0, len(_KINDS), _BLOCK).tolist()
            self._block = block
        return _KINDS[self._kinds[offset]] if self._draws[offset] < self.share else None
