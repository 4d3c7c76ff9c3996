"""A throw-away Airflow cluster on this machine for the CeleryExecutor test: metadata DB and staging store in
databases of their own on the local PostgreSQL, Redis as the broker, and the api-server, scheduler,
dag-processor and Celery workers as separate process groups, each on free loopback ports. Everything started is
stopped (and the databases dropped) by ``close()``, also after a failure half-way through ``start()``."""
from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import socket
import subprocess
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psutil
import requests

REPO = Path(__file__).resolve().parents[2]
VENV_BIN = REPO / ".venv" / "bin"
PG = "postgresql+psycopg2://postgres@127.0.0.1:5432"
REDIS = ("127.0.0.1", 6379)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def psql(sql: str) -> None:
    subprocess.run(["psql", "-h", "127.0.0.1", "-p", "5432", "-U", "postgres", "-q", "-v", "ON_ERROR_STOP=1",
                    "-c", sql, "postgres"], check=True, capture_output=True, text=True, timeout=60)


def services_up() -> str | None:
    """Why the cluster cannot run here (PostgreSQL or Redis down), or None."""
    if subprocess.run(["pg_isready", "-q", "-h", "127.0.0.1", "-p", "5432"]).returncode != 0:
        return "PostgreSQL is not answering on 127.0.0.1:5432 (.ci/run starts it)"
    try:
        with socket.create_connection(REDIS, timeout=2) as s:
            s.sendall(b"PING\r\n")
            if not s.recv(16).startswith(b"+PONG"):
                return "Redis on 127.0.0.1:6379 did not answer PING"
    except OSError:
        return "Redis is not answering on 127.0.0.1:6379 (.ci/run starts it)"
    return None


EXPORT_DAG = "atera_qbo_invoice_export.py"
DagEdit = tuple[str, str, str]  # (file in dags/, text it says exactly once, what the test's copy says instead)
# Every company's export DAG of the copy allows two active runs: its ``dag`` decorator is wrapped (the DAG's own
# arguments come from ``Company.dag_args``, so no literal in the file says how many runs it allows).
_SDK_IMPORT = "from airflow.sdk import Param, dag, task\n"
TWO_ACTIVE_RUNS: DagEdit = (EXPORT_DAG, _SDK_IMPORT, _SDK_IMPORT + (
    "_sdk_dag = dag\n\n\n"
    "def dag(*args, **kwargs):  # the test's copy: two active runs\n"
    "    return _sdk_dag(*args, **{**kwargs, 'max_active_runs': 2})\n"))


def dags_for_test(target: Path, edits: Sequence[DagEdit] = ()) -> Path:
    """A copy of dags/ in which the export allows two active runs: the ledger's claims alone must keep them apart.
    ``edits`` change more for one test (a text the DAG file no longer says fails the test, naming it)."""
    shutil.copytree(REPO / "dags", target, ignore=shutil.ignore_patterns("__pycache__"))
    for name, old, new in [TWO_ACTIVE_RUNS, *edits]:
        path = target / name
        text = path.read_text()
        assert text.count(old) == 1, f"dags/{name} no longer says {old!r} (once): update the test"
        path.write_text(text.replace(old, new))
    return target


