"""A real Airflow 3 for the browser tests: both twins (demo), a staging DB prepared by real DAG runs (catalog sync,
matching, an export dry run that stages the invoices), then the API server, scheduler and dag processor as
processes on a free loopback port, with SimpleAuthManager users ``finance`` (role user: may trigger the two DAGs),
``auditor`` (viewer: read-only) and ``admin`` (admin: may manage the integration: Connect, Disconnect).

``Stack(home, fresh=True)`` is a FRESH deployment instead: nothing staged, no DAG run yet, the QBO twin without a
refresh token and ``quickbooks_default`` with only the Intuit app's client id and secret (plus the twin's discovery
document): the company is connected from the browser. Its scheduler creates no scheduled or asset-triggered run
(``[scheduler] use_job_schedule = False``): the test starts every run itself (``trigger``, ``wait_run``)."""
from __future__ import annotations

import json
import socket
import sqlite3
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

import requests

from sandbox.launch import TwinProcess, start_twin
from scripts.airflow_env import DEMO, REPO, airflow_env, connections

USERS = {"finance": ("user", "finance-pw-1"), "auditor": ("viewer", "auditor-pw-1"),
         "admin": ("admin", "admin-pw-1")}
DAG_IDS = ("atera_qbo_catalog_sync", "atera_qbo_matching", "atera_qbo_invoice_export", "atera_qbo_disconnect")


def _without_contacts(atera_url: str, name: str) -> None:
    """Clear an Atera customer's domain and phone and delete its contacts (their e-mail addresses carry the
    company's domain), so that only its name resembles its QBO counterpart: the wizard then has a suggestion for
    finance to accept (contacts would have settled it)."""
    headers = {"X-API-KEY": DEMO["atera_api_key"]}
    listing = requests.get(f"{atera_url}/api/v3/customers", headers=headers, params={"itemsInPage": 50}, timeout=10)
    (customer,) = [c for c in listing.json()["items"] if c["CustomerName"] == name]
    requests.put(f"{atera_url}/api/v3/customers/{customer['CustomerID']}", headers=headers, timeout=10,
                 json={"CustomerName": name, "Domain": "", "Phone": ""}).raise_for_status()
    people = requests.get(f"{atera_url}/api/v3/contacts", headers=headers, params={"itemsInPage": 50}, timeout=10)
    for person in people.json()["items"]:
        if person["CustomerID"] == customer["CustomerID"]:
            requests.delete(f"{atera_url}/api/v3/contacts/{person['EndUserID']}", headers=headers,
                            timeout=10).raise_for_status()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass
