"""What one scenario file may say, field by field: types, ranges and allowed values (pydantic, strict).

A file is checked on its own, before ``extends`` merges it with its parent, so every error names the file
that holds the mistake. Every field is optional here; what a complete scenario needs is checked after merging.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, field_validator

from ..model import (
    EVENT_TYPE_NAMES,
    INDUSTRIES,
    LIFECYCLE_STAGES,
    LOCALE_CODES,
    SEGMENTS,
    choice_problem,
    shares_sum_problem,
)

__all__ = [
    "MAX_CUSTOMERS",
    "MAX_EVENTS",
    "ScenarioSpec",
    "StoryCustomerSpec",
    "StoryEventSpec",
    "StorySpec",
    "WindowSpec",
]

MAX_CUSTOMERS = 50_000_000
MAX_EVENTS = 2_000_000_000
MAX_WINDOW_DAYS = 3660
#: The window's end: late enough that its start (up to MAX_WINDOW_DAYS before) is a real date, and early
#: enough that the day after it (the exclusive end) is one too.
EARLIEST_END = date(1900, 1, 1)
LATEST_END = date(9998, 12, 31)
_SLUG = r"^[a-z0-9][a-z0-9_-]{0,62}$"


def _check_names(values: Mapping[str, Any], allowed: tuple[str, ...], what: str) -> None:
    for key in values:
        problem = choice_problem(key, allowed, what)
        if problem is not None:
            raise ValueError(problem)


def _check_shares(shares: Mapping[str, float], allowed: tuple[str, ...], what: str) -> dict[str, float]:
    _check_names(shares, allowed, what)
    if not shares:
        raise ValueError(f"give at least one {what} with a share")
    problem = shares_sum_problem(shares)
    if problem is not None:
        raise ValueError(problem)
    return dict(shares)


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True, frozen=True, allow_inf_nan=False)


Share = Annotated[float, Field(ge=0, le=1)]


class WindowSpec(_Strict):
    """The time window the data covers: ``days`` days ending with the date ``end`` (included)."""

    end: Annotated[date, Field(strict=False, ge=EARLIEST_END, le=LATEST_END)] | None = None
    days: int | None = Field(default=None, ge=1, le=MAX_WINDOW_DAYS)

    @field_validator("end", mode="before")
    @classmethod
    def _today_on_request(cls, value: object) -> object:
        if value == "today":
            return date.today()
        return value


class StoryCustomerSpec(_Strict):
    """The customer a story is about: a specific, named account that demos can point at."""

    customer_id: str | None = Field(default=None, min_length=1, max_length=100, pattern=r"^[A-Za-z0-9_.:-]+$")
    name: str = Field(min_length=1, max_length=200)
    segment: str = "mid_market"
    locale: str = "en_US"
    industry: str | None = None
    lifecycle_stage: str | None = None
    contact_name: str | None = Field(default=None, min_length=1, max_length=200)
    contact_email: str | None = Field(default=None, min_length=3, max_length=254, pattern=r"^[^@\s]+@[^@\s]+$")

    @field_validator("segment")
    @classmethod
    def _segment(cls, value: str) -> str:
        _check_names({value: 1}, SEGMENTS, "segment")
        return value

    @field_validator("locale")
    @classmethod
    def _locale(cls, value: str) -> str:
        _check_names({value: 1}, LOCALE_CODES, "locale")
        return value

    @field_validator("industry")
    @classmethod
    def _industry(cls, value: str | None) -> str | None:
        if value is not None:
            _check_names({value: 1}, INDUSTRIES, "industry")
        return value

    @field_validator("lifecycle_stage")
    @classmethod
    def _lifecycle(cls, value: str | None) -> str | None:
        if value is not None:
            _check_names({value: 1}, LIFECYCLE_STAGES, "lifecycle stage")
        return value


class StoryEventSpec(_Strict):
    """One scripted event: its type, when (day of the window, UTC time), how often, and payload overrides."""

    type: str
    day: int = Field(ge=0, le=MAX_WINDOW_DAYS)
    time: str = Field(default="10:00", pattern=r"^([01]\d|2[0-3]):[0-5]\d$")
    count: int = Field(default=1, ge=1, le=1000)
    every_minutes: int = Field(default=7, ge=1, le=24 * 60)
    processed: bool = True
    payload: dict[str, Any] = Field(default_factory=dict)

    @field_validator("type")
    @classmethod
    def _type(cls, value: str) -> str:
        _check_names({value: 1}, EVENT_TYPE_NAMES, "event type")
        return value


class StorySpec(_Strict):
    """A named, scripted run of events for one customer (a trial that converts, an account going sour...)."""

    name: str = Field(pattern=_SLUG)
    description: str = ""
    customer: StoryCustomerSpec
    events: list[StoryEventSpec] = Field(min_length=1, max_length=10_000)


class ScenarioSpec(_Strict):
    """One scenario file as written; every field optional (a file may only override its parent's)."""

    name: str | None = Field(default=None, pattern=_SLUG)
    description: str | None = Field(default=None, max_length=2000)
    extends: str | None = Field(default=None, min_length=1)
    seed: int | None = Field(default=None, ge=0, le=2**63 - 1)
    window: WindowSpec | None = None
    customers: int | None = Field(default=None, ge=1, le=MAX_CUSTOMERS)
    events: int | None = Field(default=None, ge=0, le=MAX_EVENTS)
    processed_share: Annotated[float, Field(gt=0, le=1)] | None = None
    event_mix: dict[str, Annotated[float, Field(ge=0)]] | None = None
    segments: dict[str, Share] | None = None
    locales: dict[str, Share] | None = None
    activity_skew: float | None = Field(default=None, ge=0.2, le=3.0)
    trend: float | None = Field(default=None, ge=0.1, le=10.0)
    stories: list[StorySpec] | None = None

    @field_validator("event_mix")
    @classmethod
    def _event_mix(cls, value: dict[str, float] | None) -> dict[str, float] | None:
        if value is not None:
            _check_names(value, EVENT_TYPE_NAMES, "event type")
        return value

    @field_validator("segments")
    @classmethod
    def _segments(cls, value: dict[str, float] | None) -> dict[str, float] | None:
        return None if value is None else _check_shares(value, SEGMENTS, "segment")

    @field_validator("locales")
    @classmethod
    def _locales(cls, value: dict[str, float] | None) -> dict[str, float] | None:
        return None if value is None else _check_shares(value, LOCALE_CODES, "locale")

    @field_validator("stories")
    @classmethod
    def _unique_stories(cls, value: list[StorySpec] | None) -> list[StorySpec] | None:
        if value is not None:
            seen: set[str] = set()
            for story in value:
                if story.name in seen:
                    raise ValueError(f"two stories are named {story.name!r}; give each its own name")
                seen.add(story.name)
        return value


FIELD_NAMES: tuple[str, ...] = tuple(ScenarioSpec.model_fields)


def field_names_at(loc: tuple[str | int, ...]) -> tuple[str, ...]:
    """The field names allowed at a path of the spec (for 'did you mean' on unknown keys)."""
    model: type[BaseModel] | None = ScenarioSpec
    for part in loc:
        if model is None or isinstance(part, int):
            continue
        field = model.model_fields.get(str(part))
        if field is None:
            return ()
        model = _model_of(field.annotation)
    return tuple(model.model_fields) if model is not None else ()


def _model_of(annotation: Any) -> type[BaseModel] | None:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    for arg in getattr(annotation, "__args__", ()):
        found = _model_of(arg)
        if found is not None:
            return found
    return None
