"""A warm server: one cluster kept running between test runs, so that repeated runs skip ``initdb``.

``start_warm_server()`` starts a local (or embedded) cluster that outlives the Python process which started
it, and records it in ``<cache>/warm-server.json`` (``$SSPP_FIXTURES_CACHE`` overrides the cache folder).
``get_server("auto")`` reuses it while it answers; consumers get it with ``owned=False``, so their
``stop()`` leaves it running: only :func:`stop_warm_server` stops it and deletes its data. A state file whose
postmaster died is cleaned up (cluster directory included) by the next :func:`warm_server_status`.

The state file is written *before* the cluster's first process runs (``pid`` 0 until the server answers), and
each warm cluster's ``owner.json`` names its state file. So a starter killed at any point (during ``initdb``,
the copy, ``pg_ctl start``) leaves a server that :func:`warm_server_status` adopts from its ``postmaster.pid``
and :func:`stop_warm_server` stops, or a dead cluster that they delete; warm cluster directories no state file
records, and half-built pristine directories, are swept when their starter is gone.
"""

from __future__ import annotations

import contextlib
import json
import os
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import ClassVar

from ..dsn import connect
from ..errors import DatabaseUnreachableError, ServerUnavailableError, UsageError
from . import _embedded, _local, _runtime
from ._base import STARTED_BY_AUTO, Server
from ._postmaster import PostmasterServer
from ._runtime import ClusterOwner, ClusterRecorder

