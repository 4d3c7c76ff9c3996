"""Two companies exporting at once on the Celery cluster (issue 21): combined invoices/s against one company's
alone, and no document in the wrong company.

    .venv/bin/python benchmarks/bench_companies.py [--invoices 3600]

A real Airflow cluster (``tests/celery/cluster.py``: api-server, scheduler, dag-processor, two Celery workers,
PostgreSQL for the metadata and the staging store, Redis as broker and as the shared rate budgets) serves two
companies declared in a companies file: ``alpha`` and ``beta``, each with its own QBO twin (its own realm) and its
own Atera twin. Two Atera twins rather than one routed by country: the demo world's Atera customers are all in the
United States (its Canadian customers exist only in QBO), so a country rule would give one company every invoice;
two accounts give each company the same invoices, so the two halves are equal by construction.

Limits: QBO's per realm, as Intuit publishes them (500 requests/min, 40 ``/batch``/min, 10/s, 10 in flight),
enforced by each QBO twin in REAL time (time scale 1), and paced by the export tasks with the connections' default
budgets, held in Redis (``atera_qbo_redis``) and keyed per realm: exactly a deployment's settings. The cluster's
clients have no time-scaled clock (a QBO minute is 60 s for them), and two realms at five times QBO's rate would
also measure this 2-core machine rather than the pacing: real time keeps the run to minutes at ``--invoices``
3600 (about two QBO minutes per export). The steady ceiling is 40 × 30 / 60 = 20 invoices/s per realm; an export
starting on an empty window may send its first 40 batches at once, so a short export runs above it.

Set-up (not timed): both companies' catalogs are synced and matched directly against their twins (each in its own
staging schema); the demo invoices that export cleanly are copied into each company's Atera account under new
numbers (alpha from 700000, beta from 800000), dated in windows the demo has no invoice in. Then:

(a) alpha's export DAG alone, window A (``--invoices`` invoices) → invoices/s over its export task, and how close
    that is to its realm's ceiling over the same time (``allowed``: 40 batches of 30 at once, then 40 a minute);
(b) after a QBO minute (alpha's budget windows empty again), alpha (window B) and beta (window B), both export tasks
    held at the ``qbo_api`` pool and let go together → combined invoices/s from the first export task's start to
    the last one's end; the ratio (b) ÷ (a). Target ≥ 1.9.

Then each QBO twin is read: its invoices' DocNumbers against each company's Atera invoices of the windows — every
company's own exactly once, none of the other's. Figures only: nothing is asserted.
"""
from __future__ import annotations

import argparse
import json
import logging
import os
import random
import shutil
import sys
import tempfile
import time
from collections import Counter
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

import requests
from cryptography.fernet import Fernet, MultiFernet

REPO = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(REPO), str(REPO / "plugins")]

from atera_qbo.atera.client import AteraClient  # noqa: E402
from atera_qbo.companies import Company, load_companies  # noqa: E402
from atera_qbo.export.load import build_context, select_invoices  # noqa: E402
from atera_qbo.export.transform import transform  # noqa: E402
from atera_qbo.extract import extract_atera_invoices  # noqa: E402
from atera_qbo.http import RetryPolicy  # noqa: E402
from atera_qbo.qbo.auth import TokenEndpoint, TokenStore  # noqa: E402
from atera_qbo.qbo.client import QboClient, QboLimits  # noqa: E402
from atera_qbo.staging.db import apply_schema, make_engine  # noqa: E402
from atera_qbo.staging.identity import claim_database  # noqa: E402
from sandbox.control import AteraControl, QboControl  # noqa: E402
from sandbox.launch import start_twin  # noqa: E402
from scripts.airflow_env import DEMO  # noqa: E402
from tests.celery.cluster import PG, Cluster, psql, services_up  # noqa: E402
from tests.integration.pipeline import WINDOW, sync_and_match  # noqa: E402

