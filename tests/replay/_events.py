"""Platform events built in the tests, in the generator's ``PlatformEvents`` shape (equal-length columns)."""

from __future__ import annotations

import json
from typing import Any

import numpy as np
import psycopg
from psycopg.types.json import Jsonb

from sspp_fixtures.bulkgen import PlatformEvents
from sspp_fixtures.model import PLATFORM_EVENT_TYPES, platform_signal

START_MS = 1_780_000_000_000  # 2026-05-28


def make_batches(
    total: int, *, per_batch: int = 1000, seed: int = 1, span_ms: int = 86_400_000
) -> list[PlatformEvents]:
    """``total`` events in batches of ``per_batch``, each batch spread over the whole span (like the generator)."""
    rng = np.random.default_rng(seed)
    batches = []
    for first in range(0, total, per_batch):
        n = min(per_batch, total - first)
        times = START_MS + rng.integers(0, span_ms, n)
        types = rng.integers(0, len(PLATFORM_EVENT_TYPES), n)
        response = rng.integers(0, 48, n)
        interactions = rng.integers(0, 8, n)
        metadata = [
            json.dumps({"campaign": f"c{i % 7}", "responseTimeHours": int(r), "interactionCount": int(c)})
            if i % 5
            else json.dumps({"campaign": 'Ünïcode "q"'})
            for i, r, c in zip(range(first, first + n), response, interactions, strict=True)
        ]
        batches.append(
            PlatformEvents(
                account_id=[f"acc_{int(a):03d}" for a in rng.integers(1, 60, n)],
                user_id=[f"user_{int(u):03d}" for u in rng.integers(1, 200, n)],
                event_type=[PLATFORM_EVENT_TYPES[int(t)] for t in types],
                timestamp=times.astype("datetime64[ms]"),
                metadata=metadata,
                index=np.arange(first, first + n, dtype=np.int64),
            )
        )
    return batches


def work_like_the_worker(dsn: str, jobs: list[Any], *, tz: str = "UTC") -> None:
    """What the platform's worker does with each job: one row, its rules, times in the worker's zone."""
    with psycopg.connect(dsn, autocommit=True) as conn:
        for job in jobs:
            event = job.data
            signal_type, score = platform_signal(event["eventType"], event.get("metadata"))
            conn.execute(
                "INSERT INTO sales_signals (account_id, user_id, event_type, signal_type, signal_score, timestamp,"
                " processed_at, metadata) VALUES (%s, %s, %s, %s, %s, (%s::timestamptz AT TIME ZONE %s),"
                " (now() AT TIME ZONE %s), %s)",
                (event["accountId"], event["userId"], event["eventType"], signal_type, score, event["timestamp"],
                 tz, tz, Jsonb(event.get("metadata") or {})),
            )  # fmt: skip
