"""What the deploy files run, run for real against PostgreSQL: the init scripts as docker-entrypoint.sh runs them
(from the compose mounts and from the ConfigMap), then each container's ``sspp-seed`` command as the image runs it.
"""

from __future__ import annotations

import json
import os
import shlex
import subprocess
from collections.abc import Callable
from pathlib import Path, PurePosixPath

import pytest
from psycopg import conninfo

from sspp_fixtures._table_order import TABLE_ORDER
from sspp_fixtures.dsn import connect
from sspp_fixtures.scenarios import load_scenario
from sspp_fixtures.schema import load_migrations
from tests.deploy._deployfiles import (
    COMPOSE_FILE,
    DEPLOY,
    DOCKERFILE,
    ROOT,
    TOOL,
    compose_argv,
    dockerfile_stages,
    image_defaults,
    k8s_argv,
    load_yaml,
    objects_of_kind,
    pod_spec,
)
from tests.fix_db import sspp_seed_command
from tests.platform_sql import PLATFORM_SEED_SQL

MakeDb = Callable[..., str]
INITDB = "/docker-entrypoint-initdb.d"
SEED_INDEXES = {
    "idx_signals_customer": "(customer_id)",
    "idx_signals_event_type": "(event_type)",
    "idx_signals_processed_at": "(processed_at)",
    "idx_signals_type_time": "(event_type, processed_at DESC)",
    "idx_signals_data": "USING gin (signal_data)",
}
TABLES = TABLE_ORDER


# ----- docker-entrypoint.sh, the part that runs /docker-entrypoint-initdb.d -----


def _psql_env(dsn: str) -> tuple[str, str, dict[str, str]]:
    """(user, database, environment) for psql to reach ``dsn``: the host, port and password go in PG* variables."""
    params = conninfo.conninfo_to_dict(dsn)
    env = {k: v for k, v in os.environ.items() if not k.startswith("PG")}
    env["PGHOST"] = str(params.get("host") or "127.0.0.1")
    env["PGPORT"] = str(params.get("port") or 5432)
    if params.get("password"):
        env["PGPASSWORD"] = str(params["password"])
    return str(params.get("user") or "postgres"), str(params["dbname"]), env


def _run_sql_file(dsn: str, path: Path, *, on_error_stop: bool = True) -> subprocess.CompletedProcess[str]:
    """``docker_process_sql -f FILE``: psql -v ON_ERROR_STOP=1 --username U --no-password --no-psqlrc --dbname DB."""
    user, database, env = _psql_env(dsn)
    stop = ["-v", "ON_ERROR_STOP=1"] if on_error_stop else []
    command = ["psql", *stop, "--username", user, "--no-password", "--no-psqlrc", "--dbname", database, "-f", str(path)]
    return subprocess.run(command, capture_output=True, text=True, env=env, timeout=300, check=False)


def run_initdb_folder(folder: Path, dsn: str) -> list[str]:
    """``docker_process_init_files /docker-entrypoint-initdb.d/*``: each file in name order, by its extension."""
    ran = []
    for path in sorted(folder.iterdir(), key=lambda p: p.name):
        if path.name.endswith(".sql"):
            result = _run_sql_file(dsn, path)
            assert result.returncode == 0, f"{path.name}: psql exited {result.returncode}: {result.stderr}"
            ran.append(path.name)
        else:
            # .sh would be sourced and .sql.gz/.xz/.zst piped; we ship none, and anything else is ignored.
            assert not path.name.endswith((".sh", ".sql.gz", ".sql.xz", ".sql.zst")), f"unexpected {path.name}"
    return ran


def compose_initdb(tmp_path: Path) -> Path:
    """/docker-entrypoint-initdb.d as the compose file's bind mounts make it."""
    folder = tmp_path / "compose-initdb"
    if folder.exists():
        return folder
    folder.mkdir()
    (document,) = load_yaml(COMPOSE_FILE)
    for entry in document["services"]["postgres"]["volumes"]:
        source, target, *_ = entry.split(":")
        if str(PurePosixPath(target).parent) == INITDB:
            (folder / PurePosixPath(target).name).symlink_to((DEPLOY / source).resolve())
    return folder