FAMILY = "atera_qbo_invoice_export"
LIMITS = {"per_minute": 500, "per_second": 10, "batch_per_minute": 40, "concurrent": 10, "time_scale": 1}
NO_LIMITS = {"per_minute": 0, "per_second": 0, "batch_per_minute": 0, "concurrent": 0}
CEILING = 40 * 30 / 60  # invoices/s per realm: 40 /batch of 30 per minute
WINDOW_A = (date(2026, 11, 2), date(2026, 11, 13))  # the demo has no invoice in November
WINDOW_B = (date(2026, 11, 16), date(2026, 11, 27))
FIRST = {"alpha": 700_000, "beta": 800_000}
FERNET_KEY = Fernet.generate_key().decode()  # the cluster's: set-up stores the token chains as its tasks read them
FAST = RetryPolicy(max_attempts=10, initial_wait=0.05, max_wait=2, timeout=60)


class Side:
    """One company: its twins, its realm, and the Atera invoice numbers the benchmark gave it per window."""

    def __init__(self, cid: str, work: Path) -> None:
        self.id, self.realm = cid, f"9341{random.randrange(10**11, 10**12)}"  # budgets in Redis are per realm
        self.atera = start_twin("atera", ["--seed", "demo", "--api-key", DEMO["atera_api_key"], "--state",
                                          str(work / f"atera_{cid}.db")], log_path=work / f"atera_{cid}.log")
        self.qbo = start_twin("qbo", ["--seed", "demo", "--realm-id", self.realm, "--client-id", DEMO["client_id"],
                                      "--client-secret", DEMO["client_secret"], "--refresh-token",
                                      DEMO["refresh_token"], "--time-scale", "1", "--state",
                                      str(work / f"qbo_{cid}.db")], log_path=work / f"qbo_{cid}.log")
        self.numbers: dict[str, set[str]] = {}

    def connections(self) -> dict[str, str]:
        extra = {"realm_id": self.realm, "refresh_token": DEMO["refresh_token"], "oauth_base_url": self.qbo.url,
                 "retry_initial_wait": 0.2, "retry_max_wait": 5, "environment": "sandbox"}
        return {f"AIRFLOW_CONN_ATERA_{self.id.upper()}": json.dumps(
                    {"conn_type": "http", "host": self.atera.url, "password": DEMO["atera_api_key"]}),
                f"AIRFLOW_CONN_QUICKBOOKS_{self.id.upper()}": json.dumps(
                    {"conn_type": "http", "host": self.qbo.url, "login": DEMO["client_id"],
                     "password": DEMO["client_secret"], "extra": extra})}

    def company(self) -> dict[str, Any]:
        return {"id": self.id, "name": f"Bench {self.id}", "qbo_conn_id": f"quickbooks_{self.id}",
                "atera_conn_id": f"atera_{self.id}", "realm_id": self.realm}

    def stop(self) -> None:
        for twin in (self.atera, self.qbo):
            twin.stop()


# -- set-up (not timed) ---------------------------------------------------------------------------------------
def prepare(side: Side, company: Company, staging_base: str, windows: list[tuple[date, date]], count: int) -> None:
    """The company's catalogs synced and matched into its own staging schema, and ``count`` clean invoices per
    window added to its Atera account under new numbers."""
    engine = make_engine(company.staging_url(staging_base))
    apply_schema(engine)
    claim_database(engine, company.id)
    QboControl(side.qbo.url).set_limits(**NO_LIMITS)
    endpoint = TokenEndpoint(f"{side.qbo.url}/oauth2/v1/tokens/bearer", DEMO["client_id"], DEMO["client_secret"])
    # The company's token chain, encrypted with the cluster's Fernet key: the cluster's tasks go on with it, and
    # start with a fresh access token (an export's first refresh, from its lookup threads at once, is not what
    # this measures).
    store = TokenStore(engine, side.realm, endpoint, seed_refresh_token=DEMO["refresh_token"],
                       cipher=MultiFernet([Fernet(FERNET_KEY.encode())]))
    qbo = QboClient(side.qbo.url, side.realm, store, policy=FAST, limits=QboLimits(None, None, None, None))
    atera = AteraClient(side.atera.url, DEMO["atera_api_key"], policy=FAST, rate_per_minute=None)
    try:
        sync_and_match(atera, qbo, engine)
        extract_atera_invoices(atera, engine, *WINDOW)
        ctx = build_context(engine)
        clean = {inv["source_id"] for inv, lines in select_invoices(engine, date_from=WINDOW[0], date_to=WINDOW[1],
                                                                   numbers=None)
                 if not transform(inv, lines, ctx).problems}
        dtos = [d for d in atera.invoices(*WINDOW) if str(d["InvoiceNumber"]) in clean]
        first = FIRST[side.id]
        for lo, hi in windows:
            if any(True for _ in atera.invoices(lo, hi)):
                raise SystemExit(f"the demo Atera account has invoices in {lo}..{hi}: pick other windows")
            copies = [copy(dtos[i % len(dtos)], first + i, lo + timedelta(days=i % ((hi - lo).days + 1)))
                      for i in range(count)]
            for start in range(0, count, 1000):
                AteraControl(side.atera.url, api_key=DEMO["atera_api_key"]).add_invoices(copies[start:start + 1000])
            side.numbers[f"{lo}..{hi}"] = {str(first + i) for i in range(count)}
            first += count
    finally:
        qbo.close()
        engine.dispose()
    QboControl(side.qbo.url).set_limits(**LIMITS)
    QboControl(side.qbo.url).clear_requests()


