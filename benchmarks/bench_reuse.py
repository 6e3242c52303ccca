"""Templates and database reuse: what a template build and each ``release()`` path cost, next to their baselines.

    python benchmarks/bench_reuse.py [--dsn URL] [--scenario smoke] [--rounds 100]

- Template build: ``ensure_template`` for the scenario with a seed of this run's own (so it really builds),
  next to the baseline ``load_scenario_into`` of the same scenario into an empty database (the build is that
  load plus the reuse machinery and the rename into a template).
- ``release()`` per path (clean: the test only read; restored: one insert + one jsonb update; DDL undone in place: a
  CREATE TABLE and a CREATE INDEX on a seeded table, back to back; ALTER TABLE undone in place: ADD COLUMN and ADD
  CONSTRAINT on a seeded table, back to back; put back in place, 20 each back to back: ALTER COLUMN ... SET DEFAULT
  + DROP NOT NULL on seeded columns, DROP INDEX of a seeded btree index and of the seeded GIN index (each rebuilt);
  ALTER COLUMN ... TYPE of a column no index or constraint uses, put back in place (the table emptied, the type
  put back, the rows reloaded), back to back; recycled: an ALTER COLUMN ... TYPE of an indexed column, which cannot
  be undone in place, so the database is replaced under its name by
  a spare clone, with the spares ready and back to back, where the clones cannot keep up), a whole test (acquire,
  connect, query, close, release), next to the baseline: a bare connect + ``SELECT 1`` + close, no pool.

Nothing is asserted about times: the figures are printed side by side. The template and every database made
here are dropped at the end.
"""

from __future__ import annotations

import argparse
import random
import statistics
import time

import psycopg
from _common import BenchDatabases, default_dsn, install_sigterm, print_header, print_table

from sspp_fixtures.loader import load_scenario_into
from sspp_fixtures.scenarios import load_scenario
from sspp_fixtures.templates import TestDatabases, drop_templates, ensure_template

_WRITE = (
    "INSERT INTO events (event_type, customer_id, payload) VALUES ('purchase', 'c', '{}'); "
    "UPDATE signals SET signal_data = signal_data || '{\"seen\": true}' "
    "WHERE id = (SELECT id FROM signals ORDER BY id LIMIT 1)"
)
#: What a schema test typically does to a seeded table: undone in place.
ADDING_DDL = (
    "ALTER TABLE customers ADD COLUMN bench_extra int DEFAULT 0, ADD CONSTRAINT bench_check CHECK (bench_extra >= 0)"
)
#: What a test may change in seeded columns and indexes: put back in place (defaults, NOT NULL, indexes rebuilt).
PUT_BACK_DDL = {
    "column_in_place": "ALTER TABLE customers ALTER COLUMN name SET DEFAULT 'bench', "
    "ALTER COLUMN segment DROP DEFAULT, ALTER COLUMN segment DROP NOT NULL",
    "btree_in_place": "DROP INDEX idx_events_customer_received",
    "gin_in_place": "DROP INDEX idx_signals_data",
}
#: What cannot be undone in place: the database is replaced by a clone.
REPLACING_DDL = "ALTER TABLE customers ALTER COLUMN segment TYPE varchar(40)"
#: A column's type changed where no index or constraint uses it: put back in place (the table reloaded whole).
RETYPING_DDL = "ALTER TABLE customers ALTER COLUMN name TYPE varchar(300)"


def _args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--dsn", default=default_dsn(), help="admin DSN (default $DATABASE_URL, else local postgres)")
    parser.add_argument("--scenario", default="smoke", help="scenario the template holds (default smoke)")
    parser.add_argument("--rounds", type=int, default=100, help="tests per clean/restored sample (default 100)")
    return parser.parse_args()


def _ms(started: float) -> float:
    return (time.perf_counter() - started) * 1000


def _row(label: str, samples: list[float]) -> list[str]:
    ordered = sorted(samples)
    p95 = ordered[min(len(ordered) - 1, round(0.95 * len(ordered)) - 1)]
    return [label, f"{ordered[0]:.2f}", f"{statistics.median(ordered):.2f}", f"{p95:.2f}", str(len(ordered))]


