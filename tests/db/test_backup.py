"""Backup and restore against a real server: round trips verified by the manifest, and damaged input refused."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import subprocess
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from sspp_fixtures._table_order import TABLE_ORDER
from sspp_fixtures.backup import (
    _dump,
    _restore,
    backup_database,
    find_client_tools,
    list_client_tools,
    manifest_path,
    prune_backups,
    restore_database,
)
from sspp_fixtures.backup._restore import _OlderServerFilter
from sspp_fixtures.databases import drop_database
from sspp_fixtures.dsn import connect
from sspp_fixtures.errors import BackupError, LoadError, UnsafeTargetError
from sspp_fixtures.loader import load_scenario_into
from sspp_fixtures.scenarios import load_scenario
from sspp_fixtures.schema import database_status, load_migrations, read_marker
from sspp_fixtures.server import Server
from tests.db.test_load import checksums
from tests.fix_db import BackgroundDrops, new_database

MakeDb = Callable[..., str]

INDEXES = "SELECT indexname FROM pg_indexes WHERE schemaname = 'public' ORDER BY 1"


@pytest.fixture(scope="module")
def source_db(pg_server: Server, background_drops: BackgroundDrops) -> Iterator[str]:
    """A database holding `smoke`, backed up by the tests of this module (never written to by them)."""
    name = new_database(pg_server, "backup_src")
    dsn = pg_server.dsn_for(name)
    load_scenario_into(dsn, load_scenario("smoke"), workers=0)
    yield dsn
    background_drops.drop(name)


@pytest.fixture(scope="module")
def backups(source_db: str, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """One backup of the source per format."""
    folder = tmp_path_factory.mktemp("backups")
    return {fmt: backup_database(source_db, folder / f"smoke.{fmt}", fmt=fmt).path for fmt in ("custom", "plain")}


def _loaded_target(make_db: MakeDb, seed: int = 7) -> str:
    """A tool-made database holding other data than the source, to prove a refused restore left it alone."""
    dsn = make_db("target")
    load_scenario_into(dsn, load_scenario("smoke").with_overrides(seed=seed), workers=0)
    return dsn


def _copy(backup: Path, folder: Path) -> Path:
    copy = folder / backup.name
    shutil.copyfile(backup, copy)
    shutil.copyfile(manifest_path(backup), manifest_path(copy))
    return copy


@pytest.mark.parametrize("fmt", ["custom", "plain"])
def test_round_trip_into_a_new_database_equals_the_source(
    fmt: str, source_db: str, backups: dict[str, Path], pg_server: Server
) -> None:
    name = f"sspp_test_restore_{fmt}_{os.getpid()}"  # one per process: concurrent runs share the server
    target = pg_server.dsn_for(name)
    drop_database(pg_server.dsn, name)
    try:
        report = restore_database(backups[fmt], target)
        assert report.created_database
        assert checksums(target) == checksums(source_db)
        with connect(source_db) as src, connect(target) as dst:
            assert dst.execute(INDEXES).fetchall() == src.execute(INDEXES).fetchall()
            granted = dst.execute("SELECT has_table_privilege('sspp_readonly', 'public.signals', 'SELECT')")
            assert granted.fetchone() == (True,)
            marker = read_marker(dst)
            assert marker is not None
            assert marker.purpose == f"sspp-seed restore {backups[fmt].name}"
        status = database_status(target)
        assert status.up_to_date
        assert not status.pending
        assert report.manifest.tables["public.signals"].rows > 1000
    finally:
        drop_database(pg_server.dsn, name)


def test_manifest_describes_the_source(source_db: str, backups: dict[str, Path]) -> None:
    manifest = json.loads(manifest_path(backups["custom"]).read_text())
    with connect(source_db) as conn:
        for table in TABLE_ORDER:
            rows = conn.execute(f"SELECT count(*) FROM {table}").fetchone()
            assert rows is not None
            assert manifest["tables"][f"public.{table}"]["rows"] == rows[0]
    assert manifest["file"]["bytes"] == backups["custom"].stat().st_size
    assert manifest["format"] == "custom"
    assert manifest["schema_version"] == load_migrations()[-1].version
    assert set(manifest["roles"]) >= {"sspp_worker", "sspp_api", "sspp_readonly"}
    assert "password" not in json.dumps(manifest).lower()


def test_restore_replaces_a_tool_made_database(
    source_db: str, backups: dict[str, Path], database_factory: MakeDb
) -> None:
    target = _loaded_target(database_factory)
    assert checksums(target) != checksums(source_db)
    report = restore_database(backups["plain"], target)
    assert report.replaced_marked
    assert not report.created_database
    assert checksums(target) == checksums(source_db)


def test_truncated_backup_is_refused_and_the_target_untouched(
    backups: dict[str, Path], database_factory: MakeDb, tmp_path: Path
) -> None:
    target = _loaded_target(database_factory)
    before = checksums(target)
    damaged = _copy(backups["custom"], tmp_path)
    with damaged.open("r+b") as handle:
        handle.truncate(damaged.stat().st_size // 2)
    with pytest.raises(BackupError, match="is truncated") as caught:
        restore_database(damaged, target)
    assert "nothing was restored" in str(caught.value).lower()
    assert checksums(target) == before


@pytest.mark.parametrize("fmt", ["custom", "plain"])
def test_corrupt_backup_is_refused_and_the_target_untouched(
    fmt: str, backups: dict[str, Path], database_factory: MakeDb, tmp_path: Path
) -> None:
    target = _loaded_target(database_factory)
    before = checksums(target)
    damaged = _copy(backups[fmt], tmp_path)
    data = bytearray(damaged.read_bytes())
    data[len(data) // 2] ^= 0xFF
    damaged.write_bytes(bytes(data))
    with pytest.raises(BackupError, match="is corrupt"):
        restore_database(damaged, target)
    assert checksums(target) == before


def test_missing_or_damaged_manifest_is_refused(backups: dict[str, Path], empty_db: str, tmp_path: Path) -> None:
    lone = tmp_path / "lone.dump"
    shutil.copyfile(backups["custom"], lone)
    with pytest.raises(BackupError, match=r"no manifest beside the backup \(expected lone.dump.manifest.json\)"):
        restore_database(lone, empty_db)
    manifest_path(lone).write_text('{"manifest_version": 1, "file": ')
    with pytest.raises(BackupError, match=r"lone.dump.manifest.json:1: the backup manifest is not valid JSON"):
        restore_database(lone, empty_db)
    manifest_path(lone).write_text('{"manifest_version": 1, "file": {"bytes": 1, "sha256": "x"}}')
    with pytest.raises(BackupError, match="field 'tables' is missing or invalid"):
        restore_database(lone, empty_db)
    with connect(empty_db) as conn:
        assert conn.execute("SELECT count(*) FROM pg_tables WHERE schemaname = 'public'").fetchone() == (0,)


def test_data_not_matching_the_manifest_rolls_the_restore_back(
    backups: dict[str, Path], database_factory: MakeDb, tmp_path: Path
) -> None:
    """The check inside the transaction: a manifest that does not describe the archive's rows aborts it."""
    target = _loaded_target(database_factory)
    before = checksums(target)
    altered = _copy(backups["custom"], tmp_path)
    manifest = json.loads(manifest_path(altered).read_text())
    manifest["tables"]["public.signals"]["rows"] += 1
    manifest["tables"]["public.customers"]["checksum"] = "12345"
    manifest_path(altered).write_text(json.dumps(manifest))
    with pytest.raises(LoadError, match="does not match the backup's manifest") as caught:
        restore_database(altered, target, trust_unsigned=True)
    message = str(caught.value).lower()
    assert "public.signals has" in message
    assert "public.customers rows differ" in message
    assert "nothing was changed" in message
    assert checksums(target) == before


