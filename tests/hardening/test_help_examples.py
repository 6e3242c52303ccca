"""Every example a `--help` prints works as printed: each is run with bash, in a fresh folder, as a newcomer
would (no $DATABASE_URL, no PG* variables, no server yet), in the order a first hour takes them.

The order is given here by command; a command whose help gains examples must be placed in it, so no example
escapes the test.
"""

from __future__ import annotations

import contextlib
import io
import os
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import click
import pytest

from sspp_fixtures._paths import cache_dir
from sspp_fixtures.cli import cli, run
from sspp_fixtures.dsn import LIBPQ_TARGET_ENV

#: Commands in the order their examples run: the server and the demo first, `server stop` last.
ORDER = (
    "sspp-seed server",
    "sspp-seed demo",
    "sspp-seed report",  # on the demo's database, which holds a scenario as the tool loaded it
    "sspp-seed",
    "sspp-seed server dsn",
    "sspp-seed init",
    "sspp-seed migrate",
    "sspp-seed scenarios show",
    "sspp-seed scenarios",
    "sspp-seed load",
    "sspp-seed export",
    "sspp-seed backup",
    "sspp-seed restore",
    "sspp-seed doctor",
)


def _commands(command: click.Command, path: str) -> list[tuple[str, click.Command]]:
    found = [(path, command)]
    if isinstance(command, click.Group):
        for name, sub in sorted(command.commands.items()):
            found += _commands(sub, f"{path} {name}")
    return found


def help_examples() -> dict[str, list[str]]:
    """``{command path: [example lines]}`` from each help text's ``Examples:`` block."""
    examples: dict[str, list[str]] = {}
    for path, command in _commands(cli, "sspp-seed"):
        lines = (command.help or "").splitlines()
        if not any(line.strip() == "Examples:" for line in lines):
            continue
        start = next(i for i, line in enumerate(lines) if line.strip() == "Examples:") + 1
        block: list[str] = []
        for line in lines[start:]:
            if not line.strip():
                break
            block.append(line.strip())
        examples[path] = block
    return examples


#: Commands whose examples drive the platform's own worker (a load test): they need it running, which a newcomer's
#: first hour has not. tests/replay runs the same command lines against Bull's own worker and a stand-in worker.
NEEDS_THE_PLATFORM = ("sspp-seed replay", "sspp-seed verify")


def test_every_command_with_examples_is_in_the_order() -> None:
    assert set(help_examples()) == set(ORDER) | set(NEEDS_THE_PLATFORM)


#: A line bash would only split into words (no substitution, pipe or redirection) runs in this process.
_PLAIN = re.compile(r"^sspp-seed [^$|<>;&`]*$")


def _run_plain(line: str) -> tuple[int, str]:
    """``line`` through the CLI's own entry point, as the shell would split it (saves a Python start per line)."""
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = run(shlex.split(line, comments=True)[1:])
    return code, out.getvalue() + err.getvalue()


def _run(line: str, folder: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["bash", "-c", f"set -euo pipefail\n{line}"],
        cwd=folder,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


@pytest.mark.slow
def test_every_help_example_works_as_printed(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    if shutil.which("psql") is None:
        pytest.skip("the examples use psql, which is not installed")
    cache = tmp_path / "cache"
    if (cache_dir() / "pools").is_dir():  # the generator's name pools take seconds to build: reuse them
        shutil.copytree(cache_dir() / "pools", cache / "pools")
    folder = tmp_path / "work"
    folder.mkdir()
    bin_dir = str(Path(sys.executable).parent)
    env = {k: v for k, v in os.environ.items() if k not in (*LIBPQ_TARGET_ENV, "DATABASE_URL", "SSPP_DEBUG")}
    env.update(SSPP_FIXTURES_CACHE=str(cache), PATH=f"{bin_dir}{os.pathsep}{env.get('PATH', '')}", COLUMNS="200")
    for name in (*LIBPQ_TARGET_ENV, "DATABASE_URL", "SSPP_DEBUG"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("SSPP_FIXTURES_CACHE", str(cache))
    monkeypatch.chdir(folder)
    examples = help_examples()
    failed: list[str] = []
    seen: set[str] = set()
    try:
        for command in ORDER:
            for line in examples[command]:
                command_only = line.split("  #")[0].strip()
                if command_only == "sspp-seed server stop" or command_only in seen:
                    continue  # stop runs last, below; a line printed by two helps runs once
                seen.add(command_only)
                if _PLAIN.match(command_only):
                    code, output = _run_plain(command_only)
                else:
                    done = _run(line, folder, env)
                    code, output = done.returncode, done.stdout + done.stderr
                if code != 0 or "Traceback" in output:
                    failed.append(f"{command}: {line!r} exited {code}: {output.strip()[-400:]}")
    finally:
        stopped = _run("sspp-seed server stop", folder, env)
    assert stopped.returncode == 0, stopped.stderr
    assert "stopped the warm server" in stopped.stdout
    assert not failed, "\n".join(failed)
