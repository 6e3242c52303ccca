"""Adopting the platform's own database: made by its init.sql and seed.sql (written here from the platform's facts,
run with psql as docker-entrypoint runs them), then ``sspp-seed migrate`` through the CLI in-process.
"""

from __future__ import annotations

import itertools
import json
import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from psycopg import conninfo

from sspp_fixtures.cli import run
from sspp_fixtures.databases import create_database
from sspp_fixtures.dsn import connect
from sspp_fixtures.schema import _baseline, applied_migrations, apply_migrations, describe_schema, load_migrations
from sspp_fixtures.server import Server
from tests.deploy.test_entrypoint_sql import run_initdb_folder
from tests.fix_db import BackgroundDrops
from tests.platform_sql import PLATFORM_INIT_SQL, PLATFORM_SEED_SQL

MakeDb = Callable[[str], str]
_counter = itertools.count()

SALES_SIGNALS = "005_create_sales_signals"


@pytest.fixture
def adopt_db(pg_server: Server, background_drops: BackgroundDrops) -> Iterator[MakeDb]:
    """Call it for DSNs of new, empty databases named ``sspp_test_adopt_*``; all are dropped after the test."""
    made: list[str] = []

    def make(label: str) -> str:
        name = f"sspp_test_adopt_{os.getpid()}_{next(_counter)}_{label}"[:63]
        create_database(pg_server.dsn, name)
        made.append(name)
        return pg_server.dsn_for(name)

    yield make
    for name in made:
        background_drops.drop(name)


def platform_database(dsn: str, folder: Path, init_sql: str = PLATFORM_INIT_SQL) -> None:
    """The platform's database as its compose file makes it: both scripts in /docker-entrypoint-initdb.d."""
    folder.mkdir()
    (folder / "init.sql").write_text(init_sql, encoding="utf-8")
    (folder / "seed.sql").write_text(PLATFORM_SEED_SQL, encoding="utf-8")
    assert run_initdb_folder(folder, dsn) == ["init.sql", "seed.sql"]


def rows(dsn: str) -> list[str]:
    with connect(dsn) as conn:
        return [r[0] for r in conn.execute("SELECT s::text FROM sales_signals s ORDER BY id")]


def everything(dsn: str) -> dict[str, object]:
    """Schema, bookkeeping and rows: what "nothing changed" compares."""
    with connect(dsn) as conn:
        schemas = [r[0] for r in conn.execute("SELECT nspname FROM pg_namespace ORDER BY 1")]
    return {"schema": describe_schema_of(dsn), "schemas": schemas, "rows": rows(dsn)}


def describe_schema_of(dsn: str) -> dict[str, object]:
    with connect(dsn) as conn:
        return describe_schema(conn)


