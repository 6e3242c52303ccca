"""The measured jobs, each run in its own subprocess by the benchmark scripts (not meant to be run by hand).

``python benchmarks/_jobs.py KIND [options] --result FILE`` does one job and writes what it measured as JSON
to FILE. Timestamps are ``time.monotonic()`` (system-wide on Linux), so the parent can line them up with
its CPU samples.
"""

# factory-boy and Faker have no annotations; the baseline calls them as anyone would.
# mypy: disable-error-code="no-untyped-call,attr-defined,name-defined,misc"
from __future__ import annotations

import argparse
import json
import os
import resource
import sys
import time
from pathlib import Path
from typing import Any

T_PROCESS = time.monotonic()

EVENT_TYPES = (
    "page_view",
    "email_open",
    "inquiry",
    "demo_request",
    "trial_signup",
    "purchase",
    "renewal",
    "support_ticket",
    "churn_risk",
)


def _cpu_s() -> float:
    """CPU seconds (user + system) this process has used so far (not its children)."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def _scenario(args: argparse.Namespace) -> Any:
    from sspp_fixtures.scenarios import load_scenario

    scenario = load_scenario(args.scenario)
    return scenario.with_overrides(scale=args.scale) if args.scale else scenario


def job_naive(args: argparse.Namespace) -> dict[str, Any]:
    """The hand-written baseline: a factory_boy DictFactory with Faker fields, one event dict per build()."""
    import json as json_module
    import random
    import uuid

    import factory
    import factory.random
    from faker import Faker

    fake = Faker()
    fake.seed_instance(args.seed)
    random.seed(args.seed)
    factory.random.reseed_random(args.seed)

    def make_payload() -> str:
        return json_module.dumps(
            {
                "product": fake.word(),
                "amount": str(fake.pydecimal(left_digits=5, right_digits=2, positive=True)),
                "currency": fake.currency_code(),
                "quantity": fake.random_int(1, 20),
                "message": fake.sentence(),
            }
        )

    class NaiveEventFactory(factory.DictFactory):
        id = factory.LazyFunction(lambda: str(uuid.uuid4()))
        event_type = factory.Faker("random_element", elements=EVENT_TYPES)
        customer_id = factory.LazyFunction(lambda: f"cust_{random.randint(1, 10_000):06d}")
        company = factory.Faker("company")
        payload = factory.LazyFunction(make_payload)
        source = factory.Faker("random_element", elements=("api", "webhook", "import"))
        received_at = factory.Faker("date_time_between", start_date="-180d", end_date="now")

    NaiveEventFactory.build()  # first build pays for Faker's provider loading: not part of the rate
    started, cpu = time.monotonic(), _cpu_s()
    rows = [NaiveEventFactory.build() for _ in range(args.rows)]
    seconds = time.monotonic() - started
    return {
        "rows": {"events": len(rows)},
        "seconds": seconds,
        "cpu_s": _cpu_s() - cpu,
        "t_start": started,
        "t_end": started + seconds,
    }


def job_factories(args: argparse.Namespace) -> dict[str, Any]:
    """Our factories: ``SignalFactory.build()``, which builds the signal with its event (and the event's customer)."""
    try:
        from sspp_fixtures import factories
    except ImportError as exc:
        return {"skipped": f"factories not available ({exc})"}
    for name in ("EventFactory", "SignalFactory"):
        if not hasattr(factories, name):
            return {"skipped": f"factories not available (no {name})"}
    if hasattr(factories, "reseed"):
        factories.reseed(args.seed)
    signal_factory = factories.SignalFactory
    # What one SignalFactory.build() makes: the signal, its event, and the event's customer when it is a sub-factory.
    made = {"signals": 1, "events": 1}
    if "customer" in getattr(factories.EventFactory._meta, "declarations", {}):
        made["customers"] = 1
    signal_factory.build()  # warm-up: Faker providers per locale
    started, cpu = time.monotonic(), _cpu_s()
    for _ in range(args.rows):
        signal_factory.build()
    seconds = time.monotonic() - started
    rows = {table: count * args.rows for table, count in made.items()}
    return {"rows": rows, "seconds": seconds, "cpu_s": _cpu_s() - cpu, "t_start": started, "t_end": started + seconds}


def job_bulkgen(args: argparse.Namespace) -> dict[str, Any]:
    """Consume ``bulkgen.generate`` (COPY text) and count rows and bytes; nothing is kept."""
    from sspp_fixtures.bulkgen import generate

    scenario = _scenario(args)
    rows: dict[str, int] = {}
    size = 0
    started, cpu = time.monotonic(), _cpu_s()
    first: float | None = None
    for piece in generate(scenario, args.format, workers=args.workers, batch_rows=args.batch_rows):
        if first is None:
            first = time.monotonic()
        rows[piece.table] = rows.get(piece.table, 0) + piece.rows
        size += len(piece.data)
    seconds = time.monotonic() - started
    return {
        "rows": rows,
        "bytes": size,
        "seconds": seconds,
        "cpu_s": _cpu_s() - cpu,
        "first_piece_s": (first or started) - started,
        "t_start": started,
        "t_end": started + seconds,
    }


def job_write_copy(args: argparse.Namespace) -> dict[str, Any]:
    """Write the scenario's rows as COPY text, one file per table, readable by the server's OS user."""
    from sspp_fixtures.bulkgen import TABLE_ORDER, generate

    scenario = _scenario(args)
    folder = Path(args.dir)
    paths = {table: folder / f"{table}.copy" for table in TABLE_ORDER}
    handles = {table: path.open("wb") for table, path in paths.items()}
    rows = dict.fromkeys(TABLE_ORDER, 0)
    size = 0
    started = time.monotonic()
    try:
        for piece in generate(scenario, "copy", workers=args.workers, batch_rows=args.batch_rows):
            handles[piece.table].write(piece.data)
            rows[piece.table] += piece.rows
            size += len(piece.data)
    finally:
        for handle in handles.values():
            handle.close()
    for path in paths.values():
        path.chmod(0o644)
    return {
        "rows": rows,
        "bytes": size,
        "seconds": time.monotonic() - started,
        "files": {t: str(p) for t, p in paths.items()},
    }


def job_load(args: argparse.Namespace) -> dict[str, Any]:
    """``load_scenario_into`` a fresh database, as ``sspp-seed load`` would; phase starts are recorded."""
    t_imported_start = time.monotonic()
    from sspp_fixtures.loader import load_scenario_into

    scenario = _scenario(args)
    t_ready = time.monotonic()
    phases: list[tuple[str, float]] = []

    def progress(table: str, _rows: int) -> None:
        if table.startswith("phase:"):
            phases.append((table.removeprefix("phase:"), time.monotonic()))

    report = load_scenario_into(args.dsn, scenario, workers=args.workers, batch_rows=args.batch_rows, progress=progress)
    t_done = time.monotonic()
    return {
        "rows": report.rows,
        "seconds": report.seconds,
        "bytes": report.bytes_sent,
        "workers": report.workers,
        "phases": phases,
        "t_process": T_PROCESS,
        "import_s": t_ready - t_imported_start,
        "t_done": t_done,
    }


JOBS = {
    "naive": job_naive,
    "factories": job_factories,
    "bulkgen": job_bulkgen,
    "write-copy": job_write_copy,
    "load": job_load,
}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("kind", choices=sorted(JOBS))
    parser.add_argument("--result", required=True)
    parser.add_argument("--scenario", default="load-100k")
    parser.add_argument("--scale", type=float, default=None)
    parser.add_argument("--workers", type=int, default=None)
    parser.add_argument("--batch-rows", type=int, default=50_000)
    parser.add_argument("--format", default="copy")
    parser.add_argument("--rows", type=int, default=10_000)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--dir", default=None)
    parser.add_argument("--dsn", default=None)
    args = parser.parse_args(argv)
    result = JOBS[args.kind](args)
    result["pid"] = os.getpid()
    Path(args.result).write_text(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
