"""Helpers for the server tests: an isolated cache folder, no inherited $DATABASE_URL, a usability check."""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable
from pathlib import Path

import psycopg
import pytest
from psycopg import sql

from sspp_fixtures.dsn import LIBPQ_TARGET_ENV

SHARED_DSN = os.environ.get("SSPP_TEST_SHARED_DSN", "postgresql://postgres@127.0.0.1:5432/postgres")


@pytest.fixture(autouse=True)
def _isolated_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """No test sees the developer's $DATABASE_URL, PG* variables or warm server unless it sets them up itself."""
    monkeypatch.delenv("DATABASE_URL", raising=False)
    for name in LIBPQ_TARGET_ENV:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("SSPP_FIXTURES_CACHE", str(tmp_path / "cache"))


@pytest.fixture(scope="session")
def shared_dsn() -> str:
    """The shared PostgreSQL 15 server; tests only create and drop databases of their own on it."""
    try:
        with psycopg.connect(SHARED_DSN, connect_timeout=3) as conn:
            conn.execute("SELECT 1")
    except psycopg.OperationalError as exc:
        pytest.skip(f"shared server {SHARED_DSN} unreachable: {exc}")
    return SHARED_DSN


@pytest.fixture(scope="session")
def usable() -> Callable[[str], None]:
    """The usability check, as a fixture (test modules here are not a package)."""
    return assert_usable


@pytest.fixture(scope="session")
def answers_at() -> Callable[[str], bool]:
    """``answers(dsn)`` as a fixture."""
    return answers


def assert_usable(dsn: str) -> None:
    """The checks every provider's server must pass: uuid, JSONB + GIN, CREATE DATABASE ... TEMPLATE."""
    suffix = uuid.uuid4().hex[:10]
    template, clone = f"sspp_t_{suffix}", f"sspp_c_{suffix}"
    with psycopg.connect(dsn, autocommit=True) as conn:
        row = conn.execute("SELECT gen_random_uuid()").fetchone()
        assert row is not None
        assert isinstance(row[0], uuid.UUID)
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(template)))
        try:
            template_dsn = psycopg.conninfo.make_conninfo(dsn, dbname=template)
            with psycopg.connect(template_dsn, autocommit=True) as tconn:
                tconn.execute("CREATE TABLE signals (id uuid PRIMARY KEY DEFAULT gen_random_uuid(), data jsonb)")
                tconn.execute("CREATE INDEX idx_signals_data ON signals USING GIN (data)")
                tconn.execute("""INSERT INTO signals (data) VALUES ('{"amount": 12}'), ('{"amount": 7}')""")
            conn.execute(
                sql.SQL("CREATE DATABASE {} TEMPLATE {}").format(sql.Identifier(clone), sql.Identifier(template))
            )
            clone_dsn = psycopg.conninfo.make_conninfo(dsn, dbname=clone)
            with psycopg.connect(clone_dsn) as cconn:
                found = cconn.execute("""SELECT count(*) FROM signals WHERE data @> '{"amount": 12}'""").fetchone()
                assert found == (1,)
        finally:
            for name in (clone, template):
                conn.execute(sql.SQL("DROP DATABASE IF EXISTS {}").format(sql.Identifier(name)))


def answers(dsn: str) -> bool:
    """Whether the server behind ``dsn`` accepts a connection now."""
    try:
        with psycopg.connect(dsn, connect_timeout=2) as conn:
            conn.execute("SELECT 1")
    except psycopg.OperationalError:
        return False
    return True


@pytest.fixture
def no_local_binaries(monkeypatch: pytest.MonkeyPatch) -> None:
    """Make the machine look like it has no PostgreSQL server binaries (the newcomer's machine)."""
    from sspp_fixtures.server import _local as local

    monkeypatch.setattr(local, "find_binaries", lambda: None)
