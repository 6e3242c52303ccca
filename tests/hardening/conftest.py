"""Fixtures shared by the hardening tests."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from sspp_fixtures.backup import backup_database
from sspp_fixtures.databases import create_database, drop_database
from sspp_fixtures.schema import init_database
from sspp_fixtures.server import Server


@pytest.fixture(scope="session")
def backup_file(pg_server: Server, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """A real `sspp-seed backup` (custom format) of a freshly initialized database."""
    name = f"sspp_test_harden_data_source_{os.getpid()}"  # one per xdist worker
    drop_database(pg_server.dsn, name)
    create_database(pg_server.dsn, name)
    try:
        init_database(pg_server.dsn_for(name))
        target = tmp_path_factory.mktemp("harden-data-backup") / "source.dump"
        backup_database(pg_server.dsn_for(name), target)
        yield target
    finally:
        drop_database(pg_server.dsn, name)