@dataclass
class Cluster:
    work: Path
    connections: dict[str, str]
    broker_db: int = 11
    workers: int = 2
    settings: dict[str, str] = field(default_factory=dict)  # one test's Airflow settings (AIRFLOW__…) over ours
    dag_edits: list[DagEdit] = field(default_factory=list)  # one test's changes to its copy of dags/
    tag: str = field(default_factory=lambda: uuid.uuid4().hex[:10])
    procs: dict[str, subprocess.Popen] = field(default_factory=dict)
    lost: dict[str, subprocess.Popen] = field(default_factory=dict)  # workers killed on purpose (``lose``)
    databases: list[str] = field(default_factory=list)
    api_port: int = field(default_factory=free_port)
    token: str | None = None

    @property
    def api(self) -> str:
        return f"http://127.0.0.1:{self.api_port}"

    @property
    def logs(self) -> Path:
        return self.work / "logs"

    def env(self) -> dict[str, str]:
        from cryptography.fernet import Fernet

        meta = f"airflow_meta_{self.tag}"
        env = {k: v for k, v in os.environ.items() if not k.startswith(("AIRFLOW", "PYTEST"))}
        env.update(self.connections)
        env.update({
            "PATH": f"{VENV_BIN}{os.pathsep}{env.get('PATH', '')}",  # Airflow starts children as bare `airflow`
            "PYTHONPATH": os.pathsep.join([str(REPO / "plugins"), str(REPO)]),
            "NO_PROXY": "127.0.0.1,localhost",
            "AIRFLOW_HOME": str(self.work / "home"),
            "AIRFLOW__CORE__EXECUTOR": "CeleryExecutor",
            "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
            "AIRFLOW__CORE__DAGS_FOLDER": str(self.work / "dags"),
            "AIRFLOW__CORE__PLUGINS_FOLDER": str(REPO / "plugins"),
            "AIRFLOW__CORE__FERNET_KEY": Fernet.generate_key().decode(),
            "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": f"{self.api}/execution/",
            "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_ALL_ADMINS": "True",
            "AIRFLOW__CORE__DAGS_ARE_PAUSED_AT_CREATION": "True",
            "AIRFLOW__API__BASE_URL": self.api,
            "AIRFLOW__API_AUTH__JWT_SECRET": uuid.uuid4().hex,
            "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"{PG}/{meta}",
            "AIRFLOW__CELERY__BROKER_URL": f"redis://{REDIS[0]}:{REDIS[1]}/{self.broker_db}",
            "AIRFLOW__CELERY__RESULT_BACKEND": f"db+postgresql://postgres@127.0.0.1:5432/{meta}",
            "AIRFLOW__CELERY__WORKER_CONCURRENCY": "1",  # concurrent tasks are on different workers
            # a queue of its own: another cluster on the same Redis never takes this one's tasks
            "AIRFLOW__OPERATORS__DEFAULT_QUEUE": f"atera-qbo-test-{self.tag}",
            "AIRFLOW__SCHEDULER__SCHEDULER_HEARTBEAT_SEC": "2",
            "AIRFLOW__DAG_PROCESSOR__REFRESH_INTERVAL": "5",
            "AIRFLOW__LOGGING__TRIGGER_LOG_SERVER_PORT": str(free_port()),
            "AIRFLOW__LOGGING__WORKER_LOG_SERVER_PORT": str(free_port()),
            "ATERA_QBO_REVIEW_DIR": str(self.work / "review"),
            "ATERA_QBO_OVERRIDES_DIRS": str(REPO / "include" / "demo"),  # where the demo's overrides file lies
        })
        env.update(self.settings)
        return env

    def start(self) -> None:
        self.logs.mkdir(parents=True, exist_ok=True)
        dags_for_test(self.work / "dags", self.dag_edits)
        self._env = self.env()
        meta = self._env["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"].rsplit("/", 1)[1]
        psql(f"CREATE DATABASE {meta}")
        self.databases.append(meta)
        self.run("db", "migrate")
        self.spawn("api-server", "api-server", "--host", "127.0.0.1", "--port", str(self.api_port), "--workers", "1")
        self.spawn("scheduler", "scheduler")
        self.spawn("dag-processor", "dag-processor")
        queue = self._env["AIRFLOW__OPERATORS__DEFAULT_QUEUE"]
        for n in range(1, self.workers + 1):
            self.spawn(f"worker{n}", "celery", "worker", "--celery-hostname", f"w{n}-{self.tag}@%h", "--queues",
                       queue, "--skip-serve-logs", "--without-mingle", "--without-gossip")
        self.wait(lambda: self._get("/api/v2/monitor/health", auth=False), "the api-server to answer", 120)
        self.token = requests.get(f"{self.api}/auth/token", timeout=10).json()["access_token"]
        self.call("POST", "/api/v2/pools", json={"name": "qbo_api", "slots": 10, "include_deferred": False,
                                                 "description": "QBO allows 10 concurrent requests per realm"})

    def run(self, *args: str, timeout: float = 300) -> None:
        with open(self.logs / f"{args[0]}.log", "ab") as log:
            subprocess.run([str(VENV_BIN / "airflow"), *args], env=self._env, cwd=self.work, stdout=log,
                           stderr=subprocess.STDOUT, check=True, timeout=timeout)

    def spawn(self, name: str, *args: str) -> None:
        env = dict(self._env)
        if name.startswith("worker"):  # each worker its own log-server port, should one be started
            env["AIRFLOW__LOGGING__WORKER_LOG_SERVER_PORT"] = str(free_port())
        with open(self.logs / f"{name}.log", "ab") as log:
            self.procs[name] = subprocess.Popen([str(VENV_BIN / "airflow"), *args], env=env, cwd=self.work,
                                                stdout=log, stderr=subprocess.STDOUT, start_new_session=True)

    def worker_running(self, marker: str) -> str | None:
        """The worker whose process tree has a process whose command line contains ``marker`` (a task runner is
        titled ``airflow worker -- <task instance id>``), or None."""
        for name, proc in self.procs.items():
            if not name.startswith("worker") or proc.poll() is not None:
                continue
            with contextlib.suppress(psutil.Error):
                for child in psutil.Process(proc.pid).children(recursive=True):
                    with contextlib.suppress(psutil.Error):
                        if marker in " ".join(child.cmdline()):
                            return name
        return None

    def lose(self, name: str) -> None:
        """A worker host lost: the worker and every process under it (pool children, task supervisors, and the task
        runners, which sit in process groups of their own) frozen, then SIGKILLed: nothing of it says goodbye to
        the scheduler, the broker or the databases. It moves from ``procs`` to ``lost`` (``alive()`` skips it)."""
        proc = self.procs.pop(name)
        self.lost[name] = proc
        root = psutil.Process(proc.pid)
        tree = [root, *root.children(recursive=True)]
        for p in tree:  # frozen first: none of them reacts to the others' deaths (a supervisor reaping its runner)
            with contextlib.suppress(psutil.Error):
                p.suspend()
        for p in tree + [c for c in root.children(recursive=True) if c not in tree]:
            with contextlib.suppress(psutil.Error):
                p.kill()
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=30)

    def alive(self) -> None:
        dead = {n: p.returncode for n, p in self.procs.items() if p.poll() is not None}
        if dead:
            raise AssertionError(f"Airflow processes exited: {dead}; logs:\n" + self.tail(*dead))

    def tail(self, *names: str, lines: int = 40) -> str:
        out = []
        for name in names or self.procs:
            path = self.logs / f"{name}.log"
            if path.exists():
                out.append(f"--- {name}\n" + "\n".join(path.read_text(errors="replace").splitlines()[-lines:]))
        return "\n".join(out)

    def wait(self, check: Any, what: str, timeout: float) -> Any:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            self.alive()
            try:
                value = check()
            except (requests.RequestException, KeyError, IndexError, ValueError):
                value = None
            if value:
                return value
            time.sleep(1)
        raise AssertionError(f"timed out after {timeout}s waiting for {what}; logs:\n{self.tail()}")

    def _get(self, path: str, auth: bool = True) -> Any:
        headers = {"Authorization": f"Bearer {self.token}"} if auth else {}
        r = requests.get(f"{self.api}{path}", headers=headers, timeout=10)
        return r.json() if r.status_code == 200 else None

    def call(self, method: str, path: str, **kwargs: Any) -> Any:
        r = requests.request(method, f"{self.api}{path}", headers={"Authorization": f"Bearer {self.token}"},
                             timeout=30, **kwargs)
        if r.status_code >= 300:
            raise AssertionError(f"{method} {path} → {r.status_code}: {r.text[:500]}")
        return r.json() if r.content else None

    def close(self) -> None:
        for proc in self.procs.values():  # TERM every process group first, so they wind down in parallel
            if proc.poll() is None:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(proc.pid, signal.SIGTERM)
        deadline = time.monotonic() + 30
        for proc in self.procs.values():
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.wait(timeout=max(0.1, deadline - time.monotonic()))
            try:  # whatever is left of the group (task supervisors, pool children): KILL
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(timeout=10)
            except (ProcessLookupError, subprocess.TimeoutExpired):
                pass
        try:
            for db in self.databases:
                psql(f"DROP DATABASE IF EXISTS {db} WITH (FORCE)")
        finally:
            self._flush_queue()

    def _flush_queue(self) -> None:
        try:
            import redis

            client = redis.Redis(*REDIS, db=self.broker_db, socket_timeout=5)
            queue = f"atera-qbo-test-{self.tag}"
            client.delete(queue, *client.keys(f"*{queue}*"))
            # A message a lost worker took and never acknowledged: kombu would put it back (into this dead queue)
            # once its visibility timeout is over; it is this cluster's, so it goes now.
            for tag, message in client.hgetall("unacked").items():
                if json.loads(message)[2] == queue:
                    client.hdel("unacked", tag)
                    client.zrem("unacked_index", tag)
            client.close()
        except Exception:  # noqa: BLE001 - best effort: a leftover empty queue key harms no one
            pass