def configmap_initdb(tmp_path: Path) -> Path:
    """/docker-entrypoint-initdb.d as the kubelet projects the ConfigMap's items into the postgres pod."""
    folder = tmp_path / "k8s-initdb"
    folder.mkdir()
    spec = pod_spec(objects_of_kind("StatefulSet")["postgres"])
    assert spec is not None
    mount = next(m for m in spec["containers"][0]["volumeMounts"] if m["mountPath"] == INITDB)
    volume = next(v for v in spec["volumes"] if v["name"] == mount["name"])
    data = objects_of_kind("ConfigMap")[volume["configMap"]["name"]]["data"]
    for item in volume["configMap"]["items"]:
        (folder / item["path"]).write_bytes(data[item["key"]].encode("utf-8"))
    return folder


# ----- what the database must hold afterwards -----


def seed_sql_rows(path: Path) -> dict[str, int]:
    """Rows per table that a seed file inserts: the exporter writes one row per line under each INSERT."""
    counts = dict.fromkeys(TABLES, 0)
    table = None
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.startswith("INSERT INTO "):
            table = line.split()[2]
        elif line.startswith("(") and table is not None:
            counts[table] += 1
    assert all(counts.values()), f"{path}: no rows found for some table: {counts}"
    return counts


def table_counts(dsn: str) -> dict[str, int]:
    with connect(dsn) as conn:
        return {t: conn.execute(f"SELECT count(*) FROM {t}").fetchone()[0] for t in TABLES}  # type: ignore[index]


def assert_initialized_and_seeded(dsn: str, seed_rows: dict[str, int]) -> None:
    with connect(dsn) as conn:
        tables = {r[0] for r in conn.execute("SELECT tablename FROM pg_tables WHERE schemaname = 'public'")}
        assert set(TABLES) <= tables
        indexes = dict(
            conn.execute("SELECT indexname, indexdef FROM pg_indexes WHERE tablename = 'signals'").fetchall()
        )
        history = conn.execute("SELECT version, name, checksum FROM sspp_meta.schema_migrations ORDER BY 1").fetchall()
    for name, shape in SEED_INDEXES.items():
        assert name in indexes, f"index {name} is missing"
        assert indexes[name].endswith(shape), f"{name}: {indexes[name]}"
    assert history == [(m.version, m.name, m.checksum) for m in load_migrations()], "init.sql records its migrations"
    assert table_counts(dsn) == seed_rows


def run_tool(argv: list[str], env: dict[str, str], timeout: float = 300) -> subprocess.CompletedProcess[str]:
    """Run a container's ``sspp-seed ...`` argv with the installed console script."""
    assert argv[0] == TOOL
    return subprocess.run(
        [*sspp_seed_command(), *argv[1:]], capture_output=True, text=True, env=env, timeout=timeout, check=False
    )


def image_env(tmp_path: Path, database_url: str) -> dict[str, str]:
    """The image's environment (Dockerfile ENV) with its read-only root: HOME unwritable, /tmp an emptyDir."""
    final = dockerfile_stages(DOCKERFILE.read_text(encoding="utf-8"))[-1]
    writable_tmp = tmp_path / "container-tmp"
    writable_tmp.mkdir(exist_ok=True)
    env = {k: v for k, v in os.environ.items() if k not in ("XDG_CACHE_HOME", "SSPP_FIXTURES_CACHE", "DATABASE_URL")}
    for instruction in final.find("ENV"):
        for word in shlex.split(instruction.value):
            key, _, value = word.partition("=")
            if key != "PATH":
                env[key] = str(writable_tmp) + value[len("/tmp") :] if value.startswith("/tmp") else value
    env["HOME"] = "/dev/null/read-only-home"  # any write there fails, even as root
    env["DATABASE_URL"] = database_url
    env["COLUMNS"] = "200"
    return env


