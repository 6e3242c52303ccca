"""From the checked files of an ``extends`` chain to one :class:`Scenario`: merge them, check what only the whole
chain can tell (required fields, the event mix, stories against the window), fill in the defaults.

Every problem the whole chain has is reported at once, each at the file and line that causes it.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..model import (
    ACTIVITY_EXPONENT,
    DEFAULT_EVENT_MIX,
    DEFAULT_LOCALE_SHARES,
    DEFAULT_SEGMENT_SHARES,
    EVENT_TYPE_NAMES,
)
from ._find import find_scenario
from ._layers import Layer, read_chain
from ._problems import Problem, problems_error
from ._scenario import Scenario, Story, StoryCustomer, StoryEvent
from ._spec import StorySpec

__all__ = ["iter_chain_paths", "load_scenario"]

_DEFAULTS: dict[str, Any] = {
    "seed": 0,
    "processed_share": 0.93,
    "activity_skew": ACTIVITY_EXPONENT,
    "trend": 1.5,
}
_REQUIRED = ("window.end", "window.days", "customers", "events")
#: The ids the engines give generated customers; a story's customer must not take one.
_GENERATED_ID = re.compile(r"cust_\d+")


@dataclass
class _Story:
    """A story of the chain and where it is written."""

    spec: StorySpec
    path: str
    line: int


@dataclass
class _Merged:
    values: dict[str, Any] = field(default_factory=dict)
    origin: dict[str, tuple[str, int]] = field(default_factory=dict)
    stories: dict[str, _Story] = field(default_factory=dict)


def _merge(chain: list[Layer]) -> _Merged:
    """The chain's fields, each from the last file that gives it a value (``field:`` with no value, YAML's
    null, gives none: the parent's value stays)."""
    merged = _Merged()
    for layer in chain:
        spec = layer.spec
        for name in spec.model_fields_set:
            value = getattr(spec, name)
            if value is None:
                continue
            where = (layer.path, layer.line(name))
            if name == "window":
                for part in value.model_fields_set:
                    if getattr(value, part) is None:
                        continue
                    merged.values[f"window.{part}"] = getattr(value, part)
                    merged.origin[f"window.{part}"] = (layer.path, layer.lines.get(("window", part), where[1]))
            elif name == "event_mix":
                mix = dict(merged.values.get("event_mix", {}))
                mix.update(value)
                merged.values["event_mix"] = mix
                merged.origin["event_mix"] = where
            elif name == "stories":
                for index, story in enumerate(value):
                    line = layer.lines.get(("stories", index), where[1])
                    merged.stories[story.name] = _Story(story, layer.path, line)
            elif name != "extends":
                merged.values[name] = value
                merged.origin[name] = where
    return merged


def _missing(merged: _Merged, leaf: Layer) -> list[Problem]:
    return [
        Problem(
            leaf.path,
            None,
            required,
            "required, and no file in its extends chain sets it",
            f"add {required} to the file, or extend a scenario that has it (e.g. extends: smoke)",
        )
        for required in _REQUIRED
        if merged.values.get(required) is None
    ]


def _event_mix(merged: _Merged) -> tuple[dict[str, float], list[Problem]]:
    """The full event mix (defaults for the types the chain leaves out), and its problem if every weight is 0."""
    event_mix = {name: float(DEFAULT_EVENT_MIX[name]) for name in EVENT_TYPE_NAMES}
    event_mix.update(merged.values.get("event_mix", {}))
    if sum(event_mix.values()) > 0:
        return event_mix, []
    path, line = merged.origin["event_mix"]
    return event_mix, [
        Problem(path, line, "event_mix", "every weight is 0", "give at least one event type a weight above 0")
    ]


