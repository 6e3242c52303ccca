"""The validator the deploy tests rely on: it accepts what ``sspp-seed`` runs and rejects what it would refuse."""

from __future__ import annotations

import subprocess

import click
import pytest

from tests.deploy._deployfiles import TOOL, check_tool_invocation, compose_argv, k8s_argv, resolve_invocation
from tests.fix_db import run_cli


def test_valid_invocations_resolve_with_their_parameters() -> None:
    migrate = resolve_invocation([TOOL, "migrate", "--wait", "120"])
    assert migrate.path == ("migrate",)
    assert migrate.params["wait_s"] == 120.0
    assert migrate.params["dsn"] is None
    load = resolve_invocation([TOOL, "load", "demo", "--wait", "60", "--force"])
    assert (load.path, load.params["scenario"], load.params["force"]) == (("load",), "demo", True)
    assert resolve_invocation([TOOL, "schema", "init-sql", "--check"]).path == ("schema", "init-sql")
    assert resolve_invocation([TOOL, "--help"]).help
    assert resolve_invocation([TOOL, "migrate", "--help"]).help


@pytest.mark.parametrize(
    ("argv", "why"),
    [
        pytest.param(["migrat", "--wait", "120"], "No such command", id="unknown-command"),
        pytest.param(["migrate", "--wiat", "120"], "No such option", id="unknown-option"),
        pytest.param(["migrate", "--wait", "two minutes"], "not a valid float", id="bad-value"),
        pytest.param(["migrate", "--wait", "99999"], "range", id="out-of-range"),
        pytest.param(["migrate", "extra"], "unexpected extra argument", id="extra-argument"),
        pytest.param(["export", "sample", "--format", "xml", "--out", "x"], "'xml' is not one of", id="bad-choice"),
        pytest.param(["export", "sample", "--format", "sql"], "Missing option '--out'", id="missing-option"),
        pytest.param(["load"], "Missing argument 'SCENARIO'", id="missing-argument"),
        pytest.param(["schema"], "Missing command", id="missing-subcommand"),
        pytest.param(["server", "start", "--provider", "docker"], "is not one of", id="bad-choice-in-subgroup"),
    ],
)
def test_wrong_invocations_are_caught(argv: list[str], why: str) -> None:
    with pytest.raises(click.UsageError) as caught:
        resolve_invocation([TOOL, *argv])
    assert why in caught.value.format_message()


@pytest.mark.parametrize(
    "argv",
    [["migrate", "--wiat", "120"], ["migrate", "--wait", "two minutes"], ["schema"], ["migrat"]],
    ids=["unknown-option", "bad-value", "missing-subcommand", "unknown-command"],
)
def test_what_the_validator_rejects_the_real_cli_rejects_too(argv: list[str]) -> None:
    """Same verdict as the installed console script: exit 2 (usage), before touching any database."""
    result: subprocess.CompletedProcess[str] = run_cli(*argv, env={"DATABASE_URL": "postgresql://nobody@127.0.0.1:1/x"})
    assert result.returncode == 2, (result.stdout, result.stderr)
    with pytest.raises(click.UsageError):
        resolve_invocation([TOOL, *argv])


def test_a_command_that_needs_a_database_must_be_given_one() -> None:
    argv = [TOOL, "migrate", "--wait", "120"]
    with pytest.raises(AssertionError, match="needs a database: set DATABASE_URL or pass --dsn"):
        check_tool_invocation(argv, {}, "test")
    check_tool_invocation(argv, {"DATABASE_URL": {}}, "test")
    check_tool_invocation([*argv, "--dsn", "postgresql://h/db"], {}, "test")
    with pytest.raises(AssertionError, match="is not a valid sspp-seed invocation"):
        check_tool_invocation([TOOL, "migrate", "--to", "-1"], {"DATABASE_URL": {}}, "test")
    with pytest.raises(AssertionError, match="is not a valid sspp-seed invocation"):
        check_tool_invocation(["/bin/sh", "-c", "sspp-seed migrate"], {"DATABASE_URL": {}}, "test")


def test_container_argv_follows_kubernetes_and_compose_rules() -> None:
    entrypoint, cmd = [TOOL], ["--help"]
    assert k8s_argv({}, entrypoint, cmd) == [TOOL, "--help"]
    assert k8s_argv({"args": ["status"]}, entrypoint, cmd) == [TOOL, "status"]
    assert k8s_argv({"command": [TOOL, "migrate"]}, entrypoint, cmd) == [TOOL, "migrate"]
    assert k8s_argv({"command": ["python", "-m", "x"], "args": ["y"]}, entrypoint, cmd) == ["python", "-m", "x", "y"]
    assert compose_argv({}, entrypoint, cmd) == [TOOL, "--help"]
    assert compose_argv({"command": "status --json"}, entrypoint, cmd) == [TOOL, "status", "--json"]
    assert compose_argv({"entrypoint": ["sh"]}, entrypoint, cmd) == ["sh"]
