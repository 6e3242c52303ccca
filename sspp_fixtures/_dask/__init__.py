"""Running the bulk generator's chunk tasks on a Dask cluster (the optional ``dask`` extra).

Internal to sspp-fixtures: the CLI's ``--dask`` option and the exporters use it. Importing it does not import
dask; the functions that need it say how to install it when it is missing.
"""

from __future__ import annotations

from ._cluster import (
    DEFAULT_RETRIES,
    INSTALL_HINT,
    DaskTarget,
    dask_client,
    group_tasks,
    parse_dask,
    run_tasks,
    task_key,
)
from ._worker import task_pieces, worker_maker

__all__ = [
    "DEFAULT_RETRIES",
    "INSTALL_HINT",
    "DaskTarget",
    "dask_client",
    "group_tasks",
    "parse_dask",
    "run_tasks",
    "task_key",
    "task_pieces",
    "worker_maker",
]
