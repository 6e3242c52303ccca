"""deploy/k8s: every object parses, references between objects resolve, and the tool's containers run valid commands."""

from __future__ import annotations

import copy
import re
import shutil
import subprocess
from collections import Counter
from pathlib import PurePosixPath
from typing import Any

import pytest
from psycopg import conninfo

from sspp_fixtures import __version__
from tests.deploy._deployfiles import (
    DOCKERFILE,
    K8S,
    check_tool_invocation,
    dockerfile_stages,
    image_defaults,
    k8s_argv,
    k8s_env,
    k8s_files,
    k8s_objects,
    load_yaml,
    objects_of_kind,
    pg_isready_understands,
    pod_containers,
    pod_spec,
    tool_containers,
)

KNOWN_KINDS = {
    ("v1", "ConfigMap"),
    ("v1", "Secret"),
    ("v1", "Service"),
    ("v1", "PersistentVolumeClaim"),
    ("apps/v1", "Deployment"),
    ("apps/v1", "StatefulSet"),
    ("batch/v1", "CronJob"),
}
DNS_LABEL = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?\Z")


def _workloads() -> list[tuple[str, dict[str, Any], dict[str, Any]]]:
    found = []
    for file_name, obj in k8s_objects():
        spec = pod_spec(obj)
        if spec is not None:
            found.append((f"{file_name}: {obj['kind']}/{obj['metadata']['name']}", obj, spec))
    return found


def test_kustomization_lists_every_manifest_and_only_existing_ones() -> None:
    (kustomization,) = load_yaml(K8S / "kustomization.yaml")
    assert kustomization["apiVersion"] == "kustomize.config.k8s.io/v1beta1"
    assert kustomization["kind"] == "Kustomization"
    resources = kustomization["resources"]
    assert len(resources) == len(set(resources)), "a resource is listed twice"
    on_disk = {p.name for p in k8s_files()} - {"kustomization.yaml"}
    assert set(resources) == on_disk, (
        f"not listed: {sorted(on_disk - set(resources))}; listed but missing: {sorted(set(resources) - on_disk)}"
    )


def test_objects_have_known_kinds_and_unique_valid_names() -> None:
    objects = k8s_objects()
    assert objects
    for file_name, obj in objects:
        assert (obj.get("apiVersion"), obj.get("kind")) in KNOWN_KINDS, f"{file_name}: {obj.get('kind')}"
        name = obj["metadata"]["name"]
        assert DNS_LABEL.match(name), f"{file_name}: bad name {name!r}"
        assert len(name) <= 63, f"{file_name}: name {name!r} is longer than 63"
        assert "namespace" not in obj["metadata"], f"{file_name}: leave the namespace to kubectl -n or an overlay"
    counts = Counter((obj["kind"], obj["metadata"]["name"]) for _, obj in objects)
    assert [key for key, n in counts.items() if n > 1] == []
    kinds = {obj["kind"] for _, obj in objects}
    assert {"ConfigMap", "Secret", "Deployment", "CronJob", "PersistentVolumeClaim"} <= kinds


def test_selectors_match_their_pods() -> None:
    services = objects_of_kind("Service")
    for where, obj, _ in _workloads():
        if obj["kind"] in ("Deployment", "StatefulSet"):
            selector = obj["spec"]["selector"]["matchLabels"]
            labels = obj["spec"]["template"]["metadata"]["labels"]
            assert selector.items() <= labels.items(), f"{where}: the selector does not select its own pods"
        if obj["kind"] == "StatefulSet":
            service = services[obj["spec"]["serviceName"]]
            assert service["spec"]["selector"].items() <= obj["spec"]["template"]["metadata"]["labels"].items()


def test_references_resolve() -> None:
    """Every ConfigMap, Secret (and key), PVC and volume a pod names exists."""
    configmaps = objects_of_kind("ConfigMap")
    secrets = objects_of_kind("Secret")
    claims = objects_of_kind("PersistentVolumeClaim")
    for where, obj, spec in _workloads():
        volumes = {v["name"]: v for v in spec.get("volumes", [])}
        templates = {t["metadata"]["name"] for t in obj["spec"].get("volumeClaimTemplates", [])}
        for volume in volumes.values():
            if "configMap" in volume:
                data = configmaps[volume["configMap"]["name"]]["data"]
                for item in volume["configMap"].get("items", []):
                    assert item["key"] in data, f"{where}: ConfigMap has no key {item['key']}"
            if "persistentVolumeClaim" in volume:
                assert volume["persistentVolumeClaim"]["claimName"] in claims, where
            if "secret" in volume:
                assert volume["secret"]["secretName"] in secrets, where
        for container in pod_containers(spec):
            for mount in container.get("volumeMounts", []):
                assert mount["name"] in volumes or mount["name"] in templates, f"{where}: no volume {mount['name']}"
            for item in container.get("env", []):
                ref = item.get("valueFrom", {}).get("secretKeyRef")
                if ref:
                    secret = secrets[ref["name"]]
                    keys = {**secret.get("data", {}), **secret.get("stringData", {})}
                    assert ref["key"] in keys, f"{where}: Secret {ref['name']} has no key {ref['key']}"
                ref = item.get("valueFrom", {}).get("configMapKeyRef")
                if ref:
                    assert ref["key"] in configmaps[ref["name"]]["data"], where


