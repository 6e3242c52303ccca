"""Reading scenario files: YAML with line numbers, ``extends`` chains, merging, and resolving defaults.

Nothing here touches a database. Every error is a :class:`ScenarioError` naming the file, the line and the
field path, and saying what is allowed.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from ..errors import ScenarioError
from ..model import (
    ACTIVITY_EXPONENT,
    DEFAULT_EVENT_MIX,
    DEFAULT_LOCALE_SHARES,
    DEFAULT_SEGMENT_SHARES,
    EVENT_TYPE_NAMES,
    PAYLOAD_SCHEMAS,
)
from ._scenario import Scenario, Story, StoryCustomer, StoryEvent
from ._spec import ScenarioSpec, StorySpec, field_names_at, suggest
from ._yaml import FieldPath, dotted, line_of, one_line, read_document, short_repr

__all__ = [
    "builtin_scenarios_dir",
    "find_scenario",
    "list_scenarios",
    "load_scenario",
    "parse_scenario_text",
]

_PACKAGE_DIR = Path(__file__).resolve().parent.parent
_MAX_EXTENDS_DEPTH = 16
_MAX_FILE_BYTES = 4 * 1024 * 1024
_DEFAULTS: dict[str, Any] = {
    "seed": 0,
    "processed_share": 0.93,
    "activity_skew": ACTIVITY_EXPONENT,
    "trend": 1.5,
}
_REQUIRED = ("window.end", "window.days", "customers", "events")
#: The ids the engines give generated customers; a story's customer must not take one.
_GENERATED_ID = re.compile(r"cust_\d+")


def builtin_scenarios_dir() -> Path:
    """The scenarios shipped with the tool: the packaged copy, else the checkout's ``scenarios/``."""
    packaged = _PACKAGE_DIR / "_scenarios"
    return packaged if packaged.is_dir() else _PACKAGE_DIR.parent / "scenarios"


def list_scenarios() -> dict[str, Path]:
    """Built-in scenario names and their files."""
    folder = builtin_scenarios_dir()
    if not folder.is_dir():
        return {}
    return {p.stem: p for p in sorted(folder.glob("*.yaml"))}


def _probe(path: Path) -> str:
    """``"file"``, ``"dir"``, ``"other"`` or ``"missing"``; a name the OS refuses (too long...) is missing."""
    try:
        if path.is_file():
            return "file"
        if path.is_dir():
            return "dir"
        return "other" if path.exists() else "missing"
    except (OSError, ValueError):
        return "missing"


def find_scenario(ref: str | Path, *, relative_to: Path | None = None) -> Path:
    """The file a scenario reference names: a path (absolute, or relative to ``relative_to``), or a built-in name."""
    text = str(ref)
    looks_like_path = isinstance(ref, Path) or text.endswith((".yaml", ".yml")) or "/" in text or "\\" in text
    if looks_like_path:
        candidates = [Path(text)] if relative_to is None else [relative_to / text, Path(text)]
        for candidate in candidates:
            if _probe(candidate) == "file":
                return candidate.resolve()
        raise _not_a_file(candidates[0], text)
    builtin = list_scenarios()
    if text in builtin:
        return builtin[text]
    if relative_to is not None:
        for suffix in (".yaml", ".yml"):
            sibling = relative_to / f"{text}{suffix}"
            if _probe(sibling) == "file":
                return sibling.resolve()
    elif _probe(Path(text)) == "file":
        return Path(text).resolve()
    elif _probe(Path(text)) != "missing":
        raise _not_a_file(Path(text), text)
    names = sorted(builtin)
    raise ScenarioError(
        f"unknown scenario {short_repr(text)}{suggest(text, names)}",
        hint=f"built-in scenarios: {', '.join(names) or 'none'}; or give the path of a .yaml file",
    )


_SCENARIO_SUFFIXES = (".yaml", ".yml")


def _inside(path: Path, roots: tuple[Path, ...]) -> bool:
    return any(path == root or path.is_relative_to(root) for root in roots)


