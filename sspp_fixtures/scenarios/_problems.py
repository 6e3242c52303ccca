"""What is wrong with a scenario, as problems at ``file:line: field``, all of them in one :class:`ScenarioError`.

A file's problems come from three checks that each run whatever the others found: the values its reading
refused (text PostgreSQL cannot store, NaN, tags), the spec (pydantic: unknown keys, types, ranges, names) and the
model's payload rules on every story event's payload overrides (:func:`~sspp_fixtures.model.check_payload`).
A value the reading refused is not reported again by the other two. The model says what is wrong; this module
says where.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from pydantic import ValidationError

from .._text import short_repr, suggest
from ..errors import ScenarioError
from ..model import PAYLOAD_SCHEMAS, check_payload
from ._spec import field_names_at
from ._yaml import Document, FieldPath, dotted, line_of, one_line

__all__ = ["Problem", "document_problems", "problems_error"]

_FIX_THE_FILE = "fix the file and run sspp-seed scenarios validate on it"
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


@dataclass(frozen=True)
class Problem:
    """One problem: the file, its line (None: the file as a whole), the field path, what is wrong, the fix."""

    path: str
    line: int | None
    field: str
    problem: str
    hint: str = ""

    def __str__(self) -> str:
        where = self.path if self.line is None else f"{self.path}:{self.line}"
        return f"{where}: {self.field}: {self.problem}"

    def as_dict(self) -> dict[str, Any]:
        """The problem as ``scenarios validate --json`` shows it (``file``: a parent's, when it is there)."""
        return {"file": self.path, "line": self.line, "field": self.field, "problem": self.problem}


def problems_error(problems: Sequence[Problem], *, listed: bool = True) -> ScenarioError:
    """One error naming every problem, file by file in line order; its hint is the problem's own when there is only one.

    ``listed``: the error's ``problems`` lists them apart (problems of one file, as ``scenarios validate``
    prints them under that file's name).
    """
    ordered = sorted(problems, key=lambda p: (p.path, p.line or 0))
    first = ordered[0]
    return ScenarioError(
        "; ".join(map(str, ordered)),
        hint=first.hint if len(ordered) == 1 and first.hint else _FIX_THE_FILE,
        file=first.path,
        line=first.line,
        field=first.field,
        problems=[p.as_dict() for p in ordered] if listed else None,
    )


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


def _validation_problems(path: str, document: Document, error: ValidationError) -> list[tuple[FieldPath, Problem]]:
    problems = []
    for found in error.errors():
        loc = _clean_loc(tuple(found["loc"]), document.data, str(found["type"]))
        problem = Problem(path, line_of(document.lines, loc), dotted(loc), _describe({**found, "loc": loc}))
        problems.append((loc, problem))
    return problems


def _items(node: Any) -> list[tuple[int, dict[str, Any]]]:
    """The mappings of a list with their indices (nothing when ``node`` is not a list: the spec says so)."""
    return [(i, item) for i, item in enumerate(node) if isinstance(item, dict)] if isinstance(node, list) else []


def _payload_problems(path: str, document: Document) -> list[tuple[FieldPath, Problem]]:
    """Every problem of the payload overrides of the file's story events, each at its key's line.

    Read from the document as written, so that they are found beside the spec's own problems; an event whose
    type or payload the spec refuses is left to the spec's message.
    """
    problems = []
    for i, story in _items(document.data.get("stories")):
        for j, event in _items(story.get("events")):
            event_type, payload = event.get("type"), event.get("payload")
            if not isinstance(event_type, str) or event_type not in PAYLOAD_SCHEMAS or not isinstance(payload, dict):
                continue
            for found in check_payload(event_type, payload, overrides=True):
                loc: FieldPath = ("stories", i, "events", j, "payload", *([found.key] if found.key else []))
                problem = Problem(path, line_of(document.lines, loc), dotted(loc), found.problem, found.hint)
                problems.append((loc, problem))
    return problems


def document_problems(path: str, document: Document, error: ValidationError | None) -> list[Problem]:
    """Every problem of one file: the values its reading refused, then the spec's (``error``) and the payload
    rules' problems of the values it kept."""
    refused = [
        (loc, Problem(path, line_of(document.lines, loc), dotted(loc), problem, hint))
        for loc, problem, hint in document.refused
    ]
    checked = [*(_validation_problems(path, document, error) if error else []), *_payload_problems(path, document)]
    kept = [(loc, problem) for loc, problem in checked if not any(loc[: len(r)] == r for r, _ in refused)]
    return [problem for _, problem in [*refused, *kept]]
