"""The DAGs distributed on Airflow's CeleryExecutor: api-server, scheduler, dag-processor and two Celery workers as
processes, the metadata DB and the staging store on PostgreSQL, Redis as broker and as the shared rate budget.
Catalog sync → matching (commit) → two export runs at the same time over overlapping invoice windows (the export
DAG's max_active_runs lifted for the test: the ledger's claims alone keep them apart). Then, read through the twins'
APIs: every invoice once in QBO, the token chain intact, QBO's limits held across workers.

Slow (a few minutes): marked ``celery``, left out of ``make test``, run by ``make test-celery`` and ``.ci/run``."""
from __future__ import annotations

import json
import random
import re
import time
from collections import Counter
from datetime import datetime
from decimal import Decimal

import pytest
import requests

from atera_qbo.staging.db import apply_schema, make_engine
from sandbox.control import AteraControl, QboControl
from sandbox.launch import start_twin
from scripts.airflow_env import DEMO, connections

from .cluster import REPO, Cluster, psql, services_up

pytestmark = pytest.mark.celery

CATALOG, MATCHING, EXPORT = "atera_qbo_catalog_sync", "atera_qbo_matching", "atera_qbo_invoice_export"
WINDOWS = {"early": ("2026-08-01", "2026-09-30"), "late": ("2026-09-01", "2026-10-31")}
# QBO's real per-realm limits on the twin, and the sync's own budgets for them (the connection's defaults: 500
# requests and 40 batches per minute, 10 in flight), held in Redis for every worker together.
TWIN_LIMITS = {"per_minute": 500, "batch_per_minute": 40, "concurrent": 10, "time_scale": 1}
MINUTE = 60.0
EXPORT_LATENCY_MS = 700  # per QBO request while the two exports run (see run_the_flow)


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    why = services_up()
    if why:
        pytest.fail(why)
    work = tmp_path_factory.mktemp("celery")
    realm = f"9341{random.randrange(10**11, 10**12)}"  # rate budgets in Redis are per realm: one of its own
    started: list = []
    cl = None
    try:
        started.append(start_twin("atera", ["--seed", "demo", "--api-key", DEMO["atera_api_key"], "--state",
                                            str(work / "atera.db")], log_path=work / "atera.log"))
        started.append(start_twin("qbo", ["--seed", "demo", "--realm-id", realm, "--client-id", DEMO["client_id"],
                                          "--client-secret", DEMO["client_secret"], "--refresh-token",
                                          DEMO["refresh_token"], "--state", str(work / "qbo.db")],
                                  log_path=work / "qbo.log"))
        atera, qbo = started
        QboControl(qbo.url).set_limits(**TWIN_LIMITS)
        conns = connections(atera.url, qbo.url, qbo_extra={"realm_id": realm})
        conns["AIRFLOW_CONN_ATERA_QBO_REDIS"] = json.dumps({"conn_type": "redis", "host": "127.0.0.1",
                                                            "port": 6379, "schema": "12"})
        cl = Cluster(work, conns)
        staging = f"atera_qbo_staging_{cl.tag}"
        psql(f"CREATE DATABASE {staging}")
        cl.databases.append(staging)
        # The schema, once, before any worker starts: as a deployment's init step does (docker-compose: airflow-init).
        engine = make_engine(f"postgresql+psycopg2://postgres@127.0.0.1:5432/{staging}")
        apply_schema(engine)
        engine.dispose()
        conns["AIRFLOW_CONN_ATERA_QBO_STAGING"] = json.dumps({"conn_type": "postgres", "host": "127.0.0.1",
                                                              "port": 5432, "login": "postgres", "schema": staging})
        cl.start()
        yield cl, atera, qbo, realm
    finally:
        try:
            if cl is not None:
                cl.close()
        finally:
            for twin in started:
                twin.stop()


def runs(cl: Cluster, dag: str) -> list[dict]:
    return cl.call("GET", f"/api/v2/dags/{dag}/dagRuns", params={"order_by": "start_date"})["dag_runs"]


def trigger(cl: Cluster, dag: str, conf: dict) -> str:
    return cl.call("POST", f"/api/v2/dags/{dag}/dagRuns", json={"logical_date": None, "conf": conf})["dag_run_id"]


def finished(cl: Cluster, dag: str, run_id: str, timeout: float) -> dict:
    def done():
        run = cl.call("GET", f"/api/v2/dags/{dag}/dagRuns/{run_id}")
        return run if run["state"] in ("success", "failed") else None

    run = cl.wait(done, f"{dag} run {run_id} to finish", timeout)
    if run["state"] != "success":
        tis = cl.call("GET", f"/api/v2/dags/{dag}/dagRuns/{run_id}/taskInstances")["task_instances"]
        raise AssertionError(f"{dag} run {run_id} ended {run['state']}: "
                             f"{[(t['task_id'], t['state']) for t in tis]}\n{cl.tail()}")
    return run


