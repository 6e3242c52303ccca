"""Reading one scenario document from YAML text, defensively: whatever the text, a mapping or a ScenarioError.

YAML can nest without end, make a few lines expand into billions of values through aliases, make an alias
refer to its own container, and hold values PostgreSQL cannot store (NUL characters, lone surrogates,
NaN). Each is refused here with the file, the line and the field, before validation sees the data.
"""

from __future__ import annotations

import io
import math
import re
import warnings
from collections.abc import Mapping, Sequence, Set
from datetime import date, datetime
from typing import Any, NamedTuple

from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap, CommentedSeq
from ruamel.yaml.composer import Composer, ComposerError
from ruamel.yaml.constructor import ConstructorError, RoundTripConstructor
from ruamel.yaml.error import MarkedYAMLError, YAMLError
from ruamel.yaml.events import AliasEvent
from ruamel.yaml.reader import ReaderError

from .._text import short_repr
from ..errors import ScenarioError
from ..model import text_problem
from ._spec import FIELD_NAMES

__all__ = [
    "MAX_DEPTH",
    "MAX_VALUES",
    "MAX_WRITTEN",
    "Document",
    "FieldPath",
    "Refused",
    "dotted",
    "line_of",
    "one_line",
    "read_document",
]

#: Where a value sits in a document: keys and list indexes from the top (``stories[0].customer`` is
#: ``("stories", 0, "customer")``).
FieldPath = tuple[str | int, ...]


class Refused(NamedTuple):
    """A value read but not kept as it is (text PostgreSQL cannot store, NaN, a tag): where, what, the fix."""

    loc: FieldPath
    problem: str
    hint: str


class Document(NamedTuple):
    """A scenario file as plain Python, the line of every key and item in it, and the values refused."""

    data: dict[str, Any]
    lines: dict[FieldPath, int]
    refused: list[Refused]


#: Deepest nesting of mappings and lists accepted (a scenario needs 5); far below Python's recursion limit.
MAX_DEPTH = 64
#: Most values a document may hold once aliases are expanded (a scenario needs a few hundred).
MAX_VALUES = 100_000
#: Most values a document may write out (keys, values and items, aliases not expanded): far above any scenario,
#: and reached in a fraction of a second (a mapping of 100,000 keys once took 29 s and 227 MB to refuse).
MAX_WRITTEN = 5_000
_MESSAGE_CHARS = 300
_SIMPLE_NAME = re.compile(r"[A-Za-z0-9_-]{1,64}")


def one_line(text: str, limit: int = _MESSAGE_CHARS) -> str:
    """``text`` with every run of whitespace made one space and cut to ``limit`` characters."""
    flat = " ".join(text.split())
    return flat if len(flat) <= limit else flat[: limit - 3] + "..."


def dotted(loc: FieldPath) -> str:
    """A field path as a user reads it: ``stories[0].customer.segment``; odd keys are quoted."""
    text = ""
    for part in loc:
        if isinstance(part, int):
            text += f"[{part}]"
            continue
        name = part if _SIMPLE_NAME.fullmatch(part) else short_repr(part, 40)
        text += f".{name}" if text else name
    return text or "(top level)"


def line_of(lines: dict[FieldPath, int], loc: FieldPath) -> int:
    """The line of ``loc``, else of its nearest ancestor that has one, else 1."""
    for end in range(len(loc), 0, -1):
        if loc[:end] in lines:
            return lines[loc[:end]]
    return 1


class _TooLarge(ComposerError):
    """More values written in the document than any scenario needs."""


class _Composer(Composer):
    """Refuses nesting deeper than :data:`MAX_DEPTH` (before Python's recursion limit does) and an alias to a
    mapping or list that contains it (ruamel would quietly read it as null). Reused anchors are fine (YAML
    1.2 lets a later anchor replace an earlier one), so they do not warn."""

    def __init__(self, loader: Any = None) -> None:
        super().__init__(loader)
        self.warn_double_anchors = False
        self._nesting = 0
        self._written = 0
        self._open: dict[str, bool] = {}  # anchor -> is its latest definition still being composed?

    def compose_node(self, parent: Any, index: Any) -> Any:
        event = self.parser.peek_event()
        if isinstance(event, AliasEvent):
            if self._open.get(event.anchor):
                raise ComposerError(
                    None, None, f"alias *{event.anchor} refers to a mapping or list that contains it", event.start_mark
                )
            return super().compose_node(parent, index)
        self._written += 1
        if self._written > MAX_WRITTEN:
            raise _TooLarge(None, None, f"the document holds more than {MAX_WRITTEN:,} values", event.start_mark)
        self._nesting += 1
        anchor = event.anchor
        if anchor is not None:
            self._open[anchor] = True
        try:
            if self._nesting > MAX_DEPTH:
                raise ComposerError(None, None, f"nested deeper than {MAX_DEPTH} levels", event.start_mark)
            return super().compose_node(parent, index)
        finally:
            self._nesting -= 1
            if anchor is not None:
                self._open[anchor] = False