def test_a_file_that_is_not_an_archive_is_refused_untouched(
    backups: dict[str, Path], database_factory: MakeDb, tmp_path: Path
) -> None:
    target = _loaded_target(database_factory)
    before = checksums(target)
    fake = tmp_path / "fake.dump"
    fake.write_bytes(b"this is not a pg_dump archive\n" * 100)
    manifest = json.loads(manifest_path(backups["custom"]).read_text())
    manifest["file"] = {"bytes": fake.stat().st_size, "sha256": _dump.digest_file(fake).sha256}
    manifest_path(fake).write_text(json.dumps(manifest))
    with pytest.raises(BackupError, match="pg_restore cannot read"):
        restore_database(fake, target, trust_unsigned=True)
    assert checksums(target) == before


def test_unmarked_target_holding_data_is_refused(backups: dict[str, Path], empty_db: str) -> None:
    with connect(empty_db) as conn:
        conn.execute("CREATE TABLE precious (id int); INSERT INTO precious VALUES (1)")
    with pytest.raises(UnsafeTargetError, match="holds tables sspp-fixtures did not make"):
        restore_database(backups["custom"], empty_db)
    with connect(empty_db) as conn:
        assert conn.execute("SELECT count(*) FROM precious").fetchone() == (1,)
        assert conn.execute("SELECT to_regclass('public.signals')").fetchone() == (None,)


