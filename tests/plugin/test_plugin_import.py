"""Loading the plugin imports nothing heavy: pytest imports it in every run of an environment where sspp-fixtures
is installed, whether the run uses a database or not. psycopg, the generator's libraries and the server and
template code load when a test first asks for a database (measured in benchmarks/bench_plugin_import.py).

Each check runs in a fresh interpreter, so what this test process imported does not hide anything.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from sspp_fixtures.server import Server

#: Modules the plugin must not import at load (each costs tens of milliseconds or more).
HEAVY = (
    "psycopg",
    "psycopg_binary",
    "numpy",
    "faker",
    "factory",
    "hypothesis",
    "redis",
    "sspp_fixtures.dsn",
    "sspp_fixtures.server",
    "sspp_fixtures.templates",
    "sspp_fixtures.scenarios",
    "sspp_fixtures.loader",
    "sspp_fixtures.bulkgen",
    "sspp_fixtures.factories",
    "sspp_fixtures.replay",
    "sspp_fixtures.pytest_plugin._connection",
    "sspp_fixtures.pytest_plugin._isolation",
)

_PROBE = textwrap.dedent(
    """
    import json, sys
    import pytest
    before = set(sys.modules)
    {body}
    print(json.dumps(sorted(set(sys.modules) - before)))
    """
)


def _imported_by(body: str, cwd: Path) -> list[str]:
    env = {k: v for k, v in os.environ.items() if k != "PYTEST_ADDOPTS"}
    # Other plugins of this environment (Faker's, pytest-postgresql's) import their own heavy modules: load ours only.
    env["PYTEST_DISABLE_PLUGIN_AUTOLOAD"] = "1"
    out = subprocess.run(
        [sys.executable, "-c", _PROBE.format(body=body)],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    ).stdout
    return list(json.loads(out.splitlines()[-1]))


def _heavy(modules: list[str]) -> list[str]:
    return [m for m in modules if m.split(".")[0] in HEAVY or any(m == h or m.startswith(h + ".") for h in HEAVY)]


def test_plugin_module_imports_nothing_heavy(tmp_path: Path) -> None:
    imported = _imported_by("import sspp_fixtures.pytest_plugin.plugin", tmp_path)
    assert "sspp_fixtures.pytest_plugin.plugin" in imported
    assert _heavy(imported) == []


def test_a_pytest_run_without_a_database_imports_nothing_heavy(tmp_path: Path) -> None:
    """The whole of pytest's start-up with the plugin: options, ini, markers, configure, a test, unconfigure."""
    (tmp_path / "test_plain.py").write_text("def test_plain():\n    assert 1 + 1 == 2\n", encoding="utf-8")
    body = textwrap.dedent(
        """
        plugin = "sspp_fixtures.pytest_plugin.plugin"
        code = pytest.main(["-q", "-p", "no:cacheprovider", "-p", plugin, "test_plain.py"])
        assert code == 0, code
        assert "sspp_fixtures.pytest_plugin.plugin" in sys.modules, "the plugin was not loaded"
        """
    )
    imported = _imported_by(body, tmp_path)
    assert _heavy(imported) == []


def test_an_xdist_controller_without_a_database_imports_nothing_heavy(tmp_path: Path) -> None:
    """The controller of ``-n 2``: its workers' bookkeeping (the run's folder) is cleaned up without the server code."""
    (tmp_path / "test_plain.py").write_text("def test_plain():\n    assert 1 + 1 == 2\n", encoding="utf-8")
    body = textwrap.dedent(
        """
        plugin = "sspp_fixtures.pytest_plugin.plugin"
        args = ["-q", "-p", "no:cacheprovider", "-p", "xdist.plugin", "-p", plugin, "-n", "2", "test_plain.py"]
        code = pytest.main(args)
        assert code == 0, code
        assert "xdist.dsession" in sys.modules, "xdist did not run"
        """
    )
    imported = _imported_by(body, tmp_path)
    assert _heavy(imported) == []


