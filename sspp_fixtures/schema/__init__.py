"""The SSPP schema: migration files, the runner, ``init.sql``, the tool's marker, and whole-database operations."""

from __future__ import annotations

from ._initsql import render_init_sql
from ._lifecycle import DatabaseStatus, InitResult, database_status, init_database, reset_database
from ._meta import AppliedMigration, applied_migrations
from ._migrations import Migration, load_migrations
from ._runner import MigrationPlan, apply_migrations, check_drift, plan

__all__ = [
    "AppliedMigration",
    "DatabaseStatus",
    "InitResult",
    "Migration",
    "MigrationPlan",
    "applied_migrations",
    "apply_migrations",
    "check_drift",
    "database_status",
    "init_database",
    "load_migrations",
    "plan",
    "render_init_sql",
    "reset_database",
]

# For the other packages of sspp-fixtures and its tests: not part of the supported API
# (README, "Python API"); they may change without notice.
from ._initsql import init_sql_path as init_sql_path
from ._inspect import TargetState as TargetState
from ._inspect import describe_schema as describe_schema
from ._inspect import inspect_target as inspect_target
from ._lifecycle import EMPTY_SCHEMA_STATEMENTS as EMPTY_SCHEMA_STATEMENTS
from ._lifecycle import refuse_unless_safe as refuse_unless_safe
from ._lifecycle import schema_objects as schema_objects
from ._lifecycle import schema_tables as schema_tables
from ._meta import META_SCHEMA as META_SCHEMA
from ._meta import load_purpose as load_purpose
from ._meta import loaded_scenario as loaded_scenario
from ._meta import read_marker as read_marker
from ._meta import write_marker as write_marker
from ._migrations import migrations_checksum as migrations_checksum
from ._migrations import sql_dir as sql_dir
from ._runner import MigrationRun as MigrationRun
