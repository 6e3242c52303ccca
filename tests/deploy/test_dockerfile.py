"""The Dockerfile, read instruction by instruction, and the build context its .dockerignore leaves."""

from __future__ import annotations

import os
import re
import shlex
import shutil
import subprocess
import sys
import tomllib
import zipfile
from pathlib import Path

import pytest

from tests.deploy._deployfiles import (
    DOCKERFILE,
    DOCKERIGNORE,
    ROOT,
    TOOL,
    Stage,
    copy_specs,
    dockerfile_stages,
    dockerignore_excludes,
    dockerignore_rules,
    parse_dockerfile,
    resolve_invocation,
)

BASE = "python:3.11-slim-bookworm"


@pytest.fixture(scope="module")
def stages() -> list[Stage]:
    return dockerfile_stages(DOCKERFILE.read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def ignore() -> list[tuple[bool, re.Pattern[str]]]:
    return dockerignore_rules(DOCKERIGNORE.read_text(encoding="utf-8"))


def _runs(stage: Stage) -> list[str]:
    return [i.value for i in stage.find("RUN")]


def test_parser_joins_continuations_and_skips_comments() -> None:
    parsed = parse_dockerfile('# c\nFROM a AS b\nRUN x \\\n    # inside\n    && y\n\nCMD ["z"]\n')
    assert [(i.line, i.keyword, i.value) for i in parsed] == [
        (2, "FROM", "a AS b"),
        (3, "RUN", "x && y"),
        (7, "CMD", '["z"]'),
    ]


def test_every_stage_is_slim_bookworm_python(stages: list[Stage]) -> None:
    """bookworm, not just slim: its postgresql-client is 15, the server's major (slim alone moves to newer Debian)."""
    assert len(stages) >= 1
    for stage in stages:
        assert stage.base == BASE, f"Dockerfile:{stage.line}: FROM {stage.base}, expected {BASE}"
    required = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]["requires-python"]
    minimum = tuple(int(x) for x in required.removeprefix(">=").split("."))
    image_python = tuple(int(x) for x in BASE.split(":")[1].split("-", maxsplit=1)[0].split("."))
    assert image_python >= minimum


def test_final_stage_runs_as_a_numeric_non_root_user_before_the_entrypoint(stages: list[Stage]) -> None:
    final = stages[-1]
    users = final.find("USER")
    assert users, "the image must not run as root"
    user = users[-1]
    uid, _, gid = user.value.partition(":")
    assert uid.isdigit(), f"USER {user.value}: numeric, so runAsNonRoot can verify it"
    assert int(uid) != 0
    assert gid.isdigit() and int(gid) != 0 if gid else True
    (entrypoint,) = final.find("ENTRYPOINT")
    assert user.line < entrypoint.line
    assert any(f"--uid {uid}" in run and "useradd" in run for run in _runs(final)), f"no user with uid {uid} is created"


def test_entrypoint_is_the_tool_and_its_default_command_is_valid(stages: list[Stage]) -> None:
    final = stages[-1]
    entrypoint = final.find("ENTRYPOINT")[-1].exec_form()
    cmd = final.find("CMD")[-1].exec_form()
    assert entrypoint == [TOOL]
    assert resolve_invocation([*entrypoint, *cmd]).help


def test_every_sspp_seed_command_in_the_dockerfile_is_valid() -> None:
    """The build stage's smoke run, and the `docker run ... IMAGE ARGS` examples in its comments."""
    text = DOCKERFILE.read_text(encoding="utf-8")
    checked = 0
    for stage in dockerfile_stages(text):
        for run in _runs(stage):
            for part in run.split("&&"):
                words = shlex.split(part)
                if words and Path(words[0]).name == TOOL:
                    resolve_invocation([TOOL, *words[1:]])
                    checked += 1
    for example in re.findall(r"^#\s+docker run (.*)$", text, flags=re.MULTILINE):
        words = shlex.split(example)
        image = next(i for i, w in enumerate(words) if w.startswith(f"{TOOL}:"))
        resolve_invocation([TOOL, *words[image + 1 :]])
        checked += 1
    assert checked >= 2


def test_postgresql_client_is_installed_lean(stages: list[Stage]) -> None:
    """pg_dump/pg_restore/psql for backup and restore, without recommends, and no apt lists left in the layer."""
    installs = [run for run in _runs(stages[-1]) if "apt-get install" in run]
    assert len(installs) == 1
    (run,) = installs
    assert re.search(r"apt-get install -y --no-install-recommends [^&]*\bpostgresql-client\b", run), run
    assert "apt-get update" in run
    assert "rm -rf /var/lib/apt/lists/*" in run


def test_package_is_installed_without_pip_cache(stages: list[Stage]) -> None:
    assert any(re.search(r"\bpip install --no-cache-dir \.(\s|$)", run) for stage in stages for run in _runs(stage))


