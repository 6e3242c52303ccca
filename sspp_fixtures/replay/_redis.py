"""A Bull queue in a Redis: connecting (one clear line when Redis is down, read-only or refuses the password),
adding jobs at full speed (pre-rendered EVALSHA commands, pipelined), reading jobs and counts, ownership, purge."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, Final
from urllib.parse import urlsplit

import redis
from redis import exceptions as rx

from ..dsn import mask_text
from ..errors import UsageError
from ._bull import ADD_JOBS_LUA, JOB_NAME, Job, QueueKeys, job_opts, parse_job
from ._errors import QueueError, QueueUnreachableError

__all__ = ["JOB_STATES", "BullQueue", "QueueCounts", "check_redis_url", "redis_errors"]

#: Where a job can be, with the Redis type Bull keeps each in.
JOB_STATES: Final = {
    "wait": "list",
    "paused": "list",
    "active": "list",
    "delayed": "zset",
    "completed": "zset",
    "failed": "zset",
}
_CONNECT_TIMEOUT_S: Final = 5.0


def check_redis_url(url: str) -> str:
    """``url`` if it is a redis:// or rediss:// URL; a usage error (masked) otherwise."""
    scheme = urlsplit(url).scheme.lower() if "://" in url else ""
    if scheme not in ("redis", "rediss"):
        raise UsageError(
            f"{mask_text(url, url)!r} is not a Redis URL",
            hint="write redis://[:PASSWORD@]HOST:PORT[/DB] (or rediss://)",
        )
    return url


@contextmanager
def redis_errors(url: str, doing: str) -> Iterator[None]:
    """Turn redis-py's exceptions raised while ``doing`` into one masked line that says what to do."""
    shown = mask_text(url, url)
    try:
        yield
    except rx.AuthenticationError as error:
        raise QueueUnreachableError(
            f"Redis at {shown} refused the credentials while {doing}: {mask_text(str(error), url)}",
            hint="check the user and password in the URL",
        ) from None
    except rx.ReadOnlyError:
        raise QueueError(
            f"Redis at {shown} is read-only (a replica) while {doing}",
            hint="point --to at the primary",
        ) from None
    except (rx.ConnectionError, rx.TimeoutError, OSError) as error:
        raise QueueUnreachableError(
            f"Redis at {shown} did not answer while {doing}: {mask_text(str(error), url)}",
            hint="start Redis or check the host and port",
        ) from None
    except rx.ResponseError as error:
        raise QueueError(f"Redis at {shown} refused {doing}: {mask_text(str(error), url)}") from None


@dataclass(frozen=True)
class QueueCounts:
    """How many jobs are in each state (a snapshot)."""

    wait: int
    paused: int
    active: int
    delayed: int
    completed: int
    failed: int

    @property
    def pending(self) -> int:
        """Jobs not finished yet."""
        return self.wait + self.paused + self.active + self.delayed


#: EVALSHA, sha, key count, 4 keys, prefix, token, name, opts, timestamp.
_HEAD_ARGS: Final = 12


def _bulk(value: bytes) -> bytes:
    return b"$%d\r\n%b\r\n" % (len(value), value)


