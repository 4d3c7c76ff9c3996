"""Invoice export at QBO's ceiling: the project's export task side by side with two plain loaders, each on its own
identical copy of the QBO company, with QBO's real limits time-scaled (500 requests/min, 40 ``/batch``/min, 10 in
flight; ``--scale 5`` makes a minute last 12 s).

    .venv/bin/python benchmarks/bench_export.py [--invoices 24000] [--scale 5] [--per-invoice-sample 600]

The ceiling is what QBO's batch limit allows: 40 batches × 30 invoices per minute (×scale). For each loader,
``ratio = documents in QBO ÷ (ceiling × wall time)``; for the project the wall time is the whole export task
(selection, ledger, DocNumber recovery, transform, sending, the report), for the peers only their sending (their
payloads are built before the clock starts). Peers:

- one request per invoice (``POST /invoice``, what a python-quickbooks ``save()`` loop does), waiting a QBO minute
  after a 429 as Intuit advises. Its rate is bound by QBO's 500 requests/min and 10 requests/s, and each 429 it
  provokes costs it a QBO minute, so it loads the first ``--per-invoice-sample`` invoices only (600 by default:
  the twin enforces the per-second limit too, which an unpaced loop keeps running into);
- sequential ``/batch`` of 30, spaced to 40 per minute, waiting a QBO minute after a 429.

Set-up (not timed): the demo world is synced and matched against the twins, its Atera invoices are staged, and
staging is topped up to ``--invoices`` by copying them under new invoice numbers; the QBO twin's state file is
then copied, so every loader starts from the same company.
"""
from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
import time
import uuid
from collections import Counter
from pathlib import Path
from typing import Any

import requests
import sqlalchemy as sa

REPO = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(REPO), str(REPO / "plugins")]

from atera_qbo.export.load import build_context, export_invoices, select_invoices  # noqa: E402
from atera_qbo.export.transform import transform  # noqa: E402
from atera_qbo.extract import extract_atera_invoices  # noqa: E402
from atera_qbo.http import RetryPolicy  # noqa: E402
from atera_qbo.qbo.auth import TokenEndpoint, TokenStore  # noqa: E402
from atera_qbo.qbo.client import QboClient, QboLimits  # noqa: E402
from atera_qbo.staging.db import apply_schema, make_engine, table  # noqa: E402
from sandbox.control import QboControl  # noqa: E402
from sandbox.launch import start_twin  # noqa: E402
from scripts.airflow_env import DEMO  # noqa: E402
from tests.integration.pipeline import WINDOW, atera_client, sync_and_match  # noqa: E402

LIMITS = {"per_minute": 500, "per_second": 10, "batch_per_minute": 40, "concurrent": 10}  # Intuit's, all of them
FIRST_NUMBER = 700_000


def qbo_args(state: Path, scale: float) -> list[str]:
    return ["--seed", "demo", "--state", str(state), "--realm-id", DEMO["realm_id"], "--client-id",
            DEMO["client_id"], "--client-secret", DEMO["client_secret"], "--refresh-token", DEMO["refresh_token"],
            "--time-scale", str(scale)]


def set_limits(twin: Any, scale: float, real: bool) -> None:
    doc = {**LIMITS, "time_scale": scale} if real else {"per_minute": 0, "per_second": 0, "batch_per_minute": 0,
                                                          "concurrent": 0}
    QboControl(twin.url).set_limits(**doc)


def grant(twin: Any) -> str:
    return QboControl(twin.url).mint_refresh_token(DEMO["client_id"])


def qbo_client(twin: Any, engine: sa.Engine, scale: float) -> QboClient:
    endpoint = TokenEndpoint(f"{twin.url}/oauth2/v1/tokens/bearer", DEMO["client_id"], DEMO["client_secret"])
    store = TokenStore(engine, DEMO["realm_id"], endpoint, seed_refresh_token=grant(twin))
    minute = 60 / scale
    policy = RetryPolicy(initial_wait=0.05, max_wait=minute, timeout=30, throttle_deadline=1800 / scale,
                         error_deadline=600 / scale)
    return QboClient(twin.url, DEMO["realm_id"], store, policy=policy, limits=QboLimits(minute=minute))


