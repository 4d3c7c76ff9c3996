"""The Great Expectations gate on the proposed mapping, before a commit writes anything: on the demo catalogs staged
from both twins, on SQLite and PostgreSQL; and through the matching task, where a refused gate leaves QBO and the
mappings untouched."""
from __future__ import annotations

import os
from datetime import date
from pathlib import Path

import pytest
import sqlalchemy as sa

from atera_qbo.errors import DataQualityError
from atera_qbo.extract import extract_atera_catalog, extract_atera_invoices, extract_qbo_catalog
from atera_qbo.matching.match import apply_overrides, decisions, load_catalogs, match_all
from atera_qbo.matching.review import Decision, Entity
from atera_qbo.matching.review_csv import read_rows
from atera_qbo.quality import mapping_gate
from atera_qbo.staging.db import table

from .pipeline import OVERRIDES, WINDOW, atera_client, task_connections
from .test_extract_qbo import client as qbo_client
from .test_extract_qbo import fresh_grant

AS_OF = WINDOW[1]


def _staged_review(atera_twin, qbo_twin, engine):
    atera, qbo = atera_client(atera_twin), qbo_client(qbo_twin, engine)
    extract_atera_catalog(atera, engine)
    extract_qbo_catalog(qbo, engine)
    extract_atera_invoices(atera, engine, *WINDOW)
    catalogs = load_catalogs(engine)
    review = apply_overrides(match_all(catalogs), list(read_rows(OVERRIDES)), catalogs)
    return decisions(review, create_unmatched=True, import_unmatched=False), catalogs


def test_the_demo_decisions_pass(atera_twin, qbo_twin, engine):
    review, catalogs = _staged_review(atera_twin, qbo_twin, engine)
    summary = mapping_gate.check(review, catalogs, engine, as_of=AS_OF)
    assert summary["success"] and summary["rows"] > 0


def test_two_to_one_inactive_target_held_name_and_undecided_recent_product_are_refused(atera_twin, qbo_twin,
                                                                                        engine):
    review, catalogs = _staged_review(atera_twin, qbo_twin, engine)
    customers = review.index[(review["entity"] == Entity.CUSTOMER) & (review["decision"] == Decision.MAP)]
    first, second = customers[:2]
    review.loc[second, "qbo_id"] = review.loc[first, "qbo_id"]  # two Atera customers → one QBO customer
    inactive = catalogs.qbo_customers.loc[~catalogs.qbo_customers["active"], "qbo_id"].iloc[0]
    third = customers[2]
    review.loc[third, "qbo_id"] = str(inactive)
    vendor = catalogs.qbo_names.loc[catalogs.qbo_names["entity"] == "Vendor", "name"].iloc[0]
    created = review.index[(review["entity"] == Entity.CUSTOMER) & (review["decision"] == Decision.CREATE_QBO)][0]
    review.loc[created, "atera_name"] = vendor  # a create under a name a QBO vendor holds
    used = review.index[review["atera_id"] == "product:35"][0]  # Tablet 11" Wi-Fi: on recent invoices
    review.loc[used, ["decision", "action"]] = [Decision.NONE, "skip"]

    with pytest.raises(DataQualityError) as refused:
        mapping_gate.check(review, catalogs, engine, as_of=AS_OF)
    message = str(refused.value)
    assert message.startswith("commit refused, nothing written")
    failed = {f["expectation"]: f for f in refused.value.summary["proposed_mapping"]["failed"]}
    one_to_one = failed[mapping_gate.CHECKS["one_atera_per_qbo_customer"]]
    assert one_to_one["unexpected_count"] == 2
    assert {review.loc[i, "atera_id"] for i in (first, second)} <= {e.split()[1] for e in one_to_one["examples"]}
    assert f"customer {review.loc[third, 'atera_id']} " in " ".join(
        failed[mapping_gate.CHECKS["qbo_target_ok"]]["examples"]) + " "
    assert vendor in " ".join(failed[mapping_gate.CHECKS["planned_name_ok"]]["examples"])
    assert "product:35" in " ".join(failed[mapping_gate.CHECKS["recent_product_decided"]]["examples"])


def test_an_old_unused_product_may_stay_undecided(atera_twin, qbo_twin, engine):
    review, catalogs = _staged_review(atera_twin, qbo_twin, engine)
    used = review.index[review["atera_id"] == "product:35"][0]
    review.loc[used, ["decision", "action"]] = [Decision.NONE, "skip"]
    # A year later no invoice of the last 90 days uses it: nothing to block.
    assert mapping_gate.check(review, catalogs, engine, as_of=date(AS_OF.year + 1, AS_OF.month, 1))["success"]


def test_the_matching_task_refuses_the_commit_and_writes_nothing(atera_twin, qbo_twin, qbo_control, engine,
                                                                 monkeypatch):
    if engine.dialect.name != "sqlite":
        pytest.skip("the task reads its staging database from a connection: the SQLite file is enough here")
    from airflow.sdk.exceptions import AirflowFailException

    from atera_qbo.tasks.matching import match

    atera = atera_client(atera_twin)
    extract_atera_invoices(atera, engine, *WINDOW)
    task_connections(monkeypatch, atera_twin, qbo_twin, engine, fresh_grant(qbo_twin))
    from atera_qbo.tasks.catalog import extract_atera_catalog as atera_task
    from atera_qbo.tasks.catalog import extract_qbo_catalog as qbo_task

    atera_task(full_refresh=True)
    qbo_task(full_refresh=True)
    # the demo decisions, but the tablet (on recent invoices) skipped; in the review dir, where overrides are read
    overrides = Path(os.environ["ATERA_QBO_REVIEW_DIR"]) / "overrides.csv"
    overrides.parent.mkdir(parents=True, exist_ok=True)
    lines = [line for line in OVERRIDES.read_text(encoding="utf-8-sig").splitlines()
             if not line.startswith("product,product:35,")]
    overrides.write_text("\n".join([*lines, 'product,product:35,"Tablet 11"" Wi-Fi",,,skip,,,,not now']) + "\n",
                         encoding="utf-8")
    qbo_control.clear_requests()
    with pytest.raises(AirflowFailException, match="proposed mapping fails its quality gate") as refused:
        match(overrides_path=str(overrides), commit=True, create_unmatched_in_qbo=True,
              import_unmatched_qbo_customers=False, run_id="gate-test", as_of=AS_OF)
    assert "product product:35 'Tablet 11\" Wi-Fi'" in str(refused.value)
    writes = [r for r in qbo_control.requests()
              if r["method"] == "POST" and "/query" not in r["path"] and "oauth" not in r["path"]]
    assert writes == []
    mc, mp = table("map_customers"), table("map_products")
    with engine.connect() as conn:
        assert conn.execute(sa.select(sa.func.count()).select_from(mc)).scalar() == 0
        assert conn.execute(sa.select(sa.func.count()).select_from(mp)).scalar() == 0
