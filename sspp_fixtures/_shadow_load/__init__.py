"""A load over several connections, atomic all the same: fill a shadow schema in parallel, then swap it in.

``_shadow`` names, claims and sweeps the shadow schema; ``_live`` reads what the live tables carry; ``_fill``
copies the rows over N connections; ``_build`` builds the indexes and analyzes; ``_swap`` puts the shadow tables
in the live ones' place in one transaction; ``_signature`` is the catalog that swap must leave unchanged;
``_run`` puts these together.
"""

from __future__ import annotations

from ._run import (
    ShadowFill,
    ShadowTarget,
    UnsupportedTables,
    default_connections,
    expected_table_rows,
    load_in_parallel,
)
from ._shadow import SHADOW_PREFIX, create_shadow_table, shadow_schemas, sweep_shadow_schemas
from ._signature import catalog_signature

__all__ = [
    "SHADOW_PREFIX",
    "ShadowFill",
    "ShadowTarget",
    "UnsupportedTables",
    "catalog_signature",
    "create_shadow_table",
    "default_connections",
    "expected_table_rows",
    "load_in_parallel",
    "shadow_schemas",
    "sweep_shadow_schemas",
]
