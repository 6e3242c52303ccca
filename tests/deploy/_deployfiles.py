"""The deploy files read the way their tools read them, for tests that cannot run Docker or a cluster.

YAML documents (ruamel, safe), Dockerfile instructions (line continuations, exec form), .dockerignore rules (Docker's
matching: last rule wins, a rule matching a parent folder matches its files), the argv a container or compose service
really runs (Kubernetes' and compose's rules for command/args over the image's ENTRYPOINT/CMD), and that argv resolved
through the real ``sspp-seed`` click command tree, so a wrong command, option, choice or value fails as it would at
run time.
"""

from __future__ import annotations

import contextlib
import copy
import functools
import io
import json
import re
import shlex
import subprocess
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import click
from ruamel.yaml import YAML

from sspp_fixtures.cli import cli

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"
K8S = DEPLOY / "k8s"
COMPOSE_FILE = DEPLOY / "docker-compose.yml"
DOCKERFILE = ROOT / "Dockerfile"
DOCKERIGNORE = ROOT / ".dockerignore"
TOOL = "sspp-seed"
#: The repository name of the tool's image in compose and the manifests (registries are set by overlays).
TOOL_IMAGE = "sspp-seed"


# ----- YAML -----


def load_yaml(path: Path) -> list[Any]:
    """Every document of a YAML file, as plain dicts and lists (empty documents dropped)."""
    with path.open(encoding="utf-8") as handle:
        return [doc for doc in YAML(typ="safe", pure=True).load_all(handle) if doc is not None]


def k8s_files() -> list[Path]:
    return sorted(p for p in K8S.iterdir() if p.is_file())


@functools.cache
def _parsed_k8s(stamp: tuple[tuple[str, int], ...]) -> list[tuple[str, dict[str, Any]]]:
    return [(path.name, doc) for path in k8s_files() if path.name != "kustomization.yaml" for doc in load_yaml(path)]


def k8s_objects() -> list[tuple[str, dict[str, Any]]]:
    """``(file name, object)`` for every object in deploy/k8s except the kustomization (a copy: mutate freely)."""
    stamp = tuple((p.name, p.stat().st_mtime_ns) for p in k8s_files())
    return copy.deepcopy(_parsed_k8s(stamp))


def objects_of_kind(kind: str) -> dict[str, dict[str, Any]]:
    return {obj["metadata"]["name"]: obj for _, obj in k8s_objects() if obj["kind"] == kind}


def pod_spec(obj: dict[str, Any]) -> dict[str, Any] | None:
    """The pod template's spec of a workload object (Deployment, StatefulSet, Job, CronJob), else None."""
    spec = obj.get("spec", {})
    if obj["kind"] == "CronJob":
        spec = spec["jobTemplate"]["spec"]
    template = spec.get("template")
    return template["spec"] if template else None


def pod_containers(spec: dict[str, Any]) -> list[dict[str, Any]]:
    return [*spec.get("initContainers", []), *spec.get("containers", [])]


def image_repository(image: str) -> str:
    """``registry/path/name:tag@digest`` -> ``name``."""
    name = image.split("@", 1)[0]
    last = name.rsplit("/", 1)[-1]
    return last.split(":", 1)[0]


def is_tool_image(image: str) -> bool:
    return image_repository(image) == TOOL_IMAGE


# ----- Dockerfile -----


@dataclass(frozen=True)
class Instruction:
    """One Dockerfile instruction: its first line number, keyword (upper case) and arguments as written."""

    line: int
    keyword: str
    value: str

    def exec_form(self) -> list[str]:
        """The JSON-array (exec) form's words; raises ValueError for the shell form."""
        words = json.loads(self.value)
        if not isinstance(words, list) or not all(isinstance(w, str) for w in words):
            raise ValueError(f"Dockerfile:{self.line}: {self.keyword} is not a JSON array of strings")
        return words


@dataclass
class Stage:
    """A ``FROM`` and the instructions that follow it up to the next ``FROM``."""

    base: str
    name: str | None
    line: int
    instructions: list[Instruction] = field(default_factory=list)

    def find(self, keyword: str) -> list[Instruction]:
        return [i for i in self.instructions if i.keyword == keyword]


