"""Defaults and choices shared by the engines and the CLI, in a module light enough for the CLI to import at
start-up (the table order has its own, :mod:`._table_order`)."""

from __future__ import annotations

import os

__all__ = [
    "DATABASE_URL_ENV",
    "DEFAULT_BATCH_ROWS",
    "EXPORT_FORMATS",
    "PARTITIONED_FORMATS",
    "PROVIDER_NAMES",
    "resolve_dsn",
]

#: The environment variable naming the server, when no DSN is given.
DATABASE_URL_ENV = "DATABASE_URL"
#: Server provider names in the order ``auto`` tries them (here, not in :mod:`.server`, so that the pytest plugin
#: can list them at start-up without importing psycopg and the providers).
PROVIDER_NAMES: tuple[str, ...] = ("dsn", "local", "embedded", "docker")

#: Rows per COPY batch (a multiple of the generator's chunk; the data is the same whatever the batch size).
#: Small batches keep memory low (measured: 50k rows per batch doubled peak memory for no speed).
DEFAULT_BATCH_ROWS = 10_000
#: Formats ``sspp-seed export`` writes.
EXPORT_FORMATS: tuple[str, ...] = ("csv", "jsonl", "sql", "es-bulk")
#: Formats ``sspp-seed export`` also writes as ``<table>/part-NNNNN.<format>`` files with a manifest (any fsspec URL).
PARTITIONED_FORMATS: tuple[str, ...] = ("parquet", "csv")


def resolve_dsn(explicit: str | None) -> str | None:
    """The DSN the user asked for: ``explicit`` (``--dsn``) first, then ``$DATABASE_URL``, else ``None``."""
    if explicit:
        return explicit
    from_env = os.environ.get(DATABASE_URL_ENV, "").strip()
    return from_env or None
