"""The ``docker`` provider: ``postgres:15`` in a testcontainers container, when a Docker engine answers.

Optional (``pip install sspp-fixtures[docker]``). Availability is decided by importing ``testcontainers``
and pinging the engine with a short timeout, so a machine without Docker learns so in well under a second.
The container runs with the same throwaway settings as the other providers and is removed by ``stop()``.
"""

from __future__ import annotations

import atexit
import contextlib
import gc
import importlib
import os
import secrets
import warnings
from pathlib import Path
from typing import Any, ClassVar

from ..dsn import connect
from ..errors import DatabaseUnreachableError, ServerUnavailableError
from ._base import Server
from ._tuning import THROWAWAY_SETTINGS

__all__ = ["DEFAULT_IMAGE", "DockerServer", "docker_status", "start_docker"]

DEFAULT_IMAGE = "postgres:15"
PING_TIMEOUT_S = 2
INSTALL_HINT = "pip install 'sspp-fixtures[docker]'"
_DEFAULT_SOCKETS = (Path("/var/run/docker.sock"), Path.home() / ".docker/run/docker.sock")


class DockerServer(Server):
    """A container this package started; stopping it removes the container and its data."""

    provider: ClassVar[str] = "docker"

    def __init__(self, dsn: str, *, container: Any, image: str) -> None:
        super().__init__(dsn, owned=True)
        self.container = container
        self.image = image

    def _shutdown(self) -> None:
        """Stop and remove the container."""
        atexit.unregister(self.stop)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            self.container.stop()


def _import_container_class() -> Any:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            from testcontainers.community.postgres import PostgresContainer
        except ImportError:
            from testcontainers.postgres import PostgresContainer
    return PostgresContainer


def docker_status(timeout_s: float = PING_TIMEOUT_S) -> tuple[bool, str]:
    """``(available, detail)``: whether testcontainers imports and a Docker engine answers a ping."""
    try:
        _import_container_class()
    except ImportError as exc:
        return False, f"unavailable: testcontainers is not installed ({exc.name}); {INSTALL_HINT}"
    host = os.environ.get("DOCKER_HOST", "").strip()
    if not host and not any(path.exists() for path in _DEFAULT_SOCKETS):
        where = ", ".join(str(path) for path in _DEFAULT_SOCKETS)
        return False, f"unavailable: no Docker engine ($DOCKER_HOST unset, no socket at {where})"
    docker = importlib.import_module("docker")  # untyped SDK, installed with testcontainers
    reason: str | None = None
    version = ""
    # The SDK leaves sockets unclosed when the engine is away; collect them while warnings are off.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            client = docker.from_env(timeout=int(max(timeout_s, 1)))
            try:
                client.ping()
                version = str(client.version().get("Version", ""))
            finally:
                client.close()
        except Exception as exc:
            reason = str(exc).splitlines()[0][:200] if str(exc) else type(exc).__name__
        gc.collect()
    if reason is not None:
        return False, f"unavailable: no Docker engine answers ({reason})"
    return True, f"Docker engine {version}".strip()


def start_docker(image: str = DEFAULT_IMAGE) -> DockerServer:
    """Start ``image`` with throwaway settings and wait until it accepts connections."""
    available, detail = docker_status()
    if not available:
        raise ServerUnavailableError(
            f"docker provider {detail}",
            hint=f"start Docker, or {INSTALL_HINT}, or pick another provider",
        )
    container_class = _import_container_class()
    password = secrets.token_urlsafe(16)
    settings = " ".join(f"-c {name}={value}" for name, value in THROWAWAY_SETTINGS.items())
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        container = container_class(image, username="postgres", password=password, dbname="postgres", driver=None)
        container.with_command(f"postgres {settings}")
        try:
            container.start()
            dsn = str(container.get_connection_url(driver=None))
        except Exception as exc:
            with contextlib.suppress(Exception):
                container.stop()
            raise ServerUnavailableError(
                f"the {image} container did not start: {str(exc).replace(password, '***')}",
                hint="check `docker ps -a` and the engine's logs, or pick another provider",
            ) from None
    server = DockerServer(dsn, container=container, image=image)
    atexit.register(server.stop)
    try:
        with connect(dsn, wait_s=30) as conn:
            conn.execute("SELECT 1")
    except DatabaseUnreachableError as exc:
        server.stop()
        raise ServerUnavailableError(
            f"the {image} container does not answer: {exc.message}", hint="check the engine's logs"
        ) from None
    return server
