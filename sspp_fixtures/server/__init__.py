"""Getting a running PostgreSQL: one interface (:class:`Server`), four providers, and ``auto``.

``get_server("auto")`` tries, in order: an explicit DSN or ``$DATABASE_URL``; a running warm server
(:mod:`._warm`); local server binaries; the embedded server from the pip-installed wheel; a Docker container.
The first that works is returned. :func:`probe_providers` reports what is available without starting anything.
"""

from __future__ import annotations

from dataclasses import dataclass
from importlib.metadata import PackageNotFoundError
from importlib.metadata import version as package_version

from ..dsn import DATABASE_URL_ENV, connect, mask_dsn, resolve_dsn
from ..errors import DatabaseUnreachableError, ServerUnavailableError, UsageError
from . import _docker, _embedded, _local, _warm
from ._base import PROVIDER_NAMES, Server
from ._docker import DEFAULT_IMAGE, DockerServer
from ._embedded import EmbeddedServer
from ._external import DsnServer, connect_dsn
from ._local import LocalServer
from ._warm import (
    WarmServer,
    WarmServerState,
    start_warm_server,
    stop_warm_server,
    warm_server_status,
)

__all__ = [
    "KINDS",
    "PROVIDER_NAMES",
    "DockerServer",
    "DsnServer",
    "EmbeddedServer",
    "LocalServer",
    "ProviderStatus",
    "Server",
    "WarmServer",
    "WarmServerState",
    "get_server",
    "probe_providers",
    "start_warm_server",
    "stop_warm_server",
    "warm_server_status",
]


#: What ``get_server(kind=...)`` accepts: ``auto``, the warm server, and each provider.
KINDS: tuple[str, ...] = ("auto", "warm", *PROVIDER_NAMES)

NOTHING_WORKS_HINT = (
    "install PostgreSQL server binaries (Debian/Ubuntu: apt-get install postgresql), or pass --dsn / set "
    f"${DATABASE_URL_ENV} to a running server, or pip install 'sspp-fixtures[docker]' and start Docker"
)


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
) -> Server:
    """A running server from provider ``kind`` (one of :data:`KINDS`).

    ``dsn`` is the user's DSN (else ``$DATABASE_URL``), waited for up to ``wait_s`` seconds; ``use_warm``
    lets ``auto`` reuse the warm server. Raises :class:`ServerUnavailableError` (``details['tried']`` lists
    each provider and why it failed) or :class:`UsageError` for an unknown kind.
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
    if kind == "local":
        return _local.start_local()
    if kind == "embedded":
        return _embedded.start_embedded()
    if kind == "docker":
        return _docker.start_docker(docker_image)
    return _auto(dsn, wait_s=wait_s, use_warm=use_warm, docker_image=docker_image)


def _auto(dsn: str | None, *, wait_s: float, use_warm: bool, docker_image: str) -> Server:
    tried: list[tuple[str, str]] = []
    resolved = resolve_dsn(dsn)
    if resolved is None:
        tried.append(("dsn", f"no DSN given and ${DATABASE_URL_ENV} is not set"))
    else:
        # A DSN the user gave is what they want: a typo must fail loudly, not quietly start another server.
        return connect_dsn(resolved, wait_s=wait_s)
    if use_warm:
        warm_server = _warm.reuse_warm_server()
        if warm_server is not None:
            return warm_server
        tried.append(("warm", "no warm server running"))
    starters = (
        ("local", _local.start_local),
        ("embedded", _embedded.start_embedded),
        ("docker", lambda: _docker.start_docker(docker_image)),
    )
    for name, start in starters:
        try:
            return start()
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
    resolved = resolve_dsn(dsn)
    if resolved is None:
        return ProviderStatus("dsn", False, f"no DSN given and ${DATABASE_URL_ENV} is not set")
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
