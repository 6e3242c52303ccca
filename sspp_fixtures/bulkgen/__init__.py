"""The bulk generator: a scenario's rows at volume, columnar (NumPy), in deterministic chunks, on every core."""

from __future__ import annotations

from ._copy import copy_columns, copy_statement
from ._formats import ES_INDEX, ES_MAPPING, FORMATS, CopyText, Csv, EsBulk, Formatter, JsonLines, SqlInserts, formatter
from ._generate import CHUNK_ROWS, ChunkMaker, Columns, PlatformEvents, chunk_count
from ._stream import DEFAULT_BATCH_ROWS, Piece, default_workers, generate, plan_tasks, scenario_locales
from ._string_pool_cache import load_pools
from ._tables import TABLE_ORDER, TABLES, TableSpec

__all__ = [
    "CHUNK_ROWS",
    "DEFAULT_BATCH_ROWS",
    "ES_INDEX",
    "ES_MAPPING",
    "FORMATS",
    "TABLES",
    "TABLE_ORDER",
    "ChunkMaker",
    "Columns",
    "CopyText",
    "Csv",
    "EsBulk",
    "Formatter",
    "JsonLines",
    "Piece",
    "PlatformEvents",
    "SqlInserts",
    "TableSpec",
    "chunk_count",
    "copy_columns",
    "copy_statement",
    "default_workers",
    "formatter",
    "generate",
    "load_pools",
    "plan_tasks",
    "scenario_locales",
]
