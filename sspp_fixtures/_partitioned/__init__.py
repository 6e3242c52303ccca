"""Partitioned Parquet and CSV files through fsspec, with a manifest: ``sspp-seed export --format parquet|csv
--out URL``, in-process or on a Dask cluster (the optional ``files`` and ``dask`` extras)."""

from __future__ import annotations

from .._defaults import PARTITIONED_FORMATS
from ._export import MANIFEST, PartitionedReport, export_partitioned
from ._write import Partition, row_checksum

__all__ = ["MANIFEST", "PARTITIONED_FORMATS", "Partition", "PartitionedReport", "export_partitioned", "row_checksum"]
