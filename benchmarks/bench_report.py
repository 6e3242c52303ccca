"""``sspp-seed report`` on a loaded scenario: the server-side figures and the whole report, next to a baseline.

    python benchmarks/bench_report.py [--dsn URL] [--scenario load-1m] [--repeats 3] [--use URL]

Loads the scenario into a fresh database (or reports on ``--use URL``, a database that holds it already), then
times, ``--repeats`` times each:

- baseline: a plain ``SELECT count(*)`` of each of the report's four tables (what any look at the data costs);
- queries: every server-side aggregate the report runs (``actual_profile``: exact counts, the heavy tail, page
  samples of the big tables);
- report: the whole ``data_report`` (the scenario's expected figures from the model, the queries, nine charts
  drawn to SVG, the page), and the same with a PNG of each chart (``--png``).

Prints min and median of each and their ratio to the baseline's median, and this process's peak RSS (the rows
never come to Python, so it must not grow with the tables). Nothing is asserted. The database made here is
dropped at the end.
"""

from __future__ import annotations

import argparse
import resource
import statistics
import time
from collections.abc import Callable

from _common import BenchDatabases, default_dsn, install_sigterm, print_header, print_table

from sspp_fixtures.dsn import connect
from sspp_fixtures.loader import load_scenario_into
from sspp_fixtures.report import data_report
from sspp_fixtures.report._queries import REPORT_TABLES, actual_profile
from sspp_fixtures.scenarios import load_scenario


def _args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--dsn", default=default_dsn(), help="admin DSN (default $DATABASE_URL, else local postgres)")
    parser.add_argument("--scenario", default="load-1m", help="scenario to load and report on (default load-1m)")
    parser.add_argument("--repeats", type=int, default=3, help="timed runs of each measure (default 3)")
    parser.add_argument("--use", metavar="URL", help="report on this database, already loaded with --scenario")
    return parser.parse_args()


def _times(repeats: int, work: Callable[[], object]) -> list[float]:
    found = []
    for _ in range(repeats):
        started = time.perf_counter()
        work()
        found.append(time.perf_counter() - started)
    return found


def _measure(dsn: str, scenario_name: str, repeats: int) -> None:
    scenario = load_scenario(scenario_name)

    def baseline() -> None:
        with connect(dsn) as conn:
            for table in REPORT_TABLES:
                conn.execute(f"SELECT count(*) FROM {table}").fetchone()

    def queries() -> None:
        with connect(dsn) as conn:
            actual_profile(conn, scenario)

    data_report(scenario=scenario)  # warm: matplotlib's import and font cache are not what is measured
    results = {
        "baseline: SELECT count(*) of the 4 tables": _times(repeats, baseline),
        "queries: server-side aggregates (actual_profile)": _times(repeats, queries),
        "report: data_report, 9 charts as SVG": _times(repeats, lambda: data_report(dsn=dsn, scenario=scenario)),
        "report --png: also a PNG per chart": _times(
            repeats, lambda: data_report(dsn=dsn, scenario=scenario, png=True)
        ),
    }
    base = statistics.median(results["baseline: SELECT count(*) of the 4 tables"])
    rows = [
        [label, f"{min(found):.2f}", f"{statistics.median(found):.2f}", f"{statistics.median(found) / base:.1f}x"]
        for label, found in results.items()
    ]
    print_table(["measure", "min s", "median s", "vs baseline"], rows)
    with connect(dsn) as conn:
        counts = {t: conn.execute(f"SELECT count(*) FROM {t}").fetchone()[0] for t in REPORT_TABLES}  # type: ignore[index]
    print("rows: " + ", ".join(f"{t} {n:,}" for t, n in counts.items()))
    print(f"peak RSS of this process: {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MB")


def main() -> None:
    args = _args()
    install_sigterm()
    print_header(f"sspp-seed report on {args.scenario}: server-side aggregates and drawing, against count(*)", args.dsn)
    if args.use:
        _measure(args.use, args.scenario, args.repeats)
        return
    with BenchDatabases(args.dsn) as databases:
        dsn = databases.create("report")
        started = time.perf_counter()
        load_scenario_into(dsn, load_scenario(args.scenario))
        print(f"loaded {args.scenario} in {time.perf_counter() - started:.1f}s (not part of the figures)")
        _measure(dsn, args.scenario, args.repeats)


if __name__ == "__main__":
    main()