@pytest.fixture(scope="module")
def seed_rows() -> dict[str, int]:
    return seed_sql_rows(ROOT / "sql" / "seed.sql")


@pytest.fixture
def compose_db(database_factory: MakeDb, tmp_path: Path) -> str:
    dsn = database_factory("deploy")
    assert run_initdb_folder(compose_initdb(tmp_path), dsn) == ["01-init.sql", "02-seed.sql"]
    return dsn


# ----- the tests -----


def test_compose_init_scripts_build_the_schema_and_the_seed(compose_db: str, seed_rows: dict[str, int]) -> None:
    assert_initialized_and_seeded(compose_db, seed_rows)


def test_migrate_after_the_entrypoint_applies_nothing(compose_db: str) -> None:
    labels = [m.label for m in load_migrations()]
    migrate = run_tool([TOOL, "migrate", "--dsn", compose_db, "--json"], {**os.environ})
    assert migrate.returncode == 0, migrate.stderr
    run = json.loads(migrate.stdout)
    assert (run["applied"], run["already_applied"]) == ([], labels)
    status = run_tool([TOOL, "status", "--dsn", compose_db, "--json"], {**os.environ})
    assert status.returncode == 0, status.stderr
    report = json.loads(status.stdout)
    assert report["up_to_date"] is True
    assert report["drift"] is None
    assert report["pending"] == []
    assert [a["migration"] for a in report["applied"]] == labels
    assert {a["applied_by"] for a in report["applied"]} == {"init.sql"}
    assert report["version"] == load_migrations()[-1].version


def test_configmap_sql_builds_the_same_database(
    database_factory: MakeDb, tmp_path: Path, seed_rows: dict[str, int]
) -> None:
    dsn = database_factory("deploy_k8s")
    assert run_initdb_folder(configmap_initdb(tmp_path), dsn) == ["01-init.sql", "02-seed.sql"]
    assert_initialized_and_seeded(dsn, seed_rows)


def all_rows(dsn: str) -> dict[str, list[str]]:
    """Every row of every table in ``public``, as text, in a stable order: what "identical data" compares."""
    with connect(dsn) as conn:
        tables = [r[0] for r in conn.execute("SELECT tablename FROM pg_tables WHERE schemaname = 'public' ORDER BY 1")]
        return {t: [r[0] for r in conn.execute(f"SELECT t::text FROM {t} t ORDER BY 1")] for t in tables}


def test_running_seed_sql_again_changes_nothing(compose_db: str, tmp_path: Path) -> None:
    """The README's `psql -v ON_ERROR_STOP=1 -f .../02-seed.sql` after the entrypoint already ran it: it succeeds
    and leaves the data exactly as it was."""
    seed = compose_initdb(tmp_path) / "02-seed.sql"
    before = all_rows(compose_db)
    assert sum(map(len, before.values())) > 0
    again = _run_sql_file(compose_db, seed)
    assert again.returncode == 0, again.stderr
    assert "ERROR" not in again.stderr
    assert all_rows(compose_db) == before


def test_seed_sql_and_the_platform_seed_run_in_either_order(database_factory: MakeDb, tmp_path: Path) -> None:
    """Our seed after the platform's own seed.sql (its 7 rows take ids 1-7 from the sequence), and the platform's
    after ours (its INSERTs take ids from the sequence, which our seed moved past its explicit ids)."""
    platform_seed = tmp_path / "platform-seed.sql"
    platform_seed.write_text(PLATFORM_SEED_SQL, encoding="utf-8")
    ours = compose_initdb(tmp_path) / "02-seed.sql"
    init = compose_initdb(tmp_path) / "01-init.sql"
    for order in ((platform_seed, ours, ours), (ours, platform_seed, ours)):
        dsn = database_factory("seed_order")
        assert _run_sql_file(dsn, init).returncode == 0
        for script in order:
            done = _run_sql_file(dsn, script)
            assert done.returncode == 0, f"{script.name} after {[p.name for p in order]}: {done.stderr}"
        with connect(dsn) as conn:
            platform_rows = conn.execute(
                "SELECT count(*) FROM sales_signals WHERE account_id LIKE 'acc\\_%'"
            ).fetchone()
            next_id = conn.execute("SELECT nextval('sales_signals_id_seq') > max(id) FROM sales_signals").fetchone()
        assert platform_rows == (7,)
        assert next_id == (True,)


