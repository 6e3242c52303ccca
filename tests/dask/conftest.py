"""Real :class:`distributed.LocalCluster` clusters (worker processes), one of each size per test module."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from distributed import Client

from sspp_fixtures._dask import dask_client
from sspp_fixtures.scenarios import Scenario, load_scenario


@pytest.fixture(scope="module")
def client2() -> Iterator[Client]:
    """A local cluster of two worker processes."""
    with dask_client("local:2") as client:
        yield client


@pytest.fixture(scope="module")
def client1() -> Iterator[Client]:
    """A local cluster of one worker process."""
    with dask_client("local:1") as client:
        yield client


@pytest.fixture(scope="session")
def small_scenario() -> Scenario:
    """Several chunk tasks (a customers chunk, four events chunks, the stories) in well under a second."""
    return load_scenario("demo").with_overrides(scale=0.6)
