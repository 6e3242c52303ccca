"""Consumer projects written with the client libraries services use, each a service module and a test file (no
conftest), as a service would write them: a psycopg_pool ``ConnectionPool`` kept for the whole run, a kept
SQLAlchemy engine (sync, and async on asyncpg), asyncpg and psycopg2 connections, the Django ORM.

Each suite does DDL in the middle (creates a table and an index; alters a seeded table, which recycles the
database), has the code under test truncate a table right after the test read it with ``sspp_db``, and checks in
every test that it sees exactly the seeded data. All six run in-process (pytester, with pytest-django) and in a
subprocess under ``-n 2`` (without pytest-django).
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest

import sspp_fixtures.scenarios  # noqa: F401  (numpy with it: an in-process run must not import numpy a second time)
from sspp_fixtures.dsn import connect
from sspp_fixtures.loader import load_scenario_into
from sspp_fixtures.scenarios import load_scenario
from sspp_fixtures.server import Server
from tests.fix_db import BackgroundDrops, new_database
from tests.plugin.test_consumer_project import CHECKSUM_SQL

ROOT = Path(__file__).resolve().parents[2]

#: What every service runs on its own connections to check the data (``{smoke!r}`` is filled in).
SEEDED = """
CHECKSUM_SQL = {checksum_sql!r}
SMOKE = {smoke!r}
NEW_TABLE = "CREATE TABLE report_cache (id serial PRIMARY KEY, body text)"
NEW_INDEX = "CREATE INDEX report_cache_body ON report_cache (body)"
ALTER_SEEDED = "ALTER TABLE customers ALTER COLUMN segment TYPE varchar(40)"  # indexed, checked: replaced
"""

PROJECTS: dict[str, str] = {
    # (a) psycopg_pool: one pool per process, opened on the first request, as an app's start-up would
    "svc_pool.py": """
from psycopg_pool import ConnectionPool

from seeded import ALTER_SEEDED, CHECKSUM_SQL, NEW_TABLE

_pool = None


def pool(dsn):
    global _pool
    if _pool is None:
        _pool = ConnectionPool(dsn, check=ConnectionPool.check_connection, open=True)
    return _pool


def checksum(dsn):
    with pool(dsn).connection() as conn:
        return conn.execute(CHECKSUM_SQL).fetchone()[0]


def run(dsn, statement):
    with pool(dsn).connection() as conn:
        conn.execute(statement)


def close():
    if _pool is not None:
        _pool.close()
""",
    "test_pool.py": """
import pytest

import svc_pool as svc
from seeded import ALTER_SEEDED, NEW_INDEX, NEW_TABLE, SMOKE


@pytest.fixture(scope="module", autouse=True)
def _shutdown():
    yield
    svc.close()


@pytest.fixture(autouse=True)
def _replace_ended_connections(sspp_dsn):  # after a test that changed a seeded table: no 1-2-4 s check backoff
    svc.pool(sspp_dsn).check()


def test_reads(sspp_dsn):
    assert svc.checksum(sspp_dsn) == SMOKE


def test_writes(sspp_dsn):
    assert svc.checksum(sspp_dsn) == SMOKE
    svc.run(sspp_dsn, "INSERT INTO customers (customer_id, name) VALUES ('cust_pool', 'Pool Co')")


def test_creates_a_table_and_an_index(sspp_dsn):
    assert svc.checksum(sspp_dsn) == SMOKE
    svc.run(sspp_dsn, NEW_TABLE)
    svc.run(sspp_dsn, NEW_INDEX)


def test_alters_a_seeded_table(sspp_dsn):
    assert svc.checksum(sspp_dsn) == SMOKE
    svc.run(sspp_dsn, ALTER_SEEDED)


