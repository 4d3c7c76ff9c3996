"""API → staging. Each ``extract_*`` pulls one catalog, upserts it in one transaction and flags records that a
full pull no longer returns (``deleted_at``), so a rerun gives the same staging state.

Records are staged as the API returned them (``raw_json``); typed columns are derived leniently: a value that
does not fit (a float amount, a name over the vendor's limit) is kept and listed in ``quality_flags``.
"""
from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, timezone
from decimal import Decimal
from typing import Any, Callable, Iterable

import sqlalchemy as sa

from .money import dumps, to_decimal
from .qbo import rules
from .staging.db import money_out, table, upsert, utcnow

log = logging.getLogger(__name__)

# Every rate-carrying field of each Atera contract type (OpenAPI ContractDto sub-objects).
CONTRACT_RATE_FIELDS: dict[str, tuple[str, ...]] = {
    "RetainerFlatFeeContract": ("Rate",),
    "HourlyContract": ("PrimaryRate", "AdditionalRates"),
    "BlockHoursContract": ("PricePerHour", "OverageRate"),
    "BlockMoneyContract": ("ContractAmount", "PrimaryRate", "AdditionalRates"),
    "RemoteMonitoringContract": ("RatePerDevice",),
    "OnlineBackupContract": ("RatePerGB",),
    "ProjectOneTimeFeeContract": ("TotalAmount",),
    "ProjectHourlyRateContract": ("PrimaryRate", "AdditionalRates"),
}


@dataclass
class LoadResult:
    entity: str
    rows: int = 0
    deleted: int = 0
    flagged: int = 0
    rejected: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {"entity": self.entity, "rows": self.rows, "deleted": self.deleted, "flagged": self.flagged,
                "rejected": self.rejected[:20]}


# Atera reads FromLastModifiedDate in the ACCOUNT's timezone (offsets refused) while it reports LastModified in
# UTC: asking from (last seen − 26 h) covers every timezone (UTC−12 … UTC+14) without knowing the account's.
ATERA_OVERLAP = timedelta(hours=26)
QBO_OVERLAP = timedelta(minutes=10)  # Metadata.LastUpdatedTime carries an offset: a small overlap is enough
FULL_EVERY = timedelta(hours=24)  # incremental pulls cannot see deletions: a full pull at least this often
CDC_MAX_AGE = timedelta(days=30)  # QBO's CDC looks back at most 30 days


def get_watermark(engine: sa.Engine, entity: str) -> str | None:
    tbl = table(engine, "sync_watermarks")
    with engine.connect() as conn:
        return conn.execute(sa.select(tbl.c.watermark).where(tbl.c.entity == entity)).scalar()


def save_watermark(conn: sa.Connection, engine: sa.Engine, entity: str, value: str) -> None:
    upsert(conn, table(engine, "sync_watermarks"), [{"entity": entity, "watermark": value, "updated_at": utcnow()}],
           ["entity"])


def parse_instant(text: str | None) -> datetime | None:
    """An API timestamp as an aware UTC datetime ('Z', offsets, or naive = UTC)."""
    if not text:
        return None
    try:
        moment = datetime.fromisoformat(str(text).replace("Z", "+00:00"))
    except ValueError:
        return None
    return moment.replace(tzinfo=timezone.utc) if moment.tzinfo is None else moment.astimezone(timezone.utc)


def _iso(moment: datetime) -> str:
    return moment.astimezone(timezone.utc).isoformat(timespec="seconds")


def _full_due(engine: sa.Engine, entity: str, now: datetime, full_refresh: bool) -> bool:
    last_full = parse_instant(get_watermark(engine, f"{entity}@full"))
    return full_refresh or last_full is None or now - last_full >= FULL_EVERY


def _next_mark(previous: str | None, seen: Iterable[str | None], started: datetime) -> str | None:
    """The newest modification time seen, never past the sync's start (late writers are not skipped)."""
    moments = [m for m in (parse_instant(v) for v in seen) if m is not None]
    prev = parse_instant(previous)
    if prev is not None:
        moments.append(prev)
    return _iso(min(max(moments), started)) if moments else previous


def _text(value: Any) -> str | None:
    if value is None:
        return None
    return str(value)


def _money(value: Any, flags: list[str], name: str) -> Decimal | None:
    try:
        return to_decimal(value, field=name)
    except (TypeError, ValueError):
        flags.append(f"{name}:not_money")
        return None


