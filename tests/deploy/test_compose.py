"""deploy/docker-compose.yml, read as compose reads it: the README's postgres service and the tool's service."""

from __future__ import annotations

import re
import shlex
import shutil
from pathlib import PurePosixPath
from typing import Any

import pytest
from psycopg import conninfo

from sspp_fixtures import __version__
from tests.deploy._deployfiles import (
    COMPOSE_FILE,
    DEPLOY,
    ROOT,
    check_tool_invocation,
    compose_argv,
    image_defaults,
    is_tool_image,
    load_yaml,
    pg_isready_understands,
)

INITDB = PurePosixPath("/docker-entrypoint-initdb.d")


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    (document,) = load_yaml(COMPOSE_FILE)
    return dict(document)


def _mounts(service: dict[str, Any]) -> list[tuple[str, str, str]]:
    """``(source, target, mode)`` of each short-syntax volume."""
    mounts = []
    for entry in service.get("volumes", []):
        assert isinstance(entry, str), f"use the short volume syntax: {entry!r}"
        source, target, *mode = entry.split(":")
        mounts.append((source, target, mode[0] if mode else "rw"))
    return mounts


def _is_host_path(source: str) -> bool:
    return source.startswith((".", "/", "~"))


def test_the_file_is_modern_compose(compose: dict[str, Any]) -> None:
    assert "version" not in compose, "the top-level 'version' key is obsolete in the compose spec"
    assert set(compose) <= {"name", "services", "volumes", "networks", "configs", "secrets"}
    assert compose["name"] == "sspp", "a project name, else volumes are named after the folder ('deploy_...')"


def test_postgres_service_is_the_readmes(compose: dict[str, Any]) -> None:
    postgres = compose["services"]["postgres"]
    assert postgres["image"] == "postgres:15"
    assert postgres["environment"] == {
        "POSTGRES_DB": "sspp",
        "POSTGRES_USER": "postgres",
        "POSTGRES_PASSWORD": "postgres",
    }
    assert "profiles" not in postgres, "`docker compose up -d postgres` must start it as the README says"
    assert ("postgres_data", "/var/lib/postgresql/data", "rw") in _mounts(postgres)
    for port in postgres.get("ports", []):
        assert str(port).startswith("127.0.0.1:"), f"{port}: publish the well-known password on loopback only"


def test_every_host_path_mounted_exists_in_the_repo(compose: dict[str, Any]) -> None:
    checked = 0
    for name, service in compose["services"].items():
        for source, target, mode in _mounts(service):
            if not _is_host_path(source):
                continue
            host = (DEPLOY / source).resolve()
            assert host.is_relative_to(ROOT), f"{name}: {source} is outside the repository"
            assert host.exists(), f"{name}: {source} (relative to deploy/) does not exist"
            if target.endswith((".sql", ".sh")):
                assert host.is_file(), f"{name}: {source} must be a file to mount on {target}"
            assert mode == "ro", f"{name}: mount {source} read-only"
            checked += 1
    assert checked >= 2


def test_init_scripts_run_init_then_seed(compose: dict[str, Any]) -> None:
    """docker-entrypoint.sh runs /docker-entrypoint-initdb.d/* in name order: the schema must come first."""
    scripts = sorted(
        (PurePosixPath(target).name, (DEPLOY / source).resolve().relative_to(ROOT).as_posix())
        for source, target, _ in _mounts(compose["services"]["postgres"])
        if PurePosixPath(target).parent == INITDB
    )
    assert scripts == [("01-init.sql", "sql/init.sql"), ("02-seed.sql", "sql/seed.sql")]


def test_named_volumes_are_declared_and_used(compose: dict[str, Any]) -> None:
    used = {
        source
        for service in compose["services"].values()
        for source, _, _ in _mounts(service)
        if not _is_host_path(source)
    }
    assert used == set(compose.get("volumes") or {})


def test_healthcheck_waits_for_the_real_server() -> None:
    """Over TCP, to the database: the entrypoint's temporary server (init scripts running) has no TCP listener."""
    (document,) = load_yaml(COMPOSE_FILE)
    check = document["services"]["postgres"]["healthcheck"]
    kind, *argv = check["test"]
    assert kind == "CMD"
    assert argv[0] == "pg_isready"
    options = dict(zip(argv[1::2], argv[2::2], strict=True))
    assert options == {"-h": "127.0.0.1", "-p": "5432", "-U": "postgres", "-d": "sspp"}
    assert int(check["retries"]) * int(check["interval"].rstrip("s")) >= 60


@pytest.mark.skipif(shutil.which("pg_isready") is None, reason="pg_isready (postgresql-client) is not installed")
def test_healthcheck_command_is_a_valid_pg_isready_call() -> None:
    (document,) = load_yaml(COMPOSE_FILE)
    _, *argv = document["services"]["postgres"]["healthcheck"]["test"]
    result = pg_isready_understands(argv)
    assert result.returncode in (0, 1, 2), result.stderr


def test_tool_service_is_built_here_and_waits_for_a_healthy_postgres(compose: dict[str, Any]) -> None:
    tools = {name: s for name, s in compose["services"].items() if is_tool_image(s.get("image", ""))}
    assert set(tools) == {"sspp-seed"}
    service = tools["sspp-seed"]
    assert service["profiles"], "keep the tool out of a plain `docker compose up`"
    context = (DEPLOY / service["build"]["context"]).resolve()
    assert context == ROOT
    assert (context / service["build"].get("dockerfile", "Dockerfile")).is_file()
    assert service["image"] == f"sspp-seed:{__version__}", "tag the image with the package version"
    assert service["depends_on"] == {"postgres": {"condition": "service_healthy"}}


def test_tool_service_runs_a_valid_command_on_the_compose_database(compose: dict[str, Any]) -> None:
    service = compose["services"]["sspp-seed"]
    env = service["environment"]
    argv = compose_argv(service, *image_defaults())
    invocation = check_tool_invocation(argv, env, "docker-compose.yml: service sspp-seed")
    assert invocation.path == ("load",)
    assert invocation.params["wait_s"] > 0, "ride out a server that is still starting"
    postgres = compose["services"]["postgres"]["environment"]
    target = conninfo.conninfo_to_dict(env["DATABASE_URL"])
    assert target == {
        "host": "postgres",
        "port": "5432",
        "user": postgres["POSTGRES_USER"],
        "password": postgres["POSTGRES_PASSWORD"],
        "dbname": postgres["POSTGRES_DB"],
    }


def test_commands_in_the_files_comments_are_valid(compose: dict[str, Any]) -> None:
    """`docker compose -f deploy/docker-compose.yml run --rm sspp-seed [ARGS]` lines: ARGS replace the command."""
    service = compose["services"]["sspp-seed"]
    examples = re.findall(r"run --rm sspp-seed([^#\n]*)", COMPOSE_FILE.read_text(encoding="utf-8"))
    assert examples
    for example in examples:
        args = shlex.split(example)
        argv = compose_argv({**service, "command": args} if args else service, *image_defaults())
        check_tool_invocation(argv, service["environment"], f"docker-compose.yml comment: run --rm sspp-seed{example}")