def copy(dto: dict[str, Any], number: int, day: date) -> dict[str, Any]:
    text = day.isoformat()
    out = {k: v for k, v in dto.items() if k not in ("InvoiceId", "InvoiceNumberAsString")}
    out.update({"InvoiceNumber": number, "InvoiceDate": text, "PeriodStartDate": text, "PeriodEndDate": text})
    return out


# -- the cluster's runs ---------------------------------------------------------------------------------------
def trigger(cl: Cluster, dag: str, window: tuple[date, date]) -> str:
    conf = {"invoice_date_from": window[0].isoformat(), "invoice_date_to": window[1].isoformat()}
    return str(cl.call("POST", f"/api/v2/dags/{dag}/dagRuns", json={"logical_date": None, "conf": conf})
               ["dag_run_id"])


def export_ti(cl: Cluster, dag: str, run_id: str) -> dict[str, Any]:
    return dict(cl.call("GET", f"/api/v2/dags/{dag}/dagRuns/{run_id}/taskInstances/export"))


def finish(cl: Cluster, dag: str, run_id: str, timeout: float) -> dict[str, Any]:
    def done() -> dict[str, Any] | None:
        run = cl.call("GET", f"/api/v2/dags/{dag}/dagRuns/{run_id}")
        return run if run["state"] in ("success", "failed") else None

    run = cl.wait(done, f"{dag} run {run_id} to finish", timeout)
    ti = export_ti(cl, dag, run_id)
    summary: dict[str, Any] = {}
    if ti.get("state") == "success":
        value = cl.call("GET", f"/api/v2/dags/{dag}/dagRuns/{run_id}/taskInstances/export/xcomEntries/"
                               "return_value")["value"]
        summary = json.loads(value) if isinstance(value, str) else value
    else:
        tis = cl.call("GET", f"/api/v2/dags/{dag}/dagRuns/{run_id}/taskInstances")["task_instances"]
        print(f"  {dag} run ended {run['state']}: {[(t['task_id'], t['state']) for t in tis]}", flush=True)
    return {"state": run["state"], "start": datetime.fromisoformat(ti["start_date"]),
            "end": datetime.fromisoformat(ti["end_date"]), "exported": int(summary.get("exported", 0)),
            "failed": int(summary.get("failed", 0)) + int(summary.get("blocked", 0))}


def run_together(cl: Cluster, runs: dict[str, tuple[str, tuple[date, date]]], timeout: float) -> dict[str, dict]:
    """Trigger every (dag, window), hold their export tasks at the ``qbo_api`` pool until all are ready, let them
    go at once, and answer each run's export figures."""
    cl.call("PATCH", "/api/v2/pools/qbo_api", json={"name": "qbo_api", "slots": 0, "include_deferred": False})
    ids = {name: (dag, trigger(cl, dag, window)) for name, (dag, window) in runs.items()}
    cl.wait(lambda: all(export_ti(cl, dag, rid)["state"] == "scheduled" for dag, rid in ids.values()),
            "the export tasks to wait at the qbo_api pool", timeout)
    cl.call("PATCH", "/api/v2/pools/qbo_api", json={"name": "qbo_api", "slots": 10, "include_deferred": False})
    return {name: finish(cl, dag, rid, timeout) for name, (dag, rid) in ids.items()}