def _load(engine: sa.Engine, table_name: str, keys: list[str], rows: list[dict[str, Any]], *,
          full: bool, scope: dict[str, Any] | None = None, result: LoadResult,
          watermarks: dict[str, str | None] | None = None) -> LoadResult:
    """Upsert ``rows``; with ``full``, flag rows of this scope that were not returned as deleted. Watermarks are
    written in the same transaction, so they advance only when the load committed."""
    now = utcnow()
    tbl = table(engine, table_name)
    for row in rows:
        row["extracted_at"] = now
        if "deleted_at" in tbl.c:
            row["deleted_at"] = None
    with engine.begin() as conn:
        result.rows = upsert(conn, tbl, rows, keys)
        if full and "deleted_at" in tbl.c:
            cond = [tbl.c.deleted_at.is_(None), tbl.c.extracted_at < now]
            for col, value in (scope or {}).items():
                cond.append(tbl.c[col] == value)
            result.deleted = conn.execute(sa.update(tbl).where(*cond).values(deleted_at=now)).rowcount
        for entity, value in (watermarks or {}).items():
            if value is not None:
                save_watermark(conn, engine, entity, value)
    result.flagged = sum(1 for r in rows if r.get("quality_flags"))
    log.info("staged %s: %d rows, %d newly flagged deleted, %d with quality flags, %d rejected",
             result.entity, result.rows, result.deleted, result.flagged, len(result.rejected))
    return result


_ID_KEYS = ("CustomerID", "EndUserID", "RateID", "ContractID", "InvoiceNumber", "Id")
_NAME_KEYS = ("CustomerName", "Description", "ContractName", "DisplayName", "Name")


def _describe_record(rec: Any) -> str:
    """How a report names a record it could not stage: its id, else its name."""
    if not isinstance(rec, dict):
        return f"(not an object: {type(rec).__name__})"
    for key in _ID_KEYS:
        if rec.get(key) is not None:
            return f"{key}={rec[key]}"
    for key in _NAME_KEYS:
        if rec.get(key):
            return f"without id, named {str(rec[key])[:60]!r}"
    return "without id or name"


def _stage_each(records: Iterable[dict[str, Any]], entity: str, build: Callable[[dict[str, Any]], dict[str, Any]],
                result: LoadResult, money_engine: sa.Engine) -> list[dict[str, Any]]:
    """Build staging rows; a record that cannot be staged at all is reported by id, never crashes the load."""
    rows = []
    for rec in records:
        try:
            row = build(rec)
        except Exception as exc:  # noqa: BLE001 - a bad record must not stop the load
            result.rejected.append(f"{entity} {_describe_record(rec)}: {type(exc).__name__}: {exc}")
            continue
        for key, value in list(row.items()):
            if isinstance(value, Decimal):
                row[key] = money_out(value, money_engine)
        rows.append(row)
    return rows


# ------------------------------------------------------------------------------------------------------ Atera
def atera_customer_row(rec: dict[str, Any]) -> dict[str, Any]:
    flags: list[str] = []
    rules.name_flags(rec.get("CustomerName"), flags, "customer")
    if rec.get("CustomerID") is None:
        raise ValueError("CustomerID missing")
    return {
        "source_id": str(rec["CustomerID"]), "name": rec.get("CustomerName"),
        "business_number": _text(rec.get("BusinessNumber")), "domain": _text(rec.get("Domain")),
        "address": _text(rec.get("Address")), "city": _text(rec.get("City")), "state": _text(rec.get("State")),
        "country": _text(rec.get("Country")), "zip_code": _text(rec.get("ZipCodeStr")),
        "phone": _text(rec.get("Phone")), "created_on": _text(rec.get("CreatedOn")),
        "last_modified": _text(rec.get("LastModified")), "quality_flags": ",".join(flags) or None,
        "raw_json": dumps(rec),
    }


def rate_row(kind: str, rec: dict[str, Any]) -> dict[str, Any]:
    flags: list[str] = []
    rules.name_flags(rec.get("Description"), flags, "product")
    amount = _money(rec.get("Amount"), flags, "amount")
    if amount is not None and amount < 0:
        flags.append("amount:negative")
    if rec.get("RateID") is None:
        raise ValueError("RateID missing")
    return {
        "kind": kind, "source_id": str(rec["RateID"]), "name": rec.get("Description"), "sku": _text(rec.get("SKU")),
        "category": _text(rec.get("Category")), "amount": amount, "quality_flags": ",".join(flags) or None,
        "raw_json": dumps(rec),
    }