def test_truncates_right_after_the_test_read(sspp_db, sspp_dsn):
    assert svc.checksum(sspp_dsn) == SMOKE
    assert sspp_db.execute("SELECT count(*) FROM signals").fetchone()[0] > 0
    svc.run(sspp_dsn, "TRUNCATE signals")
    assert sspp_db.execute("SELECT count(*) FROM signals").fetchone()[0] == 0


def test_seeded_again(sspp_dsn):
    assert svc.checksum(sspp_dsn) == SMOKE
""",
    # (b) SQLAlchemy 2, sync: one engine per process
    "svc_sqla.py": """
from sqlalchemy import create_engine, text

from seeded import CHECKSUM_SQL

_engine = None


def engine(url):
    global _engine
    if _engine is None:
        _engine = create_engine(url, pool_pre_ping=True)
    return _engine


def checksum(url):
    with engine(url).connect() as conn:
        return conn.execute(text(CHECKSUM_SQL)).scalar_one()


def run(url, statement):
    with engine(url).begin() as conn:
        conn.exec_driver_sql(statement)


def close():
    if _engine is not None:
        _engine.dispose()
""",
    "test_sqla.py": """
import pytest

import svc_sqla as svc
from seeded import ALTER_SEEDED, NEW_INDEX, NEW_TABLE, SMOKE


@pytest.fixture(scope="module", autouse=True)
def _shutdown():
    yield
    svc.close()


def test_reads(sspp_url):
    assert svc.checksum(sspp_url("psycopg")) == SMOKE


def test_writes(sspp_url):
    assert svc.checksum(sspp_url("psycopg")) == SMOKE
    svc.run(sspp_url("psycopg"), "DELETE FROM events WHERE event_type = 'page_view'")


def test_creates_a_table_and_an_index(sspp_url):
    assert svc.checksum(sspp_url("psycopg")) == SMOKE
    svc.run(sspp_url("psycopg"), NEW_TABLE)
    svc.run(sspp_url("psycopg"), NEW_INDEX)


def test_alters_a_seeded_table(sspp_url):
    assert svc.checksum(sspp_url("psycopg")) == SMOKE
    svc.run(sspp_url("psycopg"), ALTER_SEEDED)


def test_truncates_right_after_the_test_read(sspp_db, sspp_url):
    assert svc.checksum(sspp_url("psycopg")) == SMOKE
    assert sspp_db.execute("SELECT count(*) FROM signals").fetchone()[0] > 0
    svc.run(sspp_url("psycopg"), "TRUNCATE signals")
    assert sspp_db.execute("SELECT count(*) FROM signals").fetchone()[0] == 0


def test_seeded_again(sspp_url):
    assert svc.checksum(sspp_url("psycopg")) == SMOKE
""",
    # (c) SQLAlchemy async engine on asyncpg, one per process; the module's tests share one event loop
    "svc_sqla_async.py": """
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine

from seeded import CHECKSUM_SQL

_engine = None


def engine(url):
    global _engine
    if _engine is None:
        _engine = create_async_engine(url, pool_pre_ping=True)
    return _engine


async def checksum(url):
    async with engine(url).connect() as conn:
        return (await conn.execute(text(CHECKSUM_SQL))).scalar_one()


async def run(url, statement):
    async with engine(url).begin() as conn:
        await conn.exec_driver_sql(statement)


async def close():
    if _engine is not None:
        await _engine.dispose()
""",
    "test_sqla_async.py": """
import pytest
import pytest_asyncio

import svc_sqla_async as svc
from seeded import ALTER_SEEDED, NEW_INDEX, NEW_TABLE, SMOKE

pytestmark = pytest.mark.asyncio(loop_scope="module")


@pytest_asyncio.fixture(scope="module", loop_scope="module", autouse=True)
async def _shutdown():
    yield
    await svc.close()


async def test_reads(sspp_url):
    assert await svc.checksum(sspp_url("asyncpg")) == SMOKE


async def test_writes(sspp_url):
    assert await svc.checksum(sspp_url("asyncpg")) == SMOKE
    await svc.run(sspp_url("asyncpg"), "UPDATE customers SET name = 'Renamed'")


