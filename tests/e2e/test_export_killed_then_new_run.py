"""An export whose process is killed outside any Airflow retry (an ``airflow dags test`` stopped with SIGKILL in
the middle of a batch), then a NEW run: the new run closes the dead run's batch (``failed``, saying the process
that held it is gone), replays what it left ``pending`` and exports the rest; afterwards no batch is ``running``,
the ledger equals QBO and no invoice is in QBO twice."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from collections import Counter
from pathlib import Path

import pytest
import sqlalchemy as sa

from atera_qbo.staging.db import engine_for, table
from sandbox.control import QboControl
from sandbox.launch import start_twin
from scripts.airflow_env import DEMO, REPO, airflow_env, connections

pytestmark = pytest.mark.e2e
AIRFLOW = str(REPO / ".venv" / "bin" / "airflow")
WINDOW = {"invoice_date_from": DEMO["invoice_date_from"], "invoice_date_to": DEMO["invoice_date_to"]}


@pytest.fixture
def world(tmp_path):
    state = tmp_path / "twins"
    atera = start_twin("atera", ["--seed", "demo", "--api-key", DEMO["atera_api_key"], "--state",
                                 str(state / "atera.db")], log_path=state / "atera.log")
    qbo = start_twin("qbo", ["--seed", "demo", "--realm-id", DEMO["realm_id"], "--client-id", DEMO["client_id"],
                             "--client-secret", DEMO["client_secret"], "--refresh-token", DEMO["refresh_token"],
                             "--state", str(state / "qbo.db")], log_path=state / "qbo.log")
    home = tmp_path / "airflow"
    env = airflow_env(home)
    env.update(connections(atera.url, qbo.url, staging={"conn_type": "sqlite", "host": str(home / "staging.db")}))
    env["AIRFLOW__CORE__DAGS_FOLDER"] = str(dags_without_retries(tmp_path / "dags"))
    try:
        airflow(env, home, "db", "migrate")
        airflow(env, home, "pools", "set", "qbo_api", "10", "QBO concurrent requests")
        airflow(env, home, "dags", "test", "atera_qbo_catalog_sync")
        airflow(env, home, "dags", "test", "atera_qbo_matching", "-c", json.dumps(
            {"commit": True, "create_unmatched_in_qbo": True,
             "overrides_path": str(REPO / "include" / "demo" / "overrides.csv")}))
        yield {"env": env, "home": home, "qbo": qbo, "staging": home / "staging.db"}
    finally:
        atera.stop()
        qbo.stop()


def dags_without_retries(target: Path) -> Path:
    """The project's DAG files, the export's Airflow retries off: the new run, not a retry, must clean up."""
    target.mkdir(parents=True)
    for dag in (REPO / "dags").glob("*.py"):
        text = dag.read_text()
        if dag.name == "atera_qbo_invoice_export.py":
            assert "EXPORT_RETRIES, EXPORT_BACKOFF = 3, 2.0" in text
            text = text.replace("EXPORT_RETRIES, EXPORT_BACKOFF = 3, 2.0", "EXPORT_RETRIES, EXPORT_BACKOFF = 0, 2.0")
        (target / dag.name).write_text(text)
    return target


def airflow(env: dict[str, str], home: Path, *args: str) -> None:
    with (home / "cli.log").open("ab") as log:
        rc = subprocess.run([AIRFLOW, *args], env=env, cwd=REPO, stdout=log, stderr=subprocess.STDOUT,
                            timeout=600).returncode
    assert rc == 0, f"airflow {' '.join(args)} exited {rc}:\n{(home / 'cli.log').read_text()[-3000:]}"


def ledger(staging: Path) -> Counter[str]:
    with engine_for(f"sqlite:///{staging}").connect() as conn:
        return Counter(s for (s,) in conn.execute(sa.select(table("export_invoices").c.status)))


def batches(staging: Path) -> list[sa.Row]:
    with engine_for(f"sqlite:///{staging}").connect() as conn:
        return list(conn.execute(sa.select(table("export_batches")).order_by(table("export_batches").c.started_at)))


def kill_mid_batch(world: dict) -> None:
    """Start an export with QBO slowed down; SIGKILL its whole process once some invoices are exported and a
    chunk is in flight (``pending``)."""
    with (world["home"] / "killed.log").open("ab") as log:
        proc = subprocess.Popen([AIRFLOW, "dags", "test", "atera_qbo_invoice_export", "-c", json.dumps(WINDOW)],
                                env=world["env"], cwd=REPO, stdout=log, stderr=subprocess.STDOUT,
                                start_new_session=True)
    deadline = time.monotonic() + 240
    try:
        while time.monotonic() < deadline:
            if world["staging"].exists() and ledger(world["staging"])["exported"] and \
                    ledger(world["staging"])["pending"]:
                break
            assert proc.poll() is None, (world["home"] / "killed.log").read_text()[-3000:]
            time.sleep(0.1)
        else:
            pytest.fail("the export never had invoices exported and a chunk in flight at once")
    finally:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=30)


def test_a_killed_exports_batch_is_closed_by_the_next_run_and_nothing_is_sent_twice(world):
    qbo = QboControl(world["qbo"].url)
    with qbo.faults(latency_ms=1500):
        kill_mid_batch(world)
    before = ledger(world["staging"])
    (dead,) = [b for b in batches(world["staging"]) if b.status == "running"]
    assert before["pending"] and before["exported"]

    airflow(world["env"], world["home"], "dags", "test", "atera_qbo_invoice_export", "-c", json.dumps(WINDOW))

    rows = {b.batch_id: b for b in batches(world["staging"])}
    assert not [b for b in rows.values() if b.status == "running"]
    assert rows[dead.batch_id].status == "failed"
    assert "the process that held it is gone" in rows[dead.batch_id].error_text
    after = ledger(world["staging"])
    assert set(after) == {"exported"} and after["exported"] > sum(before.values())  # the replay, then the rest

    with engine_for(f"sqlite:///{world['staging']}").connect() as conn:
        exported = {(r.qbo_type, r.qbo_id) for r in conn.execute(sa.select(table("export_invoices")))}
    docs = Counter()
    for entity in ("Invoice", "CreditMemo"):
        for doc in qbo_documents(world["qbo"].url, entity):
            docs[doc["DocNumber"]] += 1
            assert (entity, str(doc["Id"])) in exported, f"{entity} {doc['Id']} is in QBO but not the ledger"
    assert docs and max(docs.values()) == 1, [n for n, c in docs.items() if c > 1]
    assert len(exported) == sum(docs.values())


def qbo_documents(url: str, entity: str) -> list[dict]:
    """Every document of ``entity`` in the twin, read through QBO's own query API with a grant of our own."""
    import requests

    grant = QboControl(url).mint_refresh_token(DEMO["client_id"])
    token = requests.post(f"{url}/oauth2/v1/tokens/bearer", auth=(DEMO["client_id"], DEMO["client_secret"]),
                          data={"grant_type": "refresh_token", "refresh_token": grant}, timeout=10).json()
    out: list[dict] = []
    while True:
        page = requests.post(f"{url}/v3/company/{DEMO['realm_id']}/query", timeout=30,
                             headers={"Authorization": f"Bearer {token['access_token']}",
                                      "Content-Type": "application/text", "Accept": "application/json"},
                             data=f"SELECT * FROM {entity} STARTPOSITION {len(out) + 1} MAXRESULTS 1000").json()
        rows = page["QueryResponse"].get(entity) or []
        out.extend(rows)
        if len(rows) < 1000:
            return out
