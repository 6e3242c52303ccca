"""The sort memory a load gives each index build: small for cache-friendly runs, enough for one merge pass."""

from __future__ import annotations

import pytest

from sspp_fixtures._load_common import index_build_memory


def _mb(setting: str) -> int:
    assert setting.endswith("MB")
    return int(setting.removesuffix("MB"))


@pytest.mark.parametrize("table_bytes", [0, 8192, 50 << 20, 200 << 20])
def test_tables_up_to_200_mb_get_the_floor(table_bytes: int) -> None:
    assert index_build_memory(table_bytes) == "16MB"


def test_memory_grows_with_the_square_root_of_the_table_until_the_cap() -> None:
    sizes = [1 << 30, 4 << 30, 16 << 30]
    memory = [_mb(index_build_memory(size)) for size in sizes]
    assert 16 < memory[0] < memory[1] < memory[2]
    assert memory[1] == pytest.approx(2 * memory[0], abs=1)  # 4x the table, 2x the memory
    assert _mb(index_build_memory(1 << 50)) == 256


def test_a_parallel_btree_build_gets_32_mb_for_each_of_its_processes() -> None:
    assert index_build_memory(100 << 20, parallel_workers=1) == "64MB"
    assert index_build_memory(100 << 20, parallel_workers=3) == "128MB"
    assert index_build_memory(100 << 20, gin=True, parallel_workers=3) == "16MB"  # GIN builds are never parallel