def find_parent(ref: str, *, including: Path, roots: tuple[Path, ...] = ()) -> Path:
    """The scenario an ``extends:`` names: a built-in name, or a ``.yaml``/``.yml`` file under the folder of
    the file ``including`` it (or under one of ``roots``, folders the caller allows). Anything else (an
    absolute path elsewhere, ``../``, a symlink out, another kind of file) is refused before it is opened."""
    looks_like_path = any(mark in ref for mark in ("/", "\\", "."))
    builtin = list_scenarios()
    if not looks_like_path and ref in builtin:
        return builtin[ref]
    folder = including.parent
    allowed = tuple(_resolved(root) for root in (folder, *roots))
    names = [ref] if looks_like_path else [f"{ref}{suffix}" for suffix in _SCENARIO_SUFFIXES]
    where = ", ".join(str(root) for root in allowed)
    for name in names:
        try:
            candidate = folder / name  # an absolute name replaces the folder
            resolved = candidate.resolve()
        except (OSError, RuntimeError, ValueError):
            continue
        if not _inside(resolved, allowed):
            raise ScenarioError(
                f"{short_repr(ref, 200)} is outside the folder of the scenario that extends it ({where})",
                hint="extends takes a built-in scenario name (sspp-seed scenarios list) or a .yaml file in the "
                "same folder or below; copy the parent scenario there",
                file=str(including),
            )
        if resolved.suffix not in _SCENARIO_SUFFIXES:
            raise ScenarioError(
                f"{short_repr(ref, 200)} is not a scenario file (.yaml or .yml)",
                hint="extends takes a built-in scenario name or a .yaml file in the same folder or below",
                file=str(including),
            )
        if _probe(resolved) == "file":
            return resolved
        if looks_like_path:
            raise _not_a_file(candidate, ref)
    names_known = sorted(builtin)
    raise ScenarioError(
        f"unknown scenario {short_repr(ref)}{suggest(ref, names_known)}",
        hint=f"built-in scenarios: {', '.join(names_known) or 'none'}; or a .yaml file in the same folder or below",
    )


def _resolved(path: Path) -> Path:
    try:
        return path.resolve()
    except (OSError, RuntimeError, ValueError):
        return path.absolute()


def _not_a_file(candidate: Path, text: str) -> ScenarioError:
    """Why ``candidate`` cannot be read as a scenario, and what the user may have meant."""
    shown = short_repr(text, 200)[1:-1] if not text.isprintable() or len(text) > 200 else text
    kind = _probe(candidate)
    if kind == "dir":
        inside = sorted(p.name for p in _yaml_files(candidate))[:5]
        return ScenarioError(
            f"scenario file {shown} is a folder",
            hint=f"give one of the .yaml files in it ({', '.join(inside)})" if inside else "give a .yaml file",
            file=text,
        )
    if kind == "other":
        return ScenarioError(f"scenario file {shown} is not a regular file", hint="give a .yaml file", file=text)
    siblings = [p.name for p in _yaml_files(candidate.parent)]
    close = suggest(candidate.name, siblings)
    if not close and candidate.stem in list_scenarios():
        close = f" (did you mean the built-in scenario {candidate.stem!r}?)"
    return ScenarioError(
        f"scenario file {shown} does not exist{close}",
        hint="check the path, or name a built-in scenario (sspp-seed scenarios list)",
        file=text,
    )


def _yaml_files(folder: Path) -> list[Path]:
    try:
        return [p for p in folder.iterdir() if p.suffix in (".yaml", ".yml") and _probe(p) == "file"]
    except (OSError, ValueError):
        return []


@dataclass
class _Layer:
    """One file of an extends chain: its validated spec, raw data and where each field stands in it."""

    path: str
    spec: ScenarioSpec
    data: dict[str, Any]
    lines: dict[FieldPath, int]


_TYPE_WORDS = {
    "int_type": "a whole number",
    "float_type": "a number",
    "string_type": "a string",
    "bool_type": "true or false",
    "dict_type": "a mapping (key: value lines)",
    "list_type": "a list (lines starting with '- ')",
    "date_type": "a date like 2026-06-30",
    "date_parsing": "a date like 2026-06-30",
    "date_from_datetime_inexact": "a date like 2026-06-30 (no time of day)",
    "model_type": "a mapping (key: value lines)",
}