def _back_to_back(
    pool: TestDatabases, statement: str, times: int, *, path: str = "restored", spares: bool = False
) -> list[float]:
    """Milliseconds for a test that ran ``statement``: its release (which must take ``path``) plus the next test's
    acquire and release, ``times`` in a row; with ``spares``, each round first waits for the spare clones."""
    samples = []
    for _ in range(times):
        if spares:
            pool.wait_spares()
        db = pool.acquire()
        with psycopg.connect(db.dsn, autocommit=True) as conn:
            conn.execute(statement)
        started = time.perf_counter()
        assert pool.release(db).path == path
        pool.release(pool.acquire())  # the next test's setup and its first restore
        samples.append(_ms(started))
    return samples


def _release_samples(pool: TestDatabases, rounds: int) -> dict[str, list[float]]:
    """Milliseconds per release path, per whole test, and for the baseline connect."""
    found: dict[str, list[float]] = {key: [] for key in ("clean", "restored", "test", "connect")}
    for i in range(rounds):
        started = time.perf_counter()
        db = pool.acquire()
        with psycopg.connect(db.dsn, autocommit=True) as conn:
            conn.execute(_WRITE if i % 2 else "SELECT count(*) FROM signals")
        outcome = pool.release(db)
        found["test"].append(_ms(started))
        found["restored" if i % 2 else "clean"].append(outcome.ms)
    for _ in range(30):
        started = time.perf_counter()
        with psycopg.connect(db.dsn, autocommit=True) as conn:
            conn.execute("SELECT 1")
        found["connect"].append(_ms(started))
    found["ddl_in_place"] = _back_to_back(
        pool, "CREATE TABLE bench_notes (id int PRIMARY KEY, body text); CREATE INDEX ON customers (name)", 30
    )
    found["alter_in_place"] = _back_to_back(pool, ADDING_DDL, 30)
    for key, statement in PUT_BACK_DDL.items():
        found[key] = _back_to_back(pool, statement, 20)
    found["retyped"] = _back_to_back(pool, RETYPING_DDL, 20)
    found["recycled"] = _back_to_back(pool, REPLACING_DDL, 10, path="recycled", spares=True)
    found["recycled_b2b"] = _back_to_back(pool, REPLACING_DDL, 20, path="recycled")
    return found


def main() -> None:
    args = _args()
    install_sigterm()
    print_header("Templates and reuse: a template build and release() per path, against their baselines", args.dsn)
    scenario = load_scenario(args.scenario).with_overrides(seed=random.randrange(10**9))
    with BenchDatabases(args.dsn) as databases:
        started = time.perf_counter()
        load_scenario_into(databases.create("bare_load"), scenario)
        bare = time.perf_counter() - started
        template = ensure_template(args.dsn, scenario)
        built = template.build_seconds
        try:
            print_table(
                ["template of " + args.scenario, "seconds", "x baseline"],
                [
                    ["baseline: load_scenario_into an empty database", f"{bare:.2f}", "1.00"],
                    ["ensure_template (built now)", f"{built:.2f}", f"{built / bare:.2f}"],
                ],
            )
            with TestDatabases(args.dsn, template, worker_id="bench", spares=2) as pool:
                found = _release_samples(pool, args.rounds)
        finally:
            drop_templates(args.dsn, names=[template.name])
    print_table(
        ["per test", "min ms", "p50 ms", "p95 ms", "n"],
        [
            _row("baseline: connect + SELECT 1 + close, no pool", found["connect"]),
            _row("release() clean (the test only read)", found["clean"]),
            _row("release() restored (1 insert + 1 jsonb update)", found["restored"]),
            _row("whole test: acquire, connect, query, close, release", found["test"]),
            _row("DDL undone in place, back to back: release + next acquire/release", found["ddl_in_place"]),
            _row("recycle, spares ready: release + next acquire/release", found["recycled"]),
            _row("ALTER TABLE ... ADD COLUMN/CONSTRAINT undone in place, back to back", found["alter_in_place"]),
            _row("ALTER COLUMN SET/DROP DEFAULT + DROP NOT NULL put back, back to back", found["column_in_place"]),
            _row("DROP INDEX (btree, 2 columns) rebuilt in place, back to back", found["btree_in_place"]),
            _row("DROP INDEX (GIN on jsonb) rebuilt in place, back to back", found["gin_in_place"]),
            _row("ALTER COLUMN ... TYPE put back in place (table reloaded), back to back", found["retyped"]),
            _row("recycle, back to back (bound by CREATE DATABASE)", found["recycled_b2b"]),
        ],
    )


if __name__ == "__main__":
    main()