async def test_creates_a_table_and_an_index(sspp_url):
    assert await svc.checksum(sspp_url("asyncpg")) == SMOKE
    await svc.run(sspp_url("asyncpg"), NEW_TABLE)
    await svc.run(sspp_url("asyncpg"), NEW_INDEX)


async def test_alters_a_seeded_table(sspp_url):
    assert await svc.checksum(sspp_url("asyncpg")) == SMOKE
    await svc.run(sspp_url("asyncpg"), ALTER_SEEDED)


async def test_truncates_right_after_the_test_read(sspp_adb, sspp_url):
    assert await svc.checksum(sspp_url("asyncpg")) == SMOKE
    assert (await (await sspp_adb.execute("SELECT count(*) FROM signals")).fetchone())[0] > 0
    await svc.run(sspp_url("asyncpg"), "TRUNCATE signals")
    assert (await (await sspp_adb.execute("SELECT count(*) FROM signals")).fetchone())[0] == 0


async def test_seeded_again(sspp_url):
    assert await svc.checksum(sspp_url("asyncpg")) == SMOKE
""",
    # (d) asyncpg, a connection per call, tests under anyio
    "svc_asyncpg.py": """
import asyncpg

from seeded import CHECKSUM_SQL


async def checksum(dsn):
    conn = await asyncpg.connect(dsn)
    try:
        return await conn.fetchval(CHECKSUM_SQL)
    finally:
        await conn.close()


async def run(dsn, statement):
    conn = await asyncpg.connect(dsn)
    try:
        await conn.execute(statement)
    finally:
        await conn.close()
""",
    "test_asyncpg.py": """
import pytest

import svc_asyncpg as svc
from seeded import ALTER_SEEDED, NEW_INDEX, NEW_TABLE, SMOKE

pytestmark = pytest.mark.anyio


async def test_reads(sspp_dsn):
    assert await svc.checksum(sspp_dsn) == SMOKE


async def test_writes(sspp_dsn):
    assert await svc.checksum(sspp_dsn) == SMOKE
    await svc.run(sspp_dsn, "INSERT INTO signals (event_type, customer_id, signal_data) VALUES ('x', 'y', '{}')")


async def test_creates_a_table_and_an_index(sspp_dsn):
    assert await svc.checksum(sspp_dsn) == SMOKE
    await svc.run(sspp_dsn, NEW_TABLE)
    await svc.run(sspp_dsn, NEW_INDEX)


async def test_alters_a_seeded_table(sspp_dsn):
    assert await svc.checksum(sspp_dsn) == SMOKE
    await svc.run(sspp_dsn, ALTER_SEEDED)


async def test_truncates_right_after_the_test_read(sspp_adb, sspp_dsn):
    assert await svc.checksum(sspp_dsn) == SMOKE
    assert (await (await sspp_adb.execute("SELECT count(*) FROM signals")).fetchone())[0] > 0
    await svc.run(sspp_dsn, "TRUNCATE signals")
    assert (await (await sspp_adb.execute("SELECT count(*) FROM signals")).fetchone())[0] == 0


async def test_seeded_again(sspp_dsn):
    assert await svc.checksum(sspp_dsn) == SMOKE
""",
    # (e) psycopg2, a connection per call
    "svc_psycopg2.py": """
import psycopg2

from seeded import CHECKSUM_SQL


def checksum(dsn):
    conn = psycopg2.connect(dsn)
    try:
        with conn.cursor() as cursor:
            cursor.execute(CHECKSUM_SQL)
            return cursor.fetchone()[0]
    finally:
        conn.close()


def run(dsn, statement):
    conn = psycopg2.connect(dsn)
    try:
        with conn, conn.cursor() as cursor:
            cursor.execute(statement)
    finally:
        conn.close()
""",
    "test_psycopg2.py": """
