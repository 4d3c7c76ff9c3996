"""A Celery worker host lost in the middle of an export, under a running scheduler: exactly once still holds.

The cluster of ``test_celery_sync`` (api-server, scheduler, dag-processor, two Celery workers; PostgreSQL, Redis).
Catalog sync → matching (commit) → one export of every demo invoice, QBO answering slowly. Once the ledger shows
invoices ``exported`` and a chunk ``pending`` (marked, sent, its answer not yet recorded), the worker running the
task is SIGKILLed with every process under it. Nothing tells the scheduler: it finds the attempt by its missing
heartbeat (``[scheduler] task_instance_heartbeat_timeout``, checked every
``task_instance_heartbeat_timeout_detection_interval``; both short here), fails it for retry, and the retry runs on
the other worker. Then, read through QBO's API and the staging DB: every invoice in QBO once, the ledger's QBO ids
are QBO's documents, no batch left ``running``, the killed attempt's batch closed ``failed`` with the reason.

The export's retry delay (5 minutes, doubling) is shortened in the test's copy of the DAG file only.
Slow (about 2½ minutes): marked ``celery``, left out of ``make test``, run by ``make test-celery`` and ``.ci/run``."""
from __future__ import annotations

import json
import random
import time
from collections import Counter
from dataclasses import dataclass

import pytest
import sqlalchemy as sa

from atera_qbo.staging.db import apply_schema, make_engine
from sandbox.control import QboControl
from sandbox.launch import TwinProcess, start_twin
from scripts.airflow_env import DEMO, connections

from .cluster import EXPORT_DAG, REPO, Cluster, psql, services_up
from .test_celery_sync import (
    CATALOG,
    EXPORT,
    MATCHING,
    TWIN_LIMITS,
    atera_numbers,
    finished,
    qbo_reader,
    runs,
    trigger,
    workers_of,
)

pytestmark = pytest.mark.celery

WINDOW = ("2026-08-01", "2026-10-31")  # every demo invoice the sync exports
# How fast a lost task is failed over: no heartbeat for 30 s (Airflow's default: 300), looked for every 5 s (10).
HEARTBEAT = {"AIRFLOW__SCHEDULER__TASK_INSTANCE_HEARTBEAT_TIMEOUT": "30",
             "AIRFLOW__SCHEDULER__TASK_INSTANCE_HEARTBEAT_TIMEOUT_DETECTION_INTERVAL": "5"}
# The export's first retry after 2 s (then doubling, at most 30 s) instead of 5 minutes: in the test's copy only.
RETRY_DELAYS = (EXPORT_DAG, "EXPORT_FIRST_DELAY, EXPORT_MAX_DELAY = timedelta(minutes=5), timedelta(minutes=30)",
                "EXPORT_FIRST_DELAY, EXPORT_MAX_DELAY = timedelta(seconds=2), timedelta(seconds=30)")
LATENCY_MS = 1500  # per QBO request until the kill: a chunk stays in flight long enough to be caught


@dataclass
class Stack:
    cl: Cluster
    atera: TwinProcess
    qbo: TwinProcess
    realm: str
    staging: sa.Engine


@pytest.fixture(scope="module")
def stack(tmp_path_factory):
    why = services_up()
    if why:
        pytest.fail(why)
    work = tmp_path_factory.mktemp("celery_lost")
    realm = f"9342{random.randrange(10**11, 10**12)}"  # rate budgets in Redis are per realm: one of its own
    started: list[TwinProcess] = []
    cl, engine = None, None
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
        cl = Cluster(work, conns, settings=HEARTBEAT, dag_edits=[RETRY_DELAYS])
        staging = f"atera_qbo_staging_{cl.tag}"
        psql(f"CREATE DATABASE {staging}")
        cl.databases.append(staging)
        engine = make_engine(f"postgresql+psycopg2://postgres@127.0.0.1:5432/{staging}")
        apply_schema(engine)  # once, before any worker starts, as a deployment's init step does
        conns["AIRFLOW_CONN_ATERA_QBO_STAGING"] = json.dumps({"conn_type": "postgres", "host": "127.0.0.1",
                                                              "port": 5432, "login": "postgres", "schema": staging})
        cl.start()
        yield Stack(cl, atera, qbo, realm, engine)
    finally:
        try:
            if engine is not None:
                engine.dispose()  # before the database is dropped
            if cl is not None:
                cl.close()
        finally:
            for twin in started:
                twin.stop()


