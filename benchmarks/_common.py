"""Shared helpers of the benchmark scripts: machine header, throwaway databases, process-tree sampling, jobs.

Every measured job runs in its own subprocess (``python benchmarks/_jobs.py ...``) so that its peak memory
and CPU time belong to it alone. While it runs, :class:`Sampler` reads ``/proc`` every ``interval`` seconds:
the resident memory (RSS and PSS) of the job's whole process tree (the main process, the forkserver and
the generator workers) and the CPU time of the job tree and of the PostgreSQL server processes.
"""

from __future__ import annotations

import contextlib
import json
import os
import platform
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
JOBS = HERE / "_jobs.py"
DEFAULT_DSN = "postgresql://postgres@127.0.0.1:5432/postgres"
DB_PREFIX = "sspp_bench_"
_TICKS = os.sysconf("SC_CLK_TCK")
_PAGE = os.sysconf("SC_PAGE_SIZE")
MB = 1024 * 1024


def default_dsn() -> str:
    """``$DATABASE_URL``, else the local trust-auth server."""
    return os.environ.get("DATABASE_URL", "").strip() or DEFAULT_DSN


def fmt_mb(n_bytes: float | None) -> str:
    return "-" if n_bytes is None else f"{n_bytes / MB:,.0f} MB"


def fmt_rate(value: float) -> str:
    return f"{value:,.0f}"


def print_table(headers: Sequence[str], rows: Sequence[Sequence[str]]) -> None:
    """A plain text table, first column left-aligned, the others right-aligned."""
    widths = [max(len(str(r[i])) for r in [headers, *rows]) for i in range(len(headers))]

    def line(cells: Sequence[str]) -> str:
        return "  ".join(
            str(c).ljust(w) if i == 0 else str(c).rjust(w) for i, (c, w) in enumerate(zip(cells, widths, strict=True))
        )

    print(line(headers))
    print("  ".join("-" * w for w in widths))
    for row in rows:
        print(line(row))


# --------------------------------------------------------------------------------------------- machine header


def _cpu_model() -> str:
    with contextlib.suppress(OSError):
        for text in Path("/proc/cpuinfo").read_text().splitlines():
            if text.startswith("model name"):
                return text.split(":", 1)[1].strip()
    return platform.processor() or "?"


def _burn(_: int) -> float:
    started = time.perf_counter()
    total = 0
    for i in range(3_000_000):
        total += i
    return time.perf_counter() - started


def cpu_scaling() -> float:
    """How much faster two processes burn a pure-Python loop than one (2.0 on two real, idle cores)."""
    import multiprocessing

    one = min(_burn(0) for _ in range(2))
    pool = multiprocessing.get_context("fork").Pool(2)
    try:
        two = max(pool.map(_burn, [0, 1]))
    finally:
        pool.close()  # let the workers exit on their own: no SIGTERM into a handler they inherited
        pool.join()
    return 2 * one / two


def server_info(dsn: str) -> dict[str, str]:
    """PostgreSQL version and the settings that shape a bulk load."""
    import psycopg

    names = (
        "shared_buffers",
        "maintenance_work_mem",
        "max_parallel_maintenance_workers",
        "max_wal_size",
        "wal_level",
        "synchronous_commit",
        "fsync",
        "full_page_writes",
    )
    with psycopg.connect(dsn, autocommit=True) as conn:
        version = conn.execute("SHOW server_version").fetchone()
        settings = conn.execute(
            "SELECT name, current_setting(name) FROM pg_settings WHERE name = ANY(%s)", (list(names),)
        ).fetchall()
    info = {"version": str(version[0]) if version else "?"}
    info.update({str(k): str(v) for k, v in settings})
    return info


