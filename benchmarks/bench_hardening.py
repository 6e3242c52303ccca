"""What the field hardening costs and saves: refusing a huge scenario document, and reading a dump before psql.

- A scenario mapping of 100,000 keys: time and peak memory of ``sspp-seed scenarios validate`` on it (it once
  took 29 s and 227 MB, refused for the wrong reason), next to the same command on the built-in ``demo``.
- The restore's SQL reader (``ScriptGuard``): seconds of CPU per GB of plain dump, on a synthetic dump of
  2.2M COPY rows (load-1m's size), next to a bare copy of the same bytes in the same blocks.

    python benchmarks/bench_hardening.py
"""

from __future__ import annotations

import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from _common import fmt_mb, print_header, print_table

from sspp_fixtures.backup._script import ScriptGuard
from sspp_fixtures.scenarios import list_scenarios

_BLOCK = 1 << 20
_DUMP_HEAD = (
    b"--\n-- PostgreSQL database dump\n--\n\n-- Dumped from database version 15.20\n"
    b"-- Dumped by pg_dump version 15.20\n\nSET client_encoding = 'UTF8';\n"
    b"COPY public.events (id, event_type, customer_id, payload, received_at) FROM stdin;\n"
)
_ROW = (
    b"4a1f0c2e-8d1b-4c55-9a7e-1b2c3d4e5f60\tpurchase\tcust_000042\t"
    b'{"amount": 1249.5, "currency": "EUR", "product": "Analytics Pro", "quantity": 3}\t2026-06-01 10:15:00+00\n'
)


def _validate(path: Path) -> tuple[float, int, int]:
    """Seconds, exit code and peak RSS (bytes) of ``sspp-seed scenarios validate PATH`` in its own process."""
    started = time.monotonic()
    done = subprocess.run(
        [sys.executable, "-m", "sspp_fixtures", "scenarios", "validate", str(path)], capture_output=True, check=False
    )
    seconds = time.monotonic() - started
    return seconds, done.returncode, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss * 1024


def _guard_seconds(data: bytes) -> tuple[float, float]:
    """CPU seconds to pass ``data`` through the guard, and through a bare block copy."""
    started = time.process_time()
    guard = ScriptGuard(Path("synthetic.sql"), "15.20")
    for at in range(0, len(data), _BLOCK):
        guard(data[at : at + _BLOCK])
    guard.flush()
    guarded = time.process_time() - started
    started = time.process_time()
    for at in range(0, len(data), _BLOCK):
        bytes(data[at : at + _BLOCK])
    return guarded, time.process_time() - started


def main() -> None:
    print_header("Field hardening: huge scenarios refused early; the restore's SQL reader", None, scaling=False)
    with tempfile.TemporaryDirectory(prefix="sspp-bench-hardening-") as folder:
        huge = Path(folder) / "huge.yaml"
        huge.write_text("".join(f"k{i}: {i}\n" for i in range(100_000)), encoding="utf-8")
        rows = []
        # ru_maxrss of RUSAGE_CHILDREN is the largest child so far: measure the small one first.
        for label, path in (("demo (built-in)", list_scenarios()["demo"]), ("mapping of 100,000 keys", huge)):
            seconds, code, peak = _validate(path)
            rows.append([label, f"{seconds:.2f} s", str(code), fmt_mb(peak)])
        print_table(["scenarios validate", "wall", "exit", "peak RSS (largest child so far)"], rows)
    data = _DUMP_HEAD + _ROW * 2_200_000 + b"\\.\n\n--\n-- PostgreSQL database dump complete\n--\n"
    guarded, bare = _guard_seconds(data)
    gigabytes = len(data) / 1e9
    print_table(
        ["plain dump read", "size", "CPU s", "CPU s per GB"],
        [
            ["ScriptGuard", f"{gigabytes:.2f} GB", f"{guarded:.2f}", f"{guarded / gigabytes:.2f}"],
            ["bare block copy", f"{gigabytes:.2f} GB", f"{bare:.2f}", f"{bare / gigabytes:.2f}"],
        ],
    )


if __name__ == "__main__":
    main()