def qbo_reader(url: str, realm: str):
    grant = QboControl(url).mint_refresh_token(DEMO["client_id"])
    token = requests.post(f"{url}/oauth2/v1/tokens/bearer", auth=(DEMO["client_id"], DEMO["client_secret"]),
                          data={"grant_type": "refresh_token", "refresh_token": grant}, timeout=10).json()
    headers = {"Authorization": f"Bearer {token['access_token']}", "Accept": "application/json"}

    def query(entity: str) -> list[dict]:
        rows, start = [], 1
        while True:
            r = requests.get(f"{url}/v3/company/{realm}/query", headers=headers, timeout=30, params={
                "query": f"SELECT * FROM {entity} STARTPOSITION {start} MAXRESULTS 1000"})
            r.raise_for_status()
            page = json.loads(r.text, parse_float=Decimal)["QueryResponse"].get(entity, [])
            rows += page
            if len(page) < 1000:
                return rows
            start += 1000

    return query


def atera_numbers(url: str, lo: str, hi: str) -> set[str]:
    out, page = set(), 1
    while True:
        r = requests.get(f"{url}/api/v3/billing/invoices", headers={"X-API-KEY": DEMO["atera_api_key"]},
                         params={"invoiceDateFrom": lo, "invoiceDateTo": hi, "page": page, "itemsInPage": 50},
                         timeout=30)
        r.raise_for_status()
        body = r.json()
        out |= {str(i["InvoiceNumber"]) for i in body["items"]}
        if not body.get("nextLink"):
            return out
        page += 1


def export_state(cl: Cluster, run_id: str) -> str | None:
    return cl.call("GET", f"/api/v2/dags/{EXPORT}/dagRuns/{run_id}/taskInstances/export")["state"]


def export_task_spans(cl: Cluster, run_ids: dict[str, str]) -> dict[str, tuple[datetime, datetime]]:
    spans = {}
    for name, run_id in run_ids.items():
        ti = cl.call("GET", f"/api/v2/dags/{EXPORT}/dagRuns/{run_id}/taskInstances/export")
        spans[name] = (datetime.fromisoformat(ti["start_date"]), datetime.fromisoformat(ti["end_date"]))
    return spans


def workers_of(cl: Cluster, task_id: str, run_ids: dict[str, str]) -> dict[str, set[str]]:
    """Which Celery worker ran that task of each run (from the workers' own logs)."""
    seen: dict[str, set[str]] = {name: set() for name in run_ids}
    for worker in (n for n in cl.procs if n.startswith("worker")):
        text = (cl.logs / f"{worker}.log").read_text(errors="replace")
        for name, run_id in run_ids.items():
            if re.search(rf"task_id='{task_id}'[^\n]*run_id='{re.escape(run_id)}'", text):
                seen[name].add(worker)
    return seen


def busiest_minute(times: list[float]) -> int:
    return max((sum(1 for t in times[i:] if t < start + MINUTE) for i, start in enumerate(times)), default=0)


def redis_budget_calls() -> int:
    """How many times any client ran a script on the Redis server (the shared budget is one script call per
    request); server-wide, so others' calls can only add to it."""
    import redis

    client = redis.Redis("127.0.0.1", 6379, socket_timeout=5)
    try:
        stats = client.info("commandstats")
    finally:
        client.close()
    return sum(stats.get(f"cmdstat_{c}", {}).get("calls", 0) for c in ("eval", "evalsha"))


def run_the_flow(cl: Cluster, qbo_url: str) -> dict[str, str]:
    """Catalog sync → matching (commit) → the two exports, let go at the same moment; answers the export run ids."""
    cl.wait(lambda: all(cl._get(f"/api/v2/dags/{d}") for d in (CATALOG, MATCHING, EXPORT)),
            "the dag-processor to parse the DAGs", 240)
    for dag in (MATCHING, EXPORT, CATALOG):  # the hourly catalog sync schedules its latest interval when unpaused
        cl.call("PATCH", f"/api/v2/dags/{dag}", json={"is_paused": False})
    catalog = cl.wait(lambda: runs(cl, CATALOG)[0]["dag_run_id"], "the scheduled catalog sync run", 120)
    finished(cl, CATALOG, catalog, 300)

    match = trigger(cl, MATCHING, {"commit": True, "create_unmatched_in_qbo": True,
                                   "overrides_path": str(REPO / "include" / "demo" / "overrides.csv")})
    finished(cl, MATCHING, match, 300)

    # Both exports wait at the qbo_api pool (0 slots) until both are ready, then are let go together.
    cl.call("PATCH", "/api/v2/pools/qbo_api", json={"name": "qbo_api", "slots": 0, "include_deferred": False})
    exports = {name: trigger(cl, EXPORT, {"invoice_date_from": lo, "invoice_date_to": hi})
               for name, (lo, hi) in WINDOWS.items()}
    cl.wait(lambda: all(export_state(cl, run_id) == "scheduled" for run_id in exports.values()),
            "both export tasks to wait for the qbo_api pool", 300)
    # On a quiet machine one export takes about 2 s, less than the gap between the two workers picking their task
    # up: QBO answering slower (as it does under load) keeps both exports in flight long enough to overlap.
    with QboControl(qbo_url).faults(latency_ms=EXPORT_LATENCY_MS):
        cl.call("PATCH", "/api/v2/pools/qbo_api", json={"name": "qbo_api", "slots": 10, "include_deferred": False})
        for run_id in exports.values():
            finished(cl, EXPORT, run_id, 300)
    return exports