def _outside_window(merged: _Merged, story: _Story, days: int) -> list[Problem]:
    late = [event.day for event in story.spec.events if event.day >= days]
    if not late:
        return []
    days_path, days_line = merged.origin.get("window.days", (story.path, story.line))
    set_in = "" if days_path == story.path else f" (window.days is set at {days_path}:{days_line})"
    return [
        Problem(
            story.path,
            story.line,
            f"stories.{story.spec.name}",
            f"an event on day {late[0]} falls outside the {days}-day window{set_in}",
            f"use days 0 to {days - 1}, or widen window.days",
        )
    ]


def _customer_id(story: StorySpec) -> str:
    return story.customer.customer_id or f"story_{story.name.replace('-', '_')}"


def _story_problems(merged: _Merged, days: int | None, leaf: Layer) -> list[Problem]:
    problems = []
    for story in merged.stories.values():
        if days is not None:
            problems += _outside_window(merged, story, days)
        given = story.spec.customer.customer_id
        if given is not None and _GENERATED_ID.fullmatch(given):
            problems.append(
                Problem(
                    story.path,
                    story.line,
                    f"stories.{story.spec.name}",
                    f"customer_id {given!r} has the form of a generated customer's",
                    "generated customers are cust_000001, cust_000002...: give the story's customer another id, "
                    "such as cust_story_" + story.spec.name.replace("-", "_"),
                )
            )
    ids = [_customer_id(story.spec) for story in merged.stories.values()]
    duplicated = sorted({i for i in ids if ids.count(i) > 1})
    if duplicated:
        problems.append(
            Problem(
                leaf.path,
                None,
                "stories",
                f"customer id {duplicated[0]!r} is used by two stories",
                "give each story its own customer_id",
            )
        )
    return problems


def _story(spec: StorySpec) -> Story:
    return Story(
        name=spec.name,
        description=spec.description,
        customer=StoryCustomer(**{**spec.customer.model_dump(), "customer_id": _customer_id(spec)}),
        events=tuple(StoryEvent(**event.model_dump()) for event in spec.events),
    )


def _resolve(merged: _Merged, leaf: Layer) -> Scenario:
    values = merged.values
    days: int | None = values.get("window.days")
    event_mix, mix_problems = _event_mix(merged)
    problems = [*_missing(merged, leaf), *mix_problems, *_story_problems(merged, days, leaf)]
    if problems:
        raise problems_error(problems, listed=False)
    return Scenario(
        name=values.get("name") or Path(leaf.path).stem,
        description=values.get("description") or "",
        seed=int(values.get("seed", _DEFAULTS["seed"])),
        window_end_date=values["window.end"],
        window_days=int(values["window.days"]),
        customers=int(values["customers"]),
        events=int(values["events"]),
        processed_share=float(values.get("processed_share", _DEFAULTS["processed_share"])),
        event_mix=event_mix,
        segment_shares=dict(values.get("segments", DEFAULT_SEGMENT_SHARES)),
        locale_shares=dict(values.get("locales", DEFAULT_LOCALE_SHARES)),
        activity_skew=float(values.get("activity_skew", _DEFAULTS["activity_skew"])),
        trend=float(values.get("trend", _DEFAULTS["trend"])),
        stories=tuple(_story(story.spec) for story in merged.stories.values()),
        sources=tuple(origin for origin in dict.fromkeys(path for path, _ in merged.origin.values())),
    )


def load_scenario(ref: str | Path, *, extends_roots: Iterable[str | Path] = ()) -> Scenario:
    """Load, check and resolve a scenario by built-in name or file path.

    ``extends:`` in it (and in its parents) names a built-in scenario or a ``.yaml`` file under the folder of
    the file that says it, or under one of ``extends_roots``.
    """
    path = find_scenario(ref)
    chain = read_chain(path, tuple(Path(root) for root in extends_roots))
    return _resolve(_merge(chain), chain[-1])


def iter_chain_paths(ref: str | Path, *, extends_roots: Iterable[str | Path] = ()) -> Iterator[str]:
    """The files a scenario is made of, root first (for ``scenarios show``)."""
    for layer in read_chain(find_scenario(ref), tuple(Path(root) for root in extends_roots)):
        yield layer.path
