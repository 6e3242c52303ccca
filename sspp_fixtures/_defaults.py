"""Defaults and choices shared by the engines and the CLI, in a module light enough for the CLI to import at
start-up (the table order has its own, :mod:`._table_order`)."""

from __future__ import annotations

__all__ = ["DEFAULT_BATCH_ROWS", "EXPORT_FORMATS"]

#: Rows per COPY batch (a multiple of the generator's chunk; the data is the same whatever the batch size).
#: Small batches keep memory low (measured: 50k rows per batch doubled peak memory for no speed).
DEFAULT_BATCH_ROWS = 10_000
#: Formats ``sspp-seed export`` writes.
EXPORT_FORMATS: tuple[str, ...] = ("csv", "jsonl", "sql", "es-bulk")