def print_header(title: str, dsn: str | None, *, scaling: bool = True) -> None:
    """Machine, load, Python and (when ``dsn``) the server: what a reader needs to compare two runs."""
    from sspp_fixtures.dsn import mask_dsn

    mem_total = 0
    with contextlib.suppress(OSError):
        for text in Path("/proc/meminfo").read_text().splitlines():
            if text.startswith("MemTotal:"):
                mem_total = int(text.split()[1]) * 1024
    print(f"== {title}")
    print(
        f"machine: {os.cpu_count()} cores ({_cpu_model()}), {mem_total / 1024**3:.0f} GiB RAM, "
        f"load average {os.getloadavg()[0]:.2f} at start, Python {platform.python_version()}"
    )
    if scaling:
        print(f"cpu scaling: 2 processes run {cpu_scaling():.2f}x one (2.00 = two free cores)")
    if dsn is not None:
        info = server_info(dsn)
        rest = ", ".join(f"{k}={v}" for k, v in info.items() if k != "version")
        print(f"server: PostgreSQL {info['version']} at {mask_dsn(dsn)} ({rest})")
    print()


# --------------------------------------------------------------------------------------------- databases


class BenchDatabases:
    """Creates ``sspp_bench_<pid>_<tag>`` databases and drops every one of them on exit, error or Ctrl-C."""

    def __init__(self, admin_dsn: str) -> None:
        self.admin_dsn = admin_dsn
        self.names: list[str] = []

    def create(self, tag: str) -> str:
        """A fresh empty database; returns its DSN."""
        from sspp_fixtures.databases import create_database, drop_database
        from sspp_fixtures.dsn import with_database

        name = f"{DB_PREFIX}{os.getpid()}_{tag}"
        self.names.append(name)
        drop_database(self.admin_dsn, name)  # left over by a killed run with the same pid
        create_database(self.admin_dsn, name)
        return with_database(self.admin_dsn, name)

    def drop(self, dsn_or_name: str) -> None:
        from sspp_fixtures.databases import drop_database
        from sspp_fixtures.dsn import database_name

        name = database_name(dsn_or_name) if "://" in dsn_or_name or "=" in dsn_or_name else dsn_or_name
        drop_database(self.admin_dsn, name)
        if name in self.names:
            self.names.remove(name)

    def drop_all(self) -> None:
        for name in list(self.names):
            try:
                self.drop(name)
            except Exception as exc:  # keep dropping the others
                print(f"warning: could not drop database {name}: {exc}", file=sys.stderr)

    def __enter__(self) -> BenchDatabases:
        return self

    def __exit__(self, *_: object) -> None:
        # A second Ctrl-C while dropping would leave databases behind: ignore it until done.
        previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
        try:
            self.drop_all()
        finally:
            signal.signal(signal.SIGINT, previous)


def install_sigterm() -> None:
    """Turn SIGTERM into KeyboardInterrupt, so ``kill`` cleans up like Ctrl-C does."""

    def handler(_signum: int, _frame: object) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, handler)


@contextlib.contextmanager
def scratch_dir(prefix: str) -> Iterator[Path]:
    """A fresh world-readable directory under /tmp (the server reads it), removed on exit."""
    import shutil

    path = Path(tempfile.mkdtemp(prefix=prefix, dir="/tmp"))
    path.chmod(0o755)
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


# --------------------------------------------------------------------------------------------- /proc sampling


def _stat(pid: int) -> tuple[int, float, int] | None:
    """(ppid, cpu seconds, rss bytes) of a process, or None when it is gone."""
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = text[text.rindex(")") + 2 :].split()
    return int(fields[1]), (int(fields[11]) + int(fields[12])) / _TICKS, int(fields[21]) * _PAGE


def _pss(pid: int) -> int | None:
    try:
        for text in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
            if text.startswith("Pss:"):
                return int(text.split()[1]) * 1024
    except OSError:
        pass
    return None


def _hwm(pid: int) -> int | None:
    try:
        for text in Path(f"/proc/{pid}/status").read_text().splitlines():
            if text.startswith("VmHWM:"):
                return int(text.split()[1]) * 1024
    except OSError:
        pass
    return None


def _cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return ""


@dataclass
class Sample:
    t: float
    cpu: dict[str, float]


