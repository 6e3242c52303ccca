"""The platform's queue as Bull 4 keeps it in Redis: key names, the job layout, and one atomic add script.

Facts (bull 4.16, ``lib/commands/addJob-6.lua`` and ``lib/job.js``, checked against a job added by Bull itself):
a job gets its id from ``INCR bull:<q>:id``; its hash ``bull:<q>:<id>`` holds, in this order, ``name``, ``data``
(JSON), ``opts`` (JSON: the caller's options, then ``delay`` and ``timestamp`` that Bull adds), ``timestamp`` (ms),
``delay`` (0) and ``priority`` (0); its id is ``LPUSH``\\ed on ``bull:<q>:wait``, or on ``bull:<q>:paused`` when
``bull:<q>:meta-paused`` exists; then ``PUBLISH bull:<q>:waiting@<token> <id>`` (the token names the adding
client). Workers pop from the tail: first in, first out.

:data:`ADD_JOBS_LUA` does exactly that for a batch of jobs in one call (one round trip, one script run, the whole
batch atomic, so each job is), taking its ids from Bull's own counter so jobs added by the API meanwhile keep
unique ids.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, Final

__all__ = [
    "ADD_JOBS_LUA",
    "API_JOB_OPTS",
    "JOB_NAME",
    "Job",
    "QueueKeys",
    "job_opts",
    "parse_job",
]

#: The job name the API adds events under (the worker registers its handler for it).
JOB_NAME: Final = "process-event"
#: The options the API passes to ``queue.add`` (services/api/src/events/events.service.ts), in its order.
API_JOB_OPTS: Final = {
    "attempts": 3,
    "backoff": {"type": "exponential", "delay": 2000},
    "removeOnComplete": 1000,
    "removeOnFail": False,
}

# KEYS: wait, paused, meta-paused, id. ARGV: key prefix, token, name, opts (whole, with its timestamp), timestamp,
# then one job data per job. Returns {first id, 1 if the queue was paused}. One LPUSH of all ids, oldest first,
# leaves them in the order single LPUSHes would.
ADD_JOBS_LUA: Final = """
local rcall = redis.call
local jobs = #ARGV - 5
local last = rcall("INCRBY", KEYS[4], jobs)
local first = last - jobs + 1
local target, paused = KEYS[1], 0
if rcall("EXISTS", KEYS[3]) == 1 then
  target, paused = KEYS[2], 1
end
local prefix, channel, name, opts, timestamp = ARGV[1], KEYS[1] .. "ing@" .. ARGV[2], ARGV[3], ARGV[4], ARGV[5]
local ids = {}
for i = 1, jobs do
  local id = first + i - 1
  ids[i] = id
  rcall("HMSET", prefix .. id, "name", name, "data", ARGV[5 + i], "opts", opts, "timestamp", timestamp,
    "delay", "0", "priority", "0")
end
rcall("LPUSH", target, unpack(ids))
for i = 1, jobs do
  rcall("PUBLISH", channel, ids[i])
end
return {first, paused}
"""

#: Key suffix marking a queue this tool created (only such queues may be purged without --force).
OWNER_SUFFIX: Final = "sspp-fixtures"


def job_opts(timestamp_ms: int, opts: dict[str, Any] | None = None) -> str:
    """The job's opts JSON as Bull writes it: the caller's options, then ``delay`` and ``timestamp``."""
    text = json.dumps(dict(API_JOB_OPTS if opts is None else opts), separators=(",", ":"))
    return f'{text[:-1]},"delay":0,"timestamp":{timestamp_ms}}}'


@dataclass(frozen=True)
class QueueKeys:
    """The Redis keys of one Bull queue (``prefix`` is Bull's, ``bull`` unless the platform changed it)."""

    name: str
    prefix: str = "bull"

    @property
    def base(self) -> str:
        return f"{self.prefix}:{self.name}:"

    def key(self, suffix: str) -> str:
        return f"{self.base}{suffix}"

    @property
    def add_keys(self) -> tuple[str, str, str, str]:
        return (self.key("wait"), self.key("paused"), self.key("meta-paused"), self.key("id"))

    @property
    def owner(self) -> str:
        return self.key(OWNER_SUFFIX)

    def pattern(self) -> str:
        """A SCAN pattern matching every key of this queue (glob characters in the name escaped)."""
        escaped = "".join(f"\\{c}" if c in "*?[]\\" else c for c in self.base)
        return f"{escaped}*"


@dataclass(frozen=True)
class Job:
    """A job read back from Redis."""

    id: str
    name: str | None
    data: Any
    opts: dict[str, Any]
    timestamp: int | None
    processed_on: int | None
    finished_on: int | None
    failed_reason: str | None
    attempts_made: int
    fields: dict[str, str]


def _int(value: str | None) -> int | None:
    return int(value) if value not in (None, "") else None


def parse_job(job_id: str, fields: dict[str, str]) -> Job:
    """A :class:`Job` from its hash (``data`` and ``opts`` parsed; raw fields kept)."""
    data_text = fields.get("data")
    return Job(
        id=job_id,
        name=fields.get("name"),
        data=json.loads(data_text) if data_text else None,
        opts=json.loads(fields.get("opts") or "{}"),
        timestamp=_int(fields.get("timestamp")),
        processed_on=_int(fields.get("processedOn")),
        finished_on=_int(fields.get("finishedOn")),
        failed_reason=fields.get("failedReason"),
        attempts_made=_int(fields.get("attemptsMade")) or 0,
        fields=dict(fields),
    )