def _describe(error: dict[str, Any]) -> str:
    kind = str(error["type"])
    loc: FieldPath = tuple(error["loc"])
    if kind == "extra_forbidden" and loc:
        allowed = field_names_at(loc[:-1])
        name = str(loc[-1])
        return f"unknown field {short_repr(name, 40)}{suggest(name, allowed)}; allowed: {', '.join(allowed)}"
    if kind in _TYPE_WORDS:
        return f"expected {_TYPE_WORDS[kind]}, got {short_repr(error.get('input'))}"
    if kind == "missing":
        return "this field is required"
    return one_line(str(error["msg"]).removeprefix("Value error, "))


def _clean_loc(loc: tuple[Any, ...], data: Any, kind: str) -> FieldPath:
    """The error's path in the document: pydantic adds the names of union members ('date', 'none',
    'function-before[...]') between real keys; a part is kept only when the data has it there."""
    kept: list[str | int] = []
    node = data
    for index, part in enumerate(loc):
        in_map = isinstance(node, dict) and isinstance(part, str) and part in node
        in_list = isinstance(node, list) and isinstance(part, int) and 0 <= part < len(node)
        if in_map or in_list:
            node = node[part]
            kept.append(part)
        elif kind == "missing" and index == len(loc) - 1 and isinstance(part, str):
            kept.append(part)
    return tuple(kept)


def _validation_error(path: str, data: Any, lines: dict[FieldPath, int], error: ValidationError) -> ScenarioError:
    """Every problem pydantic found, each at ``file:line: field``; ``details['problems']`` lists them apart."""
    problems: list[dict[str, Any]] = []
    for found in error.errors():
        loc = _clean_loc(tuple(found["loc"]), data, str(found["type"]))
        problems.append(
            {"line": line_of(lines, loc), "field": dotted(loc), "problem": _describe({**found, "loc": loc})}
        )
    problems.sort(key=lambda p: int(p["line"] or 0))
    first = problems[0]
    return ScenarioError(
        "; ".join(f"{path}:{p['line']}: {p['field']}: {p['problem']}" for p in problems),
        hint="fix the file and run sspp-seed scenarios validate on it",
        file=path,
        line=first["line"],
        field=first["field"],
        problems=problems,
    )


def parse_scenario_text(text: str, path: str = "<string>") -> _Layer:
    """Parse and check one scenario document (no extends resolution)."""
    data, lines = read_document(text, path)
    try:
        spec = ScenarioSpec.model_validate(data)
    except ValidationError as exc:
        raise _validation_error(path, data, lines, exc) from None
    return _Layer(path=path, spec=spec, data=data, lines=lines)


def _read_layer(path: Path) -> _Layer:
    try:
        size = path.stat().st_size
        if size > _MAX_FILE_BYTES:
            raise ScenarioError(f"{path}: {size:,} bytes is too large for a scenario file", file=str(path))
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise ScenarioError(f"{path}: not UTF-8 text", hint="save the file as UTF-8", file=str(path)) from None
    except OSError as exc:
        raise ScenarioError(f"{path}: cannot read: {exc.strerror}", file=str(path)) from None
    return parse_scenario_text(text, str(path))


def _chain(path: Path, roots: tuple[Path, ...] = ()) -> list[_Layer]:
    """The file and its ancestors through ``extends``, root first (``roots``: more folders parents may be in)."""
    chain: list[_Layer] = []
    seen: list[str] = []
    current: Path | None = path
    while current is not None:
        key = str(current.resolve())
        if key in seen:
            cycle = " -> ".join([*seen[seen.index(key) :], key])
            raise ScenarioError(
                f"{chain[-1].path}:{chain[-1].lines.get(('extends',), 1)}: extends: cycle {cycle}",
                hint="make the chain end at a scenario without extends",
                file=chain[-1].path,
                field="extends",
            )
        if len(seen) >= _MAX_EXTENDS_DEPTH:
            raise ScenarioError(f"{path}: extends chain deeper than {_MAX_EXTENDS_DEPTH}", field="extends")
        seen.append(key)
        layer = _read_layer(current)
        chain.append(layer)
        parent = layer.spec.extends
        if parent is None:
            current = None
        else:
            try:
                current = find_parent(parent, including=Path(layer.path), roots=roots)
            except ScenarioError as exc:
                line = layer.lines.get(("extends",), 1)
                raise ScenarioError(
                    f"{layer.path}:{line}: extends: {exc.message}", hint=exc.hint, file=layer.path, line=line
                ) from None
    return list(reversed(chain))