# -- set-up ---------------------------------------------------------------------------------------------------
def stage_company(work: Path, count: int) -> tuple[sa.Engine, Path]:
    """The demo world synced and matched, and ``count`` exportable invoices in staging. Answers the staging
    engine and the QBO twin's state file (the company every loader starts from)."""
    engine = make_engine(f"sqlite:///{work / 'staging.db'}")
    apply_schema(engine)
    state = work / "company.db"
    atera = start_twin("atera", ["--seed", "demo", "--api-key", DEMO["atera_api_key"]], timeout=120)
    qbo = start_twin("qbo", qbo_args(state, 1), timeout=120)
    try:
        set_limits(qbo, 1, real=False)
        client = qbo_client(qbo, engine, 1)
        sync_and_match(atera_client(atera), client, engine)
        extract_atera_invoices(atera_client(atera), engine, *WINDOW)
    finally:
        atera.stop()
        qbo.stop()
    copy_invoices(engine, count)
    return engine, state


def copy_invoices(engine: sa.Engine, count: int) -> None:
    """Staging holds exactly ``count`` invoices: the exportable demo invoices again and again, renumbered."""
    ctx = build_context(engine)
    clean = [inv["source_id"] for inv, lines in select_invoices(engine, date_from=WINDOW[0], date_to=WINDOW[1],
                                                                  numbers=None)
             if not transform(inv, lines, ctx).problems]
    inv, lines = table("stg_atera_invoices"), table("stg_atera_invoice_lines")
    with engine.begin() as conn:
        invoices = {r.source_id: dict(r._mapping) for r in conn.execute(sa.select(inv)
                                                                           .where(inv.c.source_id.in_(clean)))}
        by_invoice: dict[str, list[dict]] = {}
        for r in conn.execute(sa.select(lines).where(lines.c.invoice_source_id.in_(clean))):
            by_invoice.setdefault(r.invoice_source_id, []).append(dict(r._mapping))
        conn.execute(lines.delete())
        conn.execute(inv.delete())
        new_invoices, new_lines = [], []
        for i in range(count):
            source = clean[i % len(clean)]
            number = str(FIRST_NUMBER + i)
            new_invoices.append({**invoices[source], "source_id": number})
            new_lines.extend({**line, "invoice_source_id": number} for line in by_invoice.get(source, []))
        conn.execute(inv.insert(), new_invoices)
        conn.execute(lines.insert(), new_lines)


# -- counting -------------------------------------------------------------------------------------------------
class Bearer:
    """A peer's access token, refreshed on a 401 (an access token lives an hour ÷ scale)."""

    def __init__(self, twin: Any) -> None:
        self.url, self.refresh_token = twin.url, grant(twin)
        self.session = requests.Session()
        self.renew()

    def renew(self) -> None:
        r = self.session.post(f"{self.url}/oauth2/v1/tokens/bearer", auth=(DEMO["client_id"], DEMO["client_secret"]),
                              data={"grant_type": "refresh_token", "refresh_token": self.refresh_token}, timeout=30)
        r.raise_for_status()
        self.refresh_token = r.json()["refresh_token"]
        self.session.headers.update({"Authorization": f"Bearer {r.json()['access_token']}",
                                     "Accept": "application/json"})

    def post(self, path: str, **kwargs: Any) -> requests.Response:
        url = f"{self.url}/v3/company/{DEMO['realm_id']}{path}"
        while True:
            r = self.session.post(url, timeout=60, **kwargs)
            if r.status_code != 401:
                return r
            self.renew()


def documents(twin: Any, numbers: set[str]) -> Counter:
    """How many QBO invoices and credit memos carry each of our DocNumbers."""
    bearer, counts = Bearer(twin), Counter()
    for entity in ("Invoice", "CreditMemo"):
        start = 1
        while True:
            r = bearer.post("/query", data=f"SELECT * FROM {entity} STARTPOSITION {start} MAXRESULTS 1000",
                            headers={"Content-Type": "application/text"})
            rows = r.json()["QueryResponse"].get(entity) or []
            counts.update(d["DocNumber"] for d in rows if d.get("DocNumber") in numbers)
            if len(rows) < 1000:
                break
            start += 1000
    return counts


def throttled(twin: Any) -> int:
    return sum(e["status"] == 429 for e in QboControl(twin.url).requests())