import svc_psycopg2 as svc
from seeded import ALTER_SEEDED, NEW_INDEX, NEW_TABLE, SMOKE


def test_reads(sspp_dsn):
    assert svc.checksum(sspp_dsn) == SMOKE


def test_writes(sspp_dsn):
    assert svc.checksum(sspp_dsn) == SMOKE
    svc.run(sspp_dsn, "DELETE FROM customers WHERE customer_id = 'cust_000003'")


def test_creates_a_table_and_an_index(sspp_dsn):
    assert svc.checksum(sspp_dsn) == SMOKE
    svc.run(sspp_dsn, NEW_TABLE)
    svc.run(sspp_dsn, NEW_INDEX)


def test_alters_a_seeded_table(sspp_dsn):
    assert svc.checksum(sspp_dsn) == SMOKE
    svc.run(sspp_dsn, ALTER_SEEDED)


def test_truncates_right_after_the_test_read(sspp_db, sspp_dsn):
    assert svc.checksum(sspp_dsn) == SMOKE
    assert sspp_db.execute("SELECT count(*) FROM signals").fetchone()[0] > 0
    svc.run(sspp_dsn, "TRUNCATE signals")
    assert sspp_db.execute("SELECT count(*) FROM signals").fetchone()[0] == 0


def test_seeded_again(sspp_dsn):
    assert svc.checksum(sspp_dsn) == SMOKE
""",
    # (f) Django ORM over the seeded tables (unmanaged models)
    "dj_settings.py": """
DATABASES = {"default": {"ENGINE": "django.db.backends.postgresql", "NAME": "set_by_the_tests"}}
INSTALLED_APPS = ["django.contrib.contenttypes"]
USE_TZ = True
SECRET_KEY = "test"
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
""",
    "svc_django.py": """
import os

import django

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "dj_settings")
django.setup()

from django.db import connection, models  # noqa: E402

from seeded import CHECKSUM_SQL  # noqa: E402


class Customer(models.Model):
    customer_id = models.CharField(max_length=100, primary_key=True)
    name = models.CharField(max_length=255)

    class Meta:
        app_label = "svc"
        managed = False
        db_table = "customers"


def checksum():
    with connection.cursor() as cursor:
        cursor.execute(CHECKSUM_SQL)
        return cursor.fetchone()[0]


def run(statement):
    with connection.cursor() as cursor:
        cursor.execute(statement)
""",
    "test_django.py": """
import svc_django as svc
from seeded import ALTER_SEEDED, NEW_INDEX, NEW_TABLE, SMOKE


def test_reads(sspp_django_db):
    assert svc.checksum() == SMOKE
    assert svc.Customer.objects.count() == 61


def test_writes(sspp_django_db):
    assert svc.checksum() == SMOKE
    svc.Customer.objects.filter(customer_id="cust_000001").update(name="Renamed")


def test_creates_a_table_and_an_index(sspp_django_db):
    assert svc.checksum() == SMOKE
    svc.run(NEW_TABLE)
    svc.run(NEW_INDEX)


def test_alters_a_seeded_table(sspp_django_db):
    assert svc.checksum() == SMOKE
    svc.run(ALTER_SEEDED)


def test_truncates_right_after_the_test_read(sspp_db, sspp_django_db):
    assert svc.checksum() == SMOKE
    assert sspp_db.execute("SELECT count(*) FROM signals").fetchone()[0] > 0
    svc.run("TRUNCATE signals")
    assert sspp_db.execute("SELECT count(*) FROM signals").fetchone()[0] == 0


def test_seeded_again(sspp_django_db):
    assert svc.checksum() == SMOKE
    assert svc.Customer.objects.get(customer_id="cust_000001").name != "Renamed"
""",
    "pytest.ini": """