def parse_dockerfile(text: str) -> list[Instruction]:
    """Instructions with ``\\`` continuations joined and comment lines dropped (as BuildKit does)."""
    instructions: list[Instruction] = []
    pending: list[str] = []
    start = 0
    for number, raw in enumerate(text.splitlines(), start=1):
        stripped = raw.strip()
        if stripped.startswith("#") or (not stripped and not pending):
            continue
        if not pending:
            start = number
        if stripped.endswith("\\"):
            pending.append(stripped[:-1].strip())
            continue
        pending.append(stripped)
        joined = " ".join(part for part in pending if part)
        keyword, _, value = joined.partition(" ")
        instructions.append(Instruction(start, keyword.upper(), value.strip()))
        pending = []
    if pending:
        raise ValueError(f"Dockerfile:{start}: the last instruction ends with a line continuation")
    return instructions


def dockerfile_stages(text: str) -> list[Stage]:
    stages: list[Stage] = []
    for instruction in parse_dockerfile(text):
        if instruction.keyword == "FROM":
            words = [w for w in instruction.value.split() if not w.startswith("--")]
            name = words[2] if len(words) >= 3 and words[1].upper() == "AS" else None
            stages.append(Stage(words[0], name, instruction.line))
        elif not stages:
            if instruction.keyword != "ARG":
                raise ValueError(f"Dockerfile:{instruction.line}: {instruction.keyword} before the first FROM")
        else:
            stages[-1].instructions.append(instruction)
    return stages


@dataclass(frozen=True)
class CopySpec:
    line: int
    sources: list[str]
    dest: str
    flags: dict[str, str]


def copy_specs(stage: Stage) -> list[CopySpec]:
    specs = []
    for instruction in stage.find("COPY") + stage.find("ADD"):
        words = instruction.exec_form() if instruction.value.startswith("[") else shlex.split(instruction.value)
        flags = {}
        while words and words[0].startswith("--"):
            key, _, value = words.pop(0)[2:].partition("=")
            flags[key] = value
        specs.append(CopySpec(instruction.line, words[:-1], words[-1], flags))
    return specs


def image_defaults() -> tuple[list[str], list[str]]:
    """The final stage's ENTRYPOINT and CMD (exec form), which every container of the image starts from."""
    final = dockerfile_stages(DOCKERFILE.read_text(encoding="utf-8"))[-1]
    entrypoints, cmds = final.find("ENTRYPOINT"), final.find("CMD")
    return (entrypoints[-1].exec_form() if entrypoints else [], cmds[-1].exec_form() if cmds else [])


# ----- .dockerignore -----


def _glob_regex(pattern: str) -> re.Pattern[str]:
    out, i = [], 0
    while i < len(pattern):
        if pattern.startswith("**/", i):
            out.append("(?:.*/)?")
            i += 3
        elif pattern.startswith("**", i):
            out.append(".*")
            i += 2
        elif pattern[i] == "*":
            out.append("[^/]*")
            i += 1
        elif pattern[i] == "?":
            out.append("[^/]")
            i += 1
        elif pattern[i] == "[" and "]" in pattern[i + 1 :]:
            end = pattern.index("]", i + 1)
            body = pattern[i + 1 : end]
            out.append("[" + ("^" + body[1:] if body.startswith(("!", "^")) else body) + "]")
            i = end + 1
        else:
            out.append(re.escape(pattern[i]))
            i += 1
    return re.compile("".join(out) + r"\Z")


def dockerignore_rules(text: str) -> list[tuple[bool, re.Pattern[str]]]:
    """``(is_exception, regex)`` per rule, in file order."""
    rules = []
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        exception = line.startswith("!")
        pattern = line[1:].strip() if exception else line
        pattern = pattern.strip("/") or "."
        rules.append((exception, _glob_regex(pattern)))
    return rules


def dockerignore_excludes(rules: list[tuple[bool, re.Pattern[str]]], path: str) -> bool:
    """Whether Docker leaves ``path`` (relative, ``/``-separated) out of the build context."""
    parts = path.strip("/").split("/")
    candidates = ["/".join(parts[: i + 1]) for i in range(len(parts))]
    excluded = False
    for exception, regex in rules:
        if any(regex.match(candidate) for candidate in candidates):
            excluded = not exception
    return excluded


# ----- what a container runs -----


def k8s_argv(container: dict[str, Any], entrypoint: Sequence[str], cmd: Sequence[str]) -> list[str]:
    """Kubernetes: ``command`` replaces ENTRYPOINT (and drops CMD); ``args`` replaces CMD."""
    command, args = container.get("command"), container.get("args")
    if command is not None:
        return [*command, *(args or [])]
    return [*entrypoint, *(args if args is not None else cmd)]


def _words(value: str | list[str]) -> list[str]:
    return shlex.split(value) if isinstance(value, str) else list(value)


