"""deploy/k8s/sql-configmap.yaml holds sql/init.sql and sql/seed.sql byte for byte, and its renderer says when not."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.deploy._deployfiles import DEPLOY, K8S, ROOT, load_yaml, objects_of_kind

CONFIGMAP = K8S / "sql-configmap.yaml"
RENDERER = DEPLOY / "render_sql_configmap.py"
REGENERATE = "python deploy/render_sql_configmap.py"
SOURCES = {"init.sql": ROOT / "sql" / "init.sql", "seed.sql": ROOT / "sql" / "seed.sql"}


def _render(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(RENDERER), *args], capture_output=True, text=True, timeout=60, check=False, cwd=ROOT
    )


def test_configmap_holds_the_sql_files_byte_for_byte() -> None:
    (configmap,) = load_yaml(CONFIGMAP)
    assert configmap["kind"] == "ConfigMap"
    assert set(configmap["data"]) == set(SOURCES)
    for key, source in SOURCES.items():
        assert configmap["data"][key].encode("utf-8") == source.read_bytes(), (
            f"{CONFIGMAP.relative_to(ROOT)} is stale: {key} differs from {source.relative_to(ROOT)}; run `{REGENERATE}`"
        )


def test_renderer_check_agrees_and_writes_the_same_file(tmp_path: Path) -> None:
    check = _render("--check")
    assert check.returncode == 0, check.stderr
    fresh = tmp_path / "sql-configmap.yaml"
    written = _render("--out", str(fresh))
    assert written.returncode == 0, written.stderr
    assert fresh.read_bytes() == CONFIGMAP.read_bytes()


def test_renderer_check_catches_a_stale_configmap(tmp_path: Path) -> None:
    stale = tmp_path / "sql-configmap.yaml"
    stale.write_text(CONFIGMAP.read_text(encoding="utf-8").replace("cust_000001", "cust_999999", 1), encoding="utf-8")
    result = _render("--check", "--out", str(stale))
    assert result.returncode == 1
    assert f"is out of date with sql/init.sql and sql/seed.sql: run `{REGENERATE}`" in result.stderr
    assert "cust_999999" in stale.read_text(encoding="utf-8"), "--check writes nothing"


def test_configmap_fits_what_kubernetes_and_kubectl_apply_accept() -> None:
    """1 MiB for a ConfigMap's data; 256 KiB for the last-applied annotation client-side `kubectl apply` writes."""
    size = CONFIGMAP.stat().st_size
    assert size < 256 * 1024, f"{size:,} bytes: too big for `kubectl apply`; shrink the seed or use server-side apply"
    data = objects_of_kind("ConfigMap")["sspp-db-sql"]["data"]
    assert sum(len(v.encode("utf-8")) for v in data.values()) < 1024 * 1024


@pytest.mark.skipif(shutil.which("kubectl") is None, reason="kubectl is not installed")
def test_kubectl_reads_the_same_bytes(tmp_path: Path) -> None:
    """Another YAML parser (Go's, through kustomize) gets the files back unchanged too."""
    result = subprocess.run(
        ["kubectl", "kustomize", str(K8S)], capture_output=True, text=True, timeout=120, check=False
    )
    assert result.returncode == 0, result.stderr
    built = tmp_path / "built.yaml"
    built.write_text(result.stdout, encoding="utf-8")
    (configmap,) = [o for o in load_yaml(built) if o["kind"] == "ConfigMap"]
    for key, source in SOURCES.items():
        assert configmap["data"][key].encode("utf-8") == source.read_bytes(), key
