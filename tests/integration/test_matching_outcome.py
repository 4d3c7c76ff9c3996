"""The review CSV a committing matching run leaves behind shows what the commit did (new QBO / Atera ids,
``matched_override``), and the summary counts what this run really wrote: through the matching task, against both
twins (reseeded for the test: they have not seen these creates before)."""
from __future__ import annotations

from collections import Counter

import pytest
import sqlalchemy as sa

from atera_qbo.extract import extract_atera_invoices
from atera_qbo.matching.normalize import exact_key
from atera_qbo.matching.review_csv import read_rows
from atera_qbo.staging.db import table

from .pipeline import OVERRIDES, WINDOW, atera_client, task_connections
from .test_extract_qbo import client as qbo_client
from .test_extract_qbo import fresh_grant


def _active(engine) -> dict[tuple[str, str], str]:
    """(entity, atera_id) → qbo_id of the active mapping."""
    out = {}
    for entity, name in (("customer", "map_customers"), ("product", "map_products")):
        tbl = table(name)
        with engine.connect() as conn:
            for atera_id, qbo_id in conn.execute(sa.select(tbl.c.atera_id, tbl.c.qbo_id).where(tbl.c.active)):
                out[(entity, str(atera_id))] = str(qbo_id)
    return out


def test_a_committing_run_writes_the_outcome_and_counts_only_its_own_writes(atera_twin, qbo_twin, qbo_control, engine,
                                                                            tmp_path, monkeypatch):
    if engine.dialect.name != "sqlite":
        pytest.skip("the task reads its staging database from a connection: the SQLite file is enough here")
    from airflow.sdk.exceptions import AirflowFailException

    from atera_qbo.tasks import catalog, matching

    atera = atera_client(atera_twin)
    extract_atera_invoices(atera, engine, *WINDOW)  # the mapping gate looks at recent invoices
    task_connections(monkeypatch, atera_twin, qbo_twin, engine, fresh_grant(qbo_twin))
    monkeypatch.setenv("ATERA_QBO_REVIEW_DIR", str(tmp_path))
    catalog.extract_atera_catalog(full_refresh=True)
    catalog.extract_qbo_catalog(full_refresh=True)
    run = {"overrides_path": str(OVERRIDES), "commit": True, "create_unmatched_in_qbo": True,
           "import_unmatched_qbo_customers": True, "as_of": WINDOW[1]}

    # First attempt: QBO refuses every item create (400) after the customers were created; the imports are done.
    with qbo_control.faults(error_rate=1.0, error_status=400, paths=["/item"]), \
            pytest.raises(AirflowFailException, match="commit failed"):
        matching.match(**run, run_id="outcome-1")
    proposed = list(read_rows(tmp_path / "match_review.csv"))  # the commit failed: finance sees the proposal
    creates = [r for r in proposed if r.action == "create"]
    assert {r.entity for r in creates} == {"customer", "product"}
    assert all(r.qbo_id == "" and r.status != "matched_override" for r in creates)

    # The retry (same run, same plan): the customers are replayed, the imports found in Atera, the items written.
    summary = matching.match(**run, run_id="outcome-1")["commit"]
    n_customers = sum(r.entity == "customer" for r in creates)
    assert summary["already_done"] == {"customer": n_customers}
    assert summary["created_in_qbo"] == {"product": len(creates) - n_customers}
    assert summary["imported_to_atera"] == 0 and summary["reused_in_atera"] == 3

    latest = tmp_path / "match_review.csv"
    assert latest.read_bytes() == (tmp_path / "match_review_outcome-1.csv").read_bytes()
    outcome = {(r.entity, r.atera_id or r.qbo_id): r for r in read_rows(latest)}
    active = _active(engine)
    qbo = qbo_client(qbo_twin, engine)
    for r in creates:
        row = outcome[(r.entity, r.atera_id)]
        assert (row.action, row.status) == ("create", "matched_override"), row
        assert row.qbo_id and row.qbo_id == active[(r.entity, r.atera_id)]
        assert row.note.endswith("created in QBO by this commit")
        kind = "Customer" if r.entity == "customer" else "Item"
        found = qbo.query_all(kind, f"Id = '{row.qbo_id}'")
        assert [f.get("DisplayName") or f.get("Name") for f in found] == [row.qbo_name]
    assert len({r.qbo_id for r in outcome.values() if r.entity == "customer"}) == \
        sum(r.entity == "customer" for r in outcome.values())  # one QBO customer per row
    imported = [r for r in read_rows(latest) if r.note.endswith("imported into Atera by this commit")]
    atera_ids = {str(c["CustomerID"]): c["CustomerName"] for c in atera.customers()}
    assert len(imported) == 3
    for row in imported:
        assert row.status == "matched_override" and atera_ids[row.atera_id] == row.atera_name
        assert active[("customer", row.atera_id)] == row.qbo_id

    # A later committing run (after the next catalog sync) writes nothing and says so.
    catalog.extract_atera_catalog(full_refresh=True)
    catalog.extract_qbo_catalog(full_refresh=True)
    again = matching.match(**run, run_id="outcome-2")["commit"]
    assert again["created_in_qbo"] == {} and again["already_done"] == {}
    assert again["imported_to_atera"] == 0 and again["reused_in_atera"] == 0
    names = Counter(exact_key(c.get("DisplayName")) for c in qbo.query_all("Customer", "Active IN (true, false)"))
    assert all(names[exact_key(r.atera_name)] == 1 for r in creates if r.entity == "customer")
    after = {(r.entity, r.atera_id): r for r in read_rows(tmp_path / "match_review_outcome-2.csv")}
    assert all(after[(r.entity, r.atera_id)].qbo_id == outcome[(r.entity, r.atera_id)].qbo_id for r in creates)
