"""Backups with a manifest, and restores verified against it: ``sspp-seed backup`` and ``sspp-seed restore``."""

from __future__ import annotations

from ._dump import BACKUP_FORMATS, BackupReport, backup_database, prune_backups
from ._manifest import Manifest, read_manifest
from ._restore import RestoreReport, restore_database, verify_backup_file

__all__ = [
    "BACKUP_FORMATS",
    "BackupReport",
    "Manifest",
    "RestoreReport",
    "backup_database",
    "prune_backups",
    "read_manifest",
    "restore_database",
    "verify_backup_file",
]

# For the other packages of sspp-fixtures and its tests: not part of the supported API
# (README, "Python API"); they may change without notice.
from ._manifest import manifest_path as manifest_path
from ._tools import INSTALL_HINT as INSTALL_HINT
from ._tools import find_client_tools as find_client_tools
from ._tools import list_client_tools as list_client_tools
