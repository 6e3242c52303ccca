"""Databases kept for the next run (``TestDatabases(park=)``): a pool parks its restored databases when it closes,
the next pool of the same template claims one instead of cloning, checks that it restores clean and gives it its
own settings; a parked database nobody can trust is dropped, and the sweep drops those of a template that went."""

from __future__ import annotations

import fcntl
import json
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest

from sspp_fixtures.databases import drop_database
from sspp_fixtures.dsn import connect, with_database
from sspp_fixtures.scenarios import load_scenario
from sspp_fixtures.server import Server
from sspp_fixtures.templates import TemplateInfo, TestDatabases, drop_templates, ensure_template, sweep
from sspp_fixtures.templates._fingerprint import OUR_PREFIXES
from tests.db.test_reuse import EXTRA_SQL as REUSE_SQL
from tests.db.test_reuse import state_of

#: A template of this module's own (its extra SQL makes its fingerprint), so no other test parks or claims here;
#: it holds test_reuse's sequence, which state_of reads.
EXTRA_SQL = REUSE_SQL + "; COMMENT ON TABLE customers IS 'parking tests'"


@pytest.fixture(scope="module")
def template(pg_server: Server) -> TemplateInfo:
    return ensure_template(pg_server.dsn, load_scenario("smoke"), extra_sql=EXTRA_SQL)


def parked(admin_dsn: str, template: TemplateInfo) -> dict[str, dict[str, Any]]:
    """Name -> comment data of the databases parked for ``template``."""
    with connect(admin_dsn) as admin:
        rows = admin.execute(
            "SELECT datname, pg_catalog.shobj_description(oid, 'pg_database') FROM pg_database WHERE datname LIKE %s",
            (template.name.replace("_", "\\_") + "\\_k%",),
        ).fetchall()
    return {str(name): json.loads(text) for name, text in rows}