class _BadValue(ConstructorError):
    """A scalar that YAML recognised but Python cannot build: Feb 30, a 5000-digit int, `!!int ""`."""


class _Constructor(RoundTripConstructor):
    """ruamel's round-trip constructor, with a value it cannot build reported at its line."""

    def construct_object(self, node: Any, deep: bool = False) -> Any:
        try:
            return super().construct_object(node, deep)
        except YAMLError:
            raise
        except Exception as exc:  # ruamel's constructors fail on some odd scalars (`!!int ""`) with bare errors
            raise _BadValue(None, None, one_line(str(exc) or type(exc).__name__, 200), node.start_mark) from None


def _yaml() -> YAML:
    yaml = YAML(typ="rt", pure=True)
    yaml.Composer = _Composer
    yaml.Constructor = _Constructor
    yaml.allow_duplicate_keys = False
    return yaml


def _line_at(text: str, position: int) -> int:
    return text.count("\n", 0, max(position, 0)) + 1


def _syntax_error(text: str, path: str, exc: Exception) -> ScenarioError:
    if isinstance(exc, _BadValue | _TooLarge):
        mark = exc.problem_mark
        line = mark.line + 1 if mark is not None else 1
        bad_value = isinstance(exc, _BadValue)
        return ScenarioError(
            f"{path}:{line}: invalid value: {exc.problem}" if bad_value else f"{path}:{line}: {exc.problem}",
            hint="write dates as 2026-06-30 and numbers as plain digits"
            if bad_value
            else "a scenario needs a few hundred values at most: is this the right file?",
            file=path,
            line=line,
        )
    if isinstance(exc, MarkedYAMLError):
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark is not None else 1
        problem = one_line(str(exc.problem or exc.context or "invalid YAML"))
        tab = "'\\t'" in problem or "\t" in problem
        return ScenarioError(
            f"{path}:{line}: invalid YAML: {problem}",
            hint="indent with spaces: YAML does not allow tabs there"
            if tab
            else "fix the YAML syntax (indentation, colons, quotes)",
            file=path,
            line=line,
        )
    if isinstance(exc, ReaderError):
        line = _line_at(text, int(exc.position or 0))
        character = exc.character
        code = character[0] if isinstance(character, bytes) and character else character
        return ScenarioError(
            f"{path}:{line}: invalid YAML: character #x{int(code or 0):04x} is not allowed",
            hint="remove control characters from the file (only tabs and newlines may appear)",
            file=path,
            line=line,
        )
    if isinstance(exc, RecursionError):
        return ScenarioError(
            f"{path}: invalid YAML: nested too deeply", hint=f"nest at most {MAX_DEPTH} levels", file=path
        )
    return ScenarioError(f"{path}: invalid YAML: {one_line(str(exc))}", hint="fix the YAML syntax", file=path)


def _load_all(text: str, path: str) -> list[Any]:
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return list(_yaml().load_all(io.StringIO(text)))
    except (YAMLError, RecursionError) as exc:
        raise _syntax_error(text, path, exc) from None