def export_summaries(cl: Cluster, exports: dict[str, str]) -> dict[str, dict]:
    out = {}
    for name, run_id in exports.items():
        value = cl.call("GET", f"/api/v2/dags/{EXPORT}/dagRuns/{run_id}/taskInstances/export/xcomEntries/"
                               "return_value")["value"]
        out[name] = json.loads(value) if isinstance(value, str) else value
    return out


def assert_budgets_held(qbo_log: list[dict], atera_log: list[dict], budget_calls: int) -> str:
    """No 429, never more than one of QBO's limits in any minute, every request of both APIs through a budget
    script in Redis; answers the figures."""
    api = sorted(float(e["time"]) for e in qbo_log if e["path"].startswith("/v3/company/"))
    batches = sorted(float(e["time"]) for e in qbo_log if e["path"].rstrip("/").endswith("/batch"))
    statuses = Counter(e["status"] for e in qbo_log if e["path"].startswith("/v3/company/"))
    assert statuses[429] == 0, statuses
    busiest, busiest_batches = busiest_minute(api), busiest_minute(batches)
    assert busiest <= TWIN_LIMITS["per_minute"] and busiest_batches <= TWIN_LIMITS["batch_per_minute"]
    atera_api = [e for e in atera_log if e["path"].startswith("/api/")]
    assert budget_calls >= len(api) + len(atera_api), \
        f"{budget_calls} budget calls in Redis for {len(api)} QBO and {len(atera_api)} Atera requests"
    return f"{len(api)} QBO API requests ({len(batches)} batches), busiest minute {busiest} / {busiest_batches}"


def test_two_workers_export_overlapping_windows_at_once_each_invoice_lands_once(cluster):
    cl, atera, qbo, realm = cluster
    began, budget_calls = time.monotonic(), redis_budget_calls()
    exports = run_the_flow(cl, qbo.url)
    elapsed = time.monotonic() - began
    qbo_log = QboControl(qbo.url).requests()  # before this test's own reads
    atera_log = AteraControl(atera.url).requests()
    budget_calls = redis_budget_calls() - budget_calls

    # Both exports ran at the same time, on the two workers.
    spans = export_task_spans(cl, exports)
    (a0, a1), (b0, b1) = spans.values()
    assert a0 < b1 and b0 < a1, f"the two export tasks did not overlap ({spans}): the test proved nothing"
    ran_on = workers_of(cl, "export", exports)
    assert all(len(w) == 1 for w in ran_on.values()) and ran_on["early"] != ran_on["late"], ran_on

    # Every Atera invoice of both windows is in QBO exactly once (Invoice or CreditMemo by DocNumber).
    wanted = atera_numbers(atera.url, WINDOWS["early"][0], WINDOWS["late"][1])
    overlap = atera_numbers(atera.url, WINDOWS["late"][0], WINDOWS["early"][1])
    assert len(wanted) >= 100 and len(overlap) >= 20, (len(wanted), len(overlap))
    query = qbo_reader(qbo.url, realm)
    docs = Counter(d.get("DocNumber") for entity in ("Invoice", "CreditMemo") for d in query(entity))
    assert {n for n in wanted if docs[n] != 1} == set(), {n: docs[n] for n in wanted if docs[n] != 1}

    # Both runs ended as expected: nothing failed or blocked, each accounted for its whole window, and the
    # overlap was sent by one run only (the other found it exported under the claim).
    summaries = export_summaries(cl, exports)
    for name, s in summaries.items():
        assert s["failed"] == 0 and s["blocked"] == 0, (name, s)
        assert s["exported"] + s["already_exported"] + s["recovered"] == s["selected"], (name, s)
    sent = [set(s["exported_ids"]) for s in summaries.values()]
    assert not sent[0] & sent[1], f"both runs sent {sorted(sent[0] & sent[1])[:5]}"
    assert sent[0] | sent[1] == wanted

    # The token chain held: every refresh answered 200, none refused (invalid_grant).
    refreshes = [e for e in qbo_log if e["path"].startswith("/oauth2/")]
    assert refreshes and all(e["status"] == 200 for e in refreshes), Counter(e["status"] for e in refreshes)

    figures = assert_budgets_held(qbo_log, atera_log, budget_calls)
    print(f"\nCelery sync: {elapsed:.0f} s from the first DAG parse to the last export; {figures}; "
          f"export tasks ran on {ran_on}")
