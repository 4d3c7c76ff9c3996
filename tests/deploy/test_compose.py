"""Static checks of the deployment files (no Docker engine here): docker-compose.yaml parses with every variable
left to its default, every path it references exists, images are pinned, every service the CeleryExecutor needs
is there and wired as Airflow's official compose file wires it, the default connections are the ones the sync's
config code reads correctly, and .env.example commits no secret. With the `docker-compose` command installed
(.ci/run installs Debian's), ``docker-compose config`` must accept the file with only .env.example copied."""
from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from atera_qbo.config import AteraSettings, ConnInfo, QboSettings, parse_extra, staging_url

REPO = Path(__file__).resolve().parents[2]
COMPOSE = REPO / "docker-compose.yaml"
VAR = re.compile(r"\$(?:\{(?P<braced>[^}]*)\}|(?P<named>[A-Za-z_][A-Za-z0-9_]*))")
AIRFLOW_SERVICES = ["airflow-apiserver", "airflow-scheduler", "airflow-dag-processor", "airflow-triggerer",
                    "airflow-worker"]


def interpolate(text: str, env: dict[str, str]) -> tuple[str, list[str]]:
    """Compose's variable substitution (``$$`` escapes; ``${VAR}``, ``${VAR:-default}``, ``${VAR-default}``,
    ``${VAR:?error}``); answers the text and the references that have no default."""
    undefaulted: list[str] = []

    def sub(m: re.Match) -> str:
        expr = m.group("braced") if m.group("braced") is not None else m.group("named")
        name, sep, rest = re.match(r"([A-Za-z_][A-Za-z0-9_]*)(:?[-?])?(.*)", expr, re.S).groups()
        if name in env and (env[name] or sep != ":-"):
            return env[name]
        if sep in (":-", "-"):
            return rest
        undefaulted.append(expr)
        return ""

    parts = text.split("$$")
    return "$".join(VAR.sub(sub, part) for part in parts), undefaulted


def substitute(node: object, env: dict[str, str], undefaulted: list[str]) -> object:
    """Compose parses the YAML first, then interpolates every string value (comments are never read)."""
    if isinstance(node, dict):
        return {k: substitute(v, env, undefaulted) for k, v in node.items()}
    if isinstance(node, list):
        return [substitute(v, env, undefaulted) for v in node]
    if isinstance(node, str):
        text, missing = interpolate(node, env)
        undefaulted += missing
        return text
    return node


def strings(node: object) -> list[str]:
    if isinstance(node, dict):
        return [s for v in node.values() for s in strings(v)]
    if isinstance(node, list):
        return [s for v in node for s in strings(v)]
    return [node] if isinstance(node, str) else []


def load(env: dict[str, str] | None = None) -> dict:
    undefaulted: list[str] = []
    data = substitute(yaml.safe_load(COMPOSE.read_text()), env or {}, undefaulted)
    assert not undefaulted, f"variables without a default: {undefaulted}"
    return data


@pytest.fixture(scope="module")
def compose() -> dict:
    return load()


def airflow_conn(uri: str) -> ConnInfo:
    from airflow.models.connection import Connection

    c = Connection(conn_id="x", uri=uri)
    return ConnInfo(conn_type=c.conn_type or "", host=c.host, login=c.login, password=c.password, schema=c.schema,
                    port=c.port, extra=parse_extra(c.extra))


def test_parses_with_every_variable_defaulted_and_with_env_example(compose):
    assert set(compose["services"]) >= {"postgres", "redis", "airflow-init", *AIRFLOW_SERVICES}
    example = {}
    for line in (REPO / ".env.example").read_text().splitlines():
        if line.strip() and not line.lstrip().startswith("#"):
            key, _, value = line.partition("=")
            example[key.strip()] = value.strip()
    assert load(example)["services"].keys() == compose["services"].keys()
    referenced = {re.match(r"[A-Za-z_][A-Za-z0-9_]*", m.group("braced") or m.group("named")).group(0)
                  for value in strings(yaml.safe_load(COMPOSE.read_text()))
                  for part in value.split("$$") for m in VAR.finditer(part)}
    unknown = set(example) - referenced
    assert not unknown, f".env.example sets variables docker-compose.yaml never reads: {unknown}"


def test_env_example_commits_no_secret():
    for line in (REPO / ".env.example").read_text().splitlines():
        if line.strip() and not line.lstrip().startswith("#"):
            key, _, value = line.partition("=")
            if any(word in key for word in ("FERNET", "SECRET", "TOKEN", "KEY")):
                assert value.strip() == "", f".env.example commits a value for {key}"


