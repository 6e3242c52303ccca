"""Migration files and init.sql, without a database."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from sspp_fixtures.errors import MigrationError
from sspp_fixtures.schema import (
    Migration,
    init_sql_path,
    load_migrations,
    migrations_checksum,
    render_init_sql,
    schema_tables,
)


def test_project_migrations_are_ordered_and_named() -> None:
    migrations = load_migrations()
    assert [m.version for m in migrations] == sorted(m.version for m in migrations)
    assert migrations[0].version == 1
    assert all(re.fullmatch(r"\d{3}_[a-z0-9_]+\.sql", m.filename) for m in migrations)
    assert schema_tables(migrations) == {
        "public.customers",
        "public.events",
        "public.signals",
        "public.sales_signals",
        "public.signal_analytics",
    }


def test_init_sql_is_current() -> None:
    """sql/init.sql is what `sspp-seed schema init-sql` builds from the migrations today."""
    assert init_sql_path().read_text(encoding="utf-8") == render_init_sql(), (
        "sql/init.sql is stale: run `sspp-seed schema render`"
    )


def test_init_sql_is_plain_sql_in_one_transaction() -> None:
    text = render_init_sql()
    assert not [line for line in text.splitlines() if line.lstrip().startswith("\\")], "psql meta-command found"
    statements = [line for line in text.splitlines() if line.strip() and not line.startswith("--")]
    assert statements[0] == "BEGIN;"
    assert statements[-1] == "COMMIT;"
    for migration in load_migrations():
        assert migration.checksum in text


def test_the_seed_columns_and_indexes_are_kept() -> None:
    signals = next(m for m in load_migrations() if "signals" in m.name).sql
    for column in (
        "id           UUID PRIMARY KEY DEFAULT gen_random_uuid()",
        "event_type   VARCHAR(50) NOT NULL",
        "customer_id  VARCHAR(100) NOT NULL",
        "signal_data  JSONB NOT NULL",
        "processed_at TIMESTAMP DEFAULT NOW()",
        "created_at   TIMESTAMP DEFAULT NOW()",
    ):
        assert column in signals
    for index in (
        "idx_signals_customer ON signals (customer_id)",
        "idx_signals_event_type ON signals (event_type)",
        "idx_signals_processed_at ON signals (processed_at)",
        "idx_signals_type_time ON signals (event_type, processed_at DESC)",
        "idx_signals_data ON signals USING GIN (signal_data)",
    ):
        assert index in signals


def _write(folder: Path, name: str, text: str = "SELECT 1;\n") -> None:
    (folder / name).write_text(text, encoding="utf-8")


def test_bad_file_name_is_refused_with_the_file(tmp_path: Path) -> None:
    _write(tmp_path, "001_ok.sql")
    _write(tmp_path, "2_bad-name.sql")
    with pytest.raises(MigrationError, match=r"2_bad-name\.sql: migration file name does not follow"):
        load_migrations(tmp_path)


def test_duplicate_versions_are_refused(tmp_path: Path) -> None:
    _write(tmp_path, "001_one.sql")
    _write(tmp_path, "001_other.sql")
    with pytest.raises(MigrationError, match=r"version 1 is also used by 001_one\.sql"):
        load_migrations(tmp_path)


def test_empty_migration_is_refused(tmp_path: Path) -> None:
    _write(tmp_path, "001_empty.sql", "-- nothing here\n/* nor here */\n")
    with pytest.raises(MigrationError, match="holds no SQL statement"):
        load_migrations(tmp_path)


def test_missing_or_empty_folder_is_refused(tmp_path: Path) -> None:
    with pytest.raises(MigrationError, match="does not exist"):
        load_migrations(tmp_path / "nope")
    with pytest.raises(MigrationError, match="holds no migration files"):
        load_migrations(tmp_path)


def test_checksum_ignores_line_endings_but_not_content() -> None:
    unix = Migration(1, "a", "CREATE TABLE a (x int);\n")
    windows = Migration(1, "a", "CREATE TABLE a (x int);\r\n")
    edited = Migration(1, "a", "CREATE TABLE a (x bigint);\n")
    assert unix.checksum == windows.checksum
    assert unix.checksum != edited.checksum
    assert migrations_checksum((unix,)) != migrations_checksum((edited,))
