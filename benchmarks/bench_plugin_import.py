"""What the plugin costs a pytest run that uses no database: import time, and a whole run with and without it.

    python benchmarks/bench_plugin_import.py [--repeats 15] [--baseline-ref REF]

pytest imports the plugin in every run of an environment where sspp-fixtures is installed. Three figures, each
min / median over ``--repeats`` fresh interpreters, the cases interleaved:

- ``python -X importtime``: the plugin module's cumulative import time once pytest is imported (pytest's own
  modules excluded: any plugin finds them loaded); with ``--baseline-ref``, the same for the package as it is at
  that git ref (extracted to a scratch folder, put first on ``PYTHONPATH``), e.g. the commit before the lazy
  imports;
- a pytest run of one trivial test file (no database), with the plugin and with ``-p no:sspp``, every other
  plugin of the environment loaded as usual;
- the same with only our plugin (``PYTEST_DISABLE_PLUGIN_AUTOLOAD=1``, ``-p sspp_fixtures.pytest_plugin.plugin``)
  against no plugin at all: the other plugins' own costs and noise left out.

Nothing is asserted: tests/plugin/test_plugin_import.py checks what the plugin imports (structural, not timed).
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from _common import print_header, print_table

PLUGIN = "sspp_fixtures.pytest_plugin.plugin"
HEAVY = ("psycopg", "numpy", "faker", "sspp_fixtures.server", "sspp_fixtures.templates", "sspp_fixtures.scenarios")


def _pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    pos = (len(ordered) - 1) * q / 100.0
    low = int(pos)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (pos - low)


def import_ms(cwd: Path, pythonpath: Path | None = None) -> tuple[float, list[str]]:
    """The plugin's cumulative import time (ms) after pytest, and which heavy modules it pulled in."""
    code = f"import pytest, sys; import {PLUGIN}; print(sorted(m for m in sys.modules))"
    env = dict(os.environ)
    if pythonpath is not None:
        env["PYTHONPATH"] = str(pythonpath)
    out = subprocess.run(
        [sys.executable, "-X", "importtime", "-c", code], capture_output=True, text=True, check=True, env=env, cwd=cwd
    )
    cumulative = 0.0
    for line in out.stderr.splitlines():
        match = re.match(r"import time:\s+\d+ \|\s+(\d+) \|\s*(\S+)$", line)
        if match and match.group(2) == PLUGIN:
            cumulative = int(match.group(1)) / 1000.0
    modules = out.stdout
    heavy = [name for name in HEAVY if f"'{name}'" in modules]
    return cumulative, heavy


def run_s(folder: Path, args: list[str], env: dict[str, str]) -> float:
    started = time.monotonic()
    subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", *args, "test_plain.py"],
        cwd=folder,
        env=env,
        capture_output=True,
        check=True,
    )
    return time.monotonic() - started


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeats", type=int, default=15, help="fresh interpreters per case (default 15)")
    parser.add_argument(
        "--baseline-ref", default=None, help="git ref whose sspp_fixtures package is timed beside this one"
    )
    args = parser.parse_args(argv)
    print_header("bench_plugin_import: the plugin's cost to a run without a database", None, scaling=False)

    env = {k: v for k, v in os.environ.items() if k != "PYTEST_ADDOPTS"}
    alone = dict(env, PYTEST_DISABLE_PLUGIN_AUTOLOAD="1")
    cases: list[tuple[str, list[str], dict[str, str]]] = [
        ("pytest, all plugins", [], env),
        ("pytest, all plugins but -p no:sspp", ["-p", "no:sspp"], env),
        ("pytest, our plugin alone", ["-p", PLUGIN], alone),
        ("pytest, no plugin at all", [], alone),
    ]
    imports: list[float] = []
    baseline: list[float] = []
    heavy: set[str] = set()
    baseline_heavy: set[str] = set()
    walls: dict[str, list[float]] = {label: [] for label, _, _ in cases}
    with tempfile.TemporaryDirectory(prefix="sspp_bench_import_") as tmp:
        folder = Path(tmp)
        (folder / "test_plain.py").write_text("def test_plain():\n    assert 1 + 1 == 2\n", encoding="utf-8")
        old = folder / "baseline"
        if args.baseline_ref:
            old.mkdir()
            root = Path(__file__).resolve().parent.parent
            archive = subprocess.run(
                ["git", "archive", args.baseline_ref, "sspp_fixtures"], cwd=root, capture_output=True, check=True
            ).stdout
            subprocess.run(["tar", "-x", "-C", str(old)], input=archive, check=True)
        for _ in range(args.repeats):
            ms, pulled = import_ms(folder)
            imports.append(ms)
            heavy.update(pulled)
            if args.baseline_ref:
                ms, pulled = import_ms(folder, old)
                baseline.append(ms)
                baseline_heavy.update(pulled)
            for label, extra, case_env in cases:
                walls[label].append(run_s(folder, extra, case_env))

    print(f"== import of {PLUGIN} after pytest (python -X importtime, cumulative), ms")
    print(f"this tree: min {min(imports):.1f}, median {_pct(imports, 50):.1f} over {len(imports)} interpreters")
    print(f"  heavy modules it imported: {', '.join(sorted(heavy)) or 'none'}")
    if baseline:
        print(f"{args.baseline_ref}: min {min(baseline):.1f}, median {_pct(baseline, 50):.1f}")
        print(f"  heavy modules it imported: {', '.join(sorted(baseline_heavy)) or 'none'}")
    print()
    print(f"== a pytest run of one trivial test, wall s over {args.repeats} runs")
    rows = [[label, f"{min(v):.3f}", f"{_pct(v, 50):.3f}"] for label, v in walls.items()]
    print_table(["case", "min", "median"], rows)
    for with_it, without in ((0, 1), (2, 3)):
        a, b = walls[cases[with_it][0]], walls[cases[without][0]]
        print(
            f"{cases[with_it][0]} - {cases[without][0]}: {1000 * (min(a) - min(b)):+.0f} ms (min), "
            f"{1000 * (_pct(a, 50) - _pct(b, 50)):+.0f} ms (median)"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