@dataclass
class Sampler:
    """Samples a job's process tree (memory, CPU) and the server processes working for ``database``."""

    root: int | None
    database: str | None = None
    postmaster: int | None = None
    interval: float = 0.1
    peak_rss: int = 0
    peak_pss: int = 0
    max_hwm: int = 0
    #: Per group of the job ("main", "workers"): (largest sum of PSS in one sample, most processes seen at once).
    group_peak: dict[str, tuple[int, int]] = field(default_factory=dict)
    samples: list[Sample] = field(default_factory=list)
    _tree: set[int] = field(default_factory=set)
    _cpu_first: dict[int, float] = field(default_factory=dict)
    _cpu_last: dict[int, float] = field(default_factory=dict)
    _group: dict[int, str] = field(default_factory=dict)
    _ignored: set[int] = field(default_factory=set)
    #: PSS (smaps_rollup: ~1 ms per 300 MB process) is read every ``pss_every`` samples, RSS every sample.
    pss_every: int = 3
    _count: int = 0
    _stop: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None

    def start(self) -> Sampler:
        if self.root is not None:
            self._tree.add(self.root)
        self._sample()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
        self._sample()

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            self._sample()

    def _classify(self, pid: int, ppid: int) -> str | None:
        if pid in self._tree or ppid in self._tree:
            self._tree.add(pid)
            return "main" if pid == self.root else "workers"
        if self.postmaster is not None and ppid == self.postmaster:
            if pid in self._group:
                return self._group[pid]
            cmd = _cmdline(pid)
            backends = [p for p, g in self._group.items() if g == "backend"]
            if (self.database and f" {self.database} " in cmd) or any(f"for PID {b}" in cmd for b in backends):
                return "backend"
            return "server other"
        return None

    def _sample(self) -> None:
        now = time.monotonic()
        rss_sum = pss_sum = 0
        by_group: dict[str, tuple[int, int]] = {}
        with_pss = self._count % self.pss_every == 0 or self._stop.is_set()
        self._count += 1
        pids = sorted(int(p) for p in os.listdir("/proc") if p.isdigit())
        for pid in pids:
            if pid in self._ignored:  # not ours, not the server's: a process never becomes our descendant later
                continue
            info = _stat(pid)
            if info is None:
                continue
            ppid, cpu, rss = info
            group = self._classify(pid, ppid)
            if group is None:
                self._ignored.add(pid)
                continue
            self._group[pid] = group
            self._cpu_first.setdefault(pid, cpu)
            self._cpu_last[pid] = cpu
            if group in ("main", "workers"):
                rss_sum += rss
                self.max_hwm = max(self.max_hwm, _hwm(pid) or rss)
                if with_pss:
                    pss = _pss(pid) or rss
                    pss_sum += pss
                    size, count = by_group.get(group, (0, 0))
                    by_group[group] = (size + pss, count + 1)
        self.peak_rss = max(self.peak_rss, rss_sum)
        self.peak_pss = max(self.peak_pss, pss_sum)
        for group, (size, count) in by_group.items():
            old_size, old_count = self.group_peak.get(group, (0, 0))
            self.group_peak[group] = (max(size, old_size), max(count, old_count))
        self.samples.append(Sample(now, self.cpu_by_group()))

    def cpu_by_group(self) -> dict[str, float]:
        """CPU seconds used since sampling started, per group (main, workers, backend, server other)."""
        out: dict[str, float] = {}
        for pid, last in self._cpu_last.items():
            group = self._group[pid]
            # Job processes count from zero; server processes from when sampling first saw them.
            first = 0.0 if group in ("main", "workers") else self._cpu_first[pid]
            out[group] = out.get(group, 0.0) + last - first
        return out

    def cpu_between(self, start: float, end: float) -> dict[str, float]:
        """Average cores busy per group between two ``time.monotonic()`` instants (from the samples)."""
        inside = [s for s in self.samples if start <= s.t <= end]
        if len(inside) < 2:
            return {}
        first, last = inside[0], inside[-1]
        span = last.t - first.t
        if span <= 0:
            return {}
        return {g: (last.cpu.get(g, 0.0) - first.cpu.get(g, 0.0)) / span for g in last.cpu}


def fmt_groups(sampler: Sampler) -> str:
    """``main 180 MB, workers 420 MB (3 procs)``: peak PSS per group of the job's processes."""
    parts = []
    for group, (size, count) in sorted(sampler.group_peak.items()):
        parts.append(f"{group} {fmt_mb(size)}" + (f" ({count} procs)" if count > 1 else ""))
    return ", ".join(parts) or "-"