def cli(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = run(list(args))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def migrate_json(capsys: pytest.CaptureFixture[str], dsn: str) -> dict[str, Any]:
    """``sspp-seed migrate --dsn DSN --json``, which must succeed, as parsed JSON."""
    code, out, err = cli(capsys, "migrate", "--dsn", dsn, "--json")
    assert code == 0, err
    report: dict[str, Any] = json.loads(out)
    return report


def test_migrate_adopts_the_platform_database(
    adopt_db: MakeDb, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    dsn = adopt_db("platform")
    platform_database(dsn, tmp_path / "initdb")
    before = rows(dsn)
    assert len(before) == 7

    report = migrate_json(capsys, dsn)
    labels = [m.label for m in load_migrations()]
    assert report["baselined"] == [SALES_SIGNALS]
    assert [a["migration"] for a in report["applied"]] == [label for label in labels if label != SALES_SIGNALS]
    assert report["version"] == load_migrations()[-1].version

    assert rows(dsn) == before, "the platform's rows are byte for byte what they were"
    with connect(dsn) as conn:
        history = {a.label: a.applied_by for a in applied_migrations(conn)}
    assert history == {
        label: "sspp-seed migrate (baseline)" if label == SALES_SIGNALS else "sspp-seed migrate" for label in labels
    }
    fresh = adopt_db("fresh")
    apply_migrations(fresh)
    assert describe_schema_of(dsn) == describe_schema_of(fresh)

    again = migrate_json(capsys, dsn)
    assert (again["applied"], again["baselined"], again["already_applied"]) == ([], [], labels)
    assert rows(dsn) == before


def test_dry_run_says_what_would_be_adopted(
    adopt_db: MakeDb, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    dsn = adopt_db("dry")
    platform_database(dsn, tmp_path / "initdb")
    unchanged = everything(dsn)
    code, out, err = cli(capsys, "migrate", "--dsn", dsn, "--dry-run")
    assert code == 0, err
    assert f"already in place, would be recorded as applied: {SALES_SIGNALS}" in out
    assert "001_create_customers" in out
    assert everything(dsn) == unchanged


def test_text_output_of_an_adoption(adopt_db: MakeDb, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    dsn = adopt_db("text")
    platform_database(dsn, tmp_path / "initdb")
    code, out, err = cli(capsys, "migrate", "--dsn", dsn)
    assert code == 0, err
    assert f"already in place, recorded as applied: {SALES_SIGNALS}" in out
    assert f"now at version {load_migrations()[-1].version:03d}" in out


def _without(line: str) -> Callable[[str], str]:
    def edit(text: str) -> str:
        assert line in text
        return text.replace(line, "")

    return edit


def _replaced(old: str, new: str) -> Callable[[str], str]:
    def edit(text: str) -> str:
        assert old in text
        return text.replace(old, new)

    return edit


def _without_trigger(text: str) -> str:
    start = text.index("CREATE TRIGGER")
    return text[:start] + text[text.index(";", start) + 1 :]


@pytest.mark.parametrize(
    ("edit", "difference"),
    [
        pytest.param(
            _without("    created_at TIMESTAMP NOT NULL DEFAULT NOW(),\n"),
            "missing column sales_signals.created_at",
            id="missing-column",
        ),
        pytest.param(
            _replaced("signal_score DECIMAL(3,2)", "signal_score DECIMAL(5,2)"),
            "column sales_signals.signal_score has type numeric(5,2), expected numeric(3,2)",
            id="other-type",
        ),
        pytest.param(
            _replaced("metadata JSONB,", "metadata JSONB NOT NULL,"),
            "column sales_signals.metadata has nullability NOT NULL, expected NULL",
            id="not-null",
        ),
        pytest.param(
            _replaced("id SERIAL PRIMARY KEY", "id BIGSERIAL PRIMARY KEY"),
            "column sales_signals.id has type bigint, expected integer, sequence sales_signals_id_seq is `AS bigint "
            "START 1 INCREMENT 1 MINVALUE 1 MAXVALUE 9223372036854775807 NO CYCLE OWNED BY sales_signals.id`, "
            "005_create_sales_signals makes `AS integer START 1 INCREMENT 1 MINVALUE 1 MAXVALUE 2147483647 NO CYCLE "
            "OWNED BY sales_signals.id`",
            id="bigserial",
        ),
        pytest.param(
            _without("CREATE INDEX idx_sales_signals_user_id ON sales_signals(user_id);\n"),
            "missing index idx_sales_signals_user_id on sales_signals",
            id="missing-index",
        ),
        pytest.param(
            _replaced("sales_signals(timestamp DESC)", "sales_signals(timestamp)"),
            "index idx_sales_signals_timestamp on sales_signals is `CREATE INDEX idx_sales_signals_timestamp ON "
            'sales_signals USING btree ("timestamp")`, 005_create_sales_signals makes `CREATE INDEX '
            'idx_sales_signals_timestamp ON sales_signals USING btree ("timestamp" DESC)`',
            id="other-index",
        ),
        pytest.param(
            _without_trigger,
            "missing trigger update_sales_signals_updated_at on sales_signals",
            id="missing-trigger",
        ),
        pytest.param(
            _replaced(
                "GROUP BY account_id, DATE(timestamp), signal_type;",
                "GROUP BY account_id, DATE(timestamp), signal_type\nHAVING COUNT(*) > 1;",
            ),
            "view signal_analytics is `",
            id="other-view",
        ),
        pytest.param(
            _replaced("    metadata JSONB,\n", "    metadata JSONB,\n    priority TEXT,\n"),
            "unexpected column sales_signals.priority",
            id="extra-column",
        ),
    ],
)
def test_a_partial_match_is_refused_and_nothing_changes(
    adopt_db: MakeDb,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    edit: Callable[[str], str],
    difference: str,
) -> None:
    dsn = adopt_db("partial")
    platform_database(dsn, tmp_path / "initdb", edit(PLATFORM_INIT_SQL))
    unchanged = everything(dsn)
    assert difference in refused(capsys, dsn)
    assert everything(dsn) == unchanged


def refused(capsys: pytest.CaptureFixture[str], dsn: str, *options: str) -> str:
    """``sspp-seed migrate`` refusing the database: exit 5, nothing on stdout, one error line; returns that line."""
    code, out, err = cli(capsys, "migrate", "--dsn", dsn, *options)
    assert code == 5, err
    assert out == ""
    lines = [line for line in err.splitlines() if line.startswith("error:")]
    assert len(lines) == 1, err
    assert lines[0].startswith(
        f"error: cannot migrate database '{dsn.rsplit('/', 1)[1]}': schema 'public' holds part of what "
        f"{SALES_SIGNALS} makes, or holds it defined otherwise: "
    ), lines[0]
    assert "; nothing was changed. Make those objects match sql/migrations/005_create_sales_signals.sql" in lines[0]
    return lines[0]


def test_dry_run_refuses_a_partial_match_too(
    adopt_db: MakeDb, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    dsn = adopt_db("partial_dry")
    platform_database(dsn, tmp_path / "initdb", _without_trigger(PLATFORM_INIT_SQL))
    unchanged = everything(dsn)
    assert "missing trigger update_sales_signals_updated_at on sales_signals" in refused(capsys, dsn, "--dry-run")
    assert everything(dsn) == unchanged


def test_load_on_an_adopted_database_needs_force(
    adopt_db: MakeDb, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    dsn = adopt_db("load")
    platform_database(dsn, tmp_path / "initdb")
    assert cli(capsys, "migrate", "--dsn", dsn)[0] == 0
    code, _, err = cli(capsys, "load", "sample", "--dsn", dsn)
    assert code == 4, err
    assert "public.sales_signals" in err
    code, _, err = cli(capsys, "load", "sample", "--dsn", dsn, "--force")
    assert code == 0, err
    with connect(dsn) as conn:
        assert conn.execute("SELECT count(*) > 0 FROM customers").fetchone() == (True,)
        assert conn.execute("SELECT count(*) FROM sspp_meta.database_marker").fetchone() == (1,)


def test_other_spellings_of_the_same_schema_are_adopted(
    adopt_db: MakeDb, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """EXECUTE PROCEDURE, IF NOT EXISTS on indexes, another function layout, lower-case types: the same catalog."""
    spelled = PLATFORM_INIT_SQL
    for old, new in [
        ("EXECUTE FUNCTION", "EXECUTE PROCEDURE"),
        ("CREATE INDEX idx_", "CREATE INDEX IF NOT EXISTS idx_"),
        ("    NEW.updated_at = NOW();\n    RETURN NEW;\n", "  NEW.updated_at = NOW();  RETURN NEW;\n"),
        ("$$ language 'plpgsql';", "$$ LANGUAGE plpgsql;"),
        ("signal_score DECIMAL(3,2) NOT NULL", "signal_score numeric(3, 2) not null"),
    ]:
        spelled = _replaced(old, new)(spelled)
    dsn = adopt_db("spelling")
    platform_database(dsn, tmp_path / "initdb", spelled)
    assert migrate_json(capsys, dsn)["baselined"] == [SALES_SIGNALS]


def test_a_later_migration_already_in_place_on_a_tool_made_database(
    adopt_db: MakeDb, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Migrated to 004 by the tool, then given the platform's table by its init.sql: 005 is recorded, 006 and 007
    run."""
    dsn = adopt_db("at004")
    apply_migrations(dsn, to=4)
    platform_database(dsn, tmp_path / "initdb")
    before = rows(dsn)
    report = migrate_json(capsys, dsn)
    assert report["baselined"] == [SALES_SIGNALS]
    assert [a["migration"] for a in report["applied"]] == [m.label for m in load_migrations() if m.version > 5]
    assert rows(dsn) == before


def test_doctor_points_at_a_dry_run_on_the_platform_database(
    adopt_db: MakeDb, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    dsn = adopt_db("doctor")
    platform_database(dsn, tmp_path / "initdb")
    run(["doctor", "--dsn", dsn, "--json"])
    checks = {c["name"]: c for c in json.loads(capsys.readouterr().out)["database"]}
    migrated = checks["migrated"]
    assert migrated["status"] == "warn"
    assert "holds tables the migrations make (public.sales_signals, public.signal_analytics)" in migrated["detail"]
    assert "sspp-seed migrate --dry-run --dsn" in migrated["fix"]


def test_a_user_who_may_not_create_a_schema_is_told_so(
    adopt_db: MakeDb,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    pg_server: Server,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Exit 5 and one line, nothing changed: whether the comparison's scratch schema or the history is refused."""
    dsn = adopt_db("noprivilege")
    platform_database(dsn, tmp_path / "initdb")
    role = f"sspp_test_adopt_role_{os.getpid()}"
    with connect(pg_server.dsn) as admin:
        admin.execute(f"CREATE ROLE {role} LOGIN")
    as_role = conninfo.make_conninfo(dsn, user=role)
    try:
        unchanged = everything(dsn)
        monkeypatch.setattr(_baseline, "_learnt_cache", {})
        code, _, err = cli(capsys, "migrate", "--dsn", as_role)
        assert code == 5, err
        assert f"user '{role}' may not create a scratch schema there" in err
        with connect(dsn) as owner:
            _baseline.learn_migrations(owner, load_migrations())  # learnt already: only the history is refused
        code, _, err = cli(capsys, "migrate", "--dsn", as_role)
        assert code == 5, err
        assert "cannot record migrations in database" in err
        assert "permission denied" in err
        assert everything(dsn) == unchanged
    finally:
        with connect(pg_server.dsn) as admin:
            admin.execute(f"DROP ROLE {role}")