def test_pods_run_as_non_root_with_least_privilege() -> None:
    for where, _, spec in _workloads():
        pod_security = spec.get("securityContext", {})
        assert pod_security.get("runAsNonRoot") is True, f"{where}: runAsNonRoot"
        assert pod_security.get("seccompProfile", {}).get("type") == "RuntimeDefault", where
        assert spec.get("automountServiceAccountToken") is False, f"{where}: no API token is needed"
        for container in pod_containers(spec):
            security = container.get("securityContext", {})
            assert security.get("allowPrivilegeEscalation") is False, f"{where}/{container['name']}"
            assert security.get("capabilities", {}).get("drop") == ["ALL"], f"{where}/{container['name']}"
            assert security.get("readOnlyRootFilesystem") is True, f"{where}/{container['name']}"
            mounts = {m["mountPath"] for m in container.get("volumeMounts", [])}
            assert "/tmp" in mounts, f"{where}/{container['name']}: a writable /tmp under a read-only root"
            assert "memory" in container.get("resources", {}).get("limits", {}), f"{where}/{container['name']}"
            assert container.get("resources", {}).get("requests"), f"{where}/{container['name']}"


def test_tool_containers_run_as_the_images_user() -> None:
    final = dockerfile_stages(DOCKERFILE.read_text(encoding="utf-8"))[-1]
    uid = int(final.find("USER")[-1].value.split(":")[0])
    containers = list(tool_containers())
    assert len(containers) >= 2
    for where, spec, container in containers:
        effective = {**spec.get("securityContext", {}), **container.get("securityContext", {})}
        assert effective.get("runAsUser") == uid, f"{where}: runAsUser {effective.get('runAsUser')} != image's {uid}"


def test_tool_containers_run_valid_commands_with_the_secrets_dsn() -> None:
    entrypoint, cmd = image_defaults()
    for where, _, container in tool_containers():
        assert container.get("command") or container.get("args"), f"{where}: say what it runs"
        env = k8s_env(container)
        check_tool_invocation(k8s_argv(container, entrypoint, cmd), env, where)
        ref = env["DATABASE_URL"]["valueFrom"]["secretKeyRef"]
        assert ref == {"name": "sspp-db", "key": "DATABASE_URL"}, f"{where}: DATABASE_URL comes from the Secret"


def test_worker_migrates_in_an_init_container() -> None:
    worker = objects_of_kind("Deployment")["sspp-worker"]
    spec = pod_spec(worker)
    assert spec is not None
    (init,) = spec["initContainers"]
    argv = k8s_argv(init, *image_defaults())
    assert argv == ["sspp-seed", "migrate", "--wait", "120"]
    invocation = check_tool_invocation(argv, k8s_env(init), "worker init container")
    assert invocation.params["wait_s"] == 120
    assert invocation.params["dry_run"] is False
    (main,) = spec["containers"]
    assert k8s_env(main)["DATABASE_URL"] == k8s_env(init)["DATABASE_URL"]


def test_backup_cronjob_dumps_daily_into_its_volume() -> None:
    cronjob = objects_of_kind("CronJob")["postgres-backup"]
    assert cronjob["spec"]["schedule"] == "0 2 * * *"
    assert cronjob["spec"]["concurrencyPolicy"] == "Forbid", "two dumps at once only slow the server"
    spec = pod_spec(cronjob)
    assert spec is not None
    assert spec["restartPolicy"] in ("Never", "OnFailure")
    (container,) = spec["containers"]
    argv = k8s_argv(container, *image_defaults())
    invocation = check_tool_invocation(argv, k8s_env(container), "backup CronJob")
    assert invocation.path == ("backup",)
    assert invocation.params["keep"] == 14
    out = PurePosixPath(str(invocation.params["out"]))
    mounts = {m["mountPath"]: m["name"] for m in container["volumeMounts"]}
    mount = next((path for path in mounts if out == PurePosixPath(path) or PurePosixPath(path) in out.parents), None)
    assert mount is not None, f"--out {out} is on no volume: the dump would vanish with the pod"
    volume = next(v for v in spec["volumes"] if v["name"] == mounts[mount])
    claim = volume["persistentVolumeClaim"]["claimName"]
    assert claim in objects_of_kind("PersistentVolumeClaim")
    assert spec["securityContext"].get("fsGroup") == spec["securityContext"].get("runAsGroup"), (
        "fsGroup makes the claim writable by the image's user"
    )


