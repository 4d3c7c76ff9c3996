"""The export's error contract against both twins, at the level of the DAG's task functions (``atera_qbo.tasks``,
connections from ``AIRFLOW_CONN_*`` as in a worker): a QBO outage across two task attempts, then recovery; an
outage that starts in the middle of sending; unknown invoice numbers; a window with nothing in it.

Retriable errors must leave the task as themselves (Airflow retries), fatal ones as ``AirflowFailException``; every
attempt closes its own ``export_batches`` row and writes its report."""
from __future__ import annotations

import csv
from collections import Counter
from pathlib import Path

import pytest
import sqlalchemy as sa

from atera_qbo.errors import ConfigError, RetriableApiError
from atera_qbo.export.load import export_invoices
from atera_qbo.staging.db import make_engine, table
from scripts.airflow_env import connections

from .pipeline import OVERRIDES, WINDOW, atera_client, export, sync_and_match
from .test_extract_qbo import client as qbo_client
from .test_extract_qbo import fresh_grant

SANDBOX_APP = "https://app.sandbox.qbo.intuit.com/app/"


@pytest.fixture
def worker(atera_twin, qbo_twin, tmp_path, monkeypatch):
    """A worker's view: connections to the twins (QBO retries kept short), a staging file, a review dir; the
    catalog sync and a committed matching done through the task functions, as the DAGs do."""
    from atera_qbo.tasks import catalog, matching

    work = tmp_path / "worker"
    env = connections(atera_twin.url, qbo_twin.url, staging={"conn_type": "sqlite", "host": str(work / "stg.db")},
                      qbo_extra={"refresh_token": fresh_grant(qbo_twin), "retry_initial_wait": 0.01,
                                 "retry_max_wait": 0.05, "error_deadline": 0.5})
    env["ATERA_QBO_REVIEW_DIR"] = str(work / "review")
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    work.mkdir()
    catalog.extract_atera_catalog()
    catalog.extract_qbo_catalog()
    matching.match(overrides_path=str(OVERRIDES), commit=True, create_unmatched_in_qbo=True,
                   import_unmatched_qbo_customers=False, run_id="worker-matching")
    catalog.extract_qbo_catalog()  # see what the commit created
    engine = make_engine(f"sqlite:///{work / 'stg.db'}")
    yield {"engine": engine, "review": work / "review"}
    engine.dispose()


def run_export(run_id: str, try_number: int, **params):
    from atera_qbo.tasks import export as export_tasks

    params = {"date_from": WINDOW[0].isoformat(), "date_to": WINDOW[1].isoformat(), "numbers": [],
              "dry_run": False, "create_missing_customers": False, **params}
    export_tasks.extract_invoices(date_from=params["date_from"], date_to=params["date_to"], logical_date=WINDOW[1])
    return export_tasks.export(logical_date=WINDOW[1], run_id=run_id, try_number=try_number, **params)


def batches(engine, run_id: str) -> list:
    tbl = table("export_batches")
    with engine.connect() as conn:
        return conn.execute(sa.select(tbl).where(tbl.c.run_id == run_id).order_by(tbl.c.try_number)).all()


def report(review: Path, batch_id: str) -> list[dict]:
    with (review / "exports" / f"export_{batch_id}.csv").open(encoding="utf-8-sig") as fh:
        return list(csv.DictReader(fh))


def doc_numbers(qbo_twin, tmp_path) -> Counter:
    reader = make_engine(f"sqlite:///{tmp_path / 'reader.db'}")
    from atera_qbo.staging.db import apply_schema

    apply_schema(reader)
    qbo = qbo_client(qbo_twin, reader)
    return Counter(str(d.get("DocNumber")) for e in ("Invoice", "CreditMemo") for d in qbo.query_all(e))


