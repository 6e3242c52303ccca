"""A backup file cannot run commands: psql meta-commands hidden in it (``\\!`` runs a shell) are refused, never run.

Each tampered file has its manifest recomputed, so it passes the size and SHA-256 check, as an attacker who can
write the backup folder would do. The proof that nothing ran is a file the command would have created. A
backslash that is data (in a function body, a string, COPY rows) still restores.
"""

from __future__ import annotations

import gzip
import json
import os
import re
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from sspp_fixtures.backup import _restore, backup_database, manifest_path, restore_database
from sspp_fixtures.backup._manifest import digest_file
from sspp_fixtures.backup._script import ScriptGuard, supports_restrict
from sspp_fixtures.databases import create_database, drop_database
from sspp_fixtures.dsn import connect
from sspp_fixtures.errors import BackupError
from sspp_fixtures.schema import init_database
from sspp_fixtures.server import Server

MakeDb = Callable[..., str]

#: Backslashes that are data: a function body with a line psql would run if it were not inside dollar quotes,
#: a string and a row holding them.
SOURCE_SQL = r"""
CREATE FUNCTION public.hd_shell_text() RETURNS text LANGUAGE sql AS $body$
SELECT '
\! touch PWNED
'::text
$body$;
CREATE TABLE public.hd_notes (note text DEFAULT 'a \! b');
INSERT INTO public.hd_notes VALUES (E'\\! touch PWNED'), (E'line\n\\! touch PWNED');
COMMENT ON TABLE public.customers IS 'PAD-{pad}';
""".replace("{pad}", "x" * 200)


@pytest.fixture(scope="module")
def source_db(pg_server: Server) -> Iterator[str]:
    name = f"sspp_test_harden_data_backup_src_{os.getpid()}"  # one per xdist worker
    drop_database(pg_server.dsn, name)
    create_database(pg_server.dsn, name)
    dsn = pg_server.dsn_for(name)
    init_database(dsn)
    with connect(dsn) as conn:
        conn.execute(SOURCE_SQL)
    yield dsn
    drop_database(pg_server.dsn, name)


