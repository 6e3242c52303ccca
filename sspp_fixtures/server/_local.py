"""The ``local`` provider: a throwaway cluster from the PostgreSQL server binaries installed on this machine.

The binaries (``initdb``, ``pg_ctl``, ``postgres``) are found through ``pg_config --bindir``, then ``PATH``,
then Debian/PGDG's ``/usr/lib/postgresql/<major>/bin`` (highest major first). The cluster is initialised
into a fresh directory with durability turned off (see :mod:`._tuning`), listens on a free TCP port of
127.0.0.1 and on a Unix socket in a private folder, and is removed with its data on :meth:`Server.stop`
or, failing that, when the Python process exits normally. Clusters left running by a killed process are
swept by the next start. As root, the cluster runs as the unprivileged user ``sspp-fixtures`` (created when
missing; ``nobody`` if it cannot be), because PostgreSQL refuses to run as root.
"""

from __future__ import annotations

import atexit
import contextlib
import os
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar

from ..errors import ServerUnavailableError
from . import _runtime
from ._postmaster import Cluster, PostmasterServer, check_answers, cluster_owner, log_tail, pristine_key
from ._programs import program_version
from ._runtime import ClusterRecorder, RunAs
from ._tuning import append_settings

__all__ = [
    "LocalBinaries",
    "LocalServer",
    "debian_bin_dirs",
    "find_binaries",
    "pg_config_bindir",
    "start_local",
    "tool_folders",
]

_TOOLS = ("initdb", "pg_ctl", "postgres")
_DEBIAN_ROOT = Path("/usr/lib/postgresql")
_VERSION_TIMEOUT_S = 10.0
_START_ATTEMPTS = 3
INSTALL_HINT = (
    "install the server binaries (Debian/Ubuntu: apt-get install postgresql; macOS: brew install "
    "postgresql@15) or put their folder on PATH"
)


@dataclass(frozen=True)
class LocalBinaries:
    """A folder holding usable server binaries, the version they report and how they were found."""

    bin_dir: Path
    version: str
    found_via: str


def _has_tools(folder: Path) -> bool:
    return all(os.access(folder / tool, os.X_OK) for tool in _TOOLS)


def pg_config_bindir() -> Path | None:
    """The folder ``pg_config --bindir`` names, when a ``pg_config`` is on ``PATH`` and answers."""
    pg_config = shutil.which("pg_config")
    if not pg_config:
        return None
    with contextlib.suppress(OSError, subprocess.SubprocessError):
        out = subprocess.run([pg_config, "--bindir"], capture_output=True, text=True, timeout=10, check=True).stdout
        if out.strip():
            return Path(out.strip())
    return None


def debian_bin_dirs() -> list[Path]:
    """Debian/PGDG's ``/usr/lib/postgresql/<major>/bin`` folders, highest major first."""

    def major(folder: Path) -> tuple[int, str]:
        name = folder.parent.name
        return (int(name) if name.isdigit() else -1, name)

    if not _DEBIAN_ROOT.is_dir():
        return []
    return sorted(_DEBIAN_ROOT.glob("*/bin"), key=major, reverse=True)


def tool_folders(tool: str) -> list[tuple[Path, str]]:
    """Folders that may hold PostgreSQL's programs, each with how it was found: ``pg_config --bindir``, the folder
    of ``tool`` on ``PATH``, then Debian/PGDG's, highest major first."""
    found: list[tuple[Path, str]] = []
    bindir = pg_config_bindir()
    if bindir is not None:
        found.append((bindir, "pg_config --bindir"))
    on_path = shutil.which(tool)
    if on_path:
        # /usr/local/bin/initdb is often a symlink: the other tools sit next to its target.
        found.append((Path(on_path).resolve().parent, "PATH"))
        found.append((Path(on_path).parent, "PATH"))
    found.extend((folder, str(_DEBIAN_ROOT / "<major>/bin")) for folder in debian_bin_dirs())
    return found


def find_binaries() -> LocalBinaries | None:
    """The first folder with ``initdb``, ``pg_ctl`` and ``postgres`` that run, or ``None``."""
    seen: set[Path] = set()
    for folder, via in tool_folders("initdb"):
        if folder in seen or not _has_tools(folder):
            continue
        seen.add(folder)
        version, _ = program_version(folder / "postgres", timeout_s=_VERSION_TIMEOUT_S)
        if version is not None:
            return LocalBinaries(folder, version, via)
    return None