def test_qbo_outage_across_both_attempts_then_the_retry_exports_each_invoice_once(worker, qbo_twin, qbo_control,
                                                                                   tmp_path):
    engine, review = worker["engine"], worker["review"]
    with qbo_control.faults(error_rate=1.0, error_status=503):
        for attempt in (1, 2):  # Airflow would retry: the error leaves the task as a RetriableApiError
            with pytest.raises(RetriableApiError, match="503") as raised:
                run_export("manual__outage", attempt)
            assert "AirflowFailException" not in type(raised.value).__name__
    failed = batches(engine, "manual__outage")
    assert [(b.try_number, b.status) for b in failed] == [(1, "failed"), (2, "failed")]
    assert all("503" in b.error_text and b.finished_at is not None for b in failed)
    for b in failed:  # each failed attempt wrote its report, naming what was not sent and why
        rows = report(review, b.batch_id)
        assert rows and {r["status"] for r in rows} <= {"not_sent", "blocked"}, Counter(r["status"] for r in rows)
        assert all(r["error"] for r in rows)

    summary = run_export("manual__outage", 3)  # QBO is back: the retried task completes
    assert summary["failed"] == summary["blocked"] == summary["pending"] == 0 and summary["error"] is None
    done = summary["exported"] + summary["recovered"]
    assert done == summary["selected"] - summary["already_exported"] >= 150
    runs = batches(engine, "manual__outage")
    assert [(b.try_number, b.status) for b in runs] == [(1, "failed"), (2, "failed"), (3, "done")]
    all_batches = table("export_batches")
    with engine.connect() as conn:
        assert conn.execute(sa.select(sa.func.count()).select_from(all_batches)
                            .where(all_batches.c.status == "running")).scalar() == 0
    ledger = table("export_invoices")
    with engine.connect() as conn:
        numbers = [n for (n,) in conn.execute(sa.select(ledger.c.atera_invoice_number)
                                              .where(ledger.c.status == "exported"))]
    assert len(numbers) == done
    counts = doc_numbers(qbo_twin, tmp_path)
    assert all(counts[n] == 1 for n in numbers), {n: counts[n] for n in numbers if counts[n] != 1}

    rows = report(review, runs[-1].batch_id)
    assert len(rows) == done
    sent = [r for r in rows if r["status"] in ("exported", "recovered")]
    assert len(sent) == done
    for r in sent:  # the sandbox realm links to the sandbox web app; the Atera side is named
        page = "invoice" if r["qbo_type"] == "Invoice" else "creditmemo"
        assert r["qbo_link"] == f"{SANDBOX_APP}{page}?txnId={r['qbo_id']}"
        assert r["customer_name"] and r["invoice_date"][:4] == "2026" and len(r["currency"]) == 3
        assert r["pre_tax_total"]


def test_unknown_invoice_numbers_fail_the_task_naming_them_and_send_nothing(worker, qbo_control):
    from airflow.sdk.exceptions import AirflowFailException

    engine = worker["engine"]
    qbo_control.clear_requests()
    with pytest.raises(AirflowFailException, match="9999") as raised:
        run_export("manual__unknown", 1, numbers=["9999", "1001"])
    assert isinstance(raised.value.__cause__, ConfigError)  # the cause is kept
    assert "9999: not among the staged Atera invoices" in str(raised.value)
    writes = [e for e in qbo_control.requests() if e["method"] == "POST" and not e["path"].endswith("/query")]
    assert writes == []
    (batch,) = batches(engine, "manual__unknown")
    assert batch.status == "failed" and "9999" in batch.error_text


def test_a_window_without_invoices_is_said_not_skipped_silently(worker, caplog):
    summary = run_export("manual__empty", 1, date_from="2020-01-01", date_to="2020-01-31")
    assert summary["selected"] == 0 and summary["exported"] == 0
    assert "no Atera invoice dated 2020-01-01..2020-01-31" in summary["note"]
    assert any("nothing to export" in r.getMessage() for r in caplog.records if r.levelname == "WARNING")
    (batch,) = batches(worker["engine"], "manual__empty")
    assert batch.status == "done" and batch.finished_at is not None


