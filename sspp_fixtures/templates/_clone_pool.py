"""Per-test databases cloned from a template: reused after an in-place restore, replaced when that cannot be exact.

One :class:`TestDatabases` per process (per xdist worker) and template. ``acquire()`` hands out a database holding
exactly the template's data; ``release()`` puts it back for the next test in one round trip (see
:mod:`._reuse`) or, when it cannot be restored exactly, replaces it by a never-used clone from a pool of spares
that a background thread keeps filled (from the first clone asked for on: a run that replaces nothing makes
one clone per database it uses, no spares). The replacement keeps the database's name: the old database is renamed
away (and dropped in the background) and the spare renamed into its place, so a connection pool or URL a
service keeps for the whole run still points at the test's database. Drops run in a thread of their own, after a
burst of replacements (see ``_DROP_QUIET_S``): each ``DROP DATABASE`` waits for a checkpoint, which would otherwise
hold up the next clone. When a test has to wait
for a spare, the pool wants one more (up to ``2 * spares``): recycles come in bursts.

Connections (see :attr:`TestDatabases.CONNECTIONS`): each database in use or idle between tests keeps one
*keeper* connection (the restore runs on it, so a release costs no connect); after the first replacement one
admin connection stays open for the renames; the refill and drop threads hold an admin connection each only
while they have work. Spares hold none: a database being renamed may have no session.
"""

from __future__ import annotations

import contextlib
import itertools
import os
import threading
import time
from collections import deque
from collections.abc import Collection, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, ClassVar, Self

import psycopg
from psycopg import sql

from ..databases import drop_database
from ..dsn import connect, mask_text, with_database
from ..errors import TemplateError, UsageError
from ._fingerprint import OUR_PREFIXES, PARK_SUFFIX, TEST_PREFIX
from ._names import KIND_PARKED, KIND_TEST, comment, safe_label, set_comment
from ._reuse import Status, read_status, release_statement
from ._template import TemplateInfo, list_templates

__all__ = ["Outcome", "TestDatabases", "TestDb"]

_CLONE_RETRY_S = (0.05, 1.0)
#: Numbers the clones of every pool in this process: two pools of one template (a pytester run in-process
#: beside the outer session) share the name prefix, so a counter per pool would collide.
_CLONE_NUMBERS = itertools.count()
#: The keepers and the renamer commit without waiting for the WAL flush (a restore or a rename is one fsync less): a
#: crash may lose such a commit, but the restart is then seen by the next keeper (``pg_postmaster_start_time``),
#: which has the database replaced.
_KEEPER_OPTIONS = "-c lock_timeout=10s -c statement_timeout=120s -c synchronous_commit=off"
_KEEPER_APP = "sspp-fixtures-keeper"
#: Most databases kept for the next runs of one template (each pool parks at most ``park`` of them).
_PARKED_MAX = 8
#: Replaced databases are dropped once none was queued for this long, or as soon as this many wait: each ``DROP
#: DATABASE`` forces a checkpoint, which during a burst of replacements would write out the very clones the burst
#: makes (and soon drops) and hold up the next ``CREATE DATABASE``.
_DROP_QUIET_S = 0.5
_DROP_BACKLOG = 4


@dataclass(frozen=True)
class TestDb:
    """A database handed to one test: its name, DSN, whether it is dropped after the test (``fresh``: never
    used, never reused), and how many tests used it before (0: a new clone)."""

    __test__: ClassVar[bool] = False

    name: str
    dsn: str
    fresh: bool
    uses: int


@dataclass(frozen=True)
class Outcome:
    """What ``release()`` did with a database.

    ``path``: ``clean`` (nothing to undo), ``restored`` (put back in place), ``recycled`` (dropped in the
    background, a fresh clone takes its place; ``reason`` says why), ``dropped`` (a ``fresh`` database).
    ``ms`` is the time ``release()`` took.
    """

    database: str
    path: Status
    reason: str | None
    ms: float

    @property
    def reused(self) -> bool:
        return self.path.reused


class _Slot:
    __slots__ = ("fresh", "keeper", "name", "server_started", "uses")

    def __init__(self, name: str) -> None:
        self.name = name
        self.keeper: psycopg.Connection[Any] | None = None
        self.uses = 0
        self.fresh = False
        self.server_started: object = None


