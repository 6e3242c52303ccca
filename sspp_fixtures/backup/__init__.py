"""Backups with a manifest, and restores verified against it: ``sspp-seed backup`` and ``sspp-seed restore``."""

from __future__ import annotations

from ._dump import BACKUP_FORMATS, BackupReport, backup_database, backup_file_name, prune_backups
from ._manifest import MANIFEST_SUFFIX, Manifest, TableFingerprint, fingerprint_tables, manifest_path, read_manifest
from ._restore import RestoreReport, restore_database, verify_backup_file
from ._tools import INSTALL_HINT, ClientTools, find_client_tools, list_client_tools

__all__ = [
    "BACKUP_FORMATS",
    "INSTALL_HINT",
    "MANIFEST_SUFFIX",
    "BackupReport",
    "ClientTools",
    "Manifest",
    "RestoreReport",
    "TableFingerprint",
    "backup_database",
    "backup_file_name",
    "find_client_tools",
    "fingerprint_tables",
    "list_client_tools",
    "manifest_path",
    "prune_backups",
    "read_manifest",
    "restore_database",
    "verify_backup_file",
]