class BullQueue:
    """One Bull queue on one Redis: what the API, the worker and Bull's UI see as ``<name>``."""

    def __init__(self, url: str, name: str, *, prefix: str = "bull") -> None:
        if not name or any(c.isspace() for c in name) or ":" in name:
            raise UsageError(f"queue name {name!r} is not usable", hint="use letters, digits, '-', '_' or '.'")
        self.url = check_redis_url(url)
        self.keys = QueueKeys(name, prefix)
        self.token = str(uuid.uuid4())
        with redis_errors(url, "connecting"):
            self.client: redis.Redis = redis.Redis.from_url(
                url,
                decode_responses=True,
                socket_connect_timeout=_CONNECT_TIMEOUT_S,
                socket_timeout=60,
                client_name="sspp-replay",
            )
            self.client.ping()
        self._sha: str | None = None

    @property
    def name(self) -> str:
        return self.keys.name

    @property
    def shown_url(self) -> str:
        return mask_text(self.url, self.url)

    def close(self) -> None:
        self.client.close()

    # -- state ------------------------------------------------------------------------------------------------

    def check_writable(self) -> None:
        """Refuse a replica before anything is sent (a write would fail on the first batch)."""
        with redis_errors(self.url, "checking its role"):
            role: Any = self.client.execute_command("ROLE")  # type: ignore[no-untyped-call]
        if role and str(role[0]) in ("slave", "replica"):
            raise QueueError(f"Redis at {self.shown_url} is a read-only replica", hint="point --to at the primary")

    def counts(self) -> QueueCounts:
        with redis_errors(self.url, "reading the queue's counts"):
            pipe = self.client.pipeline(transaction=False)
            for state, kind in JOB_STATES.items():
                (pipe.llen if kind == "list" else pipe.zcard)(self.keys.key(state))
            values = pipe.execute()
        return QueueCounts(*(int(v) for v in values))

    def is_paused(self) -> bool:
        with redis_errors(self.url, "checking whether the queue is paused"):
            return bool(self.client.exists(self.keys.key("meta-paused")))

    def exists(self) -> bool:
        """Whether anything ever used this queue (Bull's id counter or any list)."""
        with redis_errors(self.url, "looking for the queue"):
            return bool(self.client.exists(self.keys.key("id"), *(self.keys.key(s) for s in JOB_STATES)))

    def is_owned(self) -> bool:
        with redis_errors(self.url, "reading the queue's owner mark"):
            return bool(self.client.exists(self.keys.owner))

    def mark_owned(self) -> None:
        """Record that this tool created the queue (its keys may be purged without --force)."""
        with redis_errors(self.url, "marking the queue as the tool's"):
            self.client.set(self.keys.owner, f"created by sspp-fixtures at {time.strftime('%Y-%m-%dT%H:%M:%SZ')}")

    def purge(self) -> int:
        """Delete every key of the queue; returns how many. Callers check ownership first."""
        removed = 0
        with redis_errors(self.url, "purging the queue"):
            batch: list[str] = []
            for key in self.client.scan_iter(match=self.keys.pattern(), count=1000):
                batch.append(key)
                if len(batch) >= 1000:
                    removed += int(self.client.unlink(*batch))
                    batch = []
            if batch:
                removed += int(self.client.unlink(*batch))
        return removed

    # -- jobs -------------------------------------------------------------------------------------------------

    def job_ids(self, state: str) -> list[str]:
        """Ids in ``state``, oldest first (FIFO order for the lists, by score for the sorted sets)."""
        if state not in JOB_STATES:
            raise UsageError(f"unknown job state {state!r}", hint=f"use one of: {', '.join(JOB_STATES)}")
        key = self.keys.key(state)
        with redis_errors(self.url, f"reading the {state} jobs"):
            ids: list[str] = (
                self.client.lrange(key, 0, -1)[::-1]  # type: ignore[assignment]
                if JOB_STATES[state] == "list"
                else self.client.zrange(key, 0, -1)
            )
        return ids

    def jobs(self, state: str) -> list[Job]:
        """The jobs in ``state``, oldest first."""
        ids = self.job_ids(state)
        return self.read_jobs(ids)

    def read_jobs(self, ids: Sequence[str]) -> list[Job]:
        with redis_errors(self.url, "reading jobs"):
            pipe = self.client.pipeline(transaction=False)
            for job_id in ids:
                pipe.hgetall(self.keys.key(job_id))
            hashes: list[dict[str, str]] = pipe.execute()
        return [parse_job(job_id, fields) for job_id, fields in zip(ids, hashes, strict=True) if fields]

    def finished_times(self, state: str = "completed") -> list[tuple[str, int]]:
        """(id, finishedOn ms) of the finished jobs Redis still holds: Bull scores these sets by finishedOn."""
        with redis_errors(self.url, f"reading the {state} jobs"):
            pairs: list[tuple[str, float]] = self.client.zrange(  # type: ignore[assignment]
                self.keys.key(state), 0, -1, withscores=True
            )
        return [(str(job_id), int(score)) for job_id, score in pairs]

    # -- adding -----------------------------------------------------------------------------------------------

    def script_sha(self) -> str:
        """The add script's SHA1, loaded once per connection's server (SCRIPT LOAD)."""
        if self._sha is None:
            with redis_errors(self.url, "loading the add script"):
                self._sha = str(self.client.script_load(ADD_JOBS_LUA))
        return self._sha

    def add(self, bodies: Sequence[str], *, name: str = JOB_NAME, opts: dict[str, Any] | None = None) -> list[str]:
        """Add one job per body (JSON text) atomically; returns their ids in order."""
        if not bodies:
            return []
        now = int(time.time() * 1000)
        args: list[str] = [self.keys.base, self.token, name, job_opts(now, opts), str(now), *bodies]
        with redis_errors(self.url, "adding jobs"):
            try:
                reply: Any = self.client.evalsha(self.script_sha(), 4, *self.keys.add_keys, *args)
            except rx.NoScriptError:
                self._sha = None
                reply = self.client.evalsha(self.script_sha(), 4, *self.keys.add_keys, *args)
        first = int(reply[0])
        return [str(first + i) for i in range(len(bodies))]

    def writer(self) -> JobWriter:
        """A fast writer of pre-rendered jobs on a connection of its own."""
        return JobWriter(self)