def test_every_referenced_path_exists(compose):
    for name, svc in compose["services"].items():
        build = svc.get("build")
        if build:
            context = REPO / (build if isinstance(build, str) else build.get("context", "."))
            dockerfile = context / ("Dockerfile" if isinstance(build, str) else build.get("dockerfile", "Dockerfile"))
            assert dockerfile.is_file(), (name, dockerfile)
        for volume in svc.get("volumes", []):
            source = volume.split(":")[0]
            if source.startswith((".", "/")):
                assert (REPO / source).exists(), f"{name} mounts {source}, which does not exist"
            else:
                assert source in compose["volumes"], f"{name} uses undeclared volume {source}"
    command = compose["services"]["airflow-init"]["command"]
    for script in re.findall(r"/opt/airflow/project/(\S+\.py)", " ".join(command)):
        assert (REPO / script).is_file(), script
    for src in re.findall(r"^COPY (?:--\S+ )*(.+) \S+$", (REPO / "Dockerfile").read_text(), re.M):
        for path in src.split():
            assert (REPO / path).exists(), f"Dockerfile copies {path}, which does not exist"


def test_images_are_pinned_and_the_project_image_is_built_on_the_pinned_airflow(compose):
    for name, svc in compose["services"].items():
        image = svc.get("image", "")
        assert image, f"{name} has no image"
        repo, _, tag = image.rpartition(":")
        assert repo and re.search(r"\d", tag) and "latest" not in tag, f"{name}: image {image} is not pinned"
    base = re.search(r"^FROM (\S+)", (REPO / "Dockerfile").read_text(), re.M).group(1)
    airflow = re.search(r"^apache-airflow==(\S+)", (REPO / "requirements.txt").read_text(), re.M).group(1)
    assert base == f"apache/airflow:{airflow}-python3.11", (base, airflow)
    dockerfile = (REPO / "Dockerfile").read_text()
    assert "-r /opt/airflow/project/requirements.txt -c /opt/airflow/project/constraints.txt" in dockerfile
    project_image = compose["services"]["airflow-worker"]["image"]
    for twin in ("atera-twin", "qbo-twin"):
        assert compose["services"][twin]["image"] == project_image, f"{twin} must run from the project image"


def test_every_service_the_celery_executor_needs_is_there_and_waits_for_what_it_needs(compose):
    services = compose["services"]
    env = services["airflow-worker"]["environment"]
    assert env["AIRFLOW__CORE__EXECUTOR"] == "CeleryExecutor"
    assert env["AIRFLOW__CELERY__BROKER_URL"].startswith("redis://redis:")
    assert "@postgres/" in env["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"]
    assert "@postgres/" in env["AIRFLOW__CELERY__RESULT_BACKEND"]
    assert env["AIRFLOW__CORE__EXECUTION_API_SERVER_URL"] == "http://airflow-apiserver:8080/execution/"
    for key in ("AIRFLOW__CORE__FERNET_KEY_CMD", "AIRFLOW__API_AUTH__JWT_SECRET_CMD"):  # one key for all
        assert "/opt/airflow/secrets/" in env[key], key
    for name in AIRFLOW_SERVICES:
        svc = services[name]
        assert svc["environment"]["AIRFLOW__CORE__EXECUTOR"] == "CeleryExecutor", name
        assert "test" in svc.get("healthcheck", {}), f"{name} has no healthcheck"
        deps = svc["depends_on"]
        assert deps["airflow-init"]["condition"] == "service_completed_successfully", name
        assert deps["postgres"]["condition"] == deps["redis"]["condition"] == "service_healthy", name
        assert any(v.endswith(":/opt/airflow/logs") for v in svc["volumes"]), f"{name}: logs not on a volume"
        assert any(v.endswith(":/opt/airflow/review") for v in svc["volumes"]), f"{name}: review dir not on a volume"
    assert services["airflow-worker"]["depends_on"]["airflow-apiserver"]["condition"] == "service_healthy"
    for name in ("postgres", "redis"):
        assert "test" in services[name]["healthcheck"], name
    init = " ".join(services["airflow-init"]["command"])
    for step in ("compose_init.py secrets", "airflow db migrate", "compose_init.py staging", "pools set qbo_api"):
        assert step in init, f"airflow-init does not run {step!r}"
    assert "container_name" not in services["airflow-worker"] and "ports" not in services["airflow-worker"], \
        "a worker with a fixed name or host port cannot be scaled"


def test_default_connections_are_read_right_by_the_sync(compose):
    env = compose["services"]["airflow-worker"]["environment"]
    atera = AteraSettings.from_conn(airflow_conn(env["AIRFLOW_CONN_ATERA_DEFAULT"]))
    assert (atera.base_url, atera.api_key) == ("http://atera-twin:8101", "twin-atera-key")
    qbo = QboSettings.from_conn(airflow_conn(env["AIRFLOW_CONN_QUICKBOOKS_DEFAULT"]))
    assert (qbo.base_url, qbo.oauth_base_url, qbo.realm_id) == ("http://qbo-twin:8102", "http://qbo-twin:8102",
                                                                "9341453050298751")
    assert (qbo.client_id, qbo.client_secret, qbo.refresh_token) == ("twin-client-id", "twin-client-secret",
                                                                     "twin-demo-refresh-token-0001")
    staging = staging_url(airflow_conn(env["AIRFLOW_CONN_ATERA_QBO_STAGING"]))
    assert staging == "postgresql+psycopg2://airflow:airflow@postgres:5432/atera_qbo_staging"
    redis = airflow_conn(env["AIRFLOW_CONN_ATERA_QBO_REDIS"])
    assert (redis.conn_type, redis.host, redis.port, redis.schema) == ("redis", "redis", 6379, "1")
    assert not env["AIRFLOW__CELERY__BROKER_URL"].endswith("/1"), "the rate budgets must not share Celery's db"