@pytest.fixture(scope="module")
def backups(source_db: str, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("harden-data-backups")
    return {fmt: backup_database(source_db, folder / f"src.{fmt}", fmt=fmt).path for fmt in ("custom", "plain")}


def _forge(original: Path, folder: Path, content: bytes) -> Path:
    """A copy of ``original`` holding ``content``, with its manifest recomputed to match."""
    forged = folder / original.name
    forged.write_bytes(content)
    manifest = json.loads(manifest_path(original).read_text())
    digest = digest_file(forged)
    manifest["file"] = {"bytes": digest.bytes, "sha256": digest.sha256}
    manifest_path(forged).write_text(json.dumps(manifest))
    return forged


def _plain_text(backups: dict[str, Path]) -> bytes:
    return gzip.decompress(backups["plain"].read_bytes())


def _after_banner(text: bytes, inserted: bytes) -> bytes:
    cut = text.index(b"SET statement_timeout")
    return text[:cut] + inserted + text[cut:]


def _after_first_copy(text: bytes, inserted: bytes) -> bytes:
    cut = text.index(b"\n\\.\n") + len(b"\n\\.\n")
    return text[:cut] + inserted + text[cut:]


def _after_unrestrict(text: bytes, inserted: bytes) -> bytes:
    found = re.search(rb"\\unrestrict \w+\n", text)
    assert found is not None, "pg_dump of this version writes \\unrestrict"
    return text[: found.end()] + inserted + text[found.end() :]


PLAIN_TAMPERING: dict[str, tuple[Callable[[bytes, bytes], bytes], str]] = {
    "first-line": (lambda text, cmd: cmd + text, "does not begin with pg_dump's banner"),
    "after-the-banner": (_after_banner, r"psql meta-command \(\\!\) at line \d+"),
    "after-a-copy-block": (_after_first_copy, r"psql meta-command \(\\!\) at line \d+"),
    "mid-line": (lambda text, cmd: _after_banner(text, b"SELECT 1; " + cmd), r"psql meta-command \(\\!\)"),
    "after-pg-dumps-unrestrict": (_after_unrestrict, r"psql meta-command \(\\!\)"),
    "closing-a-string-early": (
        lambda text, cmd: _after_banner(text, b"SELECT 'it''s'; " + cmd),
        r"psql meta-command \(\\!\)",
    ),
    "after-a-comment": (lambda text, cmd: _after_banner(text, b"/* a */ -- b\n" + cmd), r"meta-command \(\\!\)"),
}


def _pwned_command(tmp_path: Path) -> tuple[Path, bytes]:
    pwned = tmp_path / "pwned.txt"
    return pwned, f"\\! id > {pwned}\n".encode()


@pytest.mark.parametrize("case", sorted(PLAIN_TAMPERING))
def test_a_plain_backup_with_a_meta_command_is_refused_and_runs_nothing(
    backups: dict[str, Path], empty_db: str, tmp_path: Path, case: str
) -> None:
    pwned, command = _pwned_command(tmp_path)
    tamper, expected = PLAIN_TAMPERING[case]
    forged = _forge(
        backups["plain"], tmp_path, gzip.compress(tamper(_plain_text(backups), command))
    )  # the manifest matches: only the content tells
    with pytest.raises(BackupError, match="was not written by sspp-seed backup") as caught:
        restore_database(forged, empty_db, trust_unsigned=True)
    assert re.search(expected, str(caught.value)), str(caught.value)
    assert not pwned.exists()
    with connect(empty_db) as conn:
        assert conn.execute("SELECT to_regclass('public.customers')").fetchone() == (None,)


def test_psql_itself_refuses_what_the_reader_would_miss(
    backups: dict[str, Path], empty_db: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The second layer alone: with the SQL reader passing everything through, psql's restricted mode still
    refuses the command (and pg_dump's own \\unrestrict cannot lift ours: it does not know our key)."""

    class PassThrough(ScriptGuard):
        def __call__(self, block: bytes) -> bytes:
            return block

        def flush(self) -> bytes:
            return b""

    monkeypatch.setattr(_restore, "ScriptGuard", PassThrough)
    pwned, command = _pwned_command(tmp_path)
    forged = _forge(backups["plain"], tmp_path, gzip.compress(_after_unrestrict(_plain_text(backups), command)))
    with pytest.raises(BackupError, match="psql refused a meta-command in it"):
        restore_database(forged, empty_db, trust_unsigned=True)
    assert not pwned.exists()


def test_a_custom_archive_with_a_meta_command_in_its_toc_is_refused(
    backups: dict[str, Path], empty_db: str, tmp_path: Path
) -> None:
    """pg_restore prints an archive's SQL as it is stored: a crafted table comment carries a meta-command."""
    pwned, command = _pwned_command(tmp_path)
    archive = backups["custom"].read_bytes()
    padding = b"'PAD-" + b"x" * 200 + b"'"
    assert archive.count(padding) == 1, "the TOC stores the comment's SQL uncompressed"
    payload = b"'x';\n" + command + b"-- "
    forged = _forge(backups["custom"], tmp_path, archive.replace(padding, payload.ljust(len(padding), b"y")))
    with pytest.raises(BackupError, match=r"psql meta-command \(\\!\) at line \d+ of the SQL pg_restore reads"):
        restore_database(forged, empty_db, trust_unsigned=True)
    assert not pwned.exists()


@pytest.mark.parametrize("fmt", ["custom", "plain"])
def test_backslashes_that_are_data_restore(backups: dict[str, Path], source_db: str, empty_db: str, fmt: str) -> None:
    restore_database(backups[fmt], empty_db)
    with connect(empty_db) as conn:
        assert conn.execute("SELECT public.hd_shell_text()").fetchone() == ("\n\\! touch PWNED\n",)
        notes = [r[0] for r in conn.execute("SELECT note FROM public.hd_notes ORDER BY note")]
    assert notes == ["\\! touch PWNED", "line\n\\! touch PWNED"]


def test_a_file_not_from_pg_dump_is_refused(backups: dict[str, Path], empty_db: str, tmp_path: Path) -> None:
    text = _plain_text(backups)
    cases = {
        "another-pg-dump-version": (text.replace(b"by pg_dump version ", b"by pg_dump version 9", 1), "pg_dump 9"),
        "no-closing-line": (text.replace(b"-- PostgreSQL database dump complete", b"-- the end"), "does not end"),
        "non-standard-strings": (
            _after_banner(text, b"SET standard_conforming_strings = off;\n"),
            "standard_conforming_strings off",
        ),
        "unterminated-dollar-quote": (_after_banner(text, b"SELECT $x$ never closed;\n"), "does not end"),
    }
    for case, (content, fragment) in cases.items():
        folder = tmp_path / case
        folder.mkdir()
        with pytest.raises(BackupError, match="was not written by sspp-seed backup") as caught:
            restore_database(_forge(backups["plain"], folder, gzip.compress(content)), empty_db, trust_unsigned=True)
        assert fragment in str(caught.value), case


def test_psql_without_restrict_is_refused_before_anything_runs(
    backups: dict[str, Path], empty_db: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(_restore, "supports_restrict", lambda version: False)
    with pytest.raises(BackupError, match=r"cannot restore safely with psql .*\\restrict"):
        restore_database(backups["plain"], empty_db)
    with connect(empty_db) as conn:
        assert conn.execute("SELECT to_regclass('public.customers')").fetchone() == (None,)


@pytest.mark.parametrize(
    ("version", "has_it"),
    [("15.13", False), ("15.14", True), ("15.20", True), ("16.9", False), ("16.10", True), ("17.6", True),
     ("18.4", True), ("18beta1", True), ("12.22", False), ("13.22", True), ("garbage", False)],
)  # fmt: skip
def test_which_psql_can_be_restricted(version: str, has_it: bool) -> None:
    assert supports_restrict(version) is has_it


def test_with_a_signing_key_only_backups_it_signed_restore(
    source_db: str, empty_db: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Anyone who can write the backup folder can recompute a SHA-256, and a backup is SQL: a restore takes only
    what a backup with the key in force ($SSPP_BACKUP_KEY here, shared by both sides) wrote, unless told to trust
    the file."""
    monkeypatch.setenv("SSPP_BACKUP_KEY", "harden-data-test-key")
    signed = backup_database(source_db, tmp_path / "signed.dump").path
    assert json.loads(manifest_path(signed).read_text())["extra"]["signature"].startswith("hmac-sha256:")
    folder = tmp_path / "forged"
    folder.mkdir()
    forged = _forge(signed, folder, signed.read_bytes().replace(b"PAD-x", b"PAD-y"))  # digest recomputed
    with pytest.raises(BackupError, match=r"its signature does not match the key in \$SSPP_BACKUP_KEY"):
        restore_database(forged, empty_db)
    unsigned = tmp_path / "unsigned" / signed.name
    unsigned.parent.mkdir()
    shutil.copy(signed, unsigned)
    manifest = json.loads(manifest_path(signed).read_text())
    del manifest["extra"]["signature"]
    manifest_path(unsigned).write_text(json.dumps(manifest))
    with pytest.raises(BackupError, match="it carries no signature, so nothing shows sspp-seed backup wrote it"):
        restore_database(unsigned, empty_db)
    monkeypatch.setenv("SSPP_BACKUP_KEY", "another-key")
    with pytest.raises(BackupError, match="its signature does not match"):
        restore_database(signed, empty_db)
    monkeypatch.setenv("SSPP_BACKUP_KEY", "harden-data-test-key")
    restore_database(signed, empty_db)
    with connect(empty_db) as conn:
        assert conn.execute("SELECT count(*) FROM public.hd_notes").fetchone() == (2,)