class LocalServer(PostmasterServer):
    """A cluster this package initialised from local binaries; stopping it deletes its directory."""

    provider: ClassVar[str] = "local"

    def __init__(
        self, dsn: str, cluster: Cluster, *, port: int, socket_dir: Path, version: str, owned: bool = True
    ) -> None:
        super().__init__(dsn, cluster, owned=owned)
        self.port = port
        self.socket_dir = socket_dir
        self.version = version


def start_local(
    *, role: str = "throwaway", binaries: LocalBinaries | None = None, recorder: ClusterRecorder | None = None
) -> LocalServer:
    """Initialise and start a fresh cluster from local binaries; raise :class:`ServerUnavailableError`.

    ``role="warm"`` leaves the server to :mod:`._warm` (no exit hook; not swept when this process is gone);
    ``recorder`` is told about the cluster directory before anything runs in it.
    """
    binaries = binaries or find_binaries()
    if binaries is None:
        raise ServerUnavailableError(
            f"no PostgreSQL server binaries found (looked at pg_config --bindir, PATH, {_DEBIAN_ROOT}/*/bin)",
            hint=INSTALL_HINT,
        )
    _runtime.sweep_orphans("local")
    run_as = _runtime.service_user()
    cluster_dir = _runtime.new_cluster_dir("local", prefix=f"{role}-", run_as=run_as)
    data_dir, socket_dir, log_file = cluster_dir / "data", cluster_dir / "run", cluster_dir / "postgres.log"
    owner = cluster_owner("local", role, bin_dir=binaries.bin_dir, data_dir=data_dir, run_as=run_as, recorder=recorder)
    owner.write(cluster_dir)
    try:
        if recorder is not None:
            recorder.record(cluster_dir, owner)
        socket_dir.mkdir(mode=0o700)
        if run_as is not None:
            os.chown(socket_dir, run_as.uid, run_as.gid)
        _init_data_dir(binaries, data_dir, run_as)
        append_settings(
            data_dir / "postgresql.conf",
            {"listen_addresses": "127.0.0.1", "unix_socket_directories": str(socket_dir)},
        )
        port = _start(binaries.bin_dir, data_dir, log_file, run_as, cluster_dir)
        server = LocalServer(
            f"postgresql://postgres@127.0.0.1:{port}/postgres",
            Cluster(cluster_dir, data_dir, binaries.bin_dir, run_as),
            port=port,
            socket_dir=socket_dir,
            version=binaries.version,
        )
        if role == "throwaway":
            atexit.register(server.stop)
        check_answers(server.dsn, what="the local cluster", hint="look at postgres.log in the cluster directory")
    except BaseException:
        _runtime.discard_cluster(cluster_dir, owner)
        raise
    return server


_INITDB_OPTIONS = ("-U", "postgres", "--auth=trust", "-E", "UTF8", "--no-locale", "--no-sync", "--no-instructions")


def _init_data_dir(binaries: LocalBinaries, data_dir: Path, run_as: RunAs | None) -> None:
    """A fresh data directory: a copy of a pristine ``initdb`` result for these binaries and this user."""

    def initdb(target: Path) -> None:
        _runtime.run_tool(
            [binaries.bin_dir / "initdb", "-D", target, *_INITDB_OPTIONS],
            what=f"initdb in {target}",
            run_as=run_as,
            cwd=target.parent,
        )

    user = run_as.name if run_as else str(os.getuid())
    key = pristine_key(binaries.version, str(binaries.bin_dir), binaries.version, user, *_INITDB_OPTIONS)
    _runtime.pristine_copy("local", key, data_dir, run_as, initdb)


def _start(bin_dir: Path, data_dir: Path, log_file: Path, run_as: RunAs | None, cwd: Path) -> int:
    """``pg_ctl start`` on a free port, retrying on another port if the chosen one was taken meanwhile."""
    last: ServerUnavailableError | None = None
    for _ in range(_START_ATTEMPTS):
        port = _runtime.free_port()
        start: list[str | Path] = [
            bin_dir / "pg_ctl",
            "start",
            "-D",
            data_dir,
            "-l",
            log_file,
            "-w",
            "-t",
            "30",
            "-o",
            f"-p {port}",
        ]
        try:
            _runtime.run_tool(
                start,
                what="pg_ctl start",
                run_as=run_as,
                cwd=cwd,
                timeout_s=40,
                new_session=True,
            )
            return port
        except ServerUnavailableError as exc:
            log = log_tail(log_file)
            last = ServerUnavailableError(
                f"{exc.message}; server log {log_file}:\n{log}" if log else exc.message,
                hint=exc.hint,
                stderr=exc.stderr,
                log=log,
            )
            if "could not bind" not in log and "already in use" not in log:
                break
    assert last is not None
    raise last