def test_copy_sources_exist_and_are_in_the_build_context(
    stages: list[Stage], ignore: list[tuple[bool, re.Pattern[str]]]
) -> None:
    names = set()
    for stage in stages:
        for spec in copy_specs(stage):
            source_stage = spec.flags.get("from")
            if source_stage is not None:
                assert source_stage in names, f"Dockerfile:{spec.line}: no earlier stage {source_stage!r}"
                continue
            for source in spec.sources:
                assert (ROOT / source).exists(), f"Dockerfile:{spec.line}: COPY {source}: no such file"
                assert not dockerignore_excludes(ignore, source), (
                    f"Dockerfile:{spec.line}: .dockerignore drops {source}"
                )
        if stage.name:
            names.add(stage.name)


def test_build_stage_copies_everything_the_wheel_is_built_from(stages: list[Stage]) -> None:
    """pyproject.toml's readme, packages and force-included folders (sql/, scenarios/) all reach the build."""
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    wheel = project["tool"]["hatch"]["build"]["targets"]["wheel"]
    needed = {"pyproject.toml", project["project"]["readme"], *wheel["packages"], *wheel.get("force-include", {})}
    builder = next(stage for stage in stages if any("pip install" in run for run in _runs(stage)))
    copied = {source.rstrip("/") for spec in copy_specs(builder) if "from" not in spec.flags for source in spec.sources}
    assert needed <= copied, f"not copied into the build stage: {sorted(needed - copied)}"


@pytest.mark.parametrize(
    "path",
    [
        ".git/config",
        ".venv/bin/python",
        "venv/x",
        ".ci-venv/x",
        "tests/fix_db.py",
        "benchmarks/bench_load.py",
        ".mypy_cache/x",
        ".pytest_cache/x",
        ".ruff_cache/x",
        ".hypothesis/x",
        "deploy/docker-compose.yml",
        "build/x",
        "dist/x.whl",
        "sspp_fixtures/__pycache__/dsn.cpython-311.pyc",
        "sql/__pycache__/x.pyc",
        "sspp_fixtures/x.pyc",
    ],
)
def test_dockerignore_keeps_out(ignore: list[tuple[bool, re.Pattern[str]]], path: str) -> None:
    assert dockerignore_excludes(ignore, path)


@pytest.mark.parametrize(
    "path",
    [
        "pyproject.toml",
        "README.md",
        "sspp_fixtures/cli/_app.py",
        "sspp_fixtures/py.typed",
        "sql/init.sql",
        "sql/migrations/001_create_customers.sql",
        "scenarios/demo.yaml",
    ],
)
def test_dockerignore_lets_in(ignore: list[tuple[bool, re.Pattern[str]]], path: str) -> None:
    assert not dockerignore_excludes(ignore, path)


def test_dockerignore_matcher_follows_docker() -> None:
    """Docker's rules: last match wins; a rule matching a folder matches what is inside; ** spans folders."""
    rules = dockerignore_rules("*.md\n!README*.md\nREADME-secret.md\n/docs/\n**/*.tmp\n")
    assert dockerignore_excludes(rules, "CHANGES.md")
    assert not dockerignore_excludes(rules, "README.md")
    assert dockerignore_excludes(rules, "README-secret.md")
    assert not dockerignore_excludes(rules, "sub/CHANGES.md"), "* does not cross /"
    assert dockerignore_excludes(rules, "docs/deep/file.txt")
    assert dockerignore_excludes(rules, "a/b/c.tmp")
    assert dockerignore_excludes(rules, "c.tmp")


@pytest.mark.slow
def test_the_build_context_builds_the_wheel(
    tmp_path: Path, stages: list[Stage], ignore: list[tuple[bool, re.Pattern[str]]]
) -> None:
    """What `docker build` would do up to `pip install .`: the context .dockerignore leaves, the COPYs, a wheel."""
    context = tmp_path / "context"
    for folder, dirs, files in os.walk(ROOT):
        base = Path(folder).relative_to(ROOT)
        # An excluded folder is not walked (fine for this .dockerignore: its exceptions are top-level names).
        dirs[:] = [d for d in dirs if not dockerignore_excludes(ignore, (base / d).as_posix())]
        for name in files:
            relative = (base / name).as_posix()
            if not dockerignore_excludes(ignore, relative):
                (context / relative).parent.mkdir(parents=True, exist_ok=True)
                shutil.copy2(ROOT / relative, context / relative)
    assert not (context / "tests").exists()
    assert not (context / ".git").exists()
    workdir = tmp_path / "src"
    builder = next(stage for stage in stages if any("pip install" in run for run in _runs(stage)))
    for spec in copy_specs(builder):
        # COPY semantics: a folder's contents go into the destination; files go into it when it ends with /.
        destination = workdir / spec.dest
        into = len(spec.sources) > 1 or spec.dest.endswith("/")
        for source in spec.sources:
            if (context / source).is_dir():
                shutil.copytree(context / source, destination, dirs_exist_ok=True)
            else:
                target = destination / Path(source).name if into else destination
                target.parent.mkdir(parents=True, exist_ok=True)
                shutil.copy2(context / source, target)
    built = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--quiet", "-w", str(tmp_path / "dist"), str(workdir)],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert built.returncode == 0, built.stderr
    (wheel,) = (tmp_path / "dist").glob("sspp_fixtures-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    assert {"sspp_fixtures/_sql/init.sql", "sspp_fixtures/_sql/seed.sql", "sspp_fixtures/_scenarios/demo.yaml"} <= names
    assert "sspp_fixtures/cli/_app.py" in names
