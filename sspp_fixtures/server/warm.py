"""A warm server: one cluster kept running between test runs, so that repeated runs skip ``initdb``.

``start_warm_server()`` starts a local (or embedded) cluster that outlives the Python process which started
it, and records it in ``<cache>/warm-server.json`` (``$SSPP_FIXTURES_CACHE`` overrides the cache folder).
``get_server("auto")`` reuses it while it answers; consumers get it with ``owned=False``, so their
``stop()`` leaves it running: only :func:`stop_warm_server` stops it and deletes its data. A state file whose
postmaster died is cleaned up (cluster directory included) by the next :func:`warm_server_status`.
"""

from __future__ import annotations

import contextlib
import json
import os
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import ClassVar

from ..dsn import connect
from ..errors import DatabaseUnreachableError, ServerUnavailableError, UsageError
from . import _runtime, embedded, local
from ._base import Server
from ._runtime import ClusterOwner

__all__ = [
    "WARM_KINDS",
    "WarmServer",
    "WarmServerState",
    "reuse_warm_server",
    "start_warm_server",
    "state_file",
    "stop_warm_server",
    "warm_server_status",
]

WARM_KINDS: tuple[str, ...] = ("auto", "local", "embedded")
STATE_FILE = "warm-server.json"


@dataclass(frozen=True)
class WarmServerState:
    """What ``warm-server.json`` records: enough to reach the server and to stop it from another process."""

    provider: str
    dsn: str
    pid: int
    data_dir: str
    version: str
    started_at: str
    cluster_dir: str
    bin_dir: str
    run_as: str | None


class WarmServer(Server):
    """The warm server as a consumer sees it: usable, never stopped by ``stop()`` (``owned=False``)."""

    provider: ClassVar[str] = "warm"

    def __init__(self, state: WarmServerState) -> None:
        super().__init__(state.dsn, owned=False, data_dir=Path(state.data_dir))
        self.state = state

    @property
    def backend(self) -> str:
        """The provider that runs it: ``local`` or ``embedded``."""
        return self.state.provider

    def _shutdown(self) -> None:
        """Never called: only :func:`stop_warm_server` stops the warm server."""


def state_file(state_dir: Path | None = None) -> Path:
    """Where the warm server's state is recorded (``state_dir`` holds another, e.g. one test run's server)."""
    return (state_dir or _runtime.cache_dir()) / STATE_FILE


def _lock_file(state_dir: Path | None) -> Path:
    return (state_dir or _runtime.cache_dir()) / "warm-server.lock"


def _read_state(state_dir: Path | None) -> WarmServerState | None:
    try:
        raw = json.loads(state_file(state_dir).read_text(encoding="utf-8"))
        return WarmServerState(**raw)
    except FileNotFoundError:
        return None
    except (OSError, ValueError, TypeError):
        state_file(state_dir).unlink(missing_ok=True)  # unreadable: nothing can be done with it
        return None


def _write_state(state: WarmServerState, state_dir: Path | None) -> None:
    path = state_file(state_dir)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(f".{os.getpid()}.tmp")
    tmp.write_text(json.dumps(asdict(state), indent=2), encoding="utf-8")
    tmp.chmod(0o600)
    tmp.replace(path)


def _is_running(state: WarmServerState) -> bool:
    return _runtime.pid_alive(state.pid, expect="postgres") and (
        _runtime.postmaster_pid(Path(state.data_dir)) == state.pid
    )


def _discard(state: WarmServerState, state_dir: Path | None) -> None:
    """Stop the server (if any runs there), delete its cluster directory and the state file."""
    cluster_dir = Path(state.cluster_dir)
    owner = ClusterOwner.read(cluster_dir)
    _runtime.stop_cluster(Path(state.data_dir), Path(state.bin_dir), _runtime.run_as_by_name(state.run_as))
    # Delete only a directory that this package made for a warm server, whatever the state file says.
    if owner is not None and owner.role == "warm" and Path(owner.data_dir) == Path(state.data_dir):
        _runtime.remove_tree(cluster_dir)
    state_file(state_dir).unlink(missing_ok=True)


def _status_locked(state_dir: Path | None) -> WarmServerState | None:
    state = _read_state(state_dir)
    if state is None:
        return None
    if _is_running(state):
        return state
    _discard(state, state_dir)
    return None


def warm_server_status(state_dir: Path | None = None) -> WarmServerState | None:
    """The running warm server's state, or ``None``; a state left by a dead server is cleaned up."""
    with _runtime.file_lock(_lock_file(state_dir)):
        return _status_locked(state_dir)


def start_warm_server(kind: str = "auto", *, state_dir: Path | None = None) -> WarmServerState:
    """Start the warm server (``auto``: local if possible, else embedded); return the running one if any."""
    if kind not in WARM_KINDS:
        raise UsageError(f"unknown warm server kind {kind!r}", hint=f"use one of: {', '.join(WARM_KINDS)}", kind=kind)
    with _runtime.file_lock(_lock_file(state_dir)):
        current = _status_locked(state_dir)
        if current is not None:
            return current
        server = _start(kind)
        assert server.data_dir is not None
        pid = _runtime.postmaster_pid(server.data_dir)
        state = WarmServerState(
            provider=server.provider,
            dsn=server.dsn,
            pid=pid or 0,
            data_dir=str(server.data_dir),
            version=server.server_version(),
            started_at=datetime.now(UTC).isoformat(timespec="seconds"),
            cluster_dir=str(server.cluster_dir),
            bin_dir=str(server.bin_dir),
            run_as=server.run_as.name if server.run_as else None,
        )
        _write_state(state, state_dir)
        return state


def _start(kind: str) -> local.LocalServer | embedded.EmbeddedServer:
    tried: list[tuple[str, str]] = []
    if kind in ("auto", "local"):
        try:
            return local.start_local(role="warm")
        except ServerUnavailableError as exc:
            if kind == "local":
                raise
            tried.append(("local", str(exc)))
    try:
        return embedded.start_embedded(role="warm")
    except ServerUnavailableError as exc:
        if kind == "embedded":
            raise
        tried.append(("embedded", str(exc)))
    raise ServerUnavailableError(
        "could not start a warm server: " + "; ".join(f"{name}: {why}" for name, why in tried),
        hint="install PostgreSQL server binaries, or reinstall sspp-fixtures for the embedded server",
        tried=tried,
    )


def stop_warm_server(state_dir: Path | None = None) -> bool:
    """Stop the warm server and delete its data; ``False`` if none was recorded."""
    with _runtime.file_lock(_lock_file(state_dir)):
        state = _read_state(state_dir)
        if state is None:
            return False
        _discard(state, state_dir)
        return True


def reuse_warm_server(state_dir: Path | None = None) -> WarmServer | None:
    """The warm server as a :class:`Server` if one runs and accepts a connection, else ``None``."""
    state = warm_server_status(state_dir)
    if state is None:
        return None
    with contextlib.suppress(DatabaseUnreachableError):
        with connect(state.dsn, connect_timeout_s=3) as conn:
            conn.execute("SELECT 1")
        return WarmServer(state)
    return None