__all__ = [
    "WARM_KINDS",
    "WarmServer",
    "WarmServerState",
    "answering",
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
    """What ``warm-server.json`` records: enough to reach the server and to stop it from another process.

    While the server starts, ``pid`` is 0 and ``dsn`` and ``version`` are empty (:attr:`starting`).
    """

    provider: str
    dsn: str
    pid: int
    data_dir: str
    version: str
    started_at: str
    cluster_dir: str
    bin_dir: str
    run_as: str | None

    @property
    def starting(self) -> bool:
        """Recorded before its server answered: its starter is still at work, or was killed."""
        return self.pid == 0


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


def _discard(state: WarmServerState, state_dir: Path | None) -> None:
    """Stop the server (if any runs there), delete its cluster directory and the state file."""
    cluster_dir = Path(state.cluster_dir)
    owner = ClusterOwner.read(cluster_dir)
    _runtime.stop_cluster(Path(state.data_dir), Path(state.bin_dir), _runtime.run_as_by_name(state.run_as))
    # Delete only a directory that this package made for a warm server, whatever the state file says.
    if owner is not None and owner.role == "warm" and Path(owner.data_dir) == Path(state.data_dir):
        _runtime.discard_cluster(cluster_dir, owner)
    state_file(state_dir).unlink(missing_ok=True)


#: How long a postmaster found starting (its starter was killed during ``pg_ctl start``) may take to be ready.
_ADOPT_WAIT_S = 30.0


def _adopt(state: WarmServerState, state_dir: Path | None) -> WarmServerState | None:
    """The recorded server as it runs now, from its ``postmaster.pid``: a server whose starter was killed before
    recording it is adopted (and recorded); ``None`` when no postmaster serves that data directory."""
    data_dir = Path(state.data_dir)
    deadline = time.monotonic() + _ADOPT_WAIT_S
    while True:
        found = _runtime.postmaster_file(data_dir)
        if found is not None and _runtime.pid_alive(found.pid, expect="postgres"):
            if found.status == "ready" and found.port:
                break
        elif not _runtime.processes_using(data_dir):
            # No postmaster, and nothing that could still start one (pg_ctl, a postmaster that has not written
            # its pid file yet, the copy of the data directory): the cluster is dead.
            return None
        if time.monotonic() > deadline:
            return None
        time.sleep(0.1)
    if state.pid == found.pid and state.dsn:
        return state
    dsn = found.admin_dsn()
    try:
        with connect(dsn, connect_timeout_s=5) as conn:
            row = conn.execute("SHOW server_version").fetchone()
    except DatabaseUnreachableError:
        return None
    version = str(row[0]).split()[0] if row else "?"
    adopted = WarmServerState(**{**asdict(state), "pid": found.pid, "dsn": dsn, "version": version})
    _write_state(adopted, state_dir)
    return adopted


def _sweep_unrecorded(state_dir: Path | None, keep: WarmServerState | None) -> None:
    """Delete warm clusters meant for this state file that it does not record and whose starter is gone
    (killed before it could record them), and half-built pristine directories nobody builds any more."""
    ours = state_file(state_dir).resolve()
    for provider in ("local", "embedded"):
        for cluster_dir in sorted(_runtime.scratch_dir(provider).glob("warm-*")):
            owner = ClusterOwner.read(cluster_dir)
            if owner is None or owner.role != "warm" or owner.state_file is None:
                continue  # an older version's, or not ours to judge: another state file may record it
            if Path(owner.state_file).resolve() != ours or _runtime.pid_alive(owner.owner_pid):
                continue
            if keep is not None and Path(keep.cluster_dir) == cluster_dir:
                continue
            _runtime.discard_cluster(cluster_dir, owner)
        _runtime.sweep_stale_builds(provider)


def _status_locked(state_dir: Path | None) -> WarmServerState | None:
    state = _read_state(state_dir)
    running = _adopt(state, state_dir) if state is not None else None
    if state is not None and running is None:
        _discard(state, state_dir)
    _sweep_unrecorded(state_dir, running)
    return running


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
        recorder = ClusterRecorder(
            state_file(state_dir), lambda cluster_dir, owner: _record(cluster_dir, owner, state_dir)
        )
        try:
            server = _start(kind, recorder)
            assert server.data_dir is not None
            state = WarmServerState(
                provider=server.provider,
                dsn=server.dsn,
                pid=_runtime.postmaster_pid(server.data_dir) or 0,
                data_dir=str(server.data_dir),
                version=server.server_version(),
                started_at=datetime.now(UTC).isoformat(timespec="seconds"),
                cluster_dir=str(server.cluster_dir),
                bin_dir=str(server.bin_dir),
                run_as=server.run_as.name if server.run_as else None,
            )
            _write_state(state, state_dir)
        except BaseException:
            # The provider deleted the cluster it could not start; a pending record of it must go too (a
            # server started meanwhile is stopped by _discard).
            pending = _read_state(state_dir)
            if pending is not None and pending.starting:
                _discard(pending, state_dir)
            raise
        return state


def _record(cluster_dir: Path, owner: ClusterOwner, state_dir: Path | None) -> None:
    """Record a warm cluster as starting, before its first process runs."""
    pending = WarmServerState(
        provider=owner.provider,
        dsn="",
        pid=0,
        data_dir=owner.data_dir,
        version="",
        started_at=datetime.now(UTC).isoformat(timespec="seconds"),
        cluster_dir=str(cluster_dir),
        bin_dir=owner.bin_dir,
        run_as=owner.run_as,
    )
    _write_state(pending, state_dir)


def _start(kind: str, recorder: ClusterRecorder) -> PostmasterServer:
    """Start provider ``kind``; ``auto``: the first that works of those ``auto`` starts that can run warm."""
    starters: dict[str, Callable[..., PostmasterServer]] = {
        "local": _local.start_local,
        "embedded": _embedded.start_embedded,
    }
    names = [name for name in STARTED_BY_AUTO if name in WARM_KINDS] if kind == "auto" else [kind]
    tried: list[tuple[str, str]] = []
    for name in names:
        try:
            return starters[name](role="warm", recorder=recorder)
        except ServerUnavailableError as exc:
            if kind != "auto":
                raise
            tried.append((name, str(exc)))
    raise ServerUnavailableError(
        "could not start a warm server: " + "; ".join(f"{name}: {why}" for name, why in tried),
        hint="install PostgreSQL server binaries, or reinstall sspp-fixtures for the embedded server",
        tried=tried,
    )


def stop_warm_server(state_dir: Path | None = None) -> bool:
    """Stop the warm server and delete its data; ``False`` if none was recorded."""
    with _runtime.file_lock(_lock_file(state_dir)):
        had_record = state_file(state_dir).exists()
        state = _status_locked(state_dir)  # adopts a server whose starter was killed; sweeps leftovers
        if state is not None:
            _discard(state, state_dir)
        return state is not None or had_record


def reuse_warm_server(state_dir: Path | None = None) -> WarmServer | None:
    """The warm server as a :class:`Server` if one runs and accepts a connection, else ``None``."""
    state = warm_server_status(state_dir)
    return None if state is None else answering(state)


def answering(state: WarmServerState) -> WarmServer | None:
    """The recorded warm server as a :class:`Server` if it accepts a connection, else ``None``."""
    with contextlib.suppress(DatabaseUnreachableError):
        with connect(state.dsn, connect_timeout_s=3) as conn:
            conn.execute("SELECT 1")
        return WarmServer(state)
    return None