class TestDatabases:
    """The test databases of one process for one template.

    Thread-safe: ``acquire``/``release`` may be called from several threads (each database is used by one test
    at a time). ``close()`` stops the refill thread and drops every database this instance created.
    ``database_settings``: defaults of every session on the databases (``ALTER DATABASE ... SET``, made when each
    clone is made, so no test pays for it), e.g. ``lock_timeout``; a test that changes them gets a fresh clone.
    ``park``: how many of its restored databases ``close()`` keeps for the next run of the same template (renamed
    ``sspp_tpl_<fp20>_k<pid>_<n>``, at most 8 per template) instead of dropping them; a later pool (whatever its
    ``park``) claims one instead of waiting for a clone (a ``CREATE DATABASE ... TEMPLATE`` takes 0.5 s on this
    machine), checks it restores clean, and gives it its own settings. The sweep drops those whose template is
    gone or that waited more than a day.
    """

    __test__: ClassVar[bool] = False

    #: Most connections one instance holds at once, when one test at a time uses it: the keeper, the admin
    #: connection for renames, and the refill and drop threads' admin connections while they work.
    CONNECTIONS: ClassVar[int] = 4

    def __init__(
        self,
        admin_dsn: str,
        template: TemplateInfo,
        *,
        worker_id: str = "main",
        spares: int = 2,
        clone_timeout_s: float = 120.0,
        release_wait_ms: int = 5000,
        database_settings: Mapping[str, str] | None = None,
        park: int = 0,
    ) -> None:
        if spares < 1:
            raise UsageError(f"spares={spares}: need at least 1", hint="use spares=1 or more (2 is the default)")
        self.admin_dsn = admin_dsn
        self.template = template
        self.worker_id = worker_id
        self._prefix = f"{TEST_PREFIX}{template.fingerprint[:8]}_{safe_label(worker_id, 10)}_{os.getpid()}_"
        self._spares_target = spares
        self._spares_wanted = 0  # none until a database is first replaced or a fresh one asked for
        self._spares_max = 2 * spares
        self._waiting = 0  # callers of _take_spare waiting for a clone
        self._clone_timeout_s = clone_timeout_s
        self._release_wait_ms = release_wait_ms
        self._database_settings = dict(database_settings or {})
        #: The settings as the server stores them (``name=value``), read back from the first clone.
        self._stored_settings: list[str] | None = None if self._database_settings else []
        self._cond = threading.Condition()
        self._spares: deque[_Slot] = deque()
        self._creating = 0
        self._idle: list[_Slot] = []
        self._in_use: dict[str, _Slot] = {}
        self._to_drop: deque[str] = deque()
        self._drops_seen = 0  # how many the drop thread saw queued, and since when (a burst of replacements)
        self._drops_since = 0.0
        self._made: set[str] = set()
        self._drop_failures: dict[str, int] = {}
        self._error: BaseException | None = None
        self._closed = False
        self._renamer: psycopg.Connection[Any] | None = None
        self._renamer_lock = threading.Lock()
        self._park = max(0, park)
        self._claiming = True  # until no parked database of the template is left to claim
        self._threads = [
            threading.Thread(target=self._work_loop, args=(role,), name=f"sspp-{role}-{worker_id}", daemon=True)
            for role in ("create", "drop")
        ]
        for thread in self._threads:
            thread.start()

    # ----------------------------------------------------------------------------------------------- public

    def acquire(self, *, fresh: bool = False) -> TestDb:
        """A database holding exactly the template's data, for one test.

        By default the database the previous test released (restored), or a new clone; ``fresh``: always a
        never-used clone, dropped at release.
        """
        with self._cond:
            self._check_open()
            # A parked database is a clone nobody pays for: claimed before a spare is spent (spares stay for
            # replacements), after a restored database of this pool.
            claim = self._claiming and not fresh and not self._idle
        claimed = self._claim_parked() if claim else None
        with self._cond:
            self._check_open()
            if claimed is not None:
                slot = claimed
            else:
                slot = self._idle.pop() if not fresh and self._idle else self._take_spare(keep_spares=fresh)
            slot.fresh = fresh
        if fresh:
            self._close_keeper(slot)  # dropped after its test: no restore, no keeper
        elif slot.keeper is None or slot.keeper.closed:
            try:
                # After a crash-restart the last restore or rename may be lost (they commit asynchronously), and
                # the marks with them: the database is replaced before any test sees it.
                if not self._connect_keeper(slot):
                    self._replace(slot)
                    self._connect_keeper(slot)
            except BaseException:
                with self._cond:
                    self._to_drop.append(slot.name)
                    self._cond.notify_all()
                raise
        with self._cond:
            self._in_use[slot.name] = slot
        return TestDb(slot.name, self.dsn_for(slot.name), fresh, slot.uses)

    def release(self, db: TestDb, *, keep_pids: Collection[int] = ()) -> Outcome:
        """Put ``db`` back for the next test: end the sessions it left open, undo its changes, or recycle it.

        Sessions in ``keep_pids`` (idle, outside a transaction) stay open: a caller that reuses its own
        connection from test to test saves the connect.
        """
        started = time.perf_counter()
        with self._cond:
            slot = self._in_use.pop(db.name, None)
        if slot is None:
            raise UsageError(f"database {db.name} is not in use from this pool", hint="release each database once")
        if slot.fresh:
            self._recycle(slot)
            return Outcome(db.name, Status.DROPPED, None, _ms(started))
        status, reason = self._restore(slot, keep=keep_pids)
        if status.reused:
            slot.uses += 1
            with self._cond:
                if self._closed:
                    self._close_keeper(slot)
                else:
                    self._idle.append(slot)
            return Outcome(db.name, status, None, _ms(started))
        self._replace(slot)  # RECYCLED, or BUSY: a session the caller keeps was left inside a transaction
        with self._cond:
            if not self._closed:
                self._idle.append(slot)
        return Outcome(db.name, Status.RECYCLED, reason or status.value, _ms(started))

    def restore(self, db: TestDb, *, keep_pids: Collection[int] | None = None) -> Outcome:
        """Put ``db`` back to the template's data *during* its test (e.g. before each Hypothesis example).

        ``keep_pids=None`` keeps every session of the database open; a collection of backend pids keeps those and
        ends the others (as ``release()`` does). Kept sessions must be idle outside a transaction (commit or roll
        back first), else :class:`UsageError`. Raises :class:`TemplateError` when the database cannot be restored
        in place (DDL, large objects, ...): such a test needs ``release()`` and a new ``acquire()``.
        """
        started = time.perf_counter()
        with self._cond:
            slot = self._in_use.get(db.name)
        if slot is None or slot.fresh:
            raise UsageError(
                f"database {db.name} is not a reusable database in use from this pool",
                hint="restore() a database acquired without fresh=True, before releasing it",
            )
        status, reason = self._restore(slot, end_sessions=keep_pids is not None, keep=keep_pids or ())
        if status is Status.BUSY:
            raise UsageError(
                f"cannot restore database {db.name} while a session it keeps is inside a transaction",
                hint="commit or roll back the kept connections before restore()",
                database=db.name,
            )
        if not status.reused:
            raise TemplateError(
                f"database {db.name} cannot be restored in place ({reason})",
                hint="release() it and acquire() another: what the test did (DDL, large objects, prepared "
                "transactions) can only be undone by a fresh clone",
                database=db.name,
                reason=reason,
            )
        return Outcome(db.name, status, None, _ms(started))

    def dsn_for(self, name: str) -> str:
        return with_database(self.admin_dsn, name)

    @property
    def spares_ready(self) -> int:
        with self._cond:
            return len(self._spares)

    def wait_spares(self, timeout_s: float = 30.0) -> bool:
        """Wait until the spare pool is full (for benchmarks and tests); returns whether it is."""
        deadline = time.monotonic() + timeout_s
        with self._cond:
            while len(self._spares) < self._spares_wanted and not self._closed:
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self._cond.wait(left)
            return len(self._spares) >= self._spares_wanted

    def close(self) -> None:
        """Stop the refill thread and drop every database this instance created (``DROP ... WITH (FORCE)``)."""
        with self._cond:
            if self._closed:
                return
            self._closed = True
            slots = [*self._idle, *self._in_use.values(), *self._spares]
            parkable = [slot.name for slot in (*self._idle, *self._spares)][: self._park]
            self._idle.clear()
            self._in_use.clear()
            self._spares.clear()
            self._cond.notify_all()
        for thread in self._threads:
            thread.join(timeout=60)
        with self._cond:
            slots += list(self._spares)
            self._spares.clear()
        for slot in slots:
            self._close_keeper(slot)
        self._park_some(parkable)
        with self._renamer_lock:
            if self._renamer is not None:
                with contextlib.suppress(Exception):
                    self._renamer.close()
                self._renamer = None
        with self._cond:
            names = sorted(self._made)
        if not names:
            return

        def drop(name: str) -> None:
            with contextlib.suppress(psycopg.Error), connect(self.admin_dsn) as admin:
                drop_database(admin, name, prefixes=OUR_PREFIXES)
                self._made.discard(name)

        # Each DROP DATABASE waits for a checkpoint; concurrent ones share it (measured: 3 drops 2-9 s in a row).
        with ThreadPoolExecutor(max_workers=min(4, len(names))) as executor:
            list(executor.map(drop, names))

    # ----------------------------------------------------------------------------------------------- parking

    def _parked(self, admin: psycopg.Connection[Any]) -> list[str]:
        """Names of the databases parked for this pool's template (their comment says so)."""
        return [
            name
            for name, _is_template, data in list_templates(admin)
            if data is not None and data.get("sspp") == KIND_PARKED and data.get("template") == self.template.name
        ]

    def _rename_with_comment(self, admin: psycopg.Connection[Any], name: str, new_name: str, text: str) -> bool:
        """Rename database ``name`` and comment it, in one transaction; ``False`` if the server refused (someone
        is connected to it, or another process renamed it first)."""
        try:
            with admin.transaction():
                admin.execute(
                    sql.SQL("ALTER DATABASE {} RENAME TO {}").format(sql.Identifier(name), sql.Identifier(new_name))
                )
                set_comment(admin, new_name, text)
        except psycopg.Error:
            return False
        return True

    def _park_some(self, names: list[str]) -> None:
        """Keep ``names`` (restored, or never used) for the next run: each renamed to a parked name with its
        comment in one transaction; one that has sessions left, or past the template's limit, is dropped."""
        if not names:
            return
        with contextlib.suppress(psycopg.Error), connect(self.admin_dsn, application_name=_KEEPER_APP) as admin:
            room = _PARKED_MAX - len(self._parked(admin))
            for name in names[: max(0, room)]:
                parked = f"{self.template.name}{PARK_SUFFIX}{os.getpid()}_{next(_CLONE_NUMBERS)}"
                if self._rename_with_comment(admin, name, parked, comment(KIND_PARKED, template=self.template.name)):
                    with self._cond:
                        self._made.discard(name)
                # else a session of the code under test is still on it: dropped as usual

    def _claim_parked(self) -> _Slot | None:
        """A database a previous run parked for this template, renamed to one of this pool's names, given this
        pool's settings and checked to restore clean; ``None`` when none is left (then no more are looked for)."""
        try:
            with connect(self.admin_dsn, application_name=_KEEPER_APP) as admin:
                for parked in self._parked(admin):
                    slot = self._take_parked(admin, parked)
                    if slot is not None:
                        return slot
        except psycopg.Error:
            pass
        with self._cond:
            self._claiming = False
        return None

    def _take_parked(self, admin: psycopg.Connection[Any], parked: str) -> _Slot | None:
        name = f"{self._prefix}{next(_CLONE_NUMBERS)}"
        text = comment(KIND_TEST, template=self.template.name, worker=self.worker_id)
        if not self._rename_with_comment(admin, parked, name, text):  # another process may have claimed it first
            return None
        with self._cond:
            self._made.add(name)
        slot = _Slot(name)
        try:
            ident = sql.Identifier(name)
            admin.execute(sql.SQL("ALTER DATABASE {} RESET ALL").format(ident))
            self._set_database_settings(admin, name)
            if self._connect_keeper(slot) and self._restore(slot, keep=())[0].reused:
                return slot
        except psycopg.Error:
            pass
        self._close_keeper(slot)
        with self._cond:
            self._to_drop.append(name)
            self._cond.notify_all()
        return None

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ----------------------------------------------------------------------------------------------- restore

    def _connect_keeper(self, slot: _Slot) -> bool:
        """Connect the slot's keeper; ``False`` if the server restarted since its last keeper (marks may be lost)."""
        conn = psycopg.connect(
            self.dsn_for(slot.name), autocommit=True, application_name=_KEEPER_APP, options=_KEEPER_OPTIONS
        )
        conn.prepare_threshold = 0
        slot.keeper = conn
        row = conn.execute("SELECT pg_catalog.pg_postmaster_start_time()").fetchone()
        started = row[0] if row else None
        same = slot.server_started is None or slot.server_started == started
        slot.server_started = started
        return same

    def _restore(
        self, slot: _Slot, *, end_sessions: bool = True, keep: Collection[int] = ()
    ) -> tuple[Status, str | None]:
        """Run the restore on the keeper connection: ``CLEAN``, ``RESTORED``, ``BUSY`` or ``RECYCLED`` and why."""
        for attempt in (1, 2):
            try:
                # A crash-restart empties the UNLOGGED marks table: after one, nothing says what the test changed.
                if (slot.keeper is None or slot.keeper.closed) and not self._connect_keeper(slot):
                    self._close_keeper(slot)
                    return Status.RECYCLED, "server_restarted"
                keeper = slot.keeper
                assert keeper is not None
                row = keeper.execute(
                    release_statement(), (self._release_wait_ms, end_sessions, list(keep), self._stored_settings or [])
                ).fetchone()
                return read_status(str(row[0])) if row else (Status.RECYCLED, "no_status")
            except psycopg.OperationalError:
                # The test ended our keeper (pg_terminate_backend on every session), or the server hiccuped:
                # reconnect once and try again.
                self._close_keeper(slot)
                if attempt == 2:
                    return Status.RECYCLED, "connection_lost"
            except psycopg.Error as exc:
                self._close_keeper(slot)
                return (
                    Status.RECYCLED,
                    f"error {exc.sqlstate or type(exc).__name__}: {mask_text(str(exc)).splitlines()[0]}",
                )
        return Status.RECYCLED, "connection_lost"  # pragma: no cover

    def _close_keeper(self, slot: _Slot) -> None:
        if slot.keeper is not None:
            with contextlib.suppress(Exception):
                slot.keeper.close()
            slot.keeper = None

    def _recycle(self, slot: _Slot) -> None:
        self._close_keeper(slot)
        with self._cond:
            self._to_drop.append(slot.name)
            self._cond.notify_all()

    def _replace(self, slot: _Slot) -> None:
        """Put a never-used clone in the place of the slot's database, under the same name; the old one is dropped.

        The old database is closed to new connections, its sessions are ended, and it is renamed away; then a
        spare is renamed to its name. A connection pool the test's code keeps loses its connections (a checking
        pool reconnects to the same URL); the next test starts on the clone.
        """
        self._close_keeper(slot)
        with self._cond:
            if self._closed:
                self._to_drop.append(slot.name)
                self._cond.notify_all()
                return
            try:
                spare = self._take_spare()
            except BaseException:
                self._to_drop.append(slot.name)  # no clone to put in its place: the slot is given up
                self._cond.notify_all()
                raise
            away = f"{self._prefix}{next(_CLONE_NUMBERS)}"
            self._made.add(away)
        server_started: object = None
        try:
            with self._renamer_lock:
                server_started = self._rename_into_place(slot.name, away, spare.name)
        except psycopg.Error:
            # The old database may be half-renamed: drop whatever is left under either name and let the slot
            # live on under the spare's name (the next test gets a fresh clone all the same).
            with self._cond:
                self._to_drop.extend([slot.name, away])
                self._cond.notify_all()
            slot.name = spare.name
        else:
            with self._cond:
                self._made.discard(spare.name)
                self._to_drop.append(away)
                self._cond.notify_all()
        slot.uses = 0
        slot.server_started = server_started  # a crash that loses the (asynchronous) rename is seen at the next keeper

    def _rename_into_place(self, name: str, away: str, spare: str) -> object:
        """``name`` becomes ``away`` (its sessions ended first), then ``spare`` becomes ``name``: two round trips.

        Returns the server's start time as the renames began.
        """
        if self._renamer is None or self._renamer.closed or self._renamer.broken:
            self._renamer = connect(self.admin_dsn, application_name=_KEEPER_APP)
            self._renamer.execute("SET synchronous_commit = off")
        admin = self._renamer
        # The server's own check before a rename waits in steps of 100 ms while any session is on either database
        # (one still exiting, an autovacuum worker): they are ended here and waited for in steps of 0.5 ms.
        close = sql.SQL(
            "SELECT pg_catalog.pg_postmaster_start_time(); "
            "ALTER DATABASE {name} WITH ALLOW_CONNECTIONS false; "
            "DO $sspp$ DECLARE deadline timestamptz := pg_catalog.clock_timestamp() + interval '1 second'; BEGIN "
            "PERFORM pg_catalog.pg_terminate_backend(pid) FROM pg_catalog.pg_stat_activity "
            "WHERE (datname = {literal} OR (datname = {spare} AND backend_type = 'autovacuum worker')) "
            "AND pid <> pg_catalog.pg_backend_pid(); "
            "LOOP PERFORM pg_catalog.pg_stat_clear_snapshot(); "
            "EXIT WHEN pg_catalog.clock_timestamp() > deadline OR NOT EXISTS (SELECT 1 "
            "FROM pg_catalog.pg_stat_activity WHERE datname IN ({literal}, {spare}) "
            "AND pid <> pg_catalog.pg_backend_pid()); "
            "PERFORM pg_catalog.pg_sleep(0.0005); END LOOP; END $sspp$"
        ).format(name=sql.Identifier(name), literal=sql.Literal(name), spare=sql.Literal(spare))
        swap = sql.SQL("ALTER DATABASE {} RENAME TO {}; ALTER DATABASE {} RENAME TO {}").format(
            sql.Identifier(name), sql.Identifier(away), sql.Identifier(spare), sql.Identifier(name)
        )
        deadline = time.monotonic() + self._release_wait_ms / 1000
        row = admin.execute(close).fetchone()
        while True:
            try:
                admin.execute(swap)  # one transaction: both names change, or neither
                return row[0] if row else None
            except psycopg.errors.ObjectInUse:  # an ended session has not exited yet
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.002)
                admin.execute(close)

    # ----------------------------------------------------------------------------------------------- spares

    def _check_open(self) -> None:
        if self._closed:
            raise UsageError("this pool of test databases is closed", hint="make a new TestDatabases")

    def _take_spare(self, *, keep_spares: bool = True) -> _Slot:
        """A never-used clone (caller holds the condition); waits for the refill thread.

        ``keep_spares``: from now on keep spares ready (a replacement, a fresh database); a database's first
        clone does not ask for them: most runs replace none, and each unused spare costs a ``CREATE DATABASE`` at
        the start and a ``DROP`` (a checkpoint) at the end.
        """
        deadline = time.monotonic() + self._clone_timeout_s
        if keep_spares:
            if self._spares_wanted < self._spares_target:
                self._spares_wanted = self._spares_target
            elif not self._spares and self._spares_wanted < self._spares_max:
                self._spares_wanted += 1  # this test waits: keep one more ready for the next burst of recycles
        self._waiting += 1
        try:
            return self._wait_for_spare(deadline)
        finally:
            self._waiting -= 1

    def _wait_for_spare(self, deadline: float) -> _Slot:
        while not self._spares:
            self._check_open()
            if self._error is not None and self._creating == 0:
                error = self._error
                raise TemplateError(
                    f"cannot clone template {self.template.name}: {error}",
                    hint="check that the template still exists (it may have been dropped by drop_templates or a "
                    "sweep) and that the server accepts more connections",
                    template=self.template.name,
                ) from error
            left = deadline - time.monotonic()
            if left <= 0:
                raise TemplateError(
                    f"no clone of template {self.template.name} became ready within {self._clone_timeout_s:g}s",
                    hint="the server may be overloaded; raise clone_timeout_s or lower the number of workers",
                    template=self.template.name,
                )
            self._cond.notify_all()
            self._cond.wait(min(left, 1.0))
        return self._spares.popleft()

    def _has_job(self, role: str) -> bool:
        """Whether the ``create`` or ``drop`` thread has work waiting (caller holds the condition)."""
        if role == "drop":
            return bool(self._to_drop)
        wanted = max(self._spares_wanted, self._waiting)
        return len(self._spares) + self._creating < wanted and self._error is None

    def _next_job(self, role: str) -> str | None:
        """Name of the next database the ``create`` or ``drop`` thread works on; ``None`` to stop.

        Caller holds the condition.
        """
        while True:
            if self._closed:
                return None
            if role == "drop" and self._to_drop:
                now = time.monotonic()
                if len(self._to_drop) > self._drops_seen:
                    self._drops_seen, self._drops_since = len(self._to_drop), now
                quiet_left = self._drops_since + _DROP_QUIET_S - now
                if quiet_left <= 0 or len(self._to_drop) >= _DROP_BACKLOG:
                    self._drops_seen = len(self._to_drop) - 1
                    return self._to_drop.popleft()
                self._cond.wait(quiet_left)
                continue
            if role == "create" and self._has_job(role):
                self._creating += 1
                name = f"{self._prefix}{next(_CLONE_NUMBERS)}"
                self._made.add(name)
                return name
            self._cond.wait(5.0 if role == "create" and self._error is not None else None)
            if role == "create" and self._error is not None:
                self._error = None  # retry creating after a pause

    def _work_loop(self, role: str) -> None:
        """The ``create`` thread keeps the spares filled; the ``drop`` thread drops recycled databases."""
        admin: psycopg.Connection[Any] | None = None
        try:
            while True:
                with self._cond:
                    idle = not self._has_job(role)
                if idle and admin is not None:  # no work queued: the connection goes back to the server's budget
                    admin.close()
                    admin = None
                with self._cond:
                    name = self._next_job(role)
                if name is None:
                    return
                try:
                    if admin is None or admin.closed:
                        admin = connect(self.admin_dsn, application_name=f"sspp-fixtures-{role}")
                    if role == "create":
                        self._clone(admin, name)
                        spare = _Slot(name)
                    else:
                        drop_database(admin, name, prefixes=OUR_PREFIXES)
                except Exception as exc:
                    with contextlib.suppress(Exception):
                        if admin is not None:
                            admin.close()
                    admin = None
                    with self._cond:
                        if role == "create":
                            self._creating -= 1
                            self._error = exc
                        else:
                            self._drop_failures[name] = self._drop_failures.get(name, 0) + 1
                            if self._drop_failures[name] < 3:
                                self._to_drop.append(name)  # try again later; else close() or a sweep will
                        self._cond.notify_all()
                    time.sleep(0.2)
                    continue
                with self._cond:
                    if role == "create":
                        self._creating -= 1
                        self._spares.append(spare)
                        self._error = None
                    else:
                        self._made.discard(name)
                    self._cond.notify_all()
        finally:
            if admin is not None:
                with contextlib.suppress(Exception):
                    admin.close()

    def _clone(self, admin: psycopg.Connection[Any], name: str) -> None:
        """``CREATE DATABASE name TEMPLATE template``, retried while the template is busy (SQLSTATE 55006)."""
        query = sql.SQL("CREATE DATABASE {} TEMPLATE {}").format(
            sql.Identifier(name), sql.Identifier(self.template.name)
        )
        deadline = time.monotonic() + self._clone_timeout_s
        delay = _CLONE_RETRY_S[0]
        while True:
            try:
                admin.execute(query)
                break
            except psycopg.errors.ObjectInUse:
                if time.monotonic() + delay > deadline or self._closed:
                    raise
                time.sleep(delay)
                delay = min(delay * 1.5, _CLONE_RETRY_S[1])
        set_comment(admin, name, comment(KIND_TEST, template=self.template.name, worker=self.worker_id))
        self._set_database_settings(admin, name)

    def _set_database_settings(self, admin: psycopg.Connection[Any], name: str) -> None:
        """``ALTER DATABASE name SET`` each of the pool's settings; the first time, read back how they are stored."""
        if self._database_settings:
            ident = sql.Identifier(name)
            admin.execute(
                sql.SQL("; ").join(
                    sql.SQL("ALTER DATABASE {} SET {} = {}").format(ident, sql.Identifier(key), sql.Literal(value))
                    for key, value in self._database_settings.items()
                )
            )
            if self._stored_settings is None:
                row = admin.execute(
                    "SELECT r.setconfig FROM pg_catalog.pg_db_role_setting r "
                    "JOIN pg_catalog.pg_database d ON d.oid = r.setdatabase WHERE d.datname = %s AND r.setrole = 0",
                    (name,),
                ).fetchone()
                self._stored_settings = list(row[0]) if row else []


def _ms(started: float) -> float:
    return (time.perf_counter() - started) * 1000
