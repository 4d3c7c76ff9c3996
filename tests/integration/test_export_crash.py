"""SIGKILL of the export process at the worst moments, with QBO dropping answers after committing and refusing
requests (503, 429), then ONE rerun with the faults off: every invoice is in QBO exactly once, amounts to the
cent, the ledger agrees with QBO, and no batch is left ``running``."""
from __future__ import annotations

import json
import signal
import subprocess
import sys
from collections import Counter
from decimal import Decimal
from pathlib import Path

import sqlalchemy as sa

from atera_qbo.extract import extract_atera_invoices
from atera_qbo.staging.db import money_in, table

from .pipeline import WINDOW, atera_client, sync_and_match
from .test_extract_qbo import client as qbo_client

REPO = Path(__file__).resolve().parents[2]
RUN_ID = "manual__crash-test"
# (kill point, at which occurrence, faults while that run lives)
CRASHES = [
    ("headers", 2, {"commit_then_drop_rate": 0.2, "error_rate": 0.1, "error_status": 503}),
    ("answer", 2, {"commit_then_drop_rate": 0.2, "error_rate": 0.1, "error_status": 429}),
    ("between", 1, {"commit_then_drop_rate": 0.2, "error_rate": 0.1, "error_status": 503}),
    ("answer", 1, {"commit_then_drop_rate": 0.2, "error_rate": 0.1, "error_status": 429}),
]


def run_child(engine, qbo_twin, batch_id: str, kill: str | None = None, at: int = 0) -> subprocess.CompletedProcess:
    doc = {"staging_url": engine.url.render_as_string(hide_password=False), "qbo_url": qbo_twin.url,
           "run_id": RUN_ID, "batch_id": batch_id, "kill": kill, "at": at}
    return subprocess.run([sys.executable, "-m", "tests.integration.crash_child", json.dumps(doc)], cwd=REPO,
                          capture_output=True, text=True, timeout=120,
                          env={**__import__("os").environ, "PYTHONPATH": f"{REPO}:{REPO / 'plugins'}"})


def sales_total(doc: dict) -> Decimal:
    return sum((Decimal(str(line["Amount"])) for line in doc["Line"]
                if line.get("DetailType") == "SalesItemLineDetail"), Decimal(0))


def test_sigkill_anywhere_then_one_clean_rerun_exports_every_invoice_exactly_once(atera_twin, qbo_twin, qbo_control,
                                                                                  engine):
    atera, qbo = atera_client(atera_twin), qbo_client(qbo_twin, engine)
    sync_and_match(atera, qbo, engine)
    extract_atera_invoices(atera, engine, *WINDOW)
    before = Counter(d["DocNumber"] for e in ("Invoice", "CreditMemo") for d in qbo.query_all(e))
    for n, (kill, at, faults) in enumerate(CRASHES):
        with qbo_control.faults(**faults):
            done = run_child(engine, qbo_twin, f"crash-{n}", kill, at)
        assert done.returncode == -signal.SIGKILL, (kill, done.returncode, done.stderr[-2000:])
    log = qbo_control.requests()
    assert any(e.get("dropped") for e in log) and any(e["status"] in (429, 503) for e in log), \
        "no fault was injected: the test proves nothing"

    rerun = run_child(engine, qbo_twin, "rerun")
    assert rerun.returncode == 0, rerun.stderr[-3000:]
    summary = json.loads(rerun.stdout.strip().splitlines()[-1])
    assert summary["failed"] == 0 and summary["blocked"] == 0, summary

    ledger_tbl, batches = table("export_invoices"), table("export_batches")
    with engine.connect() as conn:
        ledger = {r.atera_invoice_number: r for r in conn.execute(sa.select(ledger_tbl))}
        statuses = Counter(s for (s,) in conn.execute(sa.select(batches.c.status)))
    assert len(ledger) == 150 and {r.status for r in ledger.values()} == {"exported"}
    assert statuses["running"] == 0, statuses

    docs = [d for e in ("Invoice", "CreditMemo") for d in qbo.query_all(e)]
    ours = Counter(d["DocNumber"] for d in docs) - before
    assert set(ours) == set(ledger) and max(ours.values()) == 1, [k for k, v in ours.items() if v > 1][:5]
    by_number = {d["DocNumber"]: d for d in docs if d["DocNumber"] in ledger}
    for number, row in ledger.items():
        doc = by_number[number]
        assert row.qbo_id == doc["Id"], number
        assert abs(money_in(row.total)) == sales_total(doc), (number, row.total, sales_total(doc))