def catalog_and_matching(cl: Cluster) -> None:
    cl.wait(lambda: all(cl._get(f"/api/v2/dags/{d}") for d in (CATALOG, MATCHING, EXPORT)),
            "the dag-processor to parse the DAGs", 240)
    for dag in (MATCHING, EXPORT, CATALOG):  # the hourly catalog sync schedules its latest interval when unpaused
        cl.call("PATCH", f"/api/v2/dags/{dag}", json={"is_paused": False})
    catalog = cl.wait(lambda: runs(cl, CATALOG)[0]["dag_run_id"], "the scheduled catalog sync run", 120)
    finished(cl, CATALOG, catalog, 300)
    match = trigger(cl, MATCHING, {"commit": True, "create_unmatched_in_qbo": True,
                                   "overrides_path": str(REPO / "include" / "demo" / "overrides.csv")})
    finished(cl, MATCHING, match, 300)


def ledger_counts(engine: sa.Engine) -> Counter[str]:
    with engine.connect() as conn:
        rows = conn.execute(sa.text("SELECT status, count(*) FROM export_invoices GROUP BY status"))
        return Counter(dict(rows.all()))


def export_ti(cl: Cluster, run_id: str) -> dict:
    return cl.call("GET", f"/api/v2/dags/{EXPORT}/dagRuns/{run_id}/taskInstances/export")


