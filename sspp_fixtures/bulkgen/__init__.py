"""The bulk generator: a scenario's rows at volume, columnar (NumPy), in deterministic chunks, on every core."""

from __future__ import annotations

from ._formats import ES_INDEX, ES_MAPPING, FORMATS
from ._generate import chunk_count
from ._stream import generate
from ._tables import TABLE_ORDER, TABLES

__all__ = [
    "ES_INDEX",
    "ES_MAPPING",
    "FORMATS",
    "TABLES",
    "TABLE_ORDER",
    "chunk_count",
    "generate",
]

# For the other packages of sspp-fixtures and its tests: not part of the supported API
# (README, "Python API"); they may change without notice.
from ._binary import BINARY_LAYOUTS as BINARY_LAYOUTS
from ._binary import BINARY_TYPES as BINARY_TYPES
from ._copy import copy_columns as copy_columns
from ._copy import copy_statement as copy_statement
from ._formats import CopyText as CopyText
from ._formats import formatter as formatter
from ._generate import CHUNK_ROWS as CHUNK_ROWS
from ._generate import ChunkMaker as ChunkMaker
from ._generate import Columns as Columns
from ._generate import PlatformEvents as PlatformEvents
from ._stream import DEFAULT_BATCH_ROWS as DEFAULT_BATCH_ROWS
from ._stream import Piece as Piece
from ._stream import default_workers as default_workers
from ._stream import scenario_locales as scenario_locales
from ._string_pool_cache import load_pools as load_pools