def contract_rates(contract: dict[str, Any]) -> Iterable[dict[str, Any]]:
    """Every RateDto embedded in a contract, whatever its type."""
    for sub, fields in CONTRACT_RATE_FIELDS.items():
        body = contract.get(sub)
        if not isinstance(body, dict):
            continue
        for name in fields:
            value = body.get(name)
            for rate in value if isinstance(value, list) else [value]:
                if isinstance(rate, dict) and rate.get("RateID") is not None:
                    yield rate


def contract_row(rec: dict[str, Any]) -> dict[str, Any]:
    return {
        "source_id": str(rec["ContractID"]), "customer_id": _text(rec.get("CustomerID")),
        "customer_name": rec.get("CustomerName"), "name": rec.get("ContractName"),
        "contract_type": _text(rec.get("ContractType")), "active": bool(rec.get("Active")),
        "is_default": bool(rec.get("Default")), "taxable": bool(rec.get("Taxable")),
        "start_date": _text(rec.get("StartDate")), "end_date": _text(rec.get("EndDate")), "raw_json": dumps(rec),
    }


def contact_row(rec: dict[str, Any]) -> dict[str, Any]:
    return {
        "source_id": str(rec["EndUserID"]), "customer_id": _text(rec.get("CustomerID")),
        "email": _text(rec.get("Email")), "first_name": _text(rec.get("Firstname")),
        "last_name": _text(rec.get("Lastname")), "is_contact_person": bool(rec.get("IsContactPerson")),
        "last_modified": _text(rec.get("LastModified")), "quality_flags": None, "raw_json": dumps(rec),
    }


def extract_atera_catalog(client: Any, engine: sa.Engine, *, full_refresh: bool = False,
                          now: datetime | None = None) -> dict[str, LoadResult]:
    """Customers and contacts incrementally (``FromLastModifiedDate`` from the watermark less an overlap; a full
    pull when asked, when there is no watermark, or once a day to see deletions); products, expenses, contracts
    and the contract-rate catalog in full (Atera offers no modified filter for them)."""
    started = now or datetime.now(timezone.utc)
    results: dict[str, LoadResult] = {}
    for key, entity, fetch, build, table_name in (
            ("customers", "atera_customers", client.customers, atera_customer_row, "stg_atera_customers"),
            ("contacts", "atera_contacts", client.contacts, contact_row, "stg_atera_contacts")):
        full = _full_due(engine, entity, started, full_refresh)
        previous = get_watermark(engine, entity)
        since = None if full or not previous else \
            (parse_instant(previous) - ATERA_OVERLAP).strftime("%Y-%m-%dT%H:%M:%S")
        res = LoadResult(f"atera {key}" + ("" if full else f" modified since {since}"))
        rows = _stage_each(fetch(since), key[:-1], build, res, engine)
        marks = {entity: _next_mark(previous, (r.get("last_modified") for r in rows), started)}
        if full:
            marks[f"{entity}@full"] = _iso(started)
        results[key] = _load(engine, table_name, ["source_id"], rows, full=full, result=res, watermarks=marks)

    for kind, records in (("product", client.products()), ("expense", client.expenses())):
        res = LoadResult(f"atera {kind}s")
        rows = _stage_each(records, kind, lambda r, k=kind: rate_row(k, r), res, engine)
        results[f"{kind}s"] = _load(engine, "stg_atera_products", ["kind", "source_id"], rows, full=True,
                                    scope={"kind": kind}, result=res)

    contracts = list(client.contracts())
    res = LoadResult("atera contracts")
    rows = _stage_each(contracts, "contract", contract_row, res, engine)
    results["contracts"] = _load(engine, "stg_atera_contracts", ["source_id"], rows, full=True, result=res)

    # Atera has no endpoint listing hourly rates/services: assemble them from the contracts, once per RateID.
    rates: dict[str, dict[str, Any]] = {}
    for contract in contracts:
        for rate in contract_rates(contract):
            rates.setdefault(str(rate["RateID"]), rate)
    res = LoadResult("atera contract rates")
    rows = _stage_each(rates.values(), "rate", lambda r: rate_row("rate", r), res, engine)
    results["rates"] = _load(engine, "stg_atera_products", ["kind", "source_id"], rows, full=True,
                             scope={"kind": "rate"}, result=res)
    return results