def test_demo_profile_runs_both_twins_with_their_state_on_a_volume(compose):
    dockerfile = (REPO / "Dockerfile").read_text()
    qbo_conn = airflow_conn(compose["services"]["airflow-worker"]["environment"]["AIRFLOW_CONN_QUICKBOOKS_DEFAULT"])
    for twin, kind, port in (("atera-twin", "atera", 8101), ("qbo-twin", "qbo", 8102)):
        svc = compose["services"][twin]
        assert svc["profiles"] == ["demo"], twin
        assert svc["entrypoint"] == ["python", "-m", "sandbox", kind], twin
        args = svc["command"]
        assert args[args.index("--host") + 1] == "0.0.0.0" and args[args.index("--port") + 1] == str(port)
        state = Path(args[args.index("--state") + 1])
        mount = next(v for v in svc["volumes"] if v.split(":")[1] == str(state.parent))
        assert mount.split(":")[0] in compose["volumes"], twin
        assert str(state.parent) in dockerfile, f"the image must create {state.parent} (owned by airflow)"
        assert "healthcheck" in svc, twin
    args = compose["services"]["qbo-twin"]["command"]
    assert args[args.index("--refresh-token") + 1] == qbo_conn.extra["refresh_token"]
    assert args[args.index("--realm-id") + 1] == str(qbo_conn.extra["realm_id"])


def test_docker_compose_config_accepts_the_file_with_only_env_example_copied(tmp_path):
    exe = shutil.which("docker-compose")
    if exe is None:
        pytest.skip("the docker-compose command is not installed (.ci/run installs Debian's docker-compose); "
                    "the static checks above still ran")
    for name in ("docker-compose.yaml", "Dockerfile"):
        shutil.copy(REPO / name, tmp_path / name)
    shutil.copy(REPO / ".env.example", tmp_path / ".env")
    for name in ("dags", "plugins", "include", "sandbox", "scripts"):
        (tmp_path / name).symlink_to(REPO / name)
    for profile in ([], ["--profile", "demo"]):
        result = subprocess.run([exe, *profile, "config"], cwd=tmp_path, capture_output=True, text=True, timeout=60)
        assert result.returncode == 0, result.stderr
        services = yaml.safe_load(result.stdout)["services"]
        assert set(AIRFLOW_SERVICES) | {"atera-twin", "qbo-twin"} <= set(services)


def test_init_writes_shared_secrets_once_from_env_or_generated_and_creates_the_staging_schema(tmp_path, monkeypatch):
    import importlib.util
    import json
    import sys

    import sqlalchemy as sa

    spec = importlib.util.spec_from_file_location("compose_init", REPO / "scripts" / "compose_init.py")
    init = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = init
    spec.loader.exec_module(init)

    monkeypatch.setenv("ATERA_QBO_SECRETS_DIR", str(tmp_path / "secrets"))
    monkeypatch.setenv("AIRFLOW_JWT_SECRET", "from-dot-env")
    monkeypatch.delenv("AIRFLOW_FERNET_KEY", raising=False)
    assert init.main(["compose_init.py", "secrets"]) == 0
    first = {p.name: p.read_text() for p in (tmp_path / "secrets").iterdir()}
    assert set(first) == {"fernet.key", "jwt.secret", "api.secret"}
    assert first["jwt.secret"].strip() == "from-dot-env"
    from cryptography.fernet import Fernet

    Fernet(first["fernet.key"].strip().encode())  # a valid key
    assert all(oct(p.stat().st_mode & 0o777) == "0o600" for p in (tmp_path / "secrets").iterdir())
    monkeypatch.setenv("AIRFLOW_JWT_SECRET", "changed-later")
    init.main(["compose_init.py", "secrets"])
    assert {p.name: p.read_text() for p in (tmp_path / "secrets").iterdir()} == first, "a secret was overwritten"

    db = tmp_path / "staging.db"
    monkeypatch.setenv("AIRFLOW_CONN_ATERA_QBO_STAGING", json.dumps({"conn_type": "sqlite", "host": str(db)}))
    assert init.main(["compose_init.py", "staging"]) == 0
    assert init.main(["compose_init.py", "staging"]) == 0  # again: nothing to do, no error
    tables = set(sa.inspect(sa.create_engine(f"sqlite:///{db}")).get_table_names())
    assert {"stg_atera_invoices", "export_invoices", "oauth_tokens", "map_customers"} <= tables
