"""The connection budget: before its first test database, each process checks that the server has room for what
the plugin will hold in every xdist worker *and* for the connections the code under test opens itself.

Per worker, the plugin holds at most :data:`PLUGIN_CONNECTIONS`: what one pool of test databases holds at most
(:attr:`sspp_fixtures.templates.TestDatabases.CONNECTIONS`: the keeper, the admin connection for renames, the
refill and drop threads' while they work) and ``sspp_db``'s own kept connection. ``--sspp-reserve-connections``
more per worker are left for the code under test. A server too small for that fails the run before its first
test with what to change, instead of "too many clients" from the middle of some test.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

from ..dsn import connect, mask_dsn
from ..errors import ConnectionBudgetError
from ..templates import TestDatabases

__all__ = ["PLUGIN_CONNECTIONS", "Budget", "check_budget", "read_budget"]

#: The most connections the plugin holds in one worker with one template: the pool's and ``sspp_db``'s.
PLUGIN_CONNECTIONS: Final = TestDatabases.CONNECTIONS + 1

_COUNTS = r"""
SELECT current_setting('max_connections')::int,
       current_setting('superuser_reserved_connections')::int
         + coalesce(nullif(current_setting('reserved_connections', true), '')::int, 0),
       (SELECT count(*) FROM pg_catalog.pg_stat_activity
         WHERE backend_type = 'client backend' AND pid <> pg_backend_pid()
           AND coalesce(datname, '') !~ %s)
"""


@dataclass(frozen=True)
class Budget:
    """The server's connection slots as this process saw them, and what the run needs of them."""

    max_connections: int
    reserved: int
    in_use: int  # by other clients (not this run's test databases, not this check)
    workers: int
    plugin: int  # per worker
    reserve: int  # per worker, for the code under test

    @property
    def per_worker(self) -> int:
        return self.plugin + self.reserve

    @property
    def needed(self) -> int:
        return self.workers * self.per_worker

    @property
    def free(self) -> int:
        return self.max_connections - self.reserved - self.in_use

    @property
    def fits(self) -> bool:
        return self.needed <= self.free

    def message(self, where: str) -> str:
        workers = f"{self.workers} xdist worker{'s' if self.workers != 1 else ''}"
        return (
            f"{where} has max_connections={self.max_connections}, {self.reserved} reserved and {self.in_use} in use "
            f"by other clients, so {self.free} free; {workers} need {self.needed}: {self.per_worker} each "
            f"({self.plugin} for sspp-fixtures' test databases + {self.reserve} left for the code under test, "
            "--sspp-reserve-connections)"
        )

    def hint(self) -> str:
        fitting = max(self.free // self.per_worker, 0)
        fewer = f"run at most {fitting} workers (-n {fitting})" if fitting else "stop other clients of the server"
        wanted = self.max_connections + self.needed - self.free
        return (
            f"raise max_connections to at least {wanted} (ALTER SYSTEM SET max_connections = {wanted}, then restart "
            f"the server), {fewer}, or lower --sspp-reserve-connections if the code under test opens fewer"
        )


def _run_pattern(worker_pids: list[int]) -> str:
    """A regex matching the names of the test databases of the run's workers (their pid is in the name)."""
    if not worker_pids:
        return "^$"
    return rf"^sspp_t_[0-9a-f]{{8}}_[a-z0-9]+_({'|'.join(str(pid) for pid in worker_pids)})_\d+$"


def read_budget(admin_dsn: str, *, workers: int, reserve: int, worker_pids: list[int]) -> Budget:
    """The server's slots now; connections to the test databases of ``worker_pids`` (this run's) are not counted."""
    with connect(admin_dsn, application_name="sspp-fixtures-budget") as admin:
        row = admin.execute(_COUNTS, (_run_pattern(worker_pids),)).fetchone()
    assert row is not None
    return Budget(int(row[0]), int(row[1]), int(row[2]), workers, PLUGIN_CONNECTIONS, reserve)


def check_budget(admin_dsn: str, *, workers: int, reserve: int, worker_pids: list[int]) -> Budget:
    """Raise :class:`~sspp_fixtures.errors.ConnectionBudgetError` when the server has no room for the run's workers."""
    budget = read_budget(admin_dsn, workers=workers, reserve=reserve, worker_pids=worker_pids)
    if not budget.fits:
        raise ConnectionBudgetError(
            f"not enough connections: {budget.message(mask_dsn(admin_dsn))}",
            hint=budget.hint(),
            max_connections=budget.max_connections,
            reserved=budget.reserved,
            in_use=budget.in_use,
            needed_per_worker=budget.per_worker,
            workers=budget.workers,
        )
    return budget