[pytest]
asyncio_default_fixture_loop_scope = function
""",
}
N_TESTS = 6 * 6


@pytest.fixture(scope="module")
def projects(pg_server: Server, tmp_path_factory: pytest.TempPathFactory, background_drops: BackgroundDrops) -> Path:
    """The six projects side by side in one folder, with the seeded data's checksum in ``seeded.py``."""
    database = new_database(pg_server, "smoke")
    dsn = pg_server.dsn_for(database)
    load_scenario_into(dsn, load_scenario("smoke"), workers=0)
    with connect(dsn) as conn:
        smoke = conn.execute(CHECKSUM_SQL).fetchone()[0]  # type: ignore[index]
    background_drops.drop(database)
    folder = tmp_path_factory.mktemp("client-projects")
    files = {**PROJECTS, "seeded.py": SEEDED.format(checksum_sql=CHECKSUM_SQL, smoke=smoke)}
    for name, text in files.items():
        (folder / name).write_text(textwrap.dedent(text).lstrip(), encoding="utf-8")
    return folder


@pytest.fixture
def on_server(pg_server: Server, monkeypatch: pytest.MonkeyPatch) -> Server:
    monkeypatch.setenv("DATABASE_URL", pg_server.dsn)
    return pg_server


@pytest.fixture(scope="module")
def xdist_run(
    projects: Path, pg_server: Server, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[subprocess.Popen[bytes], Path]]:
    """The six suites under ``-n 2`` in a subprocess, without pytest-django, started in the background: it waits
    for the server most of the time, so the in-process run goes on beside it."""
    out = tmp_path_factory.mktemp("client-projects-run") / "out.txt"
    env = {**os.environ, "DATABASE_URL": pg_server.dsn, "PYTHONDONTWRITEBYTECODE": "1"}
    env.pop("DJANGO_SETTINGS_MODULE", None)
    args = ["-q", "-p", "no:cacheprovider", "-p", "no:randomly", "-p", "no:django", "-n", "2"]
    with out.open("wb") as sink:
        process = subprocess.Popen(
            [sys.executable, "-m", "pytest", *args], cwd=projects, env=env, stdout=sink, stderr=subprocess.STDOUT
        )
    yield process, out
    if process.poll() is None:
        process.kill()
    process.wait()


@pytest.mark.usefixtures("on_server", "xdist_run")  # started first: the subprocess runs beside this one
def test_client_projects_in_process_with_pytest_django(
    projects: Path, pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DJANGO_SETTINGS_MODULE", "dj_settings")
    for name in [*PROJECTS, "seeded.py"]:
        (pytester.path / name).write_text((projects / name).read_text(encoding="utf-8"), encoding="utf-8")
    pytester.syspathinsert()
    result = pytester.runpytest_inprocess("-q", "-p", "no:cacheprovider", "-p", "no:randomly")
    result.assert_outcomes(passed=N_TESTS)


def test_client_projects_under_xdist_without_pytest_django(
    xdist_run: tuple[subprocess.Popen[bytes], Path],
) -> None:
    process, out = xdist_run
    code = process.wait(timeout=600)
    output = out.read_text(encoding="utf-8", errors="replace")
    assert code == 0, output
    assert f"{N_TESTS} passed" in output


def test_readme_recipes_are_lines_of_these_projects() -> None:
    """Each code line of the README's "Pools, ORMs and async tests" recipes is a line of a consumer project."""
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    section = text[text.index("## Pools, ORMs and async tests") :]
    section = section[: section.index("\n## ", 10)]
    blocks = re.findall(r"```python\n(.*?)```", section, re.DOTALL)
    assert len(blocks) >= 5
    project_lines = {
        line.split("  # ")[0].strip() for source in PROJECTS.values() for line in textwrap.dedent(source).splitlines()
    }
    for block in blocks:
        for line in block.splitlines():
            code = line.split("  # ")[0].strip()
            if code and not code.startswith("#"):
                assert code in project_lines, f"README recipe line not in any consumer project: {code!r}"
