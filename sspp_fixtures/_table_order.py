"""The SSPP tables in the order they are written, in a module light enough for the CLI to import at start-up."""

from __future__ import annotations

__all__ = ["TABLE_ORDER"]

#: The SSPP tables in the order they are written (customers before the rows that name them); ``sales_signals``
#: is the platform's live table (one row per processed event of its six types).
TABLE_ORDER: tuple[str, ...] = ("customers", "events", "signals", "sales_signals")
