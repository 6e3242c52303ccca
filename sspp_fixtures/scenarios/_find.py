"""Finding scenario files: a built-in name or a path, and the parent an ``extends:`` names (kept to safe places).

Every refusal is a :class:`ScenarioError` saying what was looked for and what the user may have meant.
"""

from __future__ import annotations

from pathlib import Path

from .._paths import builtin_scenarios_dir
from .._text import short_repr, suggest
from ..errors import ScenarioError

__all__ = ["builtin_scenarios_dir", "find_parent", "find_scenario", "list_scenarios"]

_SCENARIO_SUFFIXES = (".yaml", ".yml")


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
    looks_like_path = isinstance(ref, Path) or text.endswith(_SCENARIO_SUFFIXES) or "/" in text or "\\" in text
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
        for suffix in _SCENARIO_SUFFIXES:
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
        return [p for p in folder.iterdir() if p.suffix in _SCENARIO_SUFFIXES and _probe(p) == "file"]
    except (OSError, ValueError):
        return []
