"""Getting a running PostgreSQL: one interface (:class:`Server`), four providers, and ``auto``.

``auto`` is one policy, used by ``get_server("auto")``, the pytest plugin and the CLI's choice of database. It
takes the first server named, in order: an explicit DSN, ``$DATABASE_URL``, libpq's ``PG*`` environment (as psql
reads it), a running warm server (:mod:`._warm`) (:func:`find_running`, which starts nothing); else it starts one:
local server binaries, the embedded server from the pip-installed wheel, a Docker container.
:func:`probe_providers` reports what is available without starting anything.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from importlib.metadata import PackageNotFoundError
from importlib.metadata import version as package_version
from pathlib import Path

from ..dsn import DATABASE_URL_ENV, connect, libpq_env_dsn, mask_dsn
from ..errors import DatabaseUnreachableError, ServerUnavailableError, UsageError
from ._base import STARTED_BY_AUTO, Server
from ._docker import DEFAULT_IMAGE
from ._external import connect_dsn
from ._warm import WarmServerState, start_warm_server, stop_warm_server, warm_server_status

__all__ = [
    "KINDS",
    "ProviderStatus",
    "Server",
    "WarmServerState",
    "find_running",
    "get_server",
    "probe_providers",
    "start_warm_server",
    "stop_warm_server",
    "warm_server_status",
]

# For the other packages of sspp-fixtures and its tests: not part of the supported API
# (README, "Python API"); they may change without notice.
from . import _docker as _docker
from . import _embedded as _embedded
from . import _local as _local
from . import _warm as _warm
from ._base import PROVIDER_NAMES as PROVIDER_NAMES
from ._docker import DockerServer as DockerServer
from ._embedded import EmbeddedServer as EmbeddedServer
from ._external import DsnServer as DsnServer
from ._local import LocalServer as LocalServer
from ._warm import WarmServer as WarmServer

#: What ``get_server(kind=...)`` accepts: ``auto``, the warm server, and each provider.
KINDS: tuple[str, ...] = ("auto", "warm", *PROVIDER_NAMES)
#: :attr:`Running.source` of the warm server.
WARM_SOURCE = "warm server"
_NO_DSN = f"no DSN given, ${DATABASE_URL_ENV} is not set and no PG* variable is set"

NOTHING_WORKS_HINT = (
    "install PostgreSQL server binaries (Debian/Ubuntu: apt-get install postgresql), or pass --dsn / set "
    f"${DATABASE_URL_ENV} to a running server, or pip install 'sspp-fixtures[docker]' and start Docker"
)


@dataclass(frozen=True)
class Running:
    """A server ``auto`` found without starting anything: its DSN, where it was named (``--dsn``,
    ``$DATABASE_URL``, the ``PG*`` variables it came from, or ``warm server``) and, for the warm server, its state."""

    dsn: str
    source: str
    warm: WarmServerState | None = None


def find_running(dsn: str | None = None, *, use_warm: bool = True) -> Running | None:
    """The first steps of ``auto``: ``dsn`` as given, else ``$DATABASE_URL``, else libpq's ``PG*`` environment,
    else the recorded warm server (unless ``use_warm`` is false); ``None`` when none of them names a server."""
    if dsn:
        return Running(dsn, "--dsn")
    from_url = os.environ.get(DATABASE_URL_ENV, "").strip()
    if from_url:
        return Running(from_url, f"${DATABASE_URL_ENV}")
    from_env = libpq_env_dsn()
    if from_env is not None:
        return Running(from_env[0], ", ".join(from_env[1]))
    warm = warm_server_status() if use_warm else None
    return Running(warm.dsn, WARM_SOURCE, warm) if warm is not None else None


@dataclass(frozen=True)
class ProviderStatus:
    """Whether a provider can give a server here, and the detail (version, path, or why not)."""

    name: str
    available: bool
    detail: str


def get_server(
    kind: str = "auto",
    *,
    dsn: str | None = None,
    wait_s: float = 0.0,
    use_warm: bool = True,
    docker_image: str = DEFAULT_IMAGE,
    state_dir: Path | None = None,
) -> Server:
    """A running server from provider ``kind`` (one of :data:`KINDS`).

    ``dsn`` is the user's DSN (else ``$DATABASE_URL``; ``auto`` also reads the ``PG*`` variables), waited for up
    to ``wait_s`` seconds; ``use_warm`` lets ``auto`` reuse the warm server. With ``state_dir``, a local or
    embedded server is started as the warm server recorded there: every process that looks there shares it,
    and :func:`stop_warm_server` with that folder stops it. Raises :class:`ServerUnavailableError`
    (its ``tried`` lists each provider and why it failed) or :class:`UsageError` for an unknown kind.
    """
    if kind not in KINDS:
        raise UsageError(f"unknown server kind {kind!r}", hint=f"use one of: {', '.join(KINDS)}", kind=kind)
    if kind == "dsn":
        return connect_dsn(dsn, wait_s=wait_s)
    if kind == "warm":
        server = _warm.reuse_warm_server()
        if server is None:
            raise ServerUnavailableError(
                "no warm server is running",
                hint="start one with start_warm_server() (sspp-seed server start)",
            )
        return server
    if kind == "auto":
        return _auto(dsn, wait_s=wait_s, use_warm=use_warm, docker_image=docker_image, state_dir=state_dir)
    return _start(kind, docker_image=docker_image, state_dir=state_dir)


def _start(kind: str, *, docker_image: str, state_dir: Path | None) -> Server:
    """Start a server of provider ``kind`` (``local``, ``embedded`` or ``docker``)."""
    if kind == "docker":
        return _docker.start_docker(docker_image)
    if state_dir is not None:
        return WarmServer(start_warm_server(kind, state_dir=state_dir))
    return _local.start_local() if kind == "local" else _embedded.start_embedded()


def _auto(dsn: str | None, *, wait_s: float, use_warm: bool, docker_image: str, state_dir: Path | None) -> Server:
    tried: list[tuple[str, str]] = []
    running = find_running(dsn, use_warm=use_warm)
    if running is not None and running.warm is None:
        # A DSN the user gave is what they want: a typo must fail loudly, not quietly start another server.
        return connect_dsn(running.dsn, wait_s=wait_s)
    tried.append(("dsn", _NO_DSN))
    if use_warm:
        warm_server = _warm.answering(running.warm) if running is not None and running.warm is not None else None
        if warm_server is not None:
            return warm_server
        tried.append(("warm", "no warm server running"))
    for name in STARTED_BY_AUTO:
        try:
            return _start(name, docker_image=docker_image, state_dir=state_dir)
        except ServerUnavailableError as exc:
            tried.append((name, str(exc)))
    listing = "; ".join(f"{name}: {why}" for name, why in tried)
    raise ServerUnavailableError(
        f"no PostgreSQL server could be provided (tried {listing})", hint=NOTHING_WORKS_HINT, tried=tried
    )


def probe_providers(dsn: str | None = None) -> list[ProviderStatus]:
    """What each provider (and the warm server) could give on this machine, without starting a server."""
    return [_probe_dsn(dsn), _probe_warm(), _probe_local(), _probe_embedded(), _probe_docker()]


def _probe_dsn(dsn: str | None) -> ProviderStatus:
    running = find_running(dsn, use_warm=False)
    if running is None:
        return ProviderStatus("dsn", False, _NO_DSN)
    resolved = running.dsn
    try:
        with connect(resolved, connect_timeout_s=3) as conn:
            row = conn.execute("SHOW server_version").fetchone()
    except (DatabaseUnreachableError, UsageError) as exc:
        return ProviderStatus("dsn", False, str(exc))
    version = str(row[0]).split()[0] if row else "?"
    return ProviderStatus("dsn", True, f"PostgreSQL {version} at {mask_dsn(resolved)}")


def _probe_warm() -> ProviderStatus:
    state = warm_server_status()
    if state is None:
        return ProviderStatus("warm", False, "no warm server running")
    detail = f"{state.provider} PostgreSQL {state.version}, pid {state.pid}, at {mask_dsn(state.dsn)}"
    return ProviderStatus("warm", True, detail)


def _probe_local() -> ProviderStatus:
    found = _local.find_binaries()
    if found is None:
        return ProviderStatus("local", False, f"no server binaries found; {_local.INSTALL_HINT}")
    detail = f"PostgreSQL {found.version} in {found.bin_dir} (found via {found.found_via})"
    return ProviderStatus("local", True, detail)


def _probe_embedded() -> ProviderStatus:
    try:
        major = _embedded.embedded_version()
    except ServerUnavailableError as exc:
        return ProviderStatus("embedded", False, str(exc))
    try:
        wheel = package_version(_embedded.PACKAGE)
    except PackageNotFoundError:
        wheel = "?"
    return ProviderStatus("embedded", True, f"{_embedded.PACKAGE} {wheel}, PostgreSQL {major}")


def _probe_docker() -> ProviderStatus:
    available, detail = _docker.docker_status()
    return ProviderStatus("docker", available, detail)