def _date_part(value: Any) -> str | None:
    return str(value)[:10] if value else None


def extract_atera_invoices(client: Any, engine: sa.Engine, date_from: date, date_to: date) -> LoadResult:
    """Invoices of a date window (account timezone) with their lines. The customer id is resolved from
    ``To.CompanyName`` against staged customers (exact, then blank/case-insensitive), else via the contract."""
    result = LoadResult(f"atera invoices {date_from}..{date_to}")
    customers = table(engine, "stg_atera_customers")
    contracts = table(engine, "stg_atera_contracts")
    with engine.connect() as conn:
        by_name: dict[str, str] = {}
        by_norm: dict[str, list[str]] = {}
        for source_id, name in conn.execute(sa.select(customers.c.source_id, customers.c.name)
                                            .where(customers.c.deleted_at.is_(None))):
            if name is None:
                continue
            by_name[name] = source_id
            by_norm.setdefault(" ".join(name.split()).casefold(), []).append(source_id)
        by_contract: dict[tuple[str, str], str] = {}
        for cust_name, contract_name, cust_id in conn.execute(
                sa.select(contracts.c.customer_name, contracts.c.name, contracts.c.customer_id)):
            by_contract[(cust_name or "", contract_name or "")] = cust_id

    def resolve(company: str | None, contract: str | None) -> str | None:
        if company is None:
            return None
        if company in by_name:
            return by_name[company]
        candidates = by_norm.get(" ".join(company.split()).casefold(), [])
        if len(candidates) == 1:
            return candidates[0]
        return by_contract.get((company, contract or ""))

    inv_rows: list[dict[str, Any]] = []
    line_rows: list[dict[str, Any]] = []
    for rec in client.invoices(date_from, date_to):
        try:
            number = str(rec["InvoiceNumber"])
            flags: list[str] = []
            to = rec.get("To") or {}
            company = to.get("CompanyName")
            customer_id = resolve(company, rec.get("ContractName"))
            if customer_id is None:
                flags.append("customer:unresolved")
            row = {
                "source_id": number, "invoice_uuid": _text(rec.get("InvoiceId")),
                "invoice_date": _date_part(rec.get("InvoiceDate")), "customer_name": company,
                "customer_id": customer_id, "contract_name": rec.get("ContractName"),
                "currency": _text(rec.get("Currency")),
                "subtotal": _money(rec.get("Subtotal"), flags, "subtotal"),
                "tax": _money(rec.get("Tax"), flags, "tax"), "total": _money(rec.get("Total"), flags, "total"),
                "tax_percentage": _money(rec.get("TaxPercentage"), flags, "tax_percentage"),
                "is_adhoc": bool(rec.get("IsAdhoc")), "period_start": _date_part(rec.get("PeriodStartDate")),
                "period_end": _date_part(rec.get("PeriodEndDate")), "raw_json": dumps(rec),
            }
            lines = []
            for pos, item in enumerate(rec.get("LineItems") or []):
                lflags: list[str] = []
                lines.append({
                    "invoice_source_id": number,
                    "line_idx": int(item["LineIdx"]) if item.get("LineIdx") is not None else pos,
                    "product_name": item.get("Product"), "description": item.get("Description"),
                    "quantity": _money(item.get("Quantity"), lflags, "quantity"),
                    "rate": _money(item.get("Rate"), lflags, "rate"),
                    "discount_percentage": _money(item.get("DiscountPercentage"), lflags, "discount"),
                    "tax_percentage": _money(item.get("TaxPercentage"), lflags, "tax_percentage"),
                    "subtotal": _money(item.get("Subtotal"), lflags, "subtotal"),
                    "tax": _money(item.get("Tax"), lflags, "tax"), "total": _money(item.get("Total"), lflags, "total"),
                })
                flags.extend(f"line{pos}:{f}" for f in lflags)
            row["quality_flags"] = ",".join(flags) or None
        except (KeyError, TypeError, ValueError) as exc:
            result.rejected.append(f"invoice {rec.get('InvoiceNumber')}: {type(exc).__name__}: {exc}")
            continue
        inv_rows.append(row)
        line_rows.extend(lines)

    now = utcnow()
    for rows in (inv_rows, line_rows):
        for row in rows:
            row["extracted_at"] = now
            for key, value in list(row.items()):
                if isinstance(value, Decimal):
                    row[key] = money_out(value, engine)
    inv_tbl = table(engine, "stg_atera_invoices")
    line_tbl = table(engine, "stg_atera_invoice_lines")
    with engine.begin() as conn:
        numbers = [r["source_id"] for r in inv_rows]
        for start in range(0, len(numbers), 500):  # lines of a re-read invoice are replaced, not merged
            conn.execute(sa.delete(line_tbl).where(line_tbl.c.invoice_source_id.in_(numbers[start:start + 500])))
        for row in inv_rows:
            row["deleted_at"] = None
        result.rows = upsert(conn, inv_tbl, inv_rows, ["source_id"])
        upsert(conn, line_tbl, line_rows, ["invoice_source_id", "line_idx"])
    result.flagged = sum(1 for r in inv_rows if r.get("quality_flags"))
    return result


