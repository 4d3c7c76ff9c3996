"""Mapping provenance across runs, against both twins (a module of its own: the twins start fresh)."""
from __future__ import annotations

import hashlib

import sqlalchemy as sa

from atera_qbo.staging.db import table

from .pipeline import OVERRIDES, atera_client, sync_and_match
from .test_extract_qbo import client as qbo_client


def test_a_second_run_keeps_how_each_mapping_came_to_be(atera_twin, qbo_twin, engine):
    """Created stays created (with the plan that created it), an override stays traceable to its file line,
    although the second run finds the created customers by name in QBO."""
    atera, qbo = atera_client(atera_twin), qbo_client(qbo_twin, engine)
    sync_and_match(atera, qbo, engine)
    mc, mp = table("map_customers"), table("map_products")

    def provenance() -> dict:
        with engine.connect() as conn:
            return {(t.name, r.atera_id): (r.qbo_id, r.method, r.override_file, r.override_sha256, r.override_line,
                                           r.origin_plan_id, r.decided_at)
                    for t in (mc, mp) for r in conn.execute(sa.select(t).where(t.c.active))}

    first = provenance()
    with engine.connect() as conn:
        plan = conn.execute(sa.select(mc.c.plan_id).where(mc.c.active)).scalars().first()
    sha = hashlib.sha256(OVERRIDES.read_bytes()).hexdigest()
    assert first[("map_customers", "25")][1:6] == ("created", "overrides.csv", sha, 5, plan)  # Greenfield: create
    assert first[("map_customers", "8")][1:6] == ("override", "overrides.csv", sha, 2, None)  # Acme: match
    assert first[("map_products", "expense:7")][1:6] == ("created", "overrides.csv", sha, 10, plan)
    assert any(v[1] == "exact" and v[2] is None and v[5] is None for v in first.values())

    sync_and_match(atera, qbo, engine)  # the second run: the created records now match by name
    with engine.connect() as conn:
        second_plans = set(conn.execute(sa.select(mc.c.plan_id).where(mc.c.active)).scalars())
    assert second_plans and plan not in second_plans  # re-activated by the second commit ...
    assert provenance() == first  # ... with every mapping's history as it was
