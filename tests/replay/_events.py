"""Platform events built in the tests, in the generator's ``PlatformEvents`` shape (equal-length columns)."""

from __future__ import annotations

import json
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from sspp_fixtures.model import PLATFORM_EVENT_TYPES

START_MS = 1_780_000_000_000  # 2026-05-28


@dataclass(frozen=True)
class Batch:
    account_id: list[str]
    user_id: list[str]
    event_type: list[str]
    timestamp: npt.NDArray[np.datetime64]
    metadata: list[str]
    index: npt.NDArray[np.int64]


def make_batches(total: int, *, per_batch: int = 1000, seed: int = 1, span_ms: int = 86_400_000) -> list[Batch]:
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
            Batch(
                account_id=[f"acc_{int(a):03d}" for a in rng.integers(1, 60, n)],
                user_id=[f"user_{int(u):03d}" for u in rng.integers(1, 200, n)],
                event_type=[PLATFORM_EVENT_TYPES[int(t)] for t in types],
                timestamp=times.astype("datetime64[ms]"),
                metadata=metadata,
                index=np.arange(first, first + n, dtype=np.int64),
            )
        )
    return batches