# -------------------------------------------------------------------------------------------------------- QBO
def _last_updated(raw: str | None) -> str | None:
    if not raw:
        return None
    return (json.loads(raw).get("MetaData") or {}).get("LastUpdatedTime")


def _ref(value: Any) -> str | None:
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
        "balance": _money(rec.get("Balance"), flags, "balance"), "sync_token": _text(rec.get("SyncToken")),
        "last_updated": (rec.get("MetaData") or {}).get("LastUpdatedTime"),
        "quality_flags": ",".join(flags) or None, "raw_json": dumps(rec),
    }


def qbo_item_row(rec: dict[str, Any]) -> dict[str, Any]:
    flags: list[str] = []
    rules.name_flags(rec.get("Name"), flags, "product")
    return {
        "source_id": str(rec["Id"]), "name": rec.get("Name"), "fully_qualified_name": rec.get("FullyQualifiedName"),
        "item_type": rec.get("Type"), "sku": _text(rec.get("Sku")),
        "unit_price": _money(rec.get("UnitPrice"), flags, "unit_price"), "taxable": bool(rec.get("Taxable")),
        "active": bool(rec.get("Active", True)), "income_account_id": _ref(rec.get("IncomeAccountRef")),
        "parent_id": _ref(rec.get("ParentRef")), "sync_token": _text(rec.get("SyncToken")),
        "last_updated": (rec.get("MetaData") or {}).get("LastUpdatedTime"),
        "quality_flags": ",".join(flags) or None, "raw_json": dumps(rec),
    }


def qbo_account_row(rec: dict[str, Any]) -> dict[str, Any]:
    return {"source_id": str(rec["Id"]), "name": rec.get("Name"), "account_type": rec.get("AccountType"),
            "account_sub_type": rec.get("AccountSubType"), "active": bool(rec.get("Active", True)),
            "raw_json": dumps(rec)}


def qbo_tax_code_row(rec: dict[str, Any]) -> dict[str, Any]:
    return {"source_id": str(rec["Id"]), "name": rec.get("Name"), "taxable": bool(rec.get("Taxable")),
            "active": bool(rec.get("Active", True)), "raw_json": dumps(rec)}


ALL_ACTIVE = "Active IN (true, false)"  # QBO returns active records only unless the query filters on Active


def qbo_tax_rate_row(rec: dict[str, Any]) -> dict[str, Any]:
    flags: list[str] = []
    return {"source_id": str(rec["Id"]), "name": rec.get("Name"),
            "rate_value": _money(rec.get("RateValue"), flags, "rate_value"), "active": bool(rec.get("Active", True)),
            "raw_json": dumps(rec)}


def qbo_term_row(rec: dict[str, Any]) -> dict[str, Any]:
    return {"source_id": str(rec["Id"]), "name": rec.get("Name"), "due_days": rec.get("DueDays"),
            "active": bool(rec.get("Active", True)), "raw_json": dumps(rec)}


def qbo_name_row(entity: str) -> Callable[[dict[str, Any]], dict[str, Any]]:
    def build(rec: dict[str, Any]) -> dict[str, Any]:
        return {"entity": entity, "source_id": str(rec["Id"]), "display_name": rec.get("DisplayName"),
                "active": bool(rec.get("Active", True))}
    return build


