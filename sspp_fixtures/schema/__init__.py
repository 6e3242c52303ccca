"""The SSPP schema: migration files, the runner, ``init.sql``, the tool's marker, and whole-database operations."""

from __future__ import annotations

from ._initsql import init_sql_path, render_init_sql, write_init_sql
from ._inspect import TargetState, describe_schema, inspect_target
from ._lifecycle import (
    EMPTY_SCHEMA_STATEMENTS,
    DatabaseStatus,
    InitResult,
    database_status,
    init_database,
    refuse_unless_safe,
    reset_database,
    schema_objects,
    schema_tables,
)
from ._meta import (
    META_SCHEMA,
    AppliedMigration,
    Marker,
    applied_migrations,
    load_purpose,
    loaded_scenario,
    read_marker,
    write_marker,
)
from ._migrations import Migration, load_migrations, migrations_checksum, migrations_dir, sql_dir
from ._runner import MIGRATION_LOCK_KEY, MigrationPlan, MigrationRun, apply_migrations, check_drift, plan

__all__ = [
    "EMPTY_SCHEMA_STATEMENTS",
    "META_SCHEMA",
    "MIGRATION_LOCK_KEY",
    "AppliedMigration",
    "DatabaseStatus",
    "InitResult",
    "Marker",
    "Migration",
    "MigrationPlan",
    "MigrationRun",
    "TargetState",
    "applied_migrations",
    "apply_migrations",
    "check_drift",
    "database_status",
    "describe_schema",
    "init_database",
    "init_sql_path",
    "inspect_target",
    "load_migrations",
    "load_purpose",
    "loaded_scenario",
    "migrations_checksum",
    "migrations_dir",
    "plan",
    "read_marker",
    "refuse_unless_safe",
    "render_init_sql",
    "reset_database",
    "schema_objects",
    "schema_tables",
    "sql_dir",
    "write_init_sql",
    "write_marker",
]
