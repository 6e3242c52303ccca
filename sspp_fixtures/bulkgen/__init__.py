"""The bulk generator: a scenario's rows at volume, columnar (NumPy), in deterministic chunks, on every core."""

from __future__ import annotations

from ._formats import FORMATS, CopyText, Csv, Formatter, JsonLines, SqlInserts, formatter
from ._generate import CHUNK_ROWS, ChunkMaker, Columns
from ._pools_cache import load_pools
from ._stream import DEFAULT_BATCH_ROWS, Piece, default_workers, generate, plan_tasks, scenario_locales
from ._tables import TABLE_ORDER, TABLES, TableSpec

__all__ = [
    "CHUNK_ROWS",
    "DEFAULT_BATCH_ROWS",
    "FORMATS",
    "TABLES",
    "TABLE_ORDER",
    "ChunkMaker",
    "Columns",
    "CopyText",
    "Csv",
    "Formatter",
    "JsonLines",
    "Piece",
    "SqlInserts",
    "TableSpec",
    "default_workers",
    "formatter",
    "generate",
    "load_pools",
    "plan_tasks",
    "scenario_locales",
]
