"""``sspp-seed backup`` and ``restore`` as a user runs them: exit codes, masked output, one line per error."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from sspp_fixtures.backup import manifest_path
from sspp_fixtures.databases import drop_database
from sspp_fixtures.dsn import connect
from sspp_fixtures.loader import load_scenario_into
from sspp_fixtures.scenarios import load_scenario
from sspp_fixtures.server import Server
from tests.db.test_load import checksums
from tests.fix_db import new_database, run_cli

MakeDb = Callable[..., str]
PASSWORD = "s3cr3t-PW"


def _with_password(dsn: str) -> str:
    """The same DSN with a password (the server trusts local users, so it is ignored, but must never show)."""
    return dsn.replace("postgresql://postgres@", f"postgresql://postgres:{PASSWORD}@")


def _clean(result: object) -> None:
    out = getattr(result, "stdout", "") + getattr(result, "stderr", "")
    assert PASSWORD not in out
    assert "Traceback" not in out


@pytest.fixture(scope="module")
def demo_db(pg_server: Server) -> Iterator[str]:
    name = new_database(pg_server, "cli_backup_demo")
    dsn = pg_server.dsn_for(name)
    load_scenario_into(dsn, load_scenario("demo"))
    yield dsn
    drop_database(pg_server.dsn, name)


@pytest.mark.slow
@pytest.mark.parametrize("fmt", ["custom", "plain"])
def test_demo_round_trips_through_the_cli(fmt: str, demo_db: str, database_factory: MakeDb, tmp_path: Path) -> None:
    backup = run_cli(
        "backup", "--out", f"{tmp_path}/", "--format", fmt, "--json", env={"DATABASE_URL": _with_password(demo_db)}
    )
    _clean(backup)
    assert backup.returncode == 0, backup.stderr
    made = json.loads(backup.stdout)
    assert Path(made["file"]).exists()
    assert Path(made["manifest"]) == manifest_path(Path(made["file"]))
    assert made["format"] == fmt
    assert made["tables"]["public.signals"]["rows"] > 40_000
    assert made["rows"] == sum(t["rows"] for t in made["tables"].values())

    target = database_factory("cli_restore")
    restored = run_cli("restore", made["file"], "--dsn", _with_password(target), "--json")
    _clean(restored)
    assert restored.returncode == 0, restored.stderr
    report = json.loads(restored.stdout)
    assert report["verified"] is True
    assert report["tables"] == made["tables"]
    assert checksums(target) == checksums(demo_db)


@pytest.fixture(scope="module")
def small_backup(pg_server: Server, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    name = new_database(pg_server, "cli_backup_smoke")
    dsn = pg_server.dsn_for(name)
    load_scenario_into(dsn, load_scenario("smoke"), workers=0)
    folder = tmp_path_factory.mktemp("cli-backup")
    result = run_cli("backup", "--dsn", _with_password(dsn), "--out", str(folder / "smoke.dump"))
    _clean(result)
    assert result.returncode == 0, result.stderr
    assert "backed up" in result.stdout
    assert "postgresql://postgres:***@" in result.stdout
    yield folder / "smoke.dump"
    drop_database(pg_server.dsn, name)


def test_truncated_backup_exits_1_with_one_line(small_backup: Path, empty_db: str, tmp_path: Path) -> None:
    damaged = tmp_path / "smoke.dump"
    damaged.write_bytes(small_backup.read_bytes()[:1000])
    manifest_path(damaged).write_bytes(manifest_path(small_backup).read_bytes())
    result = run_cli("restore", str(damaged), "--dsn", _with_password(empty_db))
    _clean(result)
    assert result.returncode == 1
    assert result.stderr.count("\n") == 1
    assert result.stderr.startswith(f"error: backup file {damaged} is truncated: 1,000 bytes")
    with connect(empty_db) as conn:
        assert conn.execute("SELECT to_regclass('public.signals')").fetchone() == (None,)


def test_unmarked_target_with_data_exits_4(small_backup: Path, empty_db: str) -> None:
    with connect(empty_db) as conn:
        conn.execute("CREATE TABLE precious (id int)")
        conn.execute("INSERT INTO precious VALUES (1)")
    result = run_cli("restore", str(small_backup), "--dsn", _with_password(empty_db))
    _clean(result)
    assert result.returncode == 4
    assert "refusing to restore into database" in result.stderr
    assert "--force" in result.stderr
    forced = run_cli("restore", str(small_backup), "--dsn", _with_password(empty_db), "--force", "--json")
    _clean(forced)
    assert forced.returncode == 0, forced.stderr
    with connect(empty_db) as conn:  # --force replaces the public schema, the unknown table with it
        assert conn.execute("SELECT to_regclass('public.precious')").fetchone() == (None,)
        assert conn.execute("SELECT count(*) > 0 FROM signals").fetchone() == (True,)


def test_manifest_mismatch_exits_6_and_changes_nothing(small_backup: Path, empty_db: str, tmp_path: Path) -> None:
    altered = tmp_path / "smoke.dump"
    altered.write_bytes(small_backup.read_bytes())
    manifest = json.loads(manifest_path(small_backup).read_text())
    manifest["tables"]["public.events"]["rows"] = 1
    manifest_path(altered).write_text(json.dumps(manifest))
    refused = run_cli("restore", str(altered), "--dsn", _with_password(empty_db))
    _clean(refused)
    assert refused.returncode == 1
    assert "cannot be shown to be written by sspp-seed backup: its signature does not match the key in" in (
        refused.stderr
    )
    assert "restore with --trust-unsigned if you trust the file" in refused.stderr
    result = run_cli("restore", str(altered), "--dsn", _with_password(empty_db), "--trust-unsigned")
    _clean(result)
    assert result.returncode == 6
    assert "does not match the backup's manifest: public.events has" in result.stderr
    with connect(empty_db) as conn:
        assert conn.execute("SELECT to_regclass('public.signals')").fetchone() == (None,)


def test_usage_and_missing_input(tmp_path: Path, empty_db: str) -> None:
    bad_keep = run_cli("backup", "--dsn", empty_db, "--out", str(tmp_path), "--keep", "0")
    assert bad_keep.returncode == 2
    assert "--keep" in bad_keep.stderr
    bad_format = run_cli("backup", "--dsn", empty_db, "--out", str(tmp_path), "--format", "zip")
    assert bad_format.returncode == 2
    missing = run_cli("restore", str(tmp_path / "nope.dump"), "--dsn", empty_db)
    assert missing.returncode == 1
    assert "does not exist" in missing.stderr
    no_folder = run_cli("backup", "--dsn", empty_db, "--out", str(tmp_path / "missing" / "x.dump"))
    assert no_folder.returncode == 1
    assert "does not exist" in no_folder.stderr
    unreachable = run_cli(
        "backup", "--dsn", f"postgresql://postgres:{PASSWORD}@127.0.0.1:1/sspp", "--out", str(tmp_path)
    )
    _clean(unreachable)
    assert unreachable.returncode == 3
    assert list(tmp_path.iterdir()) == []