# -- reading the twins back -----------------------------------------------------------------------------------
def doc_numbers(side: Side) -> Counter:
    """How many QBO invoices and credit memos of the side's realm carry each DocNumber."""
    grant = QboControl(side.qbo.url).mint_refresh_token(DEMO["client_id"])
    token = requests.post(f"{side.qbo.url}/oauth2/v1/tokens/bearer", auth=(DEMO["client_id"],
                          DEMO["client_secret"]), data={"grant_type": "refresh_token", "refresh_token": grant},
                          timeout=30).json()["access_token"]
    headers = {"Authorization": f"Bearer {token}", "Accept": "application/json"}
    counts: Counter = Counter()
    for entity in ("Invoice", "CreditMemo"):
        start = 1
        while True:
            r = requests.get(f"{side.qbo.url}/v3/company/{side.realm}/query", headers=headers, timeout=120,
                             params={"query": f"SELECT * FROM {entity} STARTPOSITION {start} MAXRESULTS 1000"})
            r.raise_for_status()
            rows = r.json()["QueryResponse"].get(entity) or []
            counts.update(str(d.get("DocNumber")) for d in rows)
            if len(rows) < 1000:
                break
            start += 1000
    return counts


def busiest_minute(times: list[float]) -> int:
    times = sorted(times)
    best, lo = 0, 0
    for hi, t in enumerate(times):
        while times[lo] <= t - 60:
            lo += 1
        best = max(best, hi - lo + 1)
    return best


def check_companies(sides: list[Side]) -> None:
    """Each QBO company holds its own company's invoices exactly once and none of the other's."""
    wrong = 0
    for side in sides:
        docs = doc_numbers(side)
        own = set().union(*side.numbers.values())
        others = set().union(*(set().union(*o.numbers.values()) for o in sides if o is not side))
        misplaced = sum(docs[n] for n in others)
        wrong += misplaced
        missing = sum(1 for n in own if docs[n] == 0)
        dupes = sum(docs[n] - 1 for n in own if docs[n] > 1)
        log = QboControl(side.qbo.url).requests()
        batches = [float(e["time"]) for e in log if e["path"].rstrip("/").endswith("/batch")]
        api = [float(e["time"]) for e in log if e["path"].startswith("/v3/company/")]
        print(f"QBO company {side.id} (realm {side.realm}): {sum(docs[n] for n in own):,} of its own "
              f"{len(own):,} invoices (missing {missing}, duplicates {dupes}), {misplaced} of the other "
              f"company's; answered 429: {sum(e['status'] == 429 for e in log)}; busiest minute "
              f"{busiest_minute(api)} requests / {busiest_minute(batches)} batches (QBO allows 500 / 40)",
              flush=True)
    print(f"documents in the wrong company: {wrong}", flush=True)


# -- the benchmark --------------------------------------------------------------------------------------------
def start_cluster(work: Path, sides: list[Side]) -> tuple[Cluster, str]:
    conns: dict[str, str] = {"AIRFLOW_CONN_ATERA_QBO_REDIS": json.dumps(
        {"conn_type": "redis", "host": "127.0.0.1", "port": 6379, "schema": "14"})}
    for side in sides:
        conns.update(side.connections())
    companies_file = work / "companies.json"
    companies_file.write_text(json.dumps({"companies": [s.company() for s in sides]}, indent=2))
    cl = Cluster(work, conns, broker_db=13,
                 settings={"AIRFLOW__CORE__FERNET_KEY": FERNET_KEY,
                           "AIRFLOW__ATERA_QBO__COMPANIES_FILE": str(companies_file),
                           "ATERA_QBO_COMPANIES_FILE": str(companies_file)})
    staging = f"atera_qbo_staging_{cl.tag}"
    psql(f"CREATE DATABASE {staging}")
    cl.databases.append(staging)
    conns["AIRFLOW_CONN_ATERA_QBO_STAGING"] = json.dumps({"conn_type": "postgres", "host": "127.0.0.1",
                                                          "port": 5432, "login": "postgres", "schema": staging})
    os.environ["ATERA_QBO_COMPANIES_FILE"] = str(companies_file)  # set-up reads the same list
    return cl, f"{PG}/{staging}"


