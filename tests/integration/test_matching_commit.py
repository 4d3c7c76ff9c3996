"""Matching commits against both twins: import of QBO-only customers into Atera, reruns without duplicates."""
from __future__ import annotations

from collections import Counter

import sqlalchemy as sa

from atera_qbo.matching.normalize import exact_key
from atera_qbo.staging.db import table

from .pipeline import atera_client, sync_and_match
from .test_extract_qbo import client as qbo_client


def test_qbo_only_customers_are_imported_into_atera_once(atera_twin, qbo_twin, engine):
    atera, qbo = atera_client(atera_twin), qbo_client(qbo_twin, engine)
    sync_and_match(atera, qbo, engine, import_unmatched=True)
    names = Counter(exact_key(c["CustomerName"]) for c in atera.customers())
    assert names[exact_key("Pinecrest Veterinary Clinic")] == 1 and names[exact_key("Summit Accounting Partners")] == 1
    assert names[exact_key("Old Mill Bakery")] == 0  # inactive in QBO: not imported
    assert names[exact_key("Contoso Warehouse")] == 0  # a sub-customer (job), not a client
    assert names[exact_key("Apex Dental Care")] == 0  # a candidate for "Apex Dental": a person decides
    mc = table("map_customers")
    with engine.connect() as conn:
        imported = conn.execute(sa.select(mc.c.atera_name).where(mc.c.method == "imported", mc.c.active)).scalars()
        assert sorted(imported) == ["Maple Leaf Outfitters", "Pinecrest Veterinary Clinic",
                                    "Summit Accounting Partners"]
    # Re-run the whole thing: nothing is imported twice, the mappings stay.
    sync_and_match(atera, qbo, engine, import_unmatched=True)
    again = Counter(exact_key(c["CustomerName"]) for c in atera.customers())
    assert again == names
    with engine.connect() as conn:
        active = conn.execute(sa.select(sa.func.count()).select_from(mc).where(mc.c.active)).scalar()
    assert active == 29  # 26 Atera customers + 3 imported