# -- the loaders ----------------------------------------------------------------------------------------------
def run_project(twin: Any, engine: sa.Engine, scale: float, work: Path) -> dict[str, Any]:
    client = qbo_client(twin, engine, scale)
    started = time.monotonic()
    try:
        result = export_invoices(engine, client, batch_id=uuid.uuid4().hex[:16], date_from=WINDOW[0],
                                 date_to=WINDOW[1], report_path=work / "export_report.csv")
    finally:
        client.close()
    return {"wall": time.monotonic() - started, "failed": len(result.failed) + len(result.blocked)}


def run_one_per_invoice(twin: Any, payloads: list[tuple[str, dict]], scale: float) -> dict[str, Any]:
    bearer, failed = Bearer(twin), 0
    started = time.monotonic()
    for entity, payload in payloads:
        while True:
            r = bearer.post(f"/{entity.lower()}", params={"requestid": uuid.uuid4().hex}, json=payload)
            if r.status_code != 429:
                break
            time.sleep(60 / scale)  # "On 429, wait 60 seconds before retrying"
        failed += r.status_code != 200
    return {"wall": time.monotonic() - started, "failed": failed}


def run_sequential_batches(twin: Any, payloads: list[tuple[str, dict]], scale: float) -> dict[str, Any]:
    bearer, failed, spacing = Bearer(twin), 0, 60 / 40 / scale
    started = next_at = time.monotonic()
    for start in range(0, len(payloads), 30):
        items = [{"bId": str(i), "operation": "create", entity: payload}
                 for i, (entity, payload) in enumerate(payloads[start:start + 30])]
        while True:
            time.sleep(max(next_at - time.monotonic(), 0))
            next_at = time.monotonic() + spacing
            r = bearer.post("/batch", json={"BatchItemRequest": items})
            if r.status_code != 429:
                break
            next_at = time.monotonic() + 60 / scale
        answers = r.json().get("BatchItemResponse", []) if r.status_code == 200 else []
        failed += len(items) - sum(1 for a in answers if "Fault" not in a)
    return {"wall": time.monotonic() - started, "failed": failed}


def bench(count: int, scale: float, sample: int) -> float:
    work = Path(tempfile.mkdtemp(prefix="bench-export-"))
    engine, state = stage_company(work, count)
    ctx = build_context(engine)
    payloads = []
    for inv, lines in select_invoices(engine, date_from=WINDOW[0], date_to=WINDOW[1], numbers=None):
        t = transform(inv, lines, ctx)
        payloads.append((t.entity, t.payload))
    numbers = {str(FIRST_NUMBER + i) for i in range(count)}
    ceiling = 40 * 30 / 60 * scale  # invoices per second
    loaders = [("project export task (whole task)", lambda twin: run_project(twin, engine, scale, work)),
               ("sequential /batch of 30", lambda twin: run_sequential_batches(twin, payloads, scale)),
               ("one request per invoice", lambda twin: run_one_per_invoice(twin, payloads[:sample], scale))]
    print(f"{count:,} invoices, QBO limits time-scaled x{scale:g}: ceiling {ceiling:.0f} invoices/s "
          f"(40 /batch of 30 per {60 / scale:g}-s minute)", flush=True)
    ratios = {}
    for name, load in loaders:
        copy = work / f"company-{len(ratios)}.db"
        shutil.copyfile(state, copy)
        twin = start_twin("qbo", qbo_args(copy, scale), timeout=120)
        try:
            set_limits(twin, scale, real=True)
            figures = load(twin)
            refused = throttled(twin)
            set_limits(twin, scale, real=False)
            counts = documents(twin, numbers)
        finally:
            twin.stop()
        in_qbo = len(counts)
        duplicates = sum(n - 1 for n in counts.values())
        ratios[name] = in_qbo / (ceiling * figures["wall"])
        print(f"{name:34s} {in_qbo:6,} documents in {figures['wall']:6.1f} s = "
              f"{in_qbo / figures['wall']:6.1f}/s → ratio {ratios[name]:.3f}; failed {figures['failed']}, "
              f"duplicates {duplicates}, answered 429: {refused}", flush=True)
    shutil.rmtree(work, ignore_errors=True)
    return ratios["project export task (whole task)"]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--invoices", type=int, default=24_000)
    parser.add_argument("--scale", type=float, default=5)
    parser.add_argument("--per-invoice-sample", type=int, default=600)
    args = parser.parse_args()
    ratio = bench(args.invoices, args.scale, args.per_invoice_sample)
    print(f"project whole-task ratio {ratio:.3f} (target ≥ 0.95)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