def test_newest_client_tools_restore_into_an_older_server(
    source_db: str, pg_server: Server, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """PostgreSQL 17+ tools write settings a 15 server rejects; restore drops them, as pg_restore does."""
    newest = list_client_tools()[0]
    with connect(source_db) as conn:
        server_major = int(conn.info.server_version) // 10000
    if newest.major < 17 or server_major >= 17:
        pytest.skip(f"needs client tools >= 17 and a server < 17 (tools {newest.version}, server {server_major})")
    monkeypatch.setattr(_dump, "find_client_tools", lambda **_: newest)
    monkeypatch.setattr(_restore, "find_client_tools", lambda **_: newest)
    target_name = new_database(pg_server, "restore_newer_tools")
    target = pg_server.dsn_for(target_name)
    try:
        for fmt in ("custom", "plain"):
            report = backup_database(source_db, tmp_path / f"new-tools.{fmt}", fmt=fmt)
            assert report.manifest.dump_tool_version == newest.version
            restore_database(report.path, target)
            assert checksums(target) == checksums(source_db)
    finally:
        drop_database(pg_server.dsn, target_name)


def test_older_server_filter_drops_only_the_newer_setting() -> None:
    adapt = _OlderServerFilter(tools_major=18, server_major=15)
    script = b"SET statement_timeout = 0;\nSET transaction_" + b"timeout = 0;\nSET lock_timeout = 0;\n"
    out = adapt(script[:30]) + adapt(script[30:]) + adapt.flush()
    assert out == b"SET statement_timeout = 0;\nSET lock_timeout = 0;\n"
    same = _OlderServerFilter(tools_major=15, server_major=15)
    assert same(script) == script


def test_client_tools_are_new_enough_but_not_needlessly_newer() -> None:
    found = list_client_tools()
    assert found, "no pg_dump/pg_restore/psql found on this machine"
    oldest = found[-1]
    assert find_client_tools(min_major=oldest.major).major == oldest.major
    with pytest.raises(BackupError, match="older than the 99 they must work with"):
        find_client_tools(min_major=99)


def _make_named(folder: Path, names: list[str]) -> None:
    for name in names:
        (folder / name).write_text("x")
        if name.endswith(".dump"):
            manifest_path(folder / name).write_text("{}")


def test_prune_keeps_the_newest_of_that_database_only(tmp_path: Path) -> None:
    names = [f"sspp-sspp-2026110{day}T020000Z.dump" for day in range(1, 6)]
    _make_named(tmp_path, [*names, "sspp-other-20261101T020000Z.dump", "notes.txt"])
    removed = prune_backups(tmp_path, "sspp", keep=2)
    assert sorted(p.name for p in removed) == names[:3]
    left = sorted(p.name for p in tmp_path.iterdir())
    assert left == sorted(
        [
            *names[3:],
            *(n + ".manifest.json" for n in names[3:]),
            "sspp-other-20261101T020000Z.dump",
            "sspp-other-20261101T020000Z.dump.manifest.json",
            "notes.txt",
        ]
    )


def test_backup_to_a_folder_names_the_file_and_keeps_n(source_db: str, tmp_path: Path) -> None:
    first = backup_database(source_db, tmp_path, keep=1)
    assert first.path.parent == tmp_path
    assert first.path.name.startswith("sspp-sspp_test_")
    assert first.path.name.endswith(".dump")
    other = tmp_path / "sspp-x-20200101T000000Z.dump"  # another database's: not this one's to prune
    other.write_text("old")
    second = backup_database(source_db, tmp_path, keep=1)
    assert second.pruned == (first.path,) or second.path == first.path
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(
        [second.path.name, second.manifest_path.name, other.name]
    )


@contextlib.contextmanager
def _tiny_tmpfs(size: str) -> Iterator[Path]:
    folder = Path(tempfile.mkdtemp(prefix="sspp-test-full-"))
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(folder)], capture_output=True, check=False
    )
    if mounted.returncode != 0:
        folder.rmdir()
        pytest.skip(f"cannot mount a tmpfs here: {mounted.stderr.decode().strip()}")
    try:
        yield folder
    finally:
        subprocess.run(["umount", str(folder)], check=False)
        folder.rmdir()


@pytest.mark.parametrize("fmt", ["custom", "plain"])
def test_a_full_disk_leaves_no_backup_file(fmt: str, source_db: str) -> None:
    with _tiny_tmpfs("64k") as folder:
        with pytest.raises(BackupError) as caught:
            backup_database(source_db, folder / f"full.{fmt}", fmt=fmt)
        assert "No space left on device" in str(caught.value)
        assert list(folder.iterdir()) == []


def test_a_plain_backup_cut_short_is_refused_even_with_a_matching_manifest(
    backups: dict[str, Path], database_factory: MakeDb, tmp_path: Path
) -> None:
    """A manifest rewritten for a cut file passes the SHA-256 check: the gzip stream's end still gives it away."""
    target = _loaded_target(database_factory)
    before = checksums(target)
    cut = _copy(backups["plain"], tmp_path)
    cut.write_bytes(cut.read_bytes()[: cut.stat().st_size * 2 // 3])
    manifest = json.loads(manifest_path(cut).read_text())
    manifest["file"] = {"bytes": cut.stat().st_size, "sha256": _dump.digest_file(cut).sha256}
    manifest_path(cut).write_text(json.dumps(manifest))
    with pytest.raises(BackupError, match="gzip stream ends early"):
        restore_database(cut, target, trust_unsigned=True)
    assert checksums(target) == before


def test_out_ending_with_a_slash_is_a_folder_even_when_missing(source_db: str, tmp_path: Path) -> None:
    report = backup_database(source_db, f"{tmp_path}/missing/nightly/")  # made, like mkdir -p (issue 10, item 16)
    assert report.path.parent == tmp_path / "missing" / "nightly"
    assert report.path.is_file()