# (key, QBO entity, staging table, row builder, incremental?) — lists only: transactions are not catalogs.
QBO_CATALOG = [
    ("customers", "Customer", "stg_qbo_customers", qbo_customer_row, True),
    ("items", "Item", "stg_qbo_items", qbo_item_row, True),
    ("accounts", "Account", "stg_qbo_accounts", qbo_account_row, True),
    ("tax_codes", "TaxCode", "stg_qbo_tax_codes", qbo_tax_code_row, False),  # CDC does not cover tax entities
    ("tax_rates", "TaxRate", "stg_qbo_tax_rates", qbo_tax_rate_row, False),
    ("terms", "Term", "stg_qbo_terms", qbo_term_row, True),
]


def extract_qbo_catalog(client: Any, engine: sa.Engine, *, full_refresh: bool = False,
                        now: datetime | None = None) -> dict[str, LoadResult]:
    """Customers (inactive and sub-customers too), items (inactive and categories too), accounts, tax codes and
    rates, terms, vendor/employee names and company preferences. Incremental on ``Metadata.LastUpdatedTime`` (less
    an overlap) with deletions (merges) from CDC; a full pull when asked, without a watermark, when the watermark is
    older than CDC's 30 days, or once a day."""
    started = now or datetime.now(timezone.utc)
    results: dict[str, LoadResult] = {}
    deleted_by_cdc: dict[str, set[str]] = {}
    incremental_entities = [e for _, e, _, _, inc in QBO_CATALOG if inc]
    plan = []
    for key, entity, table_name, build, incremental in QBO_CATALOG:
        mark_key = f"qbo_{key}"
        previous = get_watermark(engine, mark_key)
        synced = parse_instant(get_watermark(engine, f"{mark_key}@synced"))
        full = (not incremental or previous is None or synced is None
                or started - synced > CDC_MAX_AGE - timedelta(days=1)
                or _full_due(engine, mark_key, started, full_refresh))
        plan.append((key, entity, table_name, build, full, mark_key, previous, synced))
    oldest = min((p[7] for p in plan if not p[4]), default=None)
    if oldest is not None:  # deletions (merges) since the last sync come only from CDC
        changed_since = _iso(oldest - QBO_OVERLAP)
        for entity, objs in client.cdc(incremental_entities, changed_since).items():
            deleted_by_cdc[entity] = {str(o["Id"]) for o in objs if o.get("status") == "Deleted"}

    for key, entity, table_name, build, full, mark_key, previous, _synced in plan:
        where = ALL_ACTIVE
        if not full:
            where += f" AND Metadata.LastUpdatedTime >= '{_iso(parse_instant(previous) - QBO_OVERLAP)}'"
        res = LoadResult(f"qbo {key}" + ("" if full else " (incremental)"))
        rows = _stage_each(client.query_all(entity, where), entity, build, res, engine)
        marks = {mark_key: _next_mark(previous, (r.get("last_updated") or
                                                 _last_updated(r.get("raw_json")) for r in rows), started),
                 f"{mark_key}@synced": _iso(started)}
        if full:
            marks[f"{mark_key}@full"] = _iso(started)
        results[key] = _load(engine, table_name, ["source_id"], rows, full=full, result=res, watermarks=marks)
        gone = deleted_by_cdc.get(entity)
        if gone and not full:
            tbl = table(engine, table_name)
            with engine.begin() as conn:
                results[key].deleted += conn.execute(sa.update(tbl).where(
                    tbl.c.source_id.in_(sorted(gone)), tbl.c.deleted_at.is_(None)).values(deleted_at=utcnow())).rowcount

    for entity in ("Vendor", "Employee"):  # small lists: always in full
        res = LoadResult(f"qbo {entity.lower()} names")
        rows = _stage_each(client.query_all(entity, ALL_ACTIVE), entity, qbo_name_row(entity), res, engine)
        results[f"{entity.lower()}_names"] = _load(engine, "stg_qbo_names", ["entity", "source_id"], rows, full=True,
                                                   scope={"entity": entity}, result=res)

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
    results["preferences"] = _load(engine, "stg_qbo_preferences", ["source_id"], [row], full=False,
                                   result=LoadResult("qbo preferences"))
    return results
