"""The ``--dask`` option shared by the data commands: run the chunk tasks on a Dask cluster."""

from __future__ import annotations

import click

__all__ = ["dask_option"]

dask_option = click.option(
    "--dask",
    "dask",
    metavar="local:N|ADDRESS",
    default=None,
    help="Run the chunk tasks on a Dask cluster: local:N starts N worker processes here, tcp://host:8786 uses a "
    "running scheduler. Needs pip install 'sspp-fixtures[dask]'.",
)
