"""``export --out s3://...`` through s3fs against a real S3 API (moto's server on this machine): from this process
and from a local cluster's worker processes, with the manifest, the bytes and no hidden leftovers checked."""

from __future__ import annotations

import hashlib
import io
import json
import os
import uuid
from collections.abc import Iterator
from typing import Any
from unittest import mock

import pytest

from sspp_fixtures._partitioned import MANIFEST
from tests.fix_cli import cli_here

from ._work import listed

pytest.importorskip("s3fs")
pytest.importorskip("moto.server")


@pytest.fixture(scope="module")
def s3() -> Iterator[dict[str, str]]:
    """The environment that points botocore (and so s3fs) at a moto S3 server started for these tests."""
    from moto.server import ThreadedMotoServer

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    env = {
        "AWS_ACCESS_KEY_ID": "sspp-test",
        "AWS_SECRET_ACCESS_KEY": "sspp-test-secret",
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_ENDPOINT_URL": f"http://{host}:{port}",
    }
    try:
        yield env
    finally:
        server.stop()


def _bucket(env: dict[str, str]) -> Any:
    """A new bucket on the server and an s3fs file system to read it (not cached: each test its own)."""
    import s3fs

    with mock.patch.dict(os.environ, env):
        filesystem = s3fs.S3FileSystem(skip_instance_cache=True)
        bucket = f"sspp-test-{uuid.uuid4().hex[:12]}"
        filesystem.mkdir(bucket)
    return filesystem, bucket


@pytest.mark.parametrize("where", [[], ["--dask", "local:2"]], ids=["in-process", "local-cluster"])
def test_a_parquet_export_to_s3_holds_the_in_process_manifest_and_bytes(
    s3: dict[str, str], in_process: dict[str, Any], where: list[str]
) -> None:
    import pyarrow.parquet as pq

    filesystem, bucket = _bucket(s3)
    out = f"s3://{bucket}/lake"
    result = cli_here(
        "export", "demo", "--scale", "0.35", "--format", "parquet", "--out", out, *where, "--json", env=s3
    )
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["manifest"] == f"{out}/{MANIFEST}"
    with mock.patch.dict(os.environ, s3):
        filesystem.invalidate_cache()
        manifest = json.loads(filesystem.cat(f"{bucket}/lake/{MANIFEST}"))
        assert manifest == in_process
        stored = {path.removeprefix(f"{bucket}/lake/") for path in filesystem.find(f"{bucket}/lake", withdirs=False)}
        assert stored == listed(in_process)  # no hidden temporary partition left behind
        for table in manifest["tables"].values():
            for partition in table["partitions"]:
                data = filesystem.cat(f"{bucket}/lake/{partition['path']}")
                assert hashlib.sha256(data).hexdigest() == partition["sha256"]
                assert pq.read_table(io.BytesIO(data)).num_rows == partition["rows"]
