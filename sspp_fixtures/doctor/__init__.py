"""``sspp-seed doctor`` as a library: what this machine offers and, given a DSN, the state of that database.

:func:`run_doctor` never starts a server and never writes: it reads, probes with short timeouts, and returns a
:class:`DoctorReport` whose every DSN and password is masked. The database is checked on a worker thread
while the machine is probed, and is given a hard time budget, so an address that never answers (or a host
name that never resolves) cannot hold the doctor up: its checks end with "no answer within N s".
"""

from __future__ import annotations

import os
import threading
import time

from ..dsn import DATABASE_URL_ENV, resolve_dsn
from ..errors import ExitCode
from ._database import backup_check, database_checks
from ._dsntext import secrets_of, shown_dsn
from ._machine import machine_checks
from ._report import Check, DoctorReport, Status, hide

__all__ = [
    "Check",
    "DoctorReport",
    "Status",
    "run_doctor",
]

#: Seconds the database's checks may take once connected (each query is also capped at 3 s).
QUERY_BUDGET_S = 6.0


def run_doctor(
    dsn: str | None = None,
    *,
    connect_timeout_s: int = 2,
    docker_timeout_s: float = 2.0,
    database_budget_s: float | None = None,
) -> DoctorReport:
    """Check this machine and, when ``dsn`` (else ``$DATABASE_URL``) names one, that database.

    The machine takes about ``docker_timeout_s`` plus half a second at most; the database, checked at the same
    time, gets ``database_budget_s`` (default: ``connect_timeout_s`` for each of two addresses plus
    :data:`QUERY_BUDGET_S`), after which its unfinished checks are reported as not answering.
    """
    started = time.perf_counter()
    target = resolve_dsn(dsn)
    found: list[Check] = []
    crashed: list[BaseException] = []
    worker: threading.Thread | None = None
    if target is not None:

        def check_database() -> None:
            try:
                database_checks(target, found, connect_timeout_s=connect_timeout_s)
            except BaseException as exc:  # re-raised in the caller's thread, which reports it
                crashed.append(exc)

        worker = threading.Thread(target=check_database, name="sspp-doctor-database", daemon=True)
        worker.start()
    machine = machine_checks(dsn, docker_timeout_s=docker_timeout_s)
    database: list[Check] | None = None
    if worker is not None:
        budget_s = database_budget_s if database_budget_s is not None else 2 * connect_timeout_s + QUERY_BUDGET_S
        worker.join(timeout=max(0.0, started + budget_s - time.perf_counter()))
        if crashed:
            raise crashed[0]
        database = list(found)
        if worker.is_alive():
            database.append(_no_answer(database, budget_s))
        database.extend(_backup_checks(database))
    secrets = secrets_of(*(value for value in (dsn, os.environ.get(DATABASE_URL_ENV, "").strip()) if value))
    return DoctorReport(
        machine=tuple(check.masked(secrets) for check in machine),
        database=None if database is None else tuple(check.masked(secrets) for check in database),
        dsn=hide(shown_dsn(target), secrets) if target else None,
        elapsed_ms=(time.perf_counter() - started) * 1000,
    )


def _no_answer(done: list[Check], budget_s: float) -> Check:
    connected = any(check.name == "reachable" for check in done)
    if connected:
        return Check(
            "answering",
            "fail",
            f"the database stopped answering: checks unfinished after {budget_s:g} s",
            fix="look at the server's load and locks (pg_stat_activity), then run sspp-seed doctor again",
        )
    return Check(
        "reachable",
        "fail",
        f"no answer within {budget_s:g} s (the host name does not resolve, or the address drops packets)",
        fix="check the host and port in the DSN, and that a firewall lets you through",
        exit_code=ExitCode.UNREACHABLE,
    )


def _backup_checks(database: list[Check]) -> list[Check]:
    for check in database:
        if check.name == "reachable" and check.status == "ok":
            return [backup_check(int(check.data["server_major"]))]
    return []
