"""The ``--dask`` option shared by the data commands: run the chunk tasks on a Dask cluster."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

import click

__all__ = ["dask_option"]

_F = TypeVar("_F", bound=Callable[..., Any])


def dask_option(effect: str = "") -> Callable[[_F], _F]:
    """``--dask local:N|ADDRESS``; ``effect`` says what the cluster does for this command."""
    return click.option(
        "--dask",
        "dask",
        metavar="local:N|ADDRESS",
        default=None,
        help="Run the chunk tasks on a Dask cluster: local:N starts N worker processes here, tcp://host:8786 uses a "
        f"running scheduler{'; ' + effect if effect else ''}. Needs pip install 'sspp-fixtures[dask]'.",
    )
