"""QBO's CDC answers at most 1,000 objects per entity: an incremental catalog sync whose CDC answer is full cannot
trust it for deletions (merges), so it lists every id of that entity and flags the staged records QBO no longer
has; an entity under the cap keeps to CDC's word (no listing)."""
from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import sqlalchemy as sa

from atera_qbo.extract.qbo import CDC_CAP, extract_qbo_catalog
from atera_qbo.staging.db import table

T0 = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)


class Qbo:
    """Just enough of QBO's API for a catalog sync: listings, CDC, preferences."""

    realm_id = "4620816365"

    def __init__(self) -> None:
        self.customers = {str(i): f"Customer {i}" for i in range(1, 6)}
        self.cdc_answer: dict[str, list[dict[str, Any]]] = {}
        self.listed: list[tuple[str, str | None]] = []

    def close(self) -> None: ...

    def query_all(self, entity: str, where: str | None = None, *, page_size: int = 1000):
        self.listed.append((entity, where))
        stamp = {"MetaData": {"LastUpdatedTime": T0.isoformat()}}
        if entity == "Customer":
            return iter([{"Id": i, "DisplayName": n, "Active": True, **stamp} for i, n in self.customers.items()])
        return iter([])

    def cdc(self, entities: list[str], changed_since: str) -> dict[str, list[dict[str, Any]]]:
        return {e: self.cdc_answer.get(e, []) for e in entities}

    def preferences(self) -> dict[str, Any]:
        return {}

    def company_info(self) -> dict[str, Any]:
        return {"Country": "US"}


def staged(engine: sa.Engine) -> dict[str, bool]:
    tbl = table("stg_qbo_customers")
    with engine.connect() as conn:
        return {r.source_id: r.deleted_at is not None for r in conn.execute(sa.select(tbl))}


def test_a_capped_cdc_answer_falls_back_to_a_full_id_listing(engine):
    qbo = Qbo()
    extract_qbo_catalog(qbo, engine, now=T0)  # the first sync: in full
    assert staged(engine) == dict.fromkeys(["1", "2", "3", "4", "5"], False)

    del qbo.customers["4"]  # merged into another customer in QBO...
    # ...and CDC's answer for customers is full (1,000 changes), without the deletion of 4 among them
    qbo.cdc_answer["Customer"] = [{"Id": str(1000 + i), "status": "Updated"} for i in range(CDC_CAP)]
    qbo.listed.clear()
    extract_qbo_catalog(qbo, engine, now=T0 + timedelta(hours=1))
    assert staged(engine)["4"] is True and not any(staged(engine)[i] for i in ("1", "2", "3", "5"))
    assert ("Customer", "Active IN (true, false)") in qbo.listed  # the id listing


def test_under_the_cap_cdc_is_trusted_and_nothing_is_listed(engine):
    qbo = Qbo()
    extract_qbo_catalog(qbo, engine, now=T0)
    del qbo.customers["2"]
    qbo.cdc_answer["Customer"] = [{"Id": "2", "status": "Deleted"}]
    qbo.listed.clear()
    extract_qbo_catalog(qbo, engine, now=T0 + timedelta(hours=1))
    assert staged(engine)["2"] is True
    assert ("Customer", "Active IN (true, false)") not in qbo.listed
