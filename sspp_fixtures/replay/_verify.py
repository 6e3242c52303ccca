"""Did the platform store every event right? Each valid event a run delivered must have exactly one
``sales_signals`` row with the ``signal_type`` and ``signal_score`` the worker's rules give its metadata.

The expected rows are streamed into a temporary table with COPY and compared with the stored ones in one query,
grouped by what identifies an event (account, user, type, timestamp, metadata: the worker stores no event id), so
memory stays flat and identical events are counted, not confused. Only rows processed since the run started are
considered (earlier loads and runs do not count as duplicates). The worker writes JavaScript ``Date``\\s into
``TIMESTAMP`` columns through node-postgres, i.e. in its own time zone: ``worker_tz`` says which (UTC in the
platform's images).
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Final, NamedTuple

import psycopg
from psycopg import sql

from ..dsn import connect, mask_dsn
from ..errors import SsppError
from ..model import platform_signal, score_text

__all__ = ["ExpectedSignal", "VerifyReport", "expected_signal", "verify_signals"]

_LISTED: Final = 50


class ExpectedSignal(NamedTuple):
    seq: int
    account_id: str
    user_id: str
    event_type: str
    timestamp: str  # naive UTC, ISO
    metadata: str
    signal_type: str
    signal_score: str


def expected_signal(seq: int, body: str) -> ExpectedSignal:
    """The row the worker should store for the event whose API body is ``body``."""
    event = json.loads(body)
    metadata = event.get("metadata")
    signal_type, score = platform_signal(event["eventType"], metadata)
    return ExpectedSignal(
        seq,
        event["accountId"],
        event["userId"],
        event["eventType"],
        event["timestamp"].removesuffix("Z"),
        json.dumps(metadata if metadata is not None else {}, ensure_ascii=False, separators=(",", ":")),
        signal_type,
        score_text(score),
    )


@dataclass
class VerifyReport:
    database: str
    checked: int
    lost: int
    duplicated: int
    wrong: int
    #: Rows processed since the run that match no event of the run (other producers, or a wrong type/account).
    other_rows: int
    #: Up to 50 each: {seq, accountId, userId, eventType, timestamp, expected, found...}.
    lost_rows: list[dict[str, Any]] = field(default_factory=list)
    duplicated_rows: list[dict[str, Any]] = field(default_factory=list)
    wrong_rows: list[dict[str, Any]] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.lost == 0 and self.duplicated == 0 and self.wrong == 0

    def summary(self) -> str:
        return (
            f"{self.checked:,} events checked: {self.lost:,} lost, {self.wrong:,} wrong, {self.duplicated:,} duplicated"
        )


_COMPARE = """
WITH e AS (
    SELECT account_id, user_id, event_type, ((ts AT TIME ZONE 'UTC') AT TIME ZONE %(tz)s) AS ts, metadata,
           count(*) AS n, min(seq) AS seq, min(signal_type) AS signal_type, min(signal_score) AS signal_score
    FROM sspp_replay_expected GROUP BY 1, 2, 3, 4, 5
), r AS (
    SELECT account_id, user_id, event_type, "timestamp" AS ts, metadata, count(*) AS n,
           array_agg(DISTINCT signal_type ORDER BY signal_type) AS types,
           array_agg(DISTINCT signal_score ORDER BY signal_score) AS scores
    FROM {table} WHERE %(since)s::timestamptz IS NULL
       OR processed_at >= (%(since)s::timestamptz AT TIME ZONE %(tz)s)
    GROUP BY 1, 2, 3, 4, 5
)
SELECT e.seq, e.account_id, e.user_id, e.event_type, e.ts, e.n, coalesce(r.n, 0), e.signal_type,
       e.signal_score::text, r.types, r.scores::text[]
FROM e LEFT JOIN r USING (account_id, user_id, event_type, ts, metadata)
WHERE r.n IS DISTINCT FROM e.n OR r.types <> ARRAY[e.signal_type]::varchar[] OR r.scores <> ARRAY[e.signal_score]
ORDER BY e.seq
"""
_TOTAL = """
SELECT count(*) FROM {table} WHERE %(since)s::timestamptz IS NULL
    OR processed_at >= (%(since)s::timestamptz AT TIME ZONE %(tz)s)
"""


def verify_signals(
    dsn: str,
    expected: Iterable[ExpectedSignal],
    *,
    since: datetime | None,
    worker_tz: str = "UTC",
    table: str = "sales_signals",
) -> VerifyReport:
    """Compare ``expected`` with the rows of ``table`` processed since ``since`` (aware; None: all rows)."""
    with connect(dsn, autocommit=False, application_name="sspp-verify") as conn:
        _check_table(conn, table, dsn)
        conn.execute(
            "CREATE TEMP TABLE sspp_replay_expected (seq bigint, account_id text, user_id text, event_type text, "
            "ts timestamp, metadata jsonb, signal_type text, signal_score numeric(3, 2)) ON COMMIT DROP"
        )
        checked = 0
        with conn.cursor().copy("COPY sspp_replay_expected FROM STDIN") as copy:
            for signal in expected:
                copy.write_row(signal)
                checked += 1
        conn.execute("ANALYZE sspp_replay_expected")
        params = {"tz": worker_tz, "since": since.astimezone(UTC) if since else None}
        try:
            findings = conn.execute(sql.SQL(_COMPARE).format(table=sql.Identifier(table)), params).fetchall()
            total = conn.execute(sql.SQL(_TOTAL).format(table=sql.Identifier(table)), params).fetchone()
        except psycopg.errors.InvalidParameterValue as error:
            raise SsppError(f"--worker-tz {worker_tz!r}: {error}", hint="a time zone name such as UTC") from None
        conn.rollback()
    report = VerifyReport(database=mask_dsn(dsn), checked=checked, lost=0, duplicated=0, wrong=0, other_rows=0)
    matched = checked
    for seq, account, user, event_type, ts, wanted, found, signal_type, score, types, scores in findings:
        row: dict[str, Any] = {
            "seq": seq,
            "accountId": account,
            "userId": user,
            "eventType": event_type,
            "timestamp": str(ts),
        }
        if found < wanted:
            report.lost += wanted - found
            matched -= wanted - found
            _listed(report.lost_rows, {**row, "missing": wanted - found})
        if found > wanted:
            report.duplicated += found - wanted
            _listed(report.duplicated_rows, {**row, "rows": found, "expected_rows": wanted})
        if found and (types != [signal_type] or scores != [score]):
            report.wrong += min(found, wanted)
            _listed(
                report.wrong_rows,
                {**row, "expected": [signal_type, score], "found": [list(types), list(scores)]},
            )
    report.other_rows = max(0, int(total[0] if total else 0) - matched - report.duplicated)
    return report


def _listed(rows: list[dict[str, Any]], row: dict[str, Any]) -> None:
    if len(rows) < _LISTED:
        rows.append(row)


def _check_table(conn: psycopg.Connection[Any], table: str, dsn: str) -> None:
    found = conn.execute("SELECT to_regclass(%s)", (table,)).fetchone()
    if not found or found[0] is None:
        raise SsppError(
            f"{mask_dsn(dsn)} has no table {table}: it is not the platform's database, or not migrated",
            hint="point --dsn at the database the worker writes to (sspp-seed migrate creates sales_signals)",
        )
