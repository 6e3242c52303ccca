"""A resolved scenario: every field known, defaults filled in from the model, ready for the engines."""

from __future__ import annotations

import hashlib
import json
import math
from dataclasses import asdict, dataclass, field, replace
from datetime import date, datetime, time, timedelta
from typing import Any

from ..errors import UsageError
from ._spec import MAX_CUSTOMERS, MAX_EVENTS

__all__ = ["Scenario", "Story", "StoryCustomer", "StoryEvent"]


@dataclass(frozen=True)
class StoryCustomer:
    customer_id: str
    name: str
    segment: str
    locale: str
    industry: str | None
    lifecycle_stage: str | None
    contact_name: str | None
    contact_email: str | None


@dataclass(frozen=True)
class StoryEvent:
    type: str
    day: int
    time: str
    count: int
    every_minutes: int
    processed: bool
    payload: dict[str, Any]

    def timestamps(self, window_start: datetime) -> list[datetime]:
        """When each of the ``count`` events happens (UTC)."""
        hours, minutes = (int(part) for part in self.time.split(":"))
        first = window_start + timedelta(days=self.day, hours=hours, minutes=minutes)
        return [first + timedelta(minutes=self.every_minutes * i) for i in range(self.count)]


@dataclass(frozen=True)
class Story:
    name: str
    description: str
    customer: StoryCustomer
    events: tuple[StoryEvent, ...]


@dataclass(frozen=True)
class Scenario:
    """Everything the engines need to generate one data set; same scenario + seed gives the same data."""

    name: str
    description: str
    seed: int
    window_end_date: date
    window_days: int
    customers: int
    events: int
    processed_share: float
    event_mix: dict[str, float]
    segment_shares: dict[str, float]
    locale_shares: dict[str, float]
    activity_skew: float
    trend: float
    stories: tuple[Story, ...]
    sources: tuple[str, ...] = field(default=(), compare=False)

    @property
    def window_end(self) -> datetime:
        """Exclusive end of the window: midnight after ``window_end_date`` (UTC, naive like the schema)."""
        return datetime.combine(self.window_end_date + timedelta(days=1), time())

    @property
    def window_start(self) -> datetime:
        return self.window_end - timedelta(days=self.window_days)

    @property
    def story_event_count(self) -> int:
        return sum(event.count for story in self.stories for event in story.events)

    def with_overrides(self, *, seed: int | None = None, scale: float | None = None) -> Scenario:
        """This scenario with another seed and/or its customer and event counts multiplied by ``scale``."""
        result = self
        if seed is not None:
            if seed < 0 or seed > 2**63 - 1:
                raise UsageError(f"--seed {seed}: out of range", hint="use a whole number from 0 to 2**63-1")
            result = replace(result, seed=seed)
        if scale is not None:
            if not (math.isfinite(scale) and scale > 0):
                raise UsageError(
                    f"--scale {scale:g}: must be greater than 0 and finite", hint="e.g. --scale 0.1 or --scale 10"
                )
            wanted_customers, wanted_events = self.customers * scale, self.events * scale
            if not wanted_customers <= MAX_CUSTOMERS or not wanted_events <= MAX_EVENTS:
                raise UsageError(
                    f"--scale {scale:g} makes {_count(wanted_customers)} customers and {_count(wanted_events)} events",
                    hint=f"stay within {MAX_CUSTOMERS:,} customers and {MAX_EVENTS:,} events",
                )
            customers = max(1, round(wanted_customers))
            events = round(wanted_events)
            if customers > MAX_CUSTOMERS or events > MAX_EVENTS:
                raise UsageError(
                    f"--scale {scale:g} makes {customers:,} customers and {events:,} events",
                    hint=f"stay within {MAX_CUSTOMERS:,} customers and {MAX_EVENTS:,} events",
                )
            result = replace(result, customers=customers, events=events)
        return result

    def to_dict(self) -> dict[str, Any]:
        """Plain, JSON-ready data (dates as ISO strings, mappings as dicts)."""
        data = asdict(self)
        data.pop("sources")
        return json.loads(json.dumps(data, default=_plain))  # type: ignore[no-any-return]

    def to_file_dict(self) -> dict[str, Any]:
        """This scenario as a complete scenario file (no ``extends``, every default written out): saved as YAML or
        JSON, it validates and loads to the same data."""
        data = self.to_dict()
        return {
            "name": self.name,
            "description": self.description,
            "seed": self.seed,
            "window": {"end": self.window_end_date, "days": self.window_days},
            "customers": self.customers,
            "events": self.events,
            "processed_share": self.processed_share,
            "event_mix": data["event_mix"],
            "segments": data["segment_shares"],
            "locales": data["locale_shares"],
            "activity_skew": self.activity_skew,
            "trend": self.trend,
            "stories": [
                {
                    "name": story["name"],
                    "description": story["description"],
                    "customer": {k: v for k, v in story["customer"].items() if v is not None},
                    "events": story["events"],
                }
                for story in data["stories"]
            ],
        }

    def fingerprint(self) -> str:
        """sha256 of everything that shapes the data (not where the files came from)."""
        canonical = json.dumps(self.to_dict(), sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(canonical.encode()).hexdigest()


def _count(value: float) -> str:
    return f"{value:,.0f}" if math.isfinite(value) else "more than 1e308"


def _plain(value: object) -> object:
    if isinstance(value, date):
        return value.isoformat()
    raise TypeError(type(value).__name__)
