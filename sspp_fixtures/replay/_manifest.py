"""The record of a run: enough to find again exactly what was sent (``verify`` regenerates it from the scenario,
its seed and the run's plan) without storing the events themselves, plus what the sink did with them."""

from __future__ import annotations

import json
import os
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Final

from .._paths import cache_dir
from ..errors import UsageError
from ._sinks import Delivery
from ._stream import StreamPlan

__all__ = ["MANIFEST_FORMAT", "Manifest", "latest_manifest", "manifest_dir"]

MANIFEST_FORMAT: Final = "sspp-replay/1"


def manifest_dir() -> Path:
    """Where runs are recorded by default (``verify`` with no ``--manifest`` reads the newest)."""
    return cache_dir() / "replay"


@dataclass
class Manifest:
    """One run. ``target`` is masked; ``url`` is kept only when it holds no password (else verify asks --to)."""

    scenario: str
    scenario_name: str
    fingerprint: str
    seed: int
    scale: float | None
    plan: StreamPlan
    sent: int
    sink: str
    target: str
    url: str | None
    queue: str | None
    prefix: str
    time_mode: str
    rate: float | None
    speed: float | None
    delivery: Delivery
    started_at: str
    finished_at: str = ""
    stopped_by: str = ""
    invalid: dict[str, int] = field(default_factory=dict)
    format: str = MANIFEST_FORMAT

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["plan"] = asdict(self.plan)
        data["delivery"] = asdict(self.delivery)
        return data

    def write(self, path: Path) -> Path:
        """Write atomically (a temporary file renamed), so a crash leaves the old record or the new one."""
        path.parent.mkdir(parents=True, exist_ok=True)
        temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
        temporary.write_text(json.dumps(self.to_json(), indent=1) + "\n", encoding="utf-8")
        temporary.replace(path)
        return path

    @classmethod
    def read(cls, path: Path) -> Manifest:
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise UsageError(f"no replay record at {path}", hint="pass the --manifest that replay printed") from None
        except (OSError, json.JSONDecodeError) as error:
            raise UsageError(f"{path}: not a replay record ({error})") from None
        if not isinstance(data, dict) or data.get("format") != MANIFEST_FORMAT:
            raise UsageError(f"{path}: not a replay record of format {MANIFEST_FORMAT}")
        data["plan"] = StreamPlan(**data["plan"])
        data["delivery"] = Delivery(**data["delivery"])
        return cls(**data)


def default_manifest_path(queue_or_host: str) -> Path:
    stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())
    safe = "".join(c if c.isalnum() or c in "-_." else "_" for c in queue_or_host)[:60]
    return manifest_dir() / f"{stamp}-{safe}-{os.getpid()}.json"


def latest_manifest() -> Path:
    """The newest run recorded in :func:`manifest_dir`."""
    found = sorted(manifest_dir().glob("*.json"), key=lambda p: p.stat().st_mtime)
    if not found:
        raise UsageError(
            f"no replay recorded in {manifest_dir()}", hint="run sspp-seed replay first, or pass --manifest"
        )
    return found[-1]