class Stack:
    home: Path
    fresh: bool = False  # a fresh deployment: nothing staged, QBO to be connected from the browser
    url: str = ""
    env: dict[str, str] = field(default_factory=dict)
    twins: list[TwinProcess] = field(default_factory=list)
    procs: list[subprocess.Popen] = field(default_factory=list)
    _tokens: dict[str, str] = field(default_factory=dict)

    @property
    def staging(self) -> Path:
        return self.home / "atera_qbo_staging.db"

    @property
    def review_dir(self) -> Path:
        return Path(self.env["ATERA_QBO_REVIEW_DIR"])

    @property
    def atera_url(self) -> str:
        return self.twins[0].url

    @property
    def qbo_url(self) -> str:
        return self.twins[1].url

    def airflow(self, *args: str, may_fail: bool = False) -> None:
        log = self.home / "cli.log"
        with log.open("ab") as fh:
            rc = subprocess.run([str(REPO / ".venv" / "bin" / "airflow"), *args], env=self.env, cwd=REPO,
                                stdout=fh, stderr=subprocess.STDOUT, timeout=600).returncode
        if rc and not may_fail:
            raise RuntimeError(f"airflow {' '.join(args)} exited {rc}; see {log}:\n"
                               + log.read_text(errors="replace")[-3000:])

    def start(self) -> Stack:
        self.env = airflow_env(self.home)
        atera, qbo = self._start_twins()
        port = free_port()
        self.url = f"http://127.0.0.1:{port}"
        self._configure(atera.url, qbo.url)
        _without_contacts(atera.url, "Acme Inc")
        self.airflow("db", "migrate")
        self.airflow("pools", "set", "qbo_api", "10", "QBO concurrent requests")
        if not self.fresh:
            self._seed()
        for name, args in (("api-server", ["api-server", "--host", "127.0.0.1", "--port", str(port)]),
                           ("scheduler", ["scheduler"]), ("dag-processor", ["dag-processor"])):
            with open(self.home / f"{name}.log", "ab") as log:  # the process keeps its own copy of the descriptor
                self.procs.append(subprocess.Popen([str(REPO / ".venv" / "bin" / "airflow"), *args], env=self.env,
                                                   cwd=REPO, stdout=log, stderr=subprocess.STDOUT,
                                                   start_new_session=True))
        self._wait_up()
        if self.fresh:
            self._wait_parsed(DAG_IDS)
        return self

    def _start_twins(self) -> tuple[TwinProcess, TwinProcess]:
        twins = self.home / "twins"
        atera = start_twin("atera", ["--seed", "demo", "--api-key", DEMO["atera_api_key"],
                                     "--state", str(twins / "atera.db")], log_path=twins / "atera.log")
        self.twins.append(atera)
        grant = [] if self.fresh else ["--refresh-token", DEMO["refresh_token"]]  # fresh: only a consent gives one
        qbo = start_twin("qbo", ["--seed", "demo", "--realm-id", DEMO["realm_id"], "--client-id", DEMO["client_id"],
                                 "--client-secret", DEMO["client_secret"], *grant,
                                 "--state", str(twins / "qbo.db")], log_path=twins / "qbo.log")
        self.twins.append(qbo)
        return atera, qbo

    def _configure(self, atera_url: str, qbo_url: str) -> None:
        passwords = self.home / "passwords.json"
        passwords.write_text(json.dumps({u: pw for u, (_, pw) in USERS.items()}))
        self.env.update(connections(atera_url, qbo_url))
        if self.fresh:  # only the Intuit app's client id and secret, and where its discovery document is
            qbo_conn = json.loads(self.env["AIRFLOW_CONN_QUICKBOOKS_DEFAULT"])
            qbo_conn["extra"] = {k: v for k, v in qbo_conn["extra"].items() if k not in ("realm_id", "refresh_token")}
            qbo_conn["extra"]["discovery_url"] = f"{qbo_url}/.well-known/openid_configuration"
            self.env["AIRFLOW_CONN_QUICKBOOKS_DEFAULT"] = json.dumps(qbo_conn)
            self.env["AIRFLOW__SCHEDULER__USE_JOB_SCHEDULE"] = "False"  # only the runs the test starts
        self.env.update({
            "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS": ",".join(f"{u}:{r}" for u, (r, _) in USERS.items()),
            "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE": str(passwords),
            "AIRFLOW__CORE__EXECUTOR": "LocalExecutor", "AIRFLOW__CORE__PARALLELISM": "2",
            "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": f"{self.url}/execution/",
            "AIRFLOW__API__BASE_URL": self.url, "AIRFLOW__API__WORKERS": "1",
            "AIRFLOW__API_AUTH__JWT_SECRET": "browser-test-jwt-secret-" + "s" * 48,
            "AIRFLOW__API__SECRET_KEY": "browser-test-secret-key",
            "AIRFLOW__CORE__DAGS_ARE_PAUSED_AT_CREATION": "False",
            "AIRFLOW__SCHEDULER__SCHEDULER_HEARTBEAT_SEC": "1",
            "AIRFLOW__SCHEDULER__JOB_HEARTBEAT_SEC": "1",
            "AIRFLOW__DAG_PROCESSOR__REFRESH_INTERVAL": "600",
        })

    def _seed(self) -> None:
        """The staging DB prepared by real DAG runs (``dags test``, in this process's environment)."""
        self.airflow("dags", "test", "atera_qbo_catalog_sync")
        self.airflow("dags", "test", "atera_qbo_matching")
        self.airflow("dags", "test", "atera_qbo_invoice_export", "-c", json.dumps({
            "invoice_date_from": DEMO["invoice_date_from"], "invoice_date_to": DEMO["invoice_date_to"],
            "dry_run": True}), may_fail=True)  # stages the invoices; fails naming the blocked ones (no mapping yet)
        # this test starts its own runs: no scheduled catalog sync or reconciliation racing finance's Done (the
        # scheduler would start both at once, for the current hour and day), no asset-triggered matching run
        with sqlite3.connect(self.home / "airflow.db") as db:
            db.execute("DELETE FROM asset_dag_run_queue")
            db.execute("UPDATE dag SET is_paused = 1 WHERE dag_id IN "
                       "('atera_qbo_catalog_sync', 'atera_qbo_reconciliation')")

    # ------------------------------------------------------------------ Airflow's REST API, as one of USERS
    def api(self, method: str, path: str, user: str = "admin", **kwargs) -> requests.Response:
        """``method`` on ``/api/v2/<path>`` with a JWT of ``user`` (Airflow's ``POST /auth/token``)."""
        if user not in self._tokens:
            answer = requests.post(f"{self.url}/auth/token", json={"username": user, "password": USERS[user][1]},
                                   timeout=30)
            answer.raise_for_status()
            self._tokens[user] = answer.json()["access_token"]
        headers = {"Authorization": f"Bearer {self._tokens[user]}"}
        return requests.request(method, f"{self.url}/api/v2/{path}", headers=headers, timeout=30, **kwargs)

    def trigger(self, dag_id: str, conf: dict | None = None, user: str = "admin") -> str:
        """A manual run of ``dag_id`` through the REST API (as Airflow's Trigger button); answers its run id."""
        answer = self.api("POST", f"dags/{dag_id}/dagRuns", user, json={"logical_date": None, "conf": conf or {}})
        if answer.status_code >= 400:
            raise RuntimeError(f"triggering {dag_id} answered {answer.status_code}: {answer.text[:1000]}")
        return str(answer.json()["dag_run_id"])

    def wait_run(self, dag_id: str, run_id: str, timeout: float = 240, user: str = "admin") -> str:
        """Wait until the run finished (through the REST API); answers its state (success or failed)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            state = self.api("GET", f"dags/{dag_id}/dagRuns/{run_id}", user).json().get("state")
            if state in ("success", "failed"):
                return str(state)
            time.sleep(2)
        raise RuntimeError(f"{dag_id} run {run_id} did not finish within {timeout}s; see {self.home}")

    def _wait_parsed(self, dag_ids: tuple[str, ...], timeout: float = 180) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if all(self.api("GET", f"dags/{d}").status_code == 200 for d in dag_ids):
                return
            time.sleep(2)
        raise RuntimeError(f"the dag processor did not parse {dag_ids} within {timeout}s; see {self.home}")

    def _wait_up(self, timeout: float = 180) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for proc in self.procs:
                if proc.poll() is not None:
                    raise RuntimeError(f"{proc.args[1]} exited {proc.returncode}; see {self.home}")
            try:
                if requests.get(f"{self.url}/api/v2/monitor/health", timeout=2).status_code == 200:
                    return
            except requests.RequestException:
                pass
            time.sleep(1)
        raise RuntimeError(f"the API server did not answer within {timeout}s; see {self.home}/api-server.log")

    def stop(self) -> None:
        import os
        import signal

        for proc in reversed(self.procs):
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGTERM)
        for proc in self.procs:
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(timeout=10)
        for twin in self.twins:
            twin.stop()
