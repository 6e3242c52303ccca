"""Defaults shared by the engines and the CLI, in a module light enough for the CLI to import at start-up."""

from __future__ import annotations

__all__ = ["DEFAULT_BATCH_ROWS", "EXPORT_FORMATS", "TABLE_ORDER"]

#: The SSPP tables in the order they are written (customers before the rows that name them); ``sales_signals``
#: is the platform's live table (one row per processed event of its six types).
TABLE_ORDER: tuple[str, ...] = ("customers", "events", "signals", "sales_signals")

#: Rows per COPY batch (a multiple of the generator's chunk; the data is the same whatever the batch size).
#: Small batches keep memory low (measured: 50k rows per batch doubled peak memory for no speed).
DEFAULT_BATCH_ROWS = 10_000
#: Formats ``sspp-seed export`` writes.
EXPORT_FORMATS: tuple[str, ...] = ("csv", "jsonl", "sql", "es-bulk")