def test_the_connection_class_is_still_exported(tmp_path: Path) -> None:
    """``from sspp_fixtures.pytest_plugin import SsppConnection`` works; it loads psycopg then, not before."""
    imported = _imported_by(
        "from sspp_fixtures.pytest_plugin import SsppConnection\nassert SsppConnection.__name__ == 'SsppConnection'",
        tmp_path,
    )
    assert "psycopg" in imported


@pytest.mark.parametrize("name", HEAVY)
def test_the_heavy_list_names_real_modules(name: str) -> None:
    """A renamed module would make the check above pass for nothing."""
    import importlib.util

    assert importlib.util.find_spec(name) is not None, f"{name} is not importable: update HEAVY"


#: The data code: what a template's build needs, and a test whose template exists does not.
DATA_CODE = (
    "numpy",
    "faker",
    "pydantic",
    "ruamel",
    "factory",
    "sspp_fixtures.model",
    "sspp_fixtures.scenarios",
    "sspp_fixtures.schema",
    "sspp_fixtures.loader",
    "sspp_fixtures.bulkgen",
)


def test_a_test_whose_template_exists_imports_no_data_code(pg_server: Server, tmp_path: Path) -> None:
    """The template memo: the first run finds (or builds) the template and notes its name; the second loads no
    scenario and none of the generator's libraries (Faker, NumPy, pydantic: ~0.9 s of a process's start)."""
    (tmp_path / "test_db.py").write_text(
        "def test_db(sspp_db):\n    assert sspp_db.execute('SELECT count(*) FROM customers').fetchone()[0] > 0\n",
        encoding="utf-8",
    )
    body = textwrap.dedent(
        """
        import os
        os.environ["SSPP_FIXTURES_CACHE"] = {cache!r}
        plugin = "sspp_fixtures.pytest_plugin.plugin"
        code = pytest.main(["-q", "-p", "no:cacheprovider", "-p", plugin, "--sspp-dsn", {dsn!r}, "test_db.py"])
        assert code == 0, code
        """
    ).format(cache=str(tmp_path / "cache"), dsn=pg_server.dsn)
    first = _imported_by(body, tmp_path)
    assert "sspp_fixtures.scenarios" in first, "the first run should have loaded the scenario"
    second = _imported_by(body, tmp_path)
    assert "psycopg" in second, "the second run took no database"
    assert [m for m in second if any(m == d or m.startswith(d + ".") for d in DATA_CODE)] == []


def test_only_the_plugin_package_is_assertion_rewritten(tmp_path: Path) -> None:
    """pytest marks every module of a plugin's distribution for assertion rewriting: each is then compiled from
    source in every run where no rewritten copy is cached (``PYTHONDONTWRITEBYTECODE``). The plugin narrows the mark
    to its own package; the server, template and generator code load from their ``.pyc``."""
    (tmp_path / "test_loaders.py").write_text(
        textwrap.dedent(
            """
            import json, sys
            import sspp_fixtures.templates._reuse


            def test_loaders():
                names = ("sspp_fixtures.templates._reuse", "sspp_fixtures.pytest_plugin.plugin")
                loaders = {name: type(sys.modules[name].__loader__).__name__ for name in names}
                print("LOADERS " + json.dumps(loaders))
            """
        ),
        encoding="utf-8",
    )
    env = {k: v for k, v in os.environ.items() if k not in ("PYTEST_ADDOPTS", "PYTEST_DISABLE_PLUGIN_AUTOLOAD")}
    env["PYTHONDONTWRITEBYTECODE"] = "1"
    out = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-s", "-p", "no:cacheprovider", "test_loaders.py"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )
    assert out.returncode == 0, out.stdout + out.stderr
    line = next(line for line in out.stdout.splitlines() if line.startswith("LOADERS "))
    loaders = json.loads(line.removeprefix("LOADERS "))
    assert loaders["sspp_fixtures.pytest_plugin.plugin"] == "AssertionRewritingHook"
    assert loaders["sspp_fixtures.templates._reuse"] == "SourceFileLoader"
