"""QBO → staging: the lists (customers, items, accounts, tax codes and rates, terms, vendor/employee names) and the
company preferences. Transactions are not catalogs and are not extracted here."""
from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, NamedTuple

import sqlalchemy as sa

from ..money import dumps
from ..qbo import rules
from ..qbo.api import QboApi
from ..staging.db import table, utcnow
from .load import LoadResult, flags_text, load, money, stage_each, text, watched
from .watermarks import full_due, get_watermark, iso, marks_after, parse_instant, resume_from

QBO_OVERLAP = timedelta(minutes=10)  # Metadata.LastUpdatedTime carries an offset: a small overlap is enough
CDC_MAX_AGE = timedelta(days=30)  # QBO's CDC looks back at most 30 days
CDC_CAP = 1000  # QBO's CDC answers at most 1,000 objects per entity: a full answer may have left some out
ALL_ACTIVE = "Active IN (true, false)"  # QBO returns active records only unless the query filters on Active


# --------------------------------------------------------------------------------------------- row builders
def _last_updated(raw: str | None) -> str | None:
    if not raw:
        return None
    return (json.loads(raw).get("MetaData") or {}).get("LastUpdatedTime")


def _ref(value: object) -> str | None:
    return str(value["value"]) if isinstance(value, dict) and value.get("value") is not None else None


def qbo_customer_row(rec: dict[str, Any]) -> dict[str, Any]:
    flags: list[str] = []
    rules.name_flags(rec.get("DisplayName"), flags, "customer", "display_name")
    return {
        "source_id": str(rec["Id"]), "display_name": rec.get("DisplayName"), "company_name": rec.get("CompanyName"),
        "fully_qualified_name": rec.get("FullyQualifiedName"), "parent_id": _ref(rec.get("ParentRef")),
        "is_job": bool(rec.get("Job")), "active": bool(rec.get("Active", True)),
        "currency": _ref(rec.get("CurrencyRef")),
        "email": (rec.get("PrimaryEmailAddr") or {}).get("Address"),
        "phone": (rec.get("PrimaryPhone") or {}).get("FreeFormNumber"),
        "web_addr": (rec.get("WebAddr") or {}).get("URI"),
        "balance": money(rec.get("Balance"), flags, "balance"), "sync_token": text(rec.get("SyncToken")),
        "last_updated": (rec.get("MetaData") or {}).get("LastUpdatedTime"),
        "quality_flags": flags_text(flags), "raw_json": dumps(rec),
    }


def qbo_item_row(rec: dict[str, Any]) -> dict[str, Any]:
    flags: list[str] = []
    rules.name_flags(rec.get("Name"), flags, "product")
    return {
        "source_id": str(rec["Id"]), "name": rec.get("Name"), "fully_qualified_name": rec.get("FullyQualifiedName"),
        "item_type": rec.get("Type"), "sku": text(rec.get("Sku")),
        "unit_price": money(rec.get("UnitPrice"), flags, "unit_price"), "taxable": bool(rec.get("Taxable")),
        "active": bool(rec.get("Active", True)), "income_account_id": _ref(rec.get("IncomeAccountRef")),
        "parent_id": _ref(rec.get("ParentRef")), "sync_token": text(rec.get("SyncToken")),
        "last_updated": (rec.get("MetaData") or {}).get("LastUpdatedTime"),
        "quality_flags": flags_text(flags), "raw_json": dumps(rec),
    }


def qbo_account_row(rec: dict[str, Any]) -> dict[str, Any]:
    return {"source_id": str(rec["Id"]), "name": rec.get("Name"), "account_type": rec.get("AccountType"),
            "account_sub_type": rec.get("AccountSubType"), "active": bool(rec.get("Active", True)),
            "raw_json": dumps(rec)}


def qbo_tax_code_row(rec: dict[str, Any]) -> dict[str, Any]:
    return {"source_id": str(rec["Id"]), "name": rec.get("Name"), "taxable": bool(rec.get("Taxable")),
            "active": bool(rec.get("Active", True)), "raw_json": dumps(rec)}


def qbo_tax_rate_row(rec: dict[str, Any]) -> dict[str, Any]:
    flags: list[str] = []
    return {"source_id": str(rec["Id"]), "name": rec.get("Name"),
            "rate_value": money(rec.get("RateValue"), flags, "rate_value"), "active": bool(rec.get("Active", True)),
            "raw_json": dumps(rec)}


