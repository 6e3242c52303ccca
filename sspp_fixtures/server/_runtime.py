"""Plumbing shared by the providers that run PostgreSQL processes themselves (local, embedded, warm).

Where files go, which OS user runs the server when we are root, how a tool is run (its failure becomes a
:class:`ServerUnavailableError` carrying the tool's stderr tail), and how a cluster is stopped and its
directory removed, including clusters left behind by a process that was killed.

Directory layout: every cluster gets its own directory ``<scratch>/<provider>/<name>/`` holding
``owner.json`` (who started it, how to stop it), the data directory and, for local clusters, the socket
directory and the server log. Scratch is ``/var/tmp/sspp-fixtures`` when running as root (a folder any user
may traverse, so the unprivileged server user can reach its data; never under ``/root``) and the user's cache
directory otherwise.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import pwd
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import IO, Any

from .. import _stale
from .._paths import CACHE_ENV, cache_dir
from ..dsn import mask_text
from ..errors import ServerUnavailableError, UsageError

__all__ = [
    "CACHE_ENV",
    "SCRATCH_ENV",
    "ClusterOwner",
    "ClusterRecorder",
    "PostmasterFile",
    "RunAs",
    "cache_dir",
    "discard_cluster",
    "file_lock",
    "free_port",
    "kill_processes_using",
    "new_cluster_dir",
    "pid_alive",
    "postmaster_file",
    "postmaster_pid",
    "pristine_copy",
    "processes_using",
    "remove_tree",
    "run_tool",
    "scratch_dir",
    "service_user",
    "stop_cluster",
    "sweep_orphans",
    "sweep_stale_builds",
]

SCRATCH_ENV = "SSPP_FIXTURES_SCRATCH"
SERVICE_USER = "sspp-fixtures"
ROOT_SCRATCH = Path("/var/tmp/sspp-fixtures")
OWNER_FILE = "owner.json"
_STDERR_TAIL_LINES = 8


def is_root() -> bool:
    """Whether this process runs as root (PostgreSQL then refuses to run as us)."""
    return os.geteuid() == 0


def scratch_dir(provider: str) -> Path:
    """The folder holding the cluster directories of ``provider``, created if missing.

    ``$SSPP_FIXTURES_SCRATCH`` overrides it (e.g. ``/dev/shm/sspp-fixtures``: cluster files in RAM make
    creating a cluster or a database several times faster, for as long as the data fits in memory).
    As root it is under ``/var/tmp`` (world-traversable already) with mode 0755, so that the server user can
    reach its own data and the embedded package's "chmod every parent" touches nothing private; an override
    whose existing parents are not already world-traversable is refused for that reason.
    """
    override = os.environ.get(SCRATCH_ENV, "").strip()
    if override:
        base = Path(override).expanduser().resolve()
        if is_root():
            _check_traversable(base)
    else:
        base = ROOT_SCRATCH if is_root() else cache_dir()
    path = base / provider
    path.mkdir(parents=True, exist_ok=True)
    if is_root():
        for folder in (base, path):
            folder.chmod(0o755)
    return path


def _check_traversable(path: Path) -> None:
    for parent in path.parents:
        if parent.exists() and not parent.stat().st_mode & 0o001:
            raise UsageError(
                f"${SCRATCH_ENV}={path} lies under {parent}, which other users cannot traverse; as root the "
                "server runs as an unprivileged user that must reach its data",
                hint="pick a folder under /var/tmp, /tmp or /dev/shm",
            )


@dataclass(frozen=True)
class RunAs:
    """An OS user to run server processes as (when we are root)."""

    name: str
    uid: int
    gid: int


def service_user() -> RunAs | None:
    """The unprivileged user to run PostgreSQL as when we are root, else ``None`` (run as ourselves).

    Uses the dedicated system user ``sspp-fixtures``, creating it when missing; falls back to ``nobody``
    when it cannot be created.
    """
    if not is_root():
        return None
    entry = _getpwnam(SERVICE_USER)
    if entry is None and shutil.which("useradd"):
        subprocess.run(
            ["useradd", "--system", "--no-create-home", "--shell", "/usr/sbin/nologin", SERVICE_USER],
            capture_output=True,
            check=False,
            timeout=30,
        )
        entry = _getpwnam(SERVICE_USER)
    if entry is None:
        entry = _getpwnam("nobody")
    if entry is None:
        raise ServerUnavailableError(
            f"running as root, and neither user {SERVICE_USER!r} nor 'nobody' exists to run PostgreSQL as",
            hint=f"create it: useradd --system --no-create-home --shell /usr/sbin/nologin {SERVICE_USER}",
        )
    return RunAs(entry.pw_name, entry.pw_uid, entry.pw_gid)


def ensure_system_user(name: str) -> None:
    """Create system user ``name`` (no home, no login shell) when root and it is missing; ignore failure."""
    if is_root() and _getpwnam(name) is None and shutil.which("useradd"):
        subprocess.run(
            ["useradd", "--system", "--no-create-home", "--shell", "/usr/sbin/nologin", name],
            capture_output=True,
            check=False,
            timeout=30,
        )


def _getpwnam(name: str) -> pwd.struct_passwd | None:
    try:
        return pwd.getpwnam(name)
    except KeyError:
        return None


def run_as_by_name(name: str | None) -> RunAs | None:
    """The :class:`RunAs` for a recorded user name (``None`` means ourselves)."""
    if name is None or not is_root():
        return None
    entry = _getpwnam(name)
    return RunAs(entry.pw_name, entry.pw_uid, entry.pw_gid) if entry else None


def _tail(text: str, lines: int = _STDERR_TAIL_LINES) -> str:
    kept = [line for line in text.strip().splitlines() if line.strip()][-lines:]
    return "\n".join(kept)


def _read(handle: IO[str]) -> str:
    handle.seek(0)
    return handle.read()


def run_tool(
    args: Sequence[str | Path],
    *,
    what: str,
    run_as: RunAs | None = None,
    cwd: Path | None = None,
    timeout_s: float = 60.0,
    env: dict[str, str] | None = None,
    new_session: bool = False,
) -> str:
    """Run a PostgreSQL tool and return its stdout; any failure raises :class:`ServerUnavailableError`.

    Output goes through temporary files, not pipes: ``pg_ctl start`` leaves a daemon behind that would
    inherit a pipe and keep the read open forever. ``new_session`` detaches the child from our terminal, so
    a Ctrl-C aimed at the test run does not kill a server meant to outlive it.
    """
    cmd = [str(arg) for arg in args]
    kwargs: dict[str, Any] = {}
    if run_as is not None:
        kwargs.update(user=run_as.uid, group=run_as.gid, extra_groups=[])
    full_env = {**os.environ, "LC_ALL": "C", **(env or {})}
    with (
        tempfile.TemporaryFile("w+", encoding="utf-8", errors="replace") as out,
        tempfile.TemporaryFile("w+", encoding="utf-8", errors="replace") as err,
    ):
        try:
            proc = subprocess.run(
                cmd,
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=err,
                cwd=cwd,
                env=full_env,
                timeout=timeout_s,
                check=False,
                start_new_session=new_session,
                **kwargs,
            )
        except FileNotFoundError as exc:
            raise ServerUnavailableError(
                f"{what} failed: {exc.strerror}: {cmd[0]}", hint="check the PostgreSQL installation"
            ) from None
        except subprocess.TimeoutExpired:
            raise ServerUnavailableError(
                f"{what} did not finish within {timeout_s:g}s ({Path(cmd[0]).name})",
                hint="look at the server log in the cluster directory, or retry",
                stderr=mask_text(_tail(_read(err))),
            ) from None
        stdout, stderr = _read(out), _read(err)
    if proc.returncode != 0:
        tail = mask_text(_tail(stderr or stdout))
        raise ServerUnavailableError(
            f"{what} failed ({Path(cmd[0]).name} exit code {proc.returncode}): {tail or 'no output'}",
            hint="fix the cause above, or pick another provider (--sspp-server / kind=...)",
            stderr=tail,
        )
    return stdout


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port nobody listens on right now (the caller retries if someone takes it first)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def pid_alive(pid: int | None, *, expect: str | None = None) -> bool:
    """Whether process ``pid`` exists (and, if ``expect`` is given, its command line mentions it)."""
    if not pid or pid <= 0 or not _stale.pid_alive(pid):
        return False
    if expect is None:
        return True
    cmdline = Path(f"/proc/{pid}/cmdline")
    try:
        return expect in cmdline.read_bytes().decode(errors="replace")
    except OSError:
        return True  # no /proc (macOS): trust the pid


def postmaster_pid(data_dir: Path) -> int | None:
    """The postmaster pid recorded in ``data_dir/postmaster.pid``, if the file exists and is readable."""
    found = postmaster_file(data_dir)
    return found.pid if found else None


@dataclass(frozen=True)
class PostmasterFile:
    """What a running postmaster wrote in ``postmaster.pid``: enough to reach it without any other record."""

    pid: int
    port: int
    socket_dir: str
    listen_address: str
    status: str  # "starting", "ready", "stopping", or "" while the postmaster has not said yet

    def admin_dsn(self) -> str:
        """The superuser DSN the providers use: TCP when the server listens on an address, else its socket."""
        if self.listen_address and self.listen_address != "*":
            return f"postgresql://postgres@{self.listen_address}:{self.port}/postgres"
        return f"postgresql://postgres@/postgres?host={self.socket_dir}&port={self.port}"


def postmaster_file(data_dir: Path) -> PostmasterFile | None:
    """The parsed ``data_dir/postmaster.pid`` (pid, port, socket, address, status), if readable."""
    try:
        lines = (data_dir / "postmaster.pid").read_text(encoding="utf-8").split("\n")
        pid = int(lines[0].strip())
    except (OSError, ValueError, IndexError):
        return None
    fields = [line.strip() for line in lines[3:8]] + [""] * 5
    port = int(fields[0]) if fields[0].isdigit() else 0
    return PostmasterFile(pid, port, fields[1], fields[2], fields[4])


def processes_using(path: Path) -> list[int]:
    """Other processes whose command line names ``path`` (or a file under it) or whose working folder is there.

    That is every process a cluster directory can have: ``initdb -D``, ``cp -a``, ``pg_ctl -D``, the postmaster
    (``-D``) and its children (which run in the data directory). Read from ``/proc``: elsewhere, none are found.
    """
    prefix = str(path).rstrip("/")
    found: list[int] = []
    proc = Path("/proc")
    if not proc.is_dir():
        return found
    for entry in proc.iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            args = (entry / "cmdline").read_bytes().decode(errors="replace").split("\0")
            cwd = os.readlink(entry / "cwd")
        except OSError:
            continue
        if any(_under(arg, prefix) for arg in (*args, cwd)):
            found.append(int(entry.name))
    return found


def _under(candidate: str, prefix: str) -> bool:
    return candidate == prefix or candidate.startswith(prefix + "/")


def kill_processes_using(path: Path, *, timeout_s: float = 5.0) -> None:
    """SIGKILL every process :func:`processes_using` finds for ``path`` and wait (bounded) until they are gone."""
    deadline = time.monotonic() + timeout_s
    while (pids := processes_using(path)) and time.monotonic() < deadline:
        for pid in pids:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.kill(pid, signal.SIGKILL)
        time.sleep(0.05)


@dataclass(frozen=True)
class ClusterOwner:
    """What ``owner.json`` records about a cluster directory: who owns it and how to stop its server."""

    provider: str
    role: str  # "throwaway" (dies with its owner process) or "warm" (kept until stop_warm_server)
    owner_pid: int
    bin_dir: str
    data_dir: str
    run_as: str | None
    state_file: str | None = None  # warm clusters: the state file that records (or will record) them

    def write(self, cluster_dir: Path) -> None:
        (cluster_dir / OWNER_FILE).write_text(json.dumps(asdict(self), indent=2), encoding="utf-8")

    @classmethod
    def read(cls, cluster_dir: Path) -> ClusterOwner | None:
        try:
            raw = json.loads((cluster_dir / OWNER_FILE).read_text(encoding="utf-8"))
            return cls(**raw)
        except (OSError, ValueError, TypeError):
            return None


@dataclass(frozen=True)
class ClusterRecorder:
    """Who records a cluster meant to outlive its starter (the warm server's state file), told before the cluster's
    first process runs, so that a starter killed at any point leaves a server that can still be found and stopped."""

    state_file: Path
    record: Callable[[Path, ClusterOwner], None]


def new_cluster_dir(provider: str, *, prefix: str, run_as: RunAs | None, mode: int = 0o700) -> Path:
    """A fresh, private directory for one cluster, owned by the server user."""
    path = Path(tempfile.mkdtemp(prefix=prefix, dir=scratch_dir(provider)))
    path.chmod(mode)
    if run_as is not None:
        os.chown(path, run_as.uid, run_as.gid)
    return path


def stop_cluster(data_dir: Path, bin_dir: Path, run_as: RunAs | None, *, timeout_s: float = 30.0) -> None:
    """Stop the postmaster of ``data_dir`` (``pg_ctl stop -m fast``), killing it if pg_ctl cannot."""
    pid = postmaster_pid(data_dir)
    if not pid_alive(pid, expect="postgres"):
        return
    pg_ctl = bin_dir / "pg_ctl"
    with contextlib.suppress(ServerUnavailableError):
        run_tool(
            [pg_ctl, "stop", "-D", data_dir, "-m", "fast", "-w", "-t", str(int(timeout_s))],
            what="stopping PostgreSQL",
            run_as=run_as,
            cwd=data_dir.parent,
            timeout_s=timeout_s + 5,
        )
    _kill(pid)


def _kill(pid: int | None) -> None:
    """Make sure ``pid`` is gone: SIGTERM, then SIGKILL after a short wait."""
    for sig, wait_s in ((signal.SIGTERM, 3.0), (signal.SIGKILL, 3.0)):
        if not pid_alive(pid, expect="postgres"):
            return
        assert pid is not None
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, sig)
        deadline = time.monotonic() + wait_s
        while pid_alive(pid, expect="postgres") and time.monotonic() < deadline:
            time.sleep(0.05)


def remove_tree(path: Path) -> None:
    """Remove a cluster directory; a missing one is fine."""
    shutil.rmtree(path, ignore_errors=True)


def discard_cluster(cluster_dir: Path, owner: ClusterOwner) -> None:
    """Stop the cluster's server, kill whatever still works in its directory (an ``initdb``, ``cp`` or ``pg_ctl``
    orphaned by a killed owner, a postmaster's children), then delete the directory."""
    stop_cluster(Path(owner.data_dir), Path(owner.bin_dir), run_as_by_name(owner.run_as))
    kill_processes_using(cluster_dir)
    remove_tree(cluster_dir)


def sweep_orphans(provider: str) -> list[Path]:
    """Stop and delete throwaway clusters of ``provider`` whose owner process died (killed test runs), and
    half-built pristine directories nobody builds any more."""
    swept: list[Path] = []
    base = scratch_dir(provider)
    for cluster_dir in sorted(base.iterdir()):
        owner = ClusterOwner.read(cluster_dir)
        if owner is None or owner.role != "throwaway" or owner.owner_pid == os.getpid():
            continue
        if pid_alive(owner.owner_pid):
            continue
        # Two sweepers racing is harmless: stopping and removing are both idempotent.
        discard_cluster(cluster_dir, owner)
        swept.append(cluster_dir)
    return swept + sweep_stale_builds(provider)


_BUILD_PREFIX = ".build-"


def sweep_stale_builds(provider: str) -> list[Path]:
    """Delete ``_pristine/.build-<key>-*`` directories whose builder is gone (killed during ``initdb``).

    A builder holds ``<key>.lock`` for as long as it builds, and the lock dies with it: a build directory whose
    lock we can take has no builder. Orphaned ``initdb`` processes still writing there are killed first.
    """
    base = scratch_dir(provider) / "_pristine"
    if not base.is_dir():
        return []
    swept: list[Path] = []
    for build_dir in sorted(base.glob(f"{_BUILD_PREFIX}*")):
        key = build_dir.name[len(_BUILD_PREFIX) :].rsplit("-", 1)[0]
        with _try_lock(base / f"{key}.lock") as locked:
            if locked and build_dir.exists():
                kill_processes_using(build_dir)
                remove_tree(build_dir)
                swept.append(build_dir)
    return swept


def pristine_copy(provider: str, key: str, dest: Path, run_as: RunAs | None, build: Callable[[Path], None]) -> None:
    """Make ``dest`` a copy of a freshly initialised data directory, running ``initdb`` only once per ``key``.

    ``initdb`` costs 1-2 s here; copying its 40 MB result costs 0.1-0.3 s. The pristine directory is built by
    ``build(path)`` once (under a lock, then renamed into place, so a half-built one is never used) in
    ``<scratch>/<provider>/_pristine/<key>/``; ``key`` must change whenever the binaries or options do.
    The copy runs as the server user, so ownership and the 0700 mode PostgreSQL insists on are kept.
    """
    base = scratch_dir(provider) / "_pristine"
    base.mkdir(exist_ok=True)
    if is_root():
        base.chmod(0o755)
    source = base / key / "data"
    if not (source / "PG_VERSION").exists():
        with file_lock(base / f"{key}.lock"):
            if not (source / "PG_VERSION").exists():
                for stale in base.glob(f"{_BUILD_PREFIX}{key}-*"):  # we hold the lock: their builder is gone
                    kill_processes_using(stale)
                    remove_tree(stale)
                build_dir = Path(tempfile.mkdtemp(prefix=f"{_BUILD_PREFIX}{key}-", dir=base))
                build_dir.chmod(0o755 if is_root() else 0o700)
                if run_as is not None:
                    os.chown(build_dir, run_as.uid, run_as.gid)
                try:
                    build(build_dir / "data")
                    remove_tree(base / key)
                    build_dir.rename(base / key)
                finally:
                    remove_tree(build_dir)
    run_tool(["cp", "-a", source, dest], what=f"copying the pristine cluster {source}", run_as=run_as)


@contextlib.contextmanager
def file_lock(path: Path) -> Iterator[None]:
    """An exclusive inter-process lock held while the block runs (``flock`` on ``path``)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a+") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


@contextlib.contextmanager
def _try_lock(path: Path) -> Iterator[bool]:
    """Take ``path``'s lock if nobody holds it; yields whether it was taken (then held while the block runs)."""
    if not path.exists():
        yield True
        return
    with path.open("a+") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            yield False
            return
        try:
            yield True
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)