class LosesAnswers:
    """A QBO client whose second ``/batch`` is performed but its answer lost, and which then cannot reach QBO:
    an outage that begins in the middle of sending."""

    def __init__(self, qbo) -> None:
        self.qbo = qbo
        self.batches = 0

    def batch(self, items, **kwargs):
        self.batches += 1
        if self.batches == 2:
            self.qbo.batch(items, **kwargs)
        if self.batches >= 2:
            raise RetriableApiError("QBO export batch: ConnectionError talking to QBO", entity="QBO batch")
        return self.qbo.batch(items, **kwargs)

    def __getattr__(self, name):
        return getattr(self.qbo, name)


def test_an_outage_while_sending_leaves_the_chunk_pending_and_the_retry_sends_it_once(atera_twin, qbo_twin,
                                                                                    engine, tmp_path):
    atera, qbo = atera_client(atera_twin), qbo_client(qbo_twin, engine)
    sync_and_match(atera, qbo, engine)
    for entity in ("Invoice", "CreditMemo"):  # a QBO without our documents: everything is sent now
        for doc in list(qbo.query_all(entity)):
            qbo._call("POST", f"/{entity.lower()}", entity="t", params={"operation": "delete"},
                      json={"Id": doc["Id"], "SyncToken": doc["SyncToken"]})
    flaky = LosesAnswers(qbo)
    with pytest.raises(RetriableApiError):
        export(atera, flaky, engine, "send-1", run_id="r", try_number=1, report_path=tmp_path / "send-1.csv")
    ledger = table("export_invoices")
    with engine.connect() as conn:
        states = {n: (s, rid, err) for n, s, rid, err in conn.execute(sa.select(
            ledger.c.atera_invoice_number, ledger.c.status, ledger.c.request_id, ledger.c.error_text))}
    assert Counter(s for s, _, _ in states.values()) == Counter({"exported": 30, "pending": 30})
    pending = {n: rid for n, (s, rid, err) in states.items() if s == "pending"}
    assert all("left pending" in states[n][2] for n in pending)
    rows = {r["atera_invoice_number"]: r for r in csv.DictReader((tmp_path / "send-1.csv").open(encoding="utf-8-sig"))}
    assert Counter(r["status"] for r in rows.values()) == Counter({"exported": 30, "pending": 30, "not_sent": 90})
    (first,) = batches(engine, "r")
    assert first.status == "failed" and "ConnectionError" in first.error_text

    again = export(atera, qbo, engine, "send-2", run_id="r", try_number=2)
    assert not again.failed and not again.blocked
    assert len(again.exported) + again.recovered == 120  # the lost answer's 30 are recovered or replayed
    with engine.connect() as conn:
        assert Counter(s for (s,) in conn.execute(sa.select(ledger.c.status))) == Counter({"exported": 150})
    counts = doc_numbers(qbo_twin, tmp_path)
    assert all(counts[n] == 1 for n in states) and len(states) == 60
    assert [b.status for b in batches(engine, "r")] == ["failed", "done"]


def test_a_batch_row_left_running_by_a_killed_attempt_is_closed_by_the_next(engine):
    """Whatever run it belonged to, a ``running`` batch whose process is gone (nobody holds its claim) is closed by
    the next export; one a live process still holds (another run exporting right now) is left alone."""
    from atera_qbo.export.claims import hold_batch
    from atera_qbo.export.ledger import Ledger

    Ledger(engine, "killed").open("run-x", {}, 1)  # the attempt died here: no close, no claim held
    Ledger(engine, "dead-other-run").open("run-z", {}, 1)  # another run's process, gone too
    with hold_batch(engine, "live-other-run"):  # another run, alive and exporting
        Ledger(engine, "live-other-run").open("run-y", {}, 1)
        result = export_invoices(engine, object(), batch_id="next", run_id="run-x", try_number=2,
                                 date_from=WINDOW[0], date_to=WINDOW[1])
    assert result.selected == 0
    tbl = table("export_batches")
    with engine.connect() as conn:
        rows = {r.batch_id: r for r in conn.execute(sa.select(tbl))}
    for gone in ("killed", "dead-other-run"):  # (the second one's own open closed the first already)
        assert rows[gone].status == "failed" and "the process that held it is gone" in rows[gone].error_text
    assert rows["next"].status == "done" and rows["next"].try_number == 2
    assert rows["live-other-run"].status == "running"  # a live process's batch is not closed under it
