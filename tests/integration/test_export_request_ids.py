"""No dead request ids: a request id is reused only while its outcome is unknown (a lost answer); once QBO answered
with a fault — which proves nothing was created — the next attempt gets a new one, also when the fault QBO
answers is a replay of an answer an earlier, killed run never got to record."""
from __future__ import annotations

from collections import Counter
from urllib.parse import parse_qs

import pytest
import sqlalchemy as sa

from atera_qbo.extract import extract_atera_invoices
from atera_qbo.staging.db import table
from sandbox.control import QboControl

from .pipeline import WINDOW, atera_client, export, sync_and_match
from .test_extract_qbo import client as qbo_client


def batch_request_ids(control: QboControl) -> set[str]:
    return {parse_qs(e["query"]).get("requestid", [""])[0] for e in control.requests() if e["path"].endswith("/batch")}


def ledger(engine) -> dict:
    tbl = table("export_invoices")
    with engine.connect() as conn:
        return {r.atera_invoice_number: r for r in conn.execute(sa.select(tbl))}


def delete_invoices(qbo) -> None:
    """Start from a QBO without invoices, whatever the seed put there."""
    for inv in list(qbo.query_all("Invoice")):
        qbo._call("POST", "/invoice", entity="t", params={"operation": "delete"},
                  json={"Id": inv["Id"], "SyncToken": inv["SyncToken"]})


def set_active(qbo, name: str, active: bool) -> None:
    item = qbo.query(f"SELECT * FROM Item WHERE Name = '{name}' AND Active IN (true, false)", entity="t")["Item"][0]
    qbo._call("POST", "/item", entity="t", json={"Id": item["Id"], "SyncToken": item["SyncToken"], "sparse": True,
                                                 "Active": active})


def test_a_batch_answered_with_a_fault_is_sent_again_under_new_request_ids(atera_twin, qbo_twin, qbo_control,
                                                                          engine):
    atera, qbo = atera_client(atera_twin), qbo_client(qbo_twin, engine)
    sync_and_match(atera, qbo, engine)
    delete_invoices(qbo)
    qbo_control.clear_requests()
    with qbo_control.faults(error_rate=1.0, error_status=400, paths=["/batch"]):
        first = export(atera, qbo, engine, "all-refused")
    assert len(first.failed) == first.selected == 150 and not first.exported
    refused = batch_request_ids(qbo_control)
    before = ledger(engine)
    assert all(r.failures == 1 for r in before.values())  # an answered fault: nothing was created

    qbo_control.clear_requests()
    second = export(atera, qbo, engine, "after-refusal")
    assert len(second.exported) == 150 and not second.failed
    assert refused and not (batch_request_ids(qbo_control) & refused)
    after = ledger(engine)
    assert all(after[n].request_id != before[n].request_id for n in after)


class Killed(BaseException):
    """Stands for a SIGKILL: the answer arrived, the run never recorded it."""


class DiesAfterTheAnswer:
    def __init__(self, qbo) -> None:
        self.qbo = qbo

    def __getattr__(self, name):
        return getattr(self.qbo, name)

    def batch(self, *args, **kwargs):
        self.qbo.batch(*args, **kwargs)
        raise Killed()


def test_a_replayed_fault_of_a_killed_run_does_not_pin_its_invoices(atera_twin, qbo_twin, engine):
    """A run sends a batch whose every item fails (an inactive item) and dies before recording the answer; the
    item is fixed; ONE rerun exports the invoices — QBO's replay of the old faults is not the last word."""
    atera, qbo = atera_client(atera_twin), qbo_client(qbo_twin, engine)
    sync_and_match(atera, qbo, engine)
    delete_invoices(qbo)
    extract_atera_invoices(atera, engine, *WINDOW)
    lines = table("stg_atera_invoice_lines")
    with engine.connect() as conn:
        numbers = sorted({n for (n,) in conn.execute(sa.select(lines.c.invoice_source_id)
                                                     .where(lines.c.product_name == "Parking"))})[:30]
    assert numbers, "no demo invoice bills Parking"
    set_active(qbo, "Parking", False)
    with pytest.raises(Killed):
        export(atera, DiesAfterTheAnswer(qbo), engine, "killed", numbers=numbers)
    assert Counter(r.status for r in ledger(engine).values()) == Counter({"pending": len(numbers)})
    set_active(qbo, "Parking", True)

    rerun = export(atera, qbo, engine, "rerun", numbers=numbers)
    assert sorted(rerun.exported) == numbers and not rerun.failed, rerun.failed
    docs = Counter(d["DocNumber"] for d in qbo.query_all("Invoice") if d.get("DocNumber") in numbers)
    assert sorted(docs) == numbers and max(docs.values()) == 1
