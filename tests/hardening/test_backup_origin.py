"""Every backup is signed, and a restore takes only what this machine's key signed (issue 10, item 2).

A plain backup is SQL, and anyone who can write the backup folder can recompute its SHA-256: without a secret,
nothing tells a file ``sspp-seed backup`` wrote from one edited since. With no ``$SSPP_BACKUP_KEY``, each user
has a key of their own, made on the first backup.
"""

from __future__ import annotations

import json
import stat
import threading
from pathlib import Path

import pytest

from sspp_fixtures.backup import backup_database, manifest_path, restore_database
from sspp_fixtures.backup._manifest import key_file, signing_key
from sspp_fixtures.dsn import connect
from sspp_fixtures.errors import BackupError
from sspp_fixtures.schema import init_database


@pytest.fixture
def own_config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A config folder of the test's own, and no $SSPP_BACKUP_KEY: the user's own key is the one in force."""
    monkeypatch.delenv("SSPP_BACKUP_KEY", raising=False)
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    return tmp_path / "config" / "sspp-fixtures"


def test_the_first_backup_makes_the_users_key_readable_by_them_only(
    own_config: Path, empty_db: str, tmp_path: Path
) -> None:
    assert not key_file().exists()
    init_database(empty_db)
    made = backup_database(empty_db, tmp_path / "first.dump").path
    assert key_file() == own_config / "backup-key"
    assert stat.S_IMODE(key_file().stat().st_mode) == 0o600
    key = key_file().read_text().strip()
    assert len(key) == 64
    assert int(key, 16) >= 0
    assert [p.name for p in own_config.iterdir()] == ["backup-key"]  # no draft left beside it
    assert json.loads(manifest_path(made).read_text())["extra"]["signature"].startswith("hmac-sha256:")
    backup_database(empty_db, tmp_path / "second.dump")
    assert key_file().read_text().strip() == key  # made once, then kept


def test_backups_made_at_once_share_one_key(own_config: Path) -> None:
    found: list[tuple[str, str] | None] = []
    threads = [threading.Thread(target=lambda: found.append(signing_key(create=True))) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(set(found)) == 1, found
    assert found[0] is not None
    assert found[0][1] == str(own_config / "backup-key")


def test_a_restore_refuses_what_another_key_signed_unless_trusted(
    own_config: Path, empty_db: str, database_factory: object, tmp_path: Path
) -> None:
    init_database(empty_db)
    with connect(empty_db) as conn:
        conn.execute("INSERT INTO customers (customer_id, name) VALUES ('cust_origin', 'Origin Ltd')")
    made = backup_database(empty_db, tmp_path / "origin.dump").path
    target = database_factory()  # type: ignore[operator]

    key_file().write_text("0" * 64 + "\n")  # another machine's key, in effect
    with pytest.raises(BackupError) as caught:
        restore_database(made, target)
    assert str(caught.value).startswith(
        f"backup file {made} cannot be shown to be written by sspp-seed backup: its signature does not match the "
        f"key in {key_file()}: another machine's key signed it, or the file or its manifest was changed since"
    )
    assert "set $SSPP_BACKUP_KEY to the key that signed it" in (caught.value.hint or "")

    key_file().unlink()
    with pytest.raises(BackupError, match=r"it is signed, but this machine has no key to check it with"):
        restore_database(made, target)
    assert not key_file().exists(), "a restore never makes a key"
    with connect(target) as conn:
        assert conn.execute("SELECT to_regclass('public.customers')").fetchone() == (None,)

    restore_database(made, target, trust_unsigned=True)
    with connect(target) as conn:
        assert conn.execute("SELECT name FROM customers").fetchall() == [("Origin Ltd",)]