@dataclass
class _Merged:
    values: dict[str, Any] = field(default_factory=dict)
    origin: dict[str, tuple[str, int]] = field(default_factory=dict)
    stories: dict[str, tuple[StorySpec, str, int]] = field(default_factory=dict)


def _merge(chain: list[_Layer]) -> _Merged:
    """The chain's fields, each from the last file that gives it a value (``field:`` with no value, YAML's
    null, gives none: the parent's value stays)."""
    merged = _Merged()
    for layer in chain:
        spec = layer.spec
        for name in spec.model_fields_set:
            value = getattr(spec, name)
            if value is None:
                continue
            where = (layer.path, layer.lines.get((name,), 1))
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
                    merged.stories[story.name] = (story, layer.path, layer.lines.get(("stories", index), where[1]))
            elif name != "extends":
                merged.values[name] = value
                merged.origin[name] = where
    return merged


#: The largest payload number the model accepts (beyond it, money converted to USD overflows JSON); checked
#: here too, so the error names the file and line instead of surfacing when the data is generated.
_MAX_PAYLOAD_NUMBER = 1e15


def _payload_type_ok(value: Any, kind: type) -> bool:
    if kind is float:
        return isinstance(value, int | float) and not isinstance(value, bool)
    if kind is int:
        return isinstance(value, int) and not isinstance(value, bool)
    if kind is list:
        return isinstance(value, list) and all(isinstance(item, str) for item in value)
    return isinstance(value, kind)


def _check_payload(story: str, event_type: str, payload: dict[str, Any], path: str, line: int) -> None:
    """A story's payload overrides must use the event type's fields, with their types and in range."""
    schema = PAYLOAD_SCHEMAS[event_type]
    for key, value in payload.items():
        where = f"{path}:{line}: stories.{story}: {event_type} {dotted(('payload', key))}"
        details = {"file": path, "line": line, "field": f"stories.{story}.payload.{key}"}
        if key not in schema:
            raise ScenarioError(
                f"{where}: not a field of {event_type} payloads{suggest(key, schema)}",
                hint=f"use one of: {', '.join(schema)}",
                **details,
            )
        kind = schema[key]
        if not _payload_type_ok(value, kind):
            raise ScenarioError(
                f"{where}: expected {_PAYLOAD_TYPE_WORDS.get(kind, kind.__name__)}, got {short_repr(value)}",
                hint="fix the value's type in the scenario",
                **details,
            )
        if kind in (int, float) and abs(value) > _MAX_PAYLOAD_NUMBER:
            raise ScenarioError(
                f"{where}: {short_repr(value)} is out of range",
                hint=f"use a number between -{_MAX_PAYLOAD_NUMBER:.0e} and {_MAX_PAYLOAD_NUMBER:.0e}",
                **details,
            )


_PAYLOAD_TYPE_WORDS = {
    int: "a whole number",
    float: "a number",
    str: "a string",
    bool: "true or false",
    list: "a list of strings",
}