def compose_argv(service: dict[str, Any], entrypoint: Sequence[str], cmd: Sequence[str]) -> list[str]:
    """compose: ``entrypoint`` replaces ENTRYPOINT and drops CMD; ``command`` replaces CMD."""
    if "entrypoint" in service:
        return [*_words(service["entrypoint"]), *_words(service.get("command", []))]
    command = service.get("command")
    return [*entrypoint, *(_words(command) if command is not None else cmd)]


@dataclass(frozen=True)
class Invocation:
    """An ``sspp-seed`` argv as click resolved it: the subcommand path and its parsed parameters."""

    path: tuple[str, ...]
    params: dict[str, Any]
    help: bool = False


def _remaining_args(ctx: click.Context) -> list[str]:
    # click >= 8.2 keeps the subcommand name in _protected_args (its public alias warns); 8.1 in protected_args.
    protected = ctx.__dict__.get("_protected_args")
    if protected is None:
        protected = ctx.__dict__.get("protected_args", [])
    return [*protected, *ctx.args]


def resolve_invocation(argv: Sequence[str]) -> Invocation:
    """Parse ``argv`` (``sspp-seed ...``) through the real command tree without running anything.

    Raises the click error that ``sspp-seed`` would exit 2 with: no such command, no such option, a bad value or
    choice, a missing argument or subcommand, extra arguments. ``--help``/``--version`` give ``help=True``.
    """
    if not argv or argv[0] != TOOL:
        raise click.UsageError(f"not an {TOOL} command: {list(argv)!r}")
    command: click.Command = cli
    name, args, parent = TOOL, list(argv[1:]), None
    path: list[str] = []
    with contextlib.redirect_stdout(io.StringIO()):
        while True:
            if isinstance(command, click.Group) and not args and command.no_args_is_help:
                raise click.UsageError(
                    f"Missing command after {' '.join([TOOL, *path])!r} (it prints its help, exit 2)."
                )
            try:
                ctx = command.make_context(name, args, parent=parent, resilient_parsing=False)
            except click.exceptions.Exit as stop:
                if stop.exit_code != 0:
                    raise click.UsageError(f"{TOOL} {' '.join(path)} exits {stop.exit_code}") from None
                return Invocation(tuple(path), {}, help=True)
            if not isinstance(command, click.Group):
                return Invocation(tuple(path), dict(ctx.params))
            rest = _remaining_args(ctx)
            if not rest:
                if command.invoke_without_command:
                    return Invocation(tuple(path), dict(ctx.params))
                raise click.UsageError("Missing command.", ctx)
            sub_name, sub, args = command.resolve_command(ctx, rest)
            if sub is None or sub_name is None:
                raise click.UsageError(f"No such command {rest[0]!r}.", ctx)
            command, name, parent = sub, sub_name, ctx
            path.append(sub_name)


def check_tool_invocation(argv: Sequence[str], env: dict[str, Any], where: str) -> Invocation:
    """:func:`resolve_invocation`, plus: a command that works on a database is given one (--dsn or DATABASE_URL).

    Inside a container there is no server of the tool's own to fall back on, so even ``init``/``demo`` need one.
    """
    try:
        invocation = resolve_invocation(argv)
    except click.ClickException as error:
        raise AssertionError(
            f"{where}: `{shlex.join(argv)}` is not a valid {TOOL} invocation: {error.format_message()}"
        ) from None
    if "dsn" in invocation.params and invocation.params["dsn"] is None and "DATABASE_URL" not in env:
        raise AssertionError(f"{where}: `{shlex.join(argv)}` needs a database: set DATABASE_URL or pass --dsn")
    return invocation


def k8s_env(container: dict[str, Any]) -> dict[str, Any]:
    return {item["name"]: item for item in container.get("env", [])}


def tool_containers() -> Iterator[tuple[str, dict[str, Any], dict[str, Any]]]:
    """``(where, pod spec, container)`` for every container of deploy/k8s running the tool's image."""
    for file_name, obj in k8s_objects():
        spec = pod_spec(obj)
        if spec is None:
            continue
        for container in pod_containers(spec):
            if is_tool_image(container["image"]):
                yield (
                    f"{file_name}: {obj['kind']}/{obj['metadata']['name']} container {container['name']}",
                    spec,
                    container,
                )


def pg_isready_understands(argv: Sequence[str]) -> subprocess.CompletedProcess[str]:
    """Run a probe's ``pg_isready ...`` here with a 1 s timeout: exit 0/1/2 (accepting, rejecting, no answer) all
    mean the arguments were understood; 3 means they were not."""
    assert argv[0] == "pg_isready", argv
    return subprocess.run([*argv, "-t", "1"], capture_output=True, text=True, timeout=30, check=False)