@dataclass(frozen=True)
class AddResult:
    first_id: int
    count: int
    paused: bool


class JobWriter:
    """Writes batches of job bodies as raw pipelined EVALSHA commands: the full-speed path.

    Rendering RESP by hand and keeping one batch in flight while the next is rendered keeps Python's share of the
    work to a few byte-string formats per job (redis-py's command packing costs ~10 us per command).
    """

    def __init__(self, queue: BullQueue) -> None:
        self.queue = queue
        self._sha = queue.script_sha().encode()
        with redis_errors(queue.url, "connecting"):
            self._conn: Any = queue.client.connection_pool.get_connection()
        keys = queue.keys
        self._head = b"".join(
            _bulk(arg)
            for arg in (
                b"EVALSHA",
                self._sha,
                b"4",
                *(k.encode() for k in keys.add_keys),
                keys.base.encode(),
                queue.token.encode(),
                JOB_NAME.encode(),
            )
        )
        self._in_flight: list[tuple[bytes, int]] = []

    def render(self, bodies: Sequence[str]) -> bytes:
        """One EVALSHA command adding ``bodies`` (RESP, ready for the socket)."""
        now = int(time.time() * 1000)
        parts = [b"*%d\r\n" % (_HEAD_ARGS + len(bodies)), self._head, _bulk(job_opts(now).encode()), _bulk(b"%d" % now)]
        for body in bodies:
            data = body.encode()
            parts.append(b"$%d\r\n%b\r\n" % (len(data), data))
        return b"".join(parts)

    def send(self, bodies: Sequence[str], *, max_in_flight: int = 1) -> list[AddResult]:
        """Send one batch; return the results of the batches that completed (all of them when ``max_in_flight``
        is 0, else leaving up to ``max_in_flight`` unanswered)."""
        command = self.render(bodies)
        with redis_errors(self.queue.url, "adding jobs"):
            self._conn.send_packed_command([command], check_health=False)
            self._in_flight.append((command, len(bodies)))
            return self._collect(max_in_flight)

    def flush(self) -> list[AddResult]:
        with redis_errors(self.queue.url, "adding jobs"):
            return self._collect(0)

    def _collect(self, keep: int) -> list[AddResult]:
        results: list[AddResult] = []
        while len(self._in_flight) > keep:
            try:
                first, paused = self._conn.read_response()
            except rx.NoScriptError:  # Redis lost its scripts (restart, failover, SCRIPT FLUSH)
                return results + self._resend_all()
            results.append(AddResult(int(first), self._in_flight.pop(0)[1], bool(paused)))
        return results

    def _resend_all(self) -> list[AddResult]:
        """The first batch in flight found no script: read the replies of the rest (they failed alike, unless
        another client loaded the script meanwhile), load it again, resend the failed batches in order."""
        replies: list[Any] = [None]
        for _ in self._in_flight[1:]:
            try:
                replies.append(self._conn.read_response())
            except rx.NoScriptError:
                replies.append(None)
        self.queue._sha = None
        self.queue.script_sha()
        results = []
        for (command, count), answered in zip(self._in_flight, replies, strict=True):
            reply = answered
            if reply is None:
                self._conn.send_packed_command([command], check_health=False)
                reply = self._conn.read_response()
            results.append(AddResult(int(reply[0]), count, bool(reply[1])))
        self._in_flight = []
        return results

    def close(self) -> None:
        if self._in_flight:
            self._conn.disconnect()
        self.queue.client.connection_pool.release(self._conn)