def test_a_wrong_command_in_a_manifest_is_caught() -> None:
    """The checks above would fail on a typo: mutate the CronJob's container and run the same check."""
    cronjob = objects_of_kind("CronJob")["postgres-backup"]
    spec = pod_spec(cronjob)
    assert spec is not None
    (container,) = spec["containers"]
    for wrong in (["--keep", "fourteen"], ["--format", "tar"], ["--outt", "/backups/"]):
        broken = copy.deepcopy(container)
        broken["command"] = [*broken["command"], *wrong]
        with pytest.raises(AssertionError, match="is not a valid sspp-seed invocation"):
            check_tool_invocation(k8s_argv(broken, *image_defaults()), k8s_env(broken), "mutated CronJob")
    unset = copy.deepcopy(container)
    unset["env"] = []
    with pytest.raises(AssertionError, match="needs a database"):
        check_tool_invocation(k8s_argv(unset, *image_defaults()), k8s_env(unset), "CronJob without DATABASE_URL")


def test_postgres_runs_the_configmap_sql_in_entrypoint_order() -> None:
    statefulset = objects_of_kind("StatefulSet")["postgres"]
    spec = pod_spec(statefulset)
    assert spec is not None
    (container,) = spec["containers"]
    assert container["image"] == "postgres:15"
    mount = next(m for m in container["volumeMounts"] if m["mountPath"] == "/docker-entrypoint-initdb.d")
    volume = next(v for v in spec["volumes"] if v["name"] == mount["name"])
    items = sorted((item["path"], item["key"]) for item in volume["configMap"]["items"])
    assert items == [("01-init.sql", "init.sql"), ("02-seed.sql", "seed.sql")]
    env = {item["name"]: item.get("value") for item in container["env"]}
    assert env["PGDATA"].startswith("/var/lib/postgresql/data/"), "initdb needs an empty folder, not the volume root"


def test_postgres_probes_wait_for_the_initialized_server() -> None:
    """Probes over TCP (the entrypoint's temporary init server has no TCP listener), with a startup allowance."""
    spec = pod_spec(objects_of_kind("StatefulSet")["postgres"])
    assert spec is not None
    (container,) = spec["containers"]
    probes = {kind: container[kind] for kind in ("startupProbe", "readinessProbe", "livenessProbe")}
    for kind, probe in probes.items():
        argv = probe["exec"]["command"]
        assert argv[0] == "pg_isready", kind
        assert dict(zip(argv[1::2], argv[2::2], strict=True)) == {
            "-h": "127.0.0.1",
            "-p": "5432",
            "-U": "postgres",
            "-d": "sspp",
        }
        if shutil.which("pg_isready"):
            result = pg_isready_understands(argv)
            assert result.returncode in (0, 1, 2), f"{kind}: {result.stderr}"
    startup = probes["startupProbe"]
    assert startup["periodSeconds"] * startup["failureThreshold"] >= 120, "a first start runs init.sql and seed.sql"


def test_secret_example_is_a_placeholder_that_agrees_with_the_cluster() -> None:
    secret = objects_of_kind("Secret")["sspp-db"]
    values = secret["stringData"]
    assert "data" not in secret
    assert all("CHANGE-ME" in value for value in values.values()), "the example must not carry usable credentials"
    dsn = conninfo.conninfo_to_dict(values["DATABASE_URL"])
    service = objects_of_kind("Service")["postgres"]
    statefulset = objects_of_kind("StatefulSet")["postgres"]
    spec = pod_spec(statefulset)
    assert spec is not None
    env = {item["name"]: item.get("value") for item in spec["containers"][0]["env"]}
    assert dsn == {
        "host": service["metadata"]["name"],
        "port": str(service["spec"]["ports"][0]["port"]),
        "user": env["POSTGRES_USER"],
        "password": values["POSTGRES_PASSWORD"],
        "dbname": env["POSTGRES_DB"],
    }


def test_tool_image_tag_is_the_package_version() -> None:
    (kustomization,) = load_yaml(K8S / "kustomization.yaml")
    pins = {image["name"]: image for image in kustomization.get("images", [])}
    assert pins["sspp-seed"]["newTag"] == __version__
    for where, _, container in tool_containers():
        assert container["image"] == f"sspp-seed:{__version__}", where


@pytest.mark.skipif(shutil.which("kubectl") is None, reason="kubectl is not installed")
def test_kustomize_builds_the_base(tmp_path: Any) -> None:
    """kubectl's own kustomize reads every file (catches what our parser might forgive)."""
    result = subprocess.run(
        ["kubectl", "kustomize", str(K8S)], capture_output=True, text=True, timeout=120, check=False
    )
    assert result.returncode == 0, result.stderr
    built = tmp_path / "built.yaml"
    built.write_text(result.stdout, encoding="utf-8")
    objects = load_yaml(built)
    assert sorted((o["kind"], o["metadata"]["name"]) for o in objects) == sorted(
        (o["kind"], o["metadata"]["name"]) for _, o in k8s_objects()
    )
    assert all(o["metadata"]["labels"]["app.kubernetes.io/part-of"] == "sspp" for o in objects)