def mid_export(st: Stack, run_id: str, timeout: float = 300) -> Counter[str]:
    """Wait (polling the ledger every 0.1 s) until invoices are exported and a chunk is in flight (``pending``)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        st.cl.alive()
        counts = ledger_counts(st.staging)
        if counts["exported"] and counts["pending"]:
            return counts
        if export_ti(st.cl, run_id)["state"] in ("success", "failed", "up_for_retry"):
            raise AssertionError(f"the export ended before it could be killed ({counts}): raise LATENCY_MS")
        time.sleep(0.1)
    raise AssertionError(f"no chunk in flight after {timeout}s: {ledger_counts(st.staging)}\n{st.cl.tail()}")


def kill_the_exporting_worker(st: Stack, run_id: str) -> tuple[str, Counter[str]]:
    """SIGKILL the worker (and all under it) that runs the export while it exports; answers it and the ledger then."""
    with QboControl(st.qbo.url).faults(latency_ms=LATENCY_MS):
        counts = mid_export(st, run_id)
        ti = export_ti(st.cl, run_id)
        worker = st.cl.worker_running(f"airflow worker -- {ti['id']}")
        assert worker is not None, f"no worker runs task instance {ti['id']} ({ti['state']})"
        st.cl.lose(worker)
        counts = ledger_counts(st.staging)  # as the kill left it
    return worker, counts


def batches(engine: sa.Engine) -> list[dict]:
    with engine.connect() as conn:
        return [dict(r) for r in conn.execute(sa.text(
            "SELECT batch_id, run_id, try_number, status, error_text, exported_count FROM export_batches "
            "ORDER BY started_at")).mappings()]


def ledger_rows(engine: sa.Engine) -> dict[str, tuple[str, str | None, str | None]]:
    with engine.connect() as conn:
        return {n: (s, i, t) for n, s, i, t in conn.execute(sa.text(
            "SELECT atera_invoice_number, status, qbo_id, qbo_type FROM export_invoices"))}


def assert_ledger_is_qbo(st: Stack, wanted: set[str]) -> None:
    """Every wanted invoice exported, in QBO once (Invoice or CreditMemo by DocNumber), as the ledger says."""
    query = qbo_reader(st.qbo.url, st.realm)
    docs = [(d.get("DocNumber"), str(d["Id"]), entity) for entity in ("Invoice", "CreditMemo") for d in query(entity)]
    times = Counter(number for number, _, _ in docs)
    assert {n: times[n] for n in wanted if times[n] != 1} == {}
    in_qbo = {number: ("exported", qbo_id, entity) for number, qbo_id, entity in docs if number in wanted}
    ledger = ledger_rows(st.staging)
    assert set(ledger) == wanted, (sorted(set(ledger) ^ wanted)[:10])
    assert ledger == in_qbo, {n: (ledger.get(n), in_qbo.get(n)) for n in wanted if ledger.get(n) != in_qbo.get(n)}


def test_worker_killed_mid_export_the_scheduler_fails_over_and_the_retry_exports_each_invoice_once(stack):
    st, began = stack, time.monotonic()
    cl = st.cl
    catalog_and_matching(cl)
    wanted = atera_numbers(st.atera.url, *WINDOW)
    assert len(wanted) > 60, len(wanted)  # more than two chunks of 30: one exported, one in flight, more to come
    run_id = trigger(cl, EXPORT, {"invoice_date_from": WINDOW[0], "invoice_date_to": WINDOW[1]})

    lost, at_kill = kill_the_exporting_worker(st, run_id)
    killed = time.monotonic()
    assert 0 < at_kill["exported"] < len(wanted) and at_kill["pending"], at_kill
    running = [b for b in batches(st.staging) if b["status"] == "running"]
    assert [b["try_number"] for b in running] == [1], running  # the killed attempt's batch, as the kill left it

    # The scheduler alone finds the lost attempt (no heartbeat) and fails it for retry; the retry runs elsewhere.
    cl.wait(lambda: export_ti(cl, run_id)["state"] != "running", "the scheduler to fail the lost attempt", 120)
    failover = time.monotonic() - killed
    finished(cl, EXPORT, run_id, 300)
    total = time.monotonic() - began
    ti = export_ti(cl, run_id)
    assert ti["try_number"] == 2, ti  # one retry, no more
    tries = cl.call("GET", f"/api/v2/dags/{EXPORT}/dagRuns/{run_id}/taskInstances/export/tries")["task_instances"]
    assert [t["state"] for t in tries] == ["failed", "success"], [(t["try_number"], t["state"]) for t in tries]
    retried_on = workers_of(cl, "export", {"retry": run_id})["retry"]  # the surviving workers' logs only
    assert retried_on and lost not in retried_on, (lost, retried_on)

    assert_ledger_is_qbo(st, wanted)
    summary = cl.call("GET", f"/api/v2/dags/{EXPORT}/dagRuns/{run_id}/taskInstances/export/xcomEntries/"
                             "return_value")["value"]
    summary = json.loads(summary) if isinstance(summary, str) else summary
    assert summary["failed"] == 0 and summary["blocked"] == 0, summary
    assert summary["exported"] + summary["already_exported"] + summary["recovered"] == summary["selected"] \
        == len(wanted), summary

    # No batch left running: the killed attempt's is closed failed, saying why; the retry's is done.
    rows = batches(st.staging)
    assert [b["status"] for b in rows if b["status"] == "running"] == [], rows
    by_try = {b["try_number"]: b for b in rows if b["run_id"] == run_id}
    assert sorted(by_try) == [1, 2], rows
    assert by_try[1]["status"] == "failed" and by_try[1]["error_text"], by_try[1]
    assert by_try[2]["status"] == "done", by_try[2]
    print(f"\nworker lost: {lost} killed with the ledger at {dict(at_kill)}; the scheduler failed the attempt over "
          f"{failover:.0f} s later; the retry on {sorted(retried_on)}: {summary['exported']} exported, "
          f"{summary['already_exported']} already exported, {summary['recovered']} recovered of "
          f"{summary['selected']}; killed batch: {by_try[1]['error_text']!r}; {total:.0f} s from the first DAG "
          "parse to the retry's end")
