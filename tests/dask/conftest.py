"""Real :class:`distributed.LocalCluster` clusters (worker processes), one of each size per test session."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from distributed import Client

from sspp_fixtures._dask import dask_client
from sspp_fixtures._partitioned import export_partitioned
from sspp_fixtures.scenarios import Scenario, load_scenario

from ._work import manifest_at


@pytest.fixture(scope="session")
def client2() -> Iterator[Client]:
    """A local cluster of two worker processes."""
    with dask_client("local:2") as client:
        yield client


@pytest.fixture(scope="session")
def client1() -> Iterator[Client]:
    """A local cluster of one worker process."""
    with dask_client("local:1") as client:
        yield client


@pytest.fixture(scope="session")
def small_scenario() -> Scenario:
    """Several chunk tasks (a customers chunk, three events chunks, the stories) in well under a second."""
    return load_scenario("demo").with_overrides(scale=0.35)


@pytest.fixture(scope="session")
def in_process(small_scenario: Scenario, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """The manifest of the scenario's Parquet export made in this process."""
    root = tmp_path_factory.mktemp("here")
    export_partitioned(small_scenario, "parquet", str(root))
    return manifest_at(root)
