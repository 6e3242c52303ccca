"""Reading the files of a scenario: each one parsed and checked on its own, then its ``extends`` parents in turn.

A file's every problem is reported at once (see :mod:`._problems`); a YAML syntax error stops the reading of
that file, since nothing after it can be trusted.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from ..errors import ScenarioError
from ._find import find_parent
from ._problems import Problem, document_problems, problems_error
from ._spec import ScenarioSpec
from ._yaml import FieldPath, read_document

__all__ = ["Layer", "parse_scenario_text", "read_chain"]

_MAX_EXTENDS_DEPTH = 16
_MAX_FILE_BYTES = 4 * 1024 * 1024


@dataclass
class Layer:
    """One file of an extends chain: its validated spec, raw data and where each field stands in it."""

    path: str
    spec: ScenarioSpec
    data: dict[str, Any]
    lines: dict[FieldPath, int]

    def line(self, *loc: str | int) -> int:
        """The line of a top-level field (or a part of it), else 1."""
        return self.lines.get(loc, 1)


def parse_scenario_text(text: str, path: str = "<string>") -> ScenarioSpec:
    """Parse and check one scenario document on its own (its ``extends`` is not followed): its spec, or a
    :class:`ScenarioError` naming every problem (``path`` is the name its messages give the document)."""
    layer, problems, _extends = _check_text(text, path)
    if layer is None:
        raise problems_error(problems)
    return layer.spec


def _check_text(text: str, path: str) -> tuple[Layer | None, list[Problem], str | None]:
    """The document's layer, or every problem it has; and the parent it names either way (so that a chain's
    parents are checked too when a child has problems)."""
    document = read_document(text, path)
    extends = document.data.get("extends") if isinstance(document.data, dict) else None
    spec: ScenarioSpec | None = None
    error: ValidationError | None = None
    try:
        spec = ScenarioSpec.model_validate(document.data)
    except ValidationError as exc:
        error = exc
    problems = document_problems(path, document, error)
    if problems or spec is None:
        return None, problems, extends if isinstance(extends, str) else None
    return Layer(path=path, spec=spec, data=document.data, lines=document.lines), [], spec.extends


def _read_layer(path: Path) -> tuple[Layer | None, list[Problem], str | None]:
    try:
        size = path.stat().st_size
        if size > _MAX_FILE_BYTES:
            raise ScenarioError(f"{path}: {size:,} bytes is too large for a scenario file", file=str(path))
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise ScenarioError(f"{path}: not UTF-8 text", hint="save the file as UTF-8", file=str(path)) from None
    except OSError as exc:
        raise ScenarioError(f"{path}: cannot read: {exc.strerror}", file=str(path)) from None
    return _check_text(text, str(path))


def read_chain(path: Path, roots: tuple[Path, ...] = ()) -> list[Layer]:
    """The file and its ancestors through ``extends``, root first (``roots``: more folders parents may be in)."""
    chain: list[Layer] = []
    problems: list[Problem] = []
    seen: list[str] = []
    current: Path | None = path
    while current is not None:
        key = str(current.resolve())
        if key in seen and problems:
            break  # the problems found so far are reported; a cycle shows once they are fixed
        if key in seen:
            cycle = " -> ".join([*seen[seen.index(key) :], key])
            raise ScenarioError(
                f"{chain[-1].path}:{chain[-1].line('extends')}: extends: cycle {cycle}",
                hint="make the chain end at a scenario without extends",
                file=chain[-1].path,
                field="extends",
            )
        if len(seen) >= _MAX_EXTENDS_DEPTH:
            raise ScenarioError(f"{path}: extends chain deeper than {_MAX_EXTENDS_DEPTH}", field="extends")
        seen.append(key)
        layer, layer_problems, parent = _read_layer(current)
        if layer is None:
            problems.extend(layer_problems)  # and go on to the parents: validate reports them all at once
            current = _parent_of_broken(parent, current, roots)
            continue
        chain.append(layer)
        if parent is None:
            current = None
        else:
            try:
                current = find_parent(parent, including=Path(layer.path), roots=roots)
            except ScenarioError as exc:
                line = layer.line("extends")
                error = ScenarioError(
                    f"{layer.path}:{line}: extends: {exc.message}", hint=exc.hint, file=layer.path, line=line
                )
                if not problems:
                    raise error from None
                problems.append(Problem(layer.path, line, "extends", exc.message, exc.hint or ""))
                current = None
    if problems:
        raise problems_error(problems)
    return list(reversed(chain))


def _parent_of_broken(parent: str | None, child: Path, roots: tuple[Path, ...]) -> Path | None:
    """The parent a file with problems names, when it can be found (its own problems say the rest)."""
    if parent is None:
        return None
    try:
        return find_parent(parent, including=child, roots=roots)
    except ScenarioError:
        return None
