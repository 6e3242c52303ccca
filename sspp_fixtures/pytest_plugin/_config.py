"""The plugin's settings: one frozen dataclass, command line over ini over environment over defaults.

Imported when pytest loads the plugin, so it imports nothing heavy (no psycopg, no server code).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from .._defaults import PROVIDER_NAMES, resolve_dsn
from ..errors import UsageError

__all__ = ["ISOLATIONS", "SERVER_KINDS", "SsppConfig", "TestSpec"]

#: The isolation names a marker or ``--sspp-isolation`` accepts (``database`` is the default); each is a class
#: in :mod:`._isolation`, which checks at import that it has one for each name.
ISOLATIONS: tuple[str, ...] = ("database", "clone", "transaction")

#: What ``--sspp-server`` accepts: ``auto`` (the policy of :func:`sspp_fixtures.server.get_server`) or a provider.
SERVER_KINDS: tuple[str, ...] = ("auto", *PROVIDER_NAMES)

#: (option flag, ini key, help, default)
OPTIONS: tuple[tuple[str, str, str, str | None], ...] = (
    ("--sspp-dsn", "sspp_dsn", "PostgreSQL server to make test databases on (default: $DATABASE_URL)", None),
    (
        "--sspp-server",
        "sspp_server",
        f"where the server comes from: {' | '.join(SERVER_KINDS)} (default: auto)",
        "auto",
    ),
    ("--sspp-scenario", "sspp_scenario", "scenario seeded into each test's database (default: smoke)", "smoke"),
    (
        "--sspp-isolation",
        "sspp_isolation",
        "default isolation: database (reuse, restored) | clone (always fresh) | transaction (rolled back)",
        "database",
    ),
    (
        "--sspp-reserve-connections",
        "sspp_reserve_connections",
        "connections per xdist worker left free for the code under test: a server without room for them and the "
        "plugin's fails the run before its first test (default: 2)",
        "2",
    ),
    (
        "--sspp-lock-timeout",
        "sspp_lock_timeout",
        "lock_timeout of every session on a test's database: a lock wait fails instead of hanging (0: no limit)",
        "10s",
    ),
    (
        "--sspp-idle-timeout",
        "sspp_idle_timeout",
        "idle_in_transaction_session_timeout of sspp_db and sspp_adb (0: no limit)",
        "30s",
    ),
    (
        "--sspp-keep-databases",
        "sspp_keep_databases",
        "restored test databases each process keeps on the server for the next run of the same template, which "
        "then needs no clone (0: drop them all when the session ends; default: 1)",
        "1",
    ),
)
_DEFAULTS = {ini: default for _flag, ini, _text, default in OPTIONS}
_DURATION = re.compile(r"\d+(ms|s|min|h)?")


@dataclass(frozen=True)
class TestSpec:
    """What one test asks for: which data, and how it is isolated."""

    scenario: str
    seed: int | None
    isolation: str


@dataclass(frozen=True)
class SsppConfig:
    """The session's settings."""

    dsn: str | None
    server: str
    scenario: str
    isolation: str
    reserve_connections: int = 2
    lock_timeout: str = "10s"
    idle_timeout: str = "30s"
    keep_databases: int = 1

    @classmethod
    def from_values(cls, values: dict[str, Any]) -> SsppConfig:
        server = str(values.get("sspp_server") or "auto")
        if server not in SERVER_KINDS:
            raise UsageError(
                f"--sspp-server {server!r} is not a server kind", hint=f"choose one of: {', '.join(SERVER_KINDS)}"
            )
        isolation = str(values.get("sspp_isolation") or "database")
        _check_isolation(isolation, "--sspp-isolation")
        dsn = resolve_dsn(values.get("sspp_dsn") or None)
        if server == "dsn" and dsn is None:
            raise UsageError("--sspp-server dsn needs a DSN", hint="pass --sspp-dsn URL or set DATABASE_URL")
        reserve = str(values.get("sspp_reserve_connections") or "2").strip()
        if not reserve.isdigit():
            raise UsageError(
                f"--sspp-reserve-connections {reserve!r} is not a whole number",
                hint="give the connections per worker the code under test opens itself, e.g. 2",
            )
        given = values.get("sspp_keep_databases")
        keep = str(_DEFAULTS["sspp_keep_databases"] if given is None or given == "" else given).strip()
        if not keep.isdigit():
            raise UsageError(
                f"--sspp-keep-databases {keep!r} is not a whole number",
                hint="give how many restored databases a process keeps for the next run, e.g. 1 (0: none)",
            )
        timeouts = {key: _duration(values, key) for key in ("sspp_lock_timeout", "sspp_idle_timeout")}
        return cls(
            dsn=dsn,
            server=server,
            scenario=str(values.get("sspp_scenario") or "smoke"),
            isolation=isolation,
            reserve_connections=int(reserve),
            lock_timeout=timeouts["sspp_lock_timeout"],
            idle_timeout=timeouts["sspp_idle_timeout"],
            keep_databases=int(keep),
        )

    def session_settings(self) -> dict[str, str]:
        """The PostgreSQL settings the plugin's own connections to a test's database start with."""
        return {"lock_timeout": self.lock_timeout, "idle_in_transaction_session_timeout": self.idle_timeout}

    def database_settings(self) -> dict[str, str]:
        """The defaults of every session on a test's database, the code under test's too, set on each clone when
        it is made: ``lock_timeout`` (a lock wait fails instead of hanging) and ``synchronous_commit`` off (a
        throw-away database need not wait for the disk at each commit)."""
        return {"lock_timeout": self.lock_timeout, "synchronous_commit": "off"}

    def spec(self, marker_kwargs: dict[str, Any]) -> TestSpec:
        """The test's needs: its ``@pytest.mark.sspp(...)`` arguments over the session's defaults."""
        unknown = set(marker_kwargs) - {"scenario", "seed", "isolation"}
        if unknown:
            raise UsageError(
                f"@pytest.mark.sspp got unknown argument {sorted(unknown)[0]!r}",
                hint="use scenario=..., seed=..., isolation=...",
            )
        isolation = str(marker_kwargs.get("isolation") or self.isolation)
        _check_isolation(isolation, "@pytest.mark.sspp(isolation=...)")
        seed = marker_kwargs.get("seed")
        if seed is not None and (isinstance(seed, bool) or not isinstance(seed, int) or seed < 0):
            raise UsageError(f"@pytest.mark.sspp(seed={seed!r}): expected a whole number >= 0")
        return TestSpec(scenario=str(marker_kwargs.get("scenario") or self.scenario), seed=seed, isolation=isolation)


def _check_isolation(value: str, where: str) -> None:
    if value not in ISOLATIONS:
        raise UsageError(f"{where}: unknown isolation {value!r}", hint=f"choose one of: {', '.join(ISOLATIONS)}")


def _duration(values: dict[str, Any], key: str) -> str:
    value = str(values.get(key) or _DEFAULTS[key]).strip().replace(" ", "")
    if not _DURATION.fullmatch(value):
        flag = "--" + key.replace("_", "-")
        raise UsageError(
            f"{flag} / {key}: {value!r} is not a duration",
            hint="give a whole number with a unit: 500ms, 10s, 2min (0 for no limit)",
        )
    return value