@pytest.fixture
def no_parked(pg_server: Server, template: TemplateInfo) -> Iterator[None]:
    """No parked database of the template before and after the test, and no other test of this module running
    meanwhile (under xdist they share the template, so they take turns on a file lock)."""

    def clear() -> None:
        with connect(pg_server.dsn) as admin:
            for name in parked(pg_server.dsn, template):
                drop_database(admin, name, prefixes=OUR_PREFIXES)

    lock = Path(tempfile.gettempdir()) / f"sspp-parking-tests-{template.name}.lock"
    with lock.open("a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            clear()
            yield
            clear()
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def run(pg_server: Server, template: TemplateInfo, body: str | None = None, **kwargs: Any) -> str:
    """One 'run': a pool with park=1, one test (``body`` committed), close; the name the test's database had."""
    with TestDatabases(pg_server.dsn, template, worker_id="park", park=1, **kwargs) as pool:
        db = pool.acquire()
        if body:
            with psycopg.connect(db.dsn, autocommit=True) as conn:
                conn.execute(body)
        pool.release(db)
        return db.name


def write_into_parked(pg_server: Server, template: TemplateInfo, statements: str) -> str:
    """Run ``statements`` in the one database parked for ``template``, as someone between two runs; its name."""
    (name,) = parked(pg_server.dsn, template)
    with psycopg.connect(with_database(pg_server.dsn, name), autocommit=True) as conn:
        conn.execute(statements)
    return name


def claim_and_compare(pg_server: Server, template: TemplateInfo) -> None:
    """A new pool claims the parked database, which then holds what a never-used clone holds."""
    with TestDatabases(pg_server.dsn, template, worker_id="park", park=1) as pool:
        fresh = pool.acquire(fresh=True)  # a never-used clone: what the claimed database must equal
        pristine = state_of(fresh.dsn)
        pool.release(fresh)
        assert pool.wait_spares(), "the fresh clone asked for spares"
        db = pool.acquire()  # a parked database is claimed before a ready spare is spent
        assert parked(pg_server.dsn, template) == {}, "the parked database was not claimed"
        assert state_of(db.dsn) == pristine
        pool.release(db)


@pytest.mark.usefixtures("no_parked")
def test_a_closed_pool_parks_its_database_and_the_next_claims_it(pg_server: Server, template: TemplateInfo) -> None:
    run(pg_server, template, "INSERT INTO events (event_type, customer_id, payload) VALUES ('x', 'y', '{}')")
    kept = parked(pg_server.dsn, template)
    assert len(kept) == 1
    (data,) = kept.values()
    assert (data["sspp"], data["template"]) == ("parked", template.name)
    claim_and_compare(pg_server, template)


@pytest.mark.usefixtures("no_parked")
def test_park_zero_drops_everything(pg_server: Server, template: TemplateInfo) -> None:
    with TestDatabases(pg_server.dsn, template, worker_id="park") as pool:
        pool.release(pool.acquire())
    assert parked(pg_server.dsn, template) == {}


@pytest.mark.usefixtures("no_parked")
def test_rows_written_into_a_parked_database_are_undone_when_it_is_claimed(
    pg_server: Server, template: TemplateInfo
) -> None:
    run(pg_server, template)
    write_into_parked(
        pg_server, template, "DELETE FROM signals; INSERT INTO customers (customer_id, name) VALUES ('intruder', 'x')"
    )
    claim_and_compare(pg_server, template)


@pytest.mark.usefixtures("no_parked")
def test_a_default_and_an_index_changed_in_a_parked_database_are_put_back_when_it_is_claimed(
    pg_server: Server, template: TemplateInfo
) -> None:
    run(pg_server, template)
    write_into_parked(
        pg_server,
        template,
        "ALTER TABLE customers ALTER COLUMN name SET DEFAULT 'tampered'; DROP INDEX idx_signals_data",
    )
    claim_and_compare(pg_server, template)


@pytest.mark.usefixtures("no_parked")
def test_a_parked_database_changed_beyond_repair_is_dropped_and_a_clone_used(
    pg_server: Server, template: TemplateInfo
) -> None:
    run(pg_server, template)
    name = write_into_parked(pg_server, template, "ALTER TABLE customers ALTER COLUMN segment TYPE varchar(40)")
    with TestDatabases(pg_server.dsn, template, worker_id="park", park=1) as pool:
        db = pool.acquire()
        with psycopg.connect(db.dsn) as conn:
            length = conn.execute(
                "SELECT character_maximum_length FROM information_schema.columns "
                "WHERE table_name = 'customers' AND column_name = 'segment'"
            ).fetchone()
        assert length == (20,)
        pool.release(db)
    with connect(pg_server.dsn) as admin:
        assert admin.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone() is None


@pytest.mark.usefixtures("no_parked")
def test_a_claimed_database_gets_the_claiming_pool_s_settings(pg_server: Server, template: TemplateInfo) -> None:
    run(pg_server, template, database_settings={"lock_timeout": "7s", "work_mem": "5MB"})
    with TestDatabases(
        pg_server.dsn, template, worker_id="park", park=1, database_settings={"lock_timeout": "3s"}
    ) as pool:
        db = pool.acquire()
        assert parked(pg_server.dsn, template) == {}
        with psycopg.connect(db.dsn) as conn:
            assert conn.execute("SHOW lock_timeout").fetchone() == ("3s",)
            assert conn.execute("SHOW work_mem").fetchone() != ("5MB",)
        assert pool.release(db).path == "clean"


@pytest.mark.usefixtures("no_parked")
def test_two_pools_never_claim_the_same_database(pg_server: Server, template: TemplateInfo) -> None:
    run(pg_server, template)
    with (
        TestDatabases(pg_server.dsn, template, worker_id="one", park=1) as one,
        TestDatabases(pg_server.dsn, template, worker_id="two", park=1) as two,
    ):
        first, second = one.acquire(), two.acquire()
        assert first.name != second.name
        assert parked(pg_server.dsn, template) == {}
        one.release(first)
        two.release(second)
    assert len(parked(pg_server.dsn, template)) == 2


@pytest.mark.usefixtures("no_parked")
def test_the_sweep_drops_what_was_parked_for_a_template_that_went(pg_server: Server) -> None:
    gone = ensure_template(pg_server.dsn, load_scenario("smoke"), extra_sql=EXTRA_SQL + " -- a template that goes")
    run(pg_server, gone)
    assert len(parked(pg_server.dsn, gone)) == 1
    assert drop_templates(pg_server.dsn, names=[gone.name]) == [gone.name]
    assert parked(pg_server.dsn, gone) == {}, "drop_templates leaves no parked database behind"
    # A parked database whose template went some other way (dropped by hand) is the sweep's.
    again = ensure_template(pg_server.dsn, load_scenario("smoke"), extra_sql=EXTRA_SQL + " -- a template that goes")
    run(pg_server, again)
    with connect(pg_server.dsn) as admin:
        admin.execute(f'ALTER DATABASE "{again.name}" WITH IS_TEMPLATE false')
        drop_database(admin, again.name, prefixes=OUR_PREFIXES)
    (name,) = parked(pg_server.dsn, again)
    assert name in sweep(pg_server.dsn)
    assert parked(pg_server.dsn, again) == {}


@pytest.mark.usefixtures("no_parked")
def test_the_sweep_drops_a_parked_database_nobody_claimed_for_a_day(pg_server: Server, template: TemplateInfo) -> None:
    run(pg_server, template)
    ((name, data),) = parked(pg_server.dsn, template).items()
    data["created"] -= 2 * 86400
    with connect(pg_server.dsn) as admin:
        admin.execute(f"COMMENT ON DATABASE \"{name}\" IS '{json.dumps(data)}'")
    assert name in sweep(pg_server.dsn)
    assert parked(pg_server.dsn, template) == {}
