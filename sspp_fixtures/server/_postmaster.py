"""What the ``local`` and ``embedded`` providers share: a cluster this package runs with its own postmaster, in a
cluster directory of its own, as an unprivileged user when root; stopped with ``pg_ctl stop`` and deleted."""

from __future__ import annotations

import atexit
import hashlib
import os
from dataclasses import dataclass
from pathlib import Path

from ..dsn import connect
from ..errors import DatabaseUnreachableError, ServerUnavailableError
from . import _runtime
from ._base import Server
from ._runtime import ClusterOwner, ClusterRecorder, RunAs

__all__ = ["Cluster", "PostmasterServer", "check_answers", "cluster_owner", "log_tail", "pristine_key"]


@dataclass(frozen=True)
class Cluster:
    """Where a cluster lives and who runs it: its own directory, the data directory in it, binaries and user."""

    cluster_dir: Path
    data_dir: Path
    bin_dir: Path
    run_as: RunAs | None


class PostmasterServer(Server):
    """A cluster whose postmaster this package started; stopping it stops the postmaster and deletes the cluster
    directory (unless ``keep_data``)."""

    def __init__(self, dsn: str, cluster: Cluster, *, keep_data: bool = False, owned: bool = True) -> None:
        super().__init__(dsn, owned=owned, data_dir=cluster.data_dir)
        self.cluster_dir = cluster.cluster_dir
        self.bin_dir = cluster.bin_dir
        self.run_as = cluster.run_as
        self.keep_data = keep_data

    @property
    def pid(self) -> int | None:
        """The postmaster's pid while it runs."""
        assert self.data_dir is not None
        return _runtime.postmaster_pid(self.data_dir)

    def _shutdown(self) -> None:
        """Stop the postmaster, let the provider release what it holds, and delete the directory unless kept."""
        atexit.unregister(self.stop)
        assert self.data_dir is not None
        _runtime.stop_cluster(self.data_dir, self.bin_dir, self.run_as)
        self._release()
        if not self.keep_data:
            _runtime.remove_tree(self.cluster_dir)

    def _release(self) -> None:
        """What a provider lets go of once its postmaster has stopped; the local provider holds nothing more."""


def cluster_owner(
    provider: str, role: str, *, bin_dir: Path, data_dir: Path, run_as: RunAs | None, recorder: ClusterRecorder | None
) -> ClusterOwner:
    """The ``owner.json`` of a cluster this process starts now."""
    return ClusterOwner(
        provider=provider,
        role=role,
        owner_pid=os.getpid(),
        bin_dir=str(bin_dir),
        data_dir=str(data_dir),
        run_as=run_as.name if run_as else None,
        state_file=str(recorder.state_file) if recorder else None,
    )


def pristine_key(version: str, *identity: str) -> str:
    """The name of the pristine ``initdb`` result for these binaries, this user and these options."""
    return f"pg{version}-{hashlib.sha256('|'.join(identity).encode()).hexdigest()[:12]}"


def log_tail(log_file: Path, lines: int = 8) -> str:
    """The last non-blank lines of a server log, or ``""`` when it cannot be read."""
    try:
        text = log_file.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return ""
    return "\n".join(line for line in text.strip().splitlines()[-lines:] if line.strip())


def check_answers(dsn: str, *, what: str, hint: str) -> None:
    """Wait up to 10 s for the started server ``what`` to accept a connection; raise :class:`ServerUnavailableError`."""
    try:
        with connect(dsn, wait_s=10) as conn:
            conn.execute("SELECT 1")
    except DatabaseUnreachableError as exc:
        raise ServerUnavailableError(f"{what} started but does not answer: {exc.message}", hint=hint) from None