def qbo_term_row(rec: dict[str, Any]) -> dict[str, Any]:
    return {"source_id": str(rec["Id"]), "name": rec.get("Name"), "due_days": rec.get("DueDays"),
            "active": bool(rec.get("Active", True)), "raw_json": dumps(rec)}


def qbo_name_row(entity: str) -> Callable[[dict[str, Any]], dict[str, Any]]:
    def build(rec: dict[str, Any]) -> dict[str, Any]:
        return {"entity": entity, "source_id": str(rec["Id"]), "display_name": rec.get("DisplayName"),
                "active": bool(rec.get("Active", True))}
    return build


# ------------------------------------------------------------------------------------------------ catalog
class CatalogEntity(NamedTuple):
    key: str  # result key and watermark stem (qbo_<key>)
    entity: str  # QBO entity name
    table_name: str  # staging table
    build: Callable[[dict[str, Any]], dict[str, Any]]  # row builder
    incremental: bool  # False: always in full (CDC does not cover it)


QBO_CATALOG = [
    CatalogEntity("customers", "Customer", "stg_qbo_customers", qbo_customer_row, True),
    CatalogEntity("items", "Item", "stg_qbo_items", qbo_item_row, True),
    CatalogEntity("accounts", "Account", "stg_qbo_accounts", qbo_account_row, True),
    CatalogEntity("tax_codes", "TaxCode", "stg_qbo_tax_codes", qbo_tax_code_row, False),  # CDC skips tax entities
    CatalogEntity("tax_rates", "TaxRate", "stg_qbo_tax_rates", qbo_tax_rate_row, False),
    CatalogEntity("terms", "Term", "stg_qbo_terms", qbo_term_row, True),
]


@dataclass
class EntityPlan:
    """How one catalog entity is pulled this run."""

    spec: CatalogEntity
    full: bool
    previous: str | None  # watermark: newest LastUpdatedTime staged
    synced: datetime | None  # when it was last pulled at all

    @property
    def mark_key(self) -> str:
        return f"qbo_{self.spec.key}"


def plan_catalog(engine: sa.Engine, started: datetime, full_refresh: bool) -> list[EntityPlan]:
    """Full or incremental per entity: in full when asked, when not incremental, without a watermark, when the last
    sync is older than CDC can look back, or once a day."""
    plans = []
    for spec in QBO_CATALOG:
        mark_key = f"qbo_{spec.key}"
        previous = get_watermark(engine, mark_key)
        synced = parse_instant(get_watermark(engine, f"{mark_key}@synced"))
        full = (not spec.incremental or previous is None or synced is None
                or started - synced > CDC_MAX_AGE - timedelta(days=1)
                or full_due(engine, mark_key, started, full_refresh))
        plans.append(EntityPlan(spec, full, previous, synced))
    return plans


class Deletions(NamedTuple):
    """What CDC says was deleted (merged) per entity, and the entities whose CDC answer hit the cap (for those the
    deletions are found by listing every id instead)."""

    gone: dict[str, set[str]]
    capped: set[str]


def cdc_deletions(client: QboApi, plans: list[EntityPlan]) -> Deletions:
    """Ids QBO deleted (merged) since the oldest incremental entity's last sync: only CDC tells. A sync older
    than CDC's 30 days is a full pull already (``plan_catalog``); an entity whose answer holds ``CDC_CAP`` objects
    may be missing some, so it is marked for a full id listing."""
    oldest = min((p.synced for p in plans if not p.full and p.synced is not None), default=None)
    if oldest is None:
        return Deletions({}, set())
    incremental_entities = [spec.entity for spec in QBO_CATALOG if spec.incremental]
    changes = client.cdc(incremental_entities, iso(oldest - QBO_OVERLAP))
    gone = {entity: {str(o["Id"]) for o in objs if o.get("status") == "Deleted"} for entity, objs in changes.items()}
    return Deletions(gone, {entity for entity, objs in changes.items() if len(objs) >= CDC_CAP})


