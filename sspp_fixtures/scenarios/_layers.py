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
from ._problems import document_problems, problems_error
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


def parse_scenario_text(text: str, path: str = "<string>") -> Layer:
    """Parse and check one scenario document (no extends resolution), reporting all its problems at once."""
    document = read_document(text, path)
    spec: ScenarioSpec | None = None
    error: ValidationError | None = None
    try:
        spec = ScenarioSpec.model_validate(document.data)
    except ValidationError as exc:
        error = exc
    problems = document_problems(path, document, error)
    if problems or spec is None:
        raise problems_error(problems)
    return Layer(path=path, spec=spec, data=document.data, lines=document.lines)


def _read_layer(path: Path) -> Layer:
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


def read_chain(path: Path, roots: tuple[Path, ...] = ()) -> list[Layer]:
    """The file and its ancestors through ``extends``, root first (``roots``: more folders parents may be in)."""
    chain: list[Layer] = []
    seen: list[str] = []
    current: Path | None = path
    while current is not None:
        key = str(current.resolve())
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
        layer = _read_layer(current)
        chain.append(layer)
        parent = layer.spec.extends
        if parent is None:
            current = None
        else:
            try:
                current = find_parent(parent, including=Path(layer.path), roots=roots)
            except ScenarioError as exc:
                line = layer.line("extends")
                raise ScenarioError(
                    f"{layer.path}:{line}: extends: {exc.message}", hint=exc.hint, file=layer.path, line=line
                ) from None
    return list(reversed(chain))