def allowed(wall: float) -> int:
    """The most invoices QBO lets one realm take in ``wall`` seconds from an empty window: 40 batches of 30 at
    once, then 40 more each minute."""
    return 40 * 30 * (int(wall // 60) + 1)


def rate(runs: list[dict]) -> tuple[int, float]:
    exported = sum(r["exported"] for r in runs)
    wall = (max(r["end"] for r in runs) - min(r["start"] for r in runs)).total_seconds()
    return exported, max(wall, 1e-6)


def bench(count: int, timeout: float) -> None:
    work = Path(tempfile.mkdtemp(prefix="bench-companies-"))
    sides: list[Side] = []
    cl = None
    try:
        for cid in ("alpha", "beta"):
            sides.append(Side(cid, work))
        cl, staging_base = start_cluster(work, sides)
        companies = load_companies()
        began = time.monotonic()
        prepare(sides[0], companies.get("alpha"), staging_base, [WINDOW_A, WINDOW_B], count)
        prepare(sides[1], companies.get("beta"), staging_base, [WINDOW_B], count)
        print(f"set-up (sync, matching, {3 * count:,} Atera invoices added): {time.monotonic() - began:.0f} s",
              flush=True)
        began = time.monotonic()
        cl.start()
        dags = {s.id: companies.get(s.id).dag_id(FAMILY) for s in sides}
        cl.wait(lambda: all(cl._get(f"/api/v2/dags/{d}") for d in dags.values()), "the company DAGs", 300)
        for dag in dags.values():
            cl.call("PATCH", f"/api/v2/dags/{dag}", json={"is_paused": False})
        print(f"cluster up (2 Celery workers), DAGs {', '.join(dags.values())}: {time.monotonic() - began:.0f} s",
              flush=True)
        print(f"{count:,} invoices per company and run; QBO's real limits per realm, real time: steady ceiling "
              f"{CEILING:.0f} invoices/s per realm", flush=True)

        alone = run_together(cl, {"alpha": (dags["alpha"], WINDOW_A)}, timeout)["alpha"]
        n1, wall1 = rate([alone])
        single = n1 / wall1
        print(f"(a) alpha alone:      {n1:6,} invoices in {wall1:6.1f} s = {single:6.1f}/s, "
              f"{n1 / allowed(wall1):.2f} of the realm's ceiling (failed {alone['failed']}, run {alone['state']})",
              flush=True)
        time.sleep(65)  # a QBO minute (and a margin): alpha's budget windows in Redis and on its twin are empty
        both = run_together(cl, {s.id: (dags[s.id], WINDOW_B) for s in sides}, timeout)
        n2, wall2 = rate(list(both.values()))
        for name, r in both.items():
            n, w = rate([r])
            print(f"    {name}: {n:6,} invoices in {w:6.1f} s = {n / w:6.1f}/s, {n / allowed(w):.2f} of its realm's "
                  f"ceiling (failed {r['failed']}, run {r['state']}), export task "
                  f"{r['start']:%H:%M:%S}–{r['end']:%H:%M:%S}", flush=True)
        combined = n2 / wall2
        print(f"(b) alpha + beta:     {n2:6,} invoices in {wall2:6.1f} s = {combined:6.1f}/s "
              f"(first export task's start to the last one's end)", flush=True)
        print(f"ratio (b) / (a): {combined / single if single else float('nan'):.2f} (target ≥ 1.9)", flush=True)
        check_companies(sides)
        shutil.rmtree(work, ignore_errors=True)  # kept after a failure: the cluster's logs are in it
    finally:
        try:
            if cl is not None:
                cl.close()
        finally:
            for side in sides:
                side.stop()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--invoices", type=int, default=3600, help="invoices per company and run")
    parser.add_argument("--timeout", type=float, default=1800, help="seconds a step may take")
    args = parser.parse_args()
    for name in ("atera_qbo", "alembic", "airflow"):  # the set-up's own progress lines are not figures
        logging.getLogger(name).setLevel(logging.WARNING)
    why = services_up()
    if why:
        print(f"cannot run: {why}")
        return 1
    bench(args.invoices, args.timeout)
    return 0


if __name__ == "__main__":
    sys.exit(main())
