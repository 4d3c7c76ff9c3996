"""The matching commit's error contract against both twins: QBO unreachable while the plan runs is recorded on
the plan and goes up as a RetriableApiError (Airflow retries the task); the retry completes the plan without
creating anything twice, and the old mapping stays in force until then."""
from __future__ import annotations

from collections import Counter

import pytest
import sqlalchemy as sa

from atera_qbo.errors import RetriableApiError
from atera_qbo.extract import extract_atera_catalog, extract_qbo_catalog
from atera_qbo.matching import commit
from atera_qbo.matching.match import apply_overrides, decisions, load_catalogs, match_all
from atera_qbo.matching.normalize import exact_key
from atera_qbo.matching.review_csv import read_rows
from atera_qbo.staging.db import table

from .pipeline import OVERRIDES, atera_client
from .test_extract_qbo import client as qbo_client


def plan(engine):
    catalogs = load_catalogs(engine)
    review = apply_overrides(match_all(catalogs), list(read_rows(OVERRIDES)), catalogs)
    review = decisions(review, create_unmatched=True, import_unmatched=False)
    return review, commit.build_steps(review, catalogs, engine)


def test_qbo_outage_during_a_commit_is_recorded_and_retried_without_duplicates(atera_twin, qbo_twin, qbo_control,
                                                                              engine):
    atera, qbo = atera_client(atera_twin), qbo_client(qbo_twin, engine)
    extract_atera_catalog(atera, engine)
    extract_qbo_catalog(qbo, engine)
    review, steps = plan(engine)
    assert any(s.action == "create_qbo" for s in steps), "nothing to create: the test proves nothing"
    with qbo_control.faults(error_rate=1.0, error_status=503), pytest.raises(RetriableApiError, match="503"):
        commit.execute(engine, review, steps, qbo=qbo, atera=atera, run_id="matching-run")
    plans, mc = table("match_plans"), table("map_customers")
    with engine.connect() as conn:
        status, summary = conn.execute(sa.select(plans.c.status, plans.c.summary_json)
                                       .where(plans.c.plan_id == "matching-run")).one()
        assert conn.execute(sa.select(sa.func.count()).select_from(mc).where(mc.c.active)).scalar() == 0
    assert status == "failed" and "503" in summary and "retry" in summary

    review, steps = plan(engine)  # the task's retry: same run, same plan
    result = commit.execute(engine, review, steps, qbo=qbo, atera=atera, run_id="matching-run")
    assert not result.failed and sum(result.created_in_qbo.values()) == sum(s.action == "create_qbo" for s in steps)
    with engine.connect() as conn:
        assert conn.execute(sa.select(plans.c.status).where(plans.c.plan_id == "matching-run")).scalar() == "done"
    names = Counter(exact_key(c.get("DisplayName")) for c in qbo.query_all("Customer", "Active IN (true, false)"))
    created = [exact_key(s.payload["DisplayName"]) for s in steps if s.entity == "customer"]
    assert created and all(names[n] == 1 for n in created)