def test_worker_init_container_command_runs(compose_db: str, database_factory: MakeDb, tmp_path: Path) -> None:
    """The Deployment's init container, as the image runs it: on the entrypoint's database and on an empty one."""
    spec = pod_spec(objects_of_kind("Deployment")["sspp-worker"])
    assert spec is not None
    argv = k8s_argv(spec["initContainers"][0], *image_defaults())
    on_seeded = run_tool(argv, image_env(tmp_path, compose_db))
    assert on_seeded.returncode == 0, on_seeded.stderr
    assert "nothing applied" in on_seeded.stdout
    empty = database_factory("deploy_empty")
    on_empty = run_tool(argv, image_env(tmp_path, empty))
    assert on_empty.returncode == 0, on_empty.stderr
    assert f"now at version {load_migrations()[-1].version:03d}" in on_empty.stdout


def test_backup_cronjob_command_writes_a_restorable_backup(
    compose_db: str, database_factory: MakeDb, tmp_path: Path, seed_rows: dict[str, int]
) -> None:
    """The CronJob's command with its /backups volume at a temporary folder, then `sspp-seed restore` of the file."""
    spec = pod_spec(objects_of_kind("CronJob")["postgres-backup"])
    assert spec is not None
    container = spec["containers"][0]
    volume = tmp_path / "backups-volume"
    volume.mkdir()
    mount = next(m["mountPath"] for m in container["volumeMounts"] if m["name"] == "backups")
    argv = [
        str(volume) + word[len(mount) :] if word.startswith(mount) else word
        for word in k8s_argv(container, *image_defaults())
    ]
    # the image's home is read-only: the key that signs the backups comes from the Secret, as in the CronJob
    key_ref = next(e["valueFrom"]["secretKeyRef"] for e in container["env"] if e["name"] == "SSPP_BACKUP_KEY")
    assert key_ref == {"name": "sspp-db", "key": "SSPP_BACKUP_KEY"}
    key = {"SSPP_BACKUP_KEY": "deploy-test-backup-key"}
    result = run_tool(argv, {**image_env(tmp_path, compose_db), **key})
    assert result.returncode == 0, result.stderr
    dumps = [p for p in volume.iterdir() if not p.name.endswith(".manifest.json")]
    assert len(dumps) == 1, sorted(p.name for p in volume.iterdir())
    assert dumps[0].stat().st_size > 0
    target = database_factory("deploy_restored")
    unkeyed = run_tool([TOOL, "restore", str(dumps[0]), "--dsn", target], image_env(tmp_path, target))
    assert unkeyed.returncode == 1
    assert "this machine has no key to check it with" in unkeyed.stderr
    restored = run_tool([TOOL, "restore", str(dumps[0]), "--dsn", target], {**image_env(tmp_path, target), **key})
    assert restored.returncode == 0, restored.stderr
    assert table_counts(target) == seed_rows


@pytest.mark.slow
def test_compose_tool_service_loads_the_demo_over_the_seed(compose_db: str, tmp_path: Path) -> None:
    """`docker compose run --rm sspp-seed`: the demo replaces the sample rows the entrypoint loaded."""
    (document,) = load_yaml(COMPOSE_FILE)
    argv = compose_argv(document["services"]["sspp-seed"], *image_defaults())
    result = run_tool(argv, image_env(tmp_path, compose_db), timeout=600)
    assert result.returncode == 0, result.stderr
    demo = load_scenario("demo")
    assert table_counts(compose_db)["customers"] == demo.customers + len(demo.stories)
    status = run_tool([TOOL, "status", "--json"], image_env(tmp_path, compose_db))
    report = json.loads(status.stdout)
    assert report["up_to_date"] is True
    assert report["marked"] is True