def listed_deletions(client: QboApi, engine: sa.Engine, plan: EntityPlan) -> set[str]:
    """The staged ids QBO no longer has, from a listing of every id (active or not): CDC's cap hid them."""
    present = {str(r["Id"]) for r in client.query_all(plan.spec.entity, ALL_ACTIVE) if r.get("Id") is not None}
    tbl = table(plan.spec.table_name)
    with engine.connect() as conn:
        staged = {str(i) for i in conn.execute(sa.select(tbl.c.source_id).where(tbl.c.deleted_at.is_(None))).scalars()}
    return staged - present


def pull_entity(client: QboApi, engine: sa.Engine, plan: EntityPlan, gone: set[str] | None,
                started: datetime) -> LoadResult:
    """One catalog entity: query (all, or changed since the watermark less the overlap), load, then flag the ids
    CDC reported deleted."""
    spec = plan.spec
    where = ALL_ACTIVE
    if not plan.full:
        where += f" AND Metadata.LastUpdatedTime >= '{iso(resume_from(plan.previous, QBO_OVERLAP))}'"
    res = LoadResult(f"qbo {spec.key}" + ("" if plan.full else " (incremental)"))
    seen: list[str | None] = []
    rows = watched(stage_each(client.query_all(spec.entity, where), spec.entity, spec.build, res),
                   lambda r: r.get("last_updated") or _last_updated(r.get("raw_json")), seen)
    result = load(engine, spec.table_name, ["source_id"], rows, full=plan.full, result=res,
                  watermarks=lambda: marks_after(plan.mark_key, plan.previous, seen, started, full=plan.full,
                                                 synced=True))
    if gone and not plan.full:
        tbl = table(spec.table_name)
        with engine.begin() as conn:
            result.deleted += conn.execute(sa.update(tbl).where(
                tbl.c.source_id.in_(sorted(gone)), tbl.c.deleted_at.is_(None)).values(deleted_at=utcnow())).rowcount
    return result


def pull_names(client: QboApi, engine: sa.Engine, entity: str) -> LoadResult:
    """Vendor or Employee display names (they share the name space with customers), always in full."""
    res = LoadResult(f"qbo {entity.lower()} names")
    rows = stage_each(client.query_all(entity, ALL_ACTIVE), entity, qbo_name_row(entity), res)
    return load(engine, "stg_qbo_names", ["entity", "source_id"], rows, full=True, scope={"entity": entity},
                result=res)


def pull_preferences(client: QboApi, engine: sa.Engine) -> LoadResult:
    """The company settings the export depends on: country, custom transaction numbers, currencies."""
    prefs = client.preferences()
    info = client.company_info()
    currency = prefs.get("CurrencyPrefs") or {}
    row = {
        "source_id": str(client.realm_id), "country": info.get("Country"),
        "custom_txn_numbers": bool((prefs.get("SalesFormsPrefs") or {}).get("CustomTxnNumbers")),
        "multi_currency": bool(currency.get("MultiCurrencyEnabled")),
        "home_currency": _ref(currency.get("HomeCurrency")) or "USD",
        "raw_json": dumps({"Preferences": prefs, "CompanyInfo": info}),
    }
    return load(engine, "stg_qbo_preferences", ["source_id"], [row], full=False,
                result=LoadResult("qbo preferences"))


def extract_qbo_catalog(client: QboApi, engine: sa.Engine, *, full_refresh: bool = False,
                        now: datetime | None = None) -> dict[str, LoadResult]:
    """Customers (inactive and sub-customers too), items (inactive and categories too), accounts, tax codes and
    rates, terms, vendor/employee names and company preferences. Incremental on ``Metadata.LastUpdatedTime`` (less
    an overlap) with deletions (merges) from CDC; a full pull when asked, without a watermark, when the watermark is
    older than CDC's 30 days, or once a day."""
    started = now or datetime.now(UTC)
    plans = plan_catalog(engine, started, full_refresh)
    deletions = cdc_deletions(client, plans)
    results = {}
    for plan in plans:
        gone = deletions.gone.get(plan.spec.entity)
        if plan.spec.entity in deletions.capped and not plan.full:
            gone = (gone or set()) | listed_deletions(client, engine, plan)
        results[plan.spec.key] = pull_entity(client, engine, plan, gone, started)
    for entity in ("Vendor", "Employee"):  # small lists: always in full
        results[f"{entity.lower()}_names"] = pull_names(client, engine, entity)
    results["preferences"] = pull_preferences(client, engine)
    return results
