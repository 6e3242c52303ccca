"""deploy/k8s/sql-configmap.yaml holds sql/init.sql and sql/seed.sql byte for byte, and `sspp-seed schema render`
says when any of the three is stale."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from sspp_fixtures.cli import run
from sspp_fixtures.sqlfiles import REGENERATE, render_sql_files
from tests.deploy._deployfiles import K8S, ROOT, load_yaml, objects_of_kind

CONFIGMAP = K8S / "sql-configmap.yaml"
SOURCES = {"init.sql": ROOT / "sql" / "init.sql", "seed.sql": ROOT / "sql" / "seed.sql"}


def test_configmap_holds_the_sql_files_byte_for_byte() -> None:
    (configmap,) = load_yaml(CONFIGMAP)
    assert configmap["kind"] == "ConfigMap"
    assert set(configmap["data"]) == set(SOURCES)
    for key, source in SOURCES.items():
        assert configmap["data"][key].encode("utf-8") == source.read_bytes(), (
            f"{CONFIGMAP.relative_to(ROOT)} is stale: {key} differs from {source.relative_to(ROOT)}; run `{REGENERATE}`"
        )


def _checkout_copy(tmp_path: Path) -> Path:
    """The files `schema render` reads and writes, copied into a folder of their own."""
    copy = tmp_path / "checkout"
    shutil.copytree(ROOT / "sql", copy / "sql")
    (copy / "deploy").mkdir()
    shutil.copytree(K8S, copy / "deploy" / "k8s")
    return copy


def test_render_check_passes_on_the_committed_files(capsys: pytest.CaptureFixture[str]) -> None:
    assert run(["schema", "render", "--check"]) == 0, capsys.readouterr().err
    assert capsys.readouterr().out.count(": current") == 3


def test_render_check_names_each_stale_file_and_render_fixes_them(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    copy = _checkout_copy(tmp_path)
    seed, configmap = copy / "sql" / "seed.sql", copy / "deploy" / "k8s" / "sql-configmap.yaml"
    seed.write_text(seed.read_text(encoding="utf-8").replace("cust_000001", "cust_999999", 1), encoding="utf-8")
    configmap.write_text(configmap.read_text(encoding="utf-8") + "# edited\n", encoding="utf-8")
    edited = {p: p.read_bytes() for p in (seed, configmap)}

    assert run(["schema", "render", "--check", "--root", str(copy)]) == 1
    captured = capsys.readouterr()
    assert f"{seed}: out of date" in captured.out
    assert f"{configmap}: out of date" in captured.out
    assert f"{copy / 'sql' / 'init.sql'}: current" in captured.out
    assert f"2 of 3 files out of date: run {REGENERATE}" in captured.err
    assert {p: p.read_bytes() for p in edited} == edited, "--check writes nothing"

    assert run(["schema", "render", "--root", str(copy)]) == 0
    for name in ("sql/init.sql", "sql/seed.sql", "deploy/k8s/sql-configmap.yaml"):
        assert (copy / name).read_bytes() == (ROOT / name).read_bytes(), name
    assert [f.stale for f in render_sql_files(copy, check=True)] == [False, False, False]


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