def _resolve(merged: _Merged, leaf: _Layer) -> Scenario:
    values = merged.values
    for required in _REQUIRED:
        if values.get(required) is None:
            raise ScenarioError(
                f"{leaf.path}: {required}: required, and no file in its extends chain sets it",
                hint=f"add {required} to the file, or extend a scenario that has it (e.g. extends: smoke)",
                file=leaf.path,
                field=required,
            )
    event_mix = {name: float(DEFAULT_EVENT_MIX[name]) for name in EVENT_TYPE_NAMES}
    event_mix.update(values.get("event_mix", {}))
    if sum(event_mix.values()) <= 0:
        path, line = merged.origin["event_mix"]
        raise ScenarioError(
            f"{path}:{line}: event_mix: every weight is 0", hint="give at least one event type a weight above 0"
        )
    days = int(values["window.days"])
    stories: list[Story] = []
    for story, path, line in merged.stories.values():
        for event in story.events:
            _check_payload(story.name, event.type, event.payload, path, line)
            if event.day >= days:
                days_path, days_line = merged.origin.get("window.days", (path, line))
                set_in = "" if days_path == path else f" (window.days is set at {days_path}:{days_line})"
                raise ScenarioError(
                    f"{path}:{line}: stories.{story.name}: an event on day {event.day} falls outside the "
                    f"{days}-day window{set_in}",
                    hint=f"use days 0 to {days - 1}, or widen window.days",
                    file=path,
                    line=line,
                    field=f"stories.{story.name}",
                )
        customer = story.customer
        stories.append(
            Story(
                name=story.name,
                description=story.description,
                customer=StoryCustomer(
                    customer_id=customer.customer_id or f"story_{story.name.replace('-', '_')}",
                    name=customer.name,
                    segment=customer.segment,
                    locale=customer.locale,
                    industry=customer.industry,
                    lifecycle_stage=customer.lifecycle_stage,
                    contact_name=customer.contact_name,
                    contact_email=customer.contact_email,
                ),
                events=tuple(
                    StoryEvent(
                        type=e.type,
                        day=e.day,
                        time=e.time,
                        count=e.count,
                        every_minutes=e.every_minutes,
                        processed=e.processed,
                        payload=dict(e.payload),
                    )
                    for e in story.events
                ),
            )
        )
    for story, path, line in merged.stories.values():
        given = story.customer.customer_id
        if given is not None and _GENERATED_ID.fullmatch(given):
            raise ScenarioError(
                f"{path}:{line}: stories.{story.name}: customer_id {given!r} has the form of a generated customer's",
                hint="generated customers are cust_000001, cust_000002...: give the story's customer another id, "
                "such as cust_story_" + story.name.replace("-", "_"),
                file=path,
                line=line,
                field=f"stories.{story.name}.customer.customer_id",
            )
    ids = [s.customer.customer_id for s in stories]
    duplicated = sorted({i for i in ids if ids.count(i) > 1})
    if duplicated:
        raise ScenarioError(
            f"{leaf.path}: stories: customer id {duplicated[0]!r} is used by two stories",
            hint="give each story its own customer_id",
            file=leaf.path,
        )
    return Scenario(
        name=values.get("name") or Path(leaf.path).stem,
        description=values.get("description") or "",
        seed=int(values.get("seed", _DEFAULTS["seed"])),
        window_end_date=values["window.end"],
        window_days=days,
        customers=int(values["customers"]),
        events=int(values["events"]),
        processed_share=float(values.get("processed_share", _DEFAULTS["processed_share"])),
        event_mix=event_mix,
        segment_shares=dict(values.get("segments", DEFAULT_SEGMENT_SHARES)),
        locale_shares=dict(values.get("locales", DEFAULT_LOCALE_SHARES)),
        activity_skew=float(values.get("activity_skew", _DEFAULTS["activity_skew"])),
        trend=float(values.get("trend", _DEFAULTS["trend"])),
        stories=tuple(stories),
        sources=tuple(origin for origin in dict.fromkeys(path for path, _ in merged.origin.values())),
    )


def load_scenario(ref: str | Path, *, extends_roots: Iterable[str | Path] = ()) -> Scenario:
    """Load, check and resolve a scenario by built-in name or file path.

    ``extends:`` in it (and in its parents) names a built-in scenario or a ``.yaml`` file under the folder of
    the file that says it, or under one of ``extends_roots``.
    """
    path = find_scenario(ref)
    chain = _chain(path, tuple(Path(root) for root in extends_roots))
    return _resolve(_merge(chain), chain[-1])


def iter_chain_paths(ref: str | Path, *, extends_roots: Iterable[str | Path] = ()) -> Iterator[str]:
    """The files a scenario is made of, root first (for ``scenarios show``)."""
    for layer in _chain(find_scenario(ref), tuple(Path(root) for root in extends_roots)):
        yield layer.path