class _Plain:
    """ruamel's round-trip nodes to plain Python, recording the line (1-based) of every key and item.

    Counts the values it makes (aliases make one node appear many times) and refuses an alias that refers
    to a container it sits in.
    """

    def __init__(self, path: str) -> None:
        self.path = path
        self.lines: dict[FieldPath, int] = {}
        self.refused: list[Refused] = []
        self._made = 0
        self._open: set[int] = set()

    def error(self, loc: FieldPath, problem: str, hint: str) -> ScenarioError:
        line = self.line_of(loc)
        return ScenarioError(
            f"{self.path}:{line}: {dotted(loc)}: {problem}", hint=hint, file=self.path, line=line, field=dotted(loc)
        )

    def line_of(self, loc: FieldPath) -> int:
        return line_of(self.lines, loc)

    def refuse(self, loc: FieldPath, problem: str, hint: str) -> None:
        """A value that cannot be kept: noted, and the reading goes on (so every such value is reported)."""
        self.refused.append(Refused(loc, problem, hint))

    def convert(self, node: Any, loc: FieldPath) -> Any:
        self._made += 1
        if self._made > MAX_VALUES:
            raise self.error(
                loc,
                f"the document holds more than {MAX_VALUES:,} values once its aliases are expanded",
                hint="a scenario needs a few hundred values at most: remove the repeated aliases (*name)",
            )
        if isinstance(node, CommentedMap | CommentedSeq):
            if id(node) in self._open:
                raise self.error(
                    loc, "an alias refers to a mapping or list that contains it", hint="remove the recursive alias"
                )
            self._open.add(id(node))
            try:
                return self._mapping(node, loc) if isinstance(node, CommentedMap) else self._sequence(node, loc)
            finally:
                self._open.discard(id(node))
        return self._scalar(node, loc)

    def _mapping(self, node: CommentedMap, loc: FieldPath) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for key in node:
            name = self._key(key, loc)
            try:
                self.lines[(*loc, name)] = node.lc.key(key)[0] + 1
            except (KeyError, TypeError, IndexError, AttributeError):
                self.lines[(*loc, name)] = self.line_of(loc)
            self._check_text(name, (*loc, name), "key")
            if name in out:
                raise self.error((*loc, name), "the key appears twice", hint="keep one of them")
            out[name] = self.convert(node[key], (*loc, name))
        return out

    def _key(self, key: Any, loc: FieldPath) -> str:
        if isinstance(key, Mapping | Sequence | Set) and not isinstance(key, str):
            raise self.error(loc, "a key is a mapping or a list", hint="keys are plain names such as 'customers'")
        return str(key)

    def _sequence(self, node: CommentedSeq, loc: FieldPath) -> list[Any]:
        items = []
        for index, item in enumerate(node):
            try:
                self.lines[(*loc, index)] = node.lc.item(index)[0] + 1
            except (KeyError, TypeError, IndexError, AttributeError):
                self.lines[(*loc, index)] = self.line_of(loc)
            items.append(self.convert(item, (*loc, index)))
        return items

    def _check_text(self, text: str, loc: FieldPath, what: str) -> None:
        problem = text_problem(text)
        if problem is not None:
            self.refuse(loc, f"the {what} {problem}", hint="write real characters, without \\0")

    def _scalar(self, node: Any, loc: FieldPath) -> Any:
        if node is None:
            return None
        if type(node).__name__ == "ScalarBoolean" or isinstance(node, bool):
            return bool(node)
        if isinstance(node, int):
            return int(node)
        if isinstance(node, float):
            if not math.isfinite(node):
                self.refuse(loc, f"{float(node)} is not allowed", hint="use a finite number")
            return float(node)
        if isinstance(node, str):
            self._check_text(str(node), loc, "text")
            return str(node)
        if isinstance(node, datetime):
            return node
        if isinstance(node, date):
            return date(node.year, node.month, node.day)
        tag = getattr(getattr(node, "tag", None), "value", None) or type(node).__name__
        self.refuse(
            loc,
            f"a {tag} value is not supported",
            hint="use plain YAML values (numbers, text, true/false, dates, mappings and lists) without tags",
        )
        return None


def _value_kind(value: object) -> str:
    """What a value is, never what it says (the file may not be a scenario at all: /etc/passwd)."""
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int | float):
        return "number"
    return "date" if isinstance(value, date) else "text"


def read_document(text: str, path: str) -> Document:
    """The one mapping ``text`` holds, as plain Python, and the line of every key and item in it.

    What leaves nothing to read (bad syntax, several documents, no mapping, nesting or aliases past the limits,
    a key twice) raises at once; a value that cannot be kept is listed in ``refused``, beside the others.
    """
    documents = [d for d in _load_all(text, path) if d is not None]
    if not documents:
        raise ScenarioError(
            f"{path}: the file is empty",
            hint="a scenario is a mapping such as 'customers: 100', 'events: 2000', "
            "'window: {end: 2026-06-30, days: 30}'",
            file=path,
            line=1,
        )
    if len(documents) > 1:
        raise ScenarioError(
            f"{path}: holds {len(documents)} YAML documents", hint="keep one scenario per file", file=path
        )
    root = documents[0]
    if not isinstance(root, CommentedMap):
        kind = "a list" if isinstance(root, CommentedSeq) else f"a single value (a {_value_kind(root)})"
        raise ScenarioError(
            f"{path}:1: the top level is {kind}, not a mapping of fields",
            hint=f"write fields as 'name: value' lines; allowed fields: {', '.join(FIELD_NAMES)}",
            file=path,
            line=1,
        )
    plain = _Plain(path)
    data = plain.convert(root, ())
    return Document(data, plain.lines, plain.refused)