def postmaster_pid(dsn: str) -> int | None:
    """The postmaster's pid when the server runs on this machine (a backend's parent), else None."""
    import psycopg

    with psycopg.connect(dsn, autocommit=True) as conn:
        row = conn.execute("SELECT pg_backend_pid()").fetchone()
        info = _stat(int(row[0])) if row else None  # while the backend still exists
    return info[0] if info else None


# --------------------------------------------------------------------------------------------- jobs


@dataclass
class JobResult:
    """A finished subprocess: wall time, peak memory of its tree, CPU per group and what it reported."""

    seconds: float
    peak_rss: int
    peak_pss: int
    max_hwm: int
    cpu: dict[str, float]
    report: dict[str, Any]
    sampler: Sampler
    started: float


class JobFailed(RuntimeError):
    """A job exited with an error; ``tail`` holds the last lines it wrote to stderr."""

    def __init__(self, message: str, tail: list[str]) -> None:
        super().__init__(message + ("\n  " + "\n  ".join(tail) if tail else ""))
        self.tail = tail

    @property
    def reason(self) -> str:
        return self.tail[-1] if self.tail else str(self).splitlines()[0]


def run_job(
    argv: Sequence[str],
    *,
    database: str | None = None,
    postmaster: int | None = None,
    interval: float = 0.1,
    result_file: bool = True,
    env: Mapping[str, str] | None = None,
) -> JobResult:
    """Run ``argv`` in its own process group (``env`` added to this process's environment), sample it, kill it
    on Ctrl-C or error.

    With ``result_file``, ``--result FILE`` is appended and the job's JSON report read from FILE; otherwise the
    report is the JSON the command prints on stdout (``{}`` when it prints none).
    """
    with tempfile.NamedTemporaryFile(prefix="sspp_bench_", suffix=".json", delete=False) as handle:
        result_path = Path(handle.name)
    cmd = [*argv, "--result", str(result_path)] if result_file else list(argv)
    with contextlib.ExitStack() as stack:
        stack.callback(result_path.unlink, missing_ok=True)
        errors = stack.enter_context(tempfile.TemporaryFile())
        started = time.monotonic()
        with result_path.open("wb") as out:
            proc = subprocess.Popen(
                cmd,
                start_new_session=True,
                stdout=None if result_file else out,
                stderr=errors,
                env={**os.environ, **env} if env else None,
            )
        sampler = Sampler(proc.pid, database=database, postmaster=postmaster, interval=interval).start()
        try:
            _, status, _usage = os.wait4(proc.pid, 0)
        except BaseException:
            _kill_group(proc)
            sampler.stop()
            raise
        seconds = time.monotonic() - started
        proc.returncode = os.waitstatus_to_exitcode(status)
        sampler.stop()
        if proc.returncode != 0:
            errors.seek(0)
            tail = errors.read().decode(errors="replace").strip().splitlines()[-15:]
            raise JobFailed(f"exit code {proc.returncode}: {' '.join(cmd)}", tail)
        report = _parse_report(result_path.read_text())
    # Not wait4's ru_maxrss: Linux carries the pre-exec high-water mark (this parent's size) into the child's.
    return JobResult(
        seconds, sampler.peak_rss, sampler.peak_pss, sampler.max_hwm, sampler.cpu_by_group(), report, sampler, started
    )


def _parse_report(text: str) -> dict[str, Any]:
    """The JSON object in ``text``: the whole of it, else its last line that parses, else ``{}``."""
    for candidate in (text, *reversed(text.splitlines())):
        with contextlib.suppress(ValueError):
            value = json.loads(candidate)
            if isinstance(value, dict):
                return value
    return {}


def _kill_group(proc: subprocess.Popen[Any]) -> None:
    """End the job we started: its process group (own session): SIGTERM, then SIGKILL to what is left."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGTERM)
    with contextlib.suppress(subprocess.TimeoutExpired, ChildProcessError):
        proc.wait(5.0)
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGKILL)  # generator workers outliving their parent
    with contextlib.suppress(subprocess.TimeoutExpired, ChildProcessError):
        proc.wait(5.0)


def job_argv(*args: str) -> list[str]:
    """``python benchmarks/_jobs.py args...`` with this interpreter."""
    return [sys.executable, str(JOBS), *args]
