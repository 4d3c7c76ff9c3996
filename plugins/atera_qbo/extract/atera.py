"""Atera → staging: customers and contacts incrementally, products, expenses, contracts and contract rates in full,
invoices of a date window with their lines."""
from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

import sqlalchemy as sa

from ..atera.api import AteraApi
from ..money import dumps
from ..qbo import rules
from ..staging.db import chunked, table, upsert, utcnow
from .load import LoadResult, flags_text, load, money, stage_each, text, watched
from .routing import CustomerRouting, InvoiceRouting, Router, keep_own, router_for_database, staged_customer_ids
from .watermarks import full_due, get_watermark, marks_after, resume_from, save_watermark

log = logging.getLogger(__name__)
Rows = Iterable[dict[str, Any]]

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

# Atera reads FromLastModifiedDate in the ACCOUNT's timezone (offsets refused) while it reports LastModified in
# UTC: asking from (last seen − 26 h) covers every timezone (UTC−12 … UTC+14) without knowing the account's.
ATERA_OVERLAP = timedelta(hours=26)
# The routing rules the customers were last routed by: when they change, every customer is read and routed again.
ROUTES_MARK = "atera_customers@routes"


# --------------------------------------------------------------------------------------------- row builders
def atera_customer_row(rec: dict[str, Any]) -> dict[str, Any]:
    flags: list[str] = []
    rules.name_flags(rec.get("CustomerName"), flags, "customer")
    if rec.get("CustomerID") is None:
        raise ValueError("CustomerID missing")
    return {
        "source_id": str(rec["CustomerID"]), "name": rec.get("CustomerName"),
        "business_number": text(rec.get("BusinessNumber")), "domain": text(rec.get("Domain")),
        "address": text(rec.get("Address")), "city": text(rec.get("City")), "state": text(rec.get("State")),
        "country": text(rec.get("Country")), "zip_code": text(rec.get("ZipCodeStr")),
        "phone": text(rec.get("Phone")), "created_on": text(rec.get("CreatedOn")),
        "last_modified": text(rec.get("LastModified")), "quality_flags": flags_text(flags),
        "raw_json": dumps(rec),
    }


def rate_row(kind: str, rec: dict[str, Any]) -> dict[str, Any]:
    flags: list[str] = []
    rules.name_flags(rec.get("Description"), flags, "product")
    amount = money(rec.get("Amount"), flags, "amount")
    if amount is not None and amount < 0:
        flags.append("amount:negative")
    if rec.get("RateID") is None:
        raise ValueError("RateID missing")
    return {
        "kind": kind, "source_id": str(rec["RateID"]), "name": rec.get("Description"), "sku": text(rec.get("SKU")),
        "category": text(rec.get("Category")), "amount": amount, "quality_flags": flags_text(flags),
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
        "source_id": str(rec["ContractID"]), "customer_id": text(rec.get("CustomerID")),
        "customer_name": rec.get("CustomerName"), "name": rec.get("ContractName"),
        "contract_type": text(rec.get("ContractType")), "active": bool(rec.get("Active")),
        "is_default": bool(rec.get("Default")), "taxable": bool(rec.get("Taxable")),
        "start_date": text(rec.get("StartDate")), "end_date": text(rec.get("EndDate")), "raw_json": dumps(rec),
    }


def contact_row(rec: dict[str, Any]) -> dict[str, Any]:
    return {
        "source_id": str(rec["EndUserID"]), "customer_id": text(rec.get("CustomerID")),
        "email": text(rec.get("Email")), "first_name": text(rec.get("Firstname")),
        "last_name": text(rec.get("Lastname")), "is_contact_person": bool(rec.get("IsContactPerson")),
        "last_modified": text(rec.get("LastModified")), "quality_flags": None, "raw_json": dumps(rec),
    }


# -------------------------------------------------------------------------------------------------- catalog
@dataclass
class RoutedResult(LoadResult):
    """A load through the company router: how many records were another company's (skipped silently) and which
    were of an unrouted customer (named: never exported)."""

    other_company: int = 0
    unrouted: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {**super().as_dict(), "other_company": self.other_company, "unrouted": self.unrouted[:50]}


def _pull_incremental(engine: sa.Engine, key: str, entity: str,
                      fetch: Callable[[str | None], Iterable[dict[str, Any]]],
                      build: Callable[[dict[str, Any]], dict[str, Any]], table_name: str, started: datetime,
                      full_refresh: bool, keep: Callable[[Rows], Rows] | None = None,
                      res: LoadResult | None = None) -> LoadResult:
    """One list Atera filters by ``FromLastModifiedDate``: from the watermark less the overlap, or in full.
    ``keep``: the rows that are this company's (the watermark still advances over every record read)."""
    full = full_due(engine, entity, started, full_refresh)
    previous = get_watermark(engine, entity)
    since = None if full or not previous else resume_from(previous, ATERA_OVERLAP).strftime("%Y-%m-%dT%H:%M:%S")
    res = res or LoadResult("")
    res.entity = f"atera {key}" + ("" if full else f" modified since {since}")
    seen: list[str | None] = []
    rows: Rows = watched(stage_each(fetch(since), key[:-1], build, res), lambda r: r.get("last_modified"), seen)
    return load(engine, table_name, ["source_id"], keep(rows) if keep else rows, full=full, result=res,
                watermarks=lambda: marks_after(entity, previous, seen, started, full=full))


def _pull_rates(engine: sa.Engine, kind: str, label: str, records: Iterable[dict[str, Any]]) -> LoadResult:
    """One kind of rate (product, expense, contract rate) in full into ``stg_atera_products``."""
    res = LoadResult(f"atera {label}")
    rows = stage_each(records, kind, lambda r: rate_row(kind, r), res)
    return load(engine, "stg_atera_products", ["kind", "source_id"], rows, full=True, scope={"kind": kind},
                result=res)


def _pull_customers(client: AteraApi, engine: sa.Engine, router: Router, started: datetime,
                    full_refresh: bool) -> tuple[RoutedResult, set[str] | None, bool]:
    """Customers through the router (all of them again when the rules changed since the last pull); answers the
    result, this company's customer ids (None: no routing) and whether a customer moved in from another company or
    from unrouted (its contacts need a full pull)."""
    routing = CustomerRouting(router, client)
    res = RoutedResult("atera customers")
    rules = router.choices() if router.active else ""
    rerouted = (get_watermark(engine, ROUTES_MARK) or "") != rules  # a route changed in the companies file
    full = full_due(engine, "atera_customers", started, full_refresh) or rerouted
    _pull_incremental(engine, "customers", "atera_customers", client.customers, atera_customer_row,
                      "stg_atera_customers", started, full, keep=routing.keep, res=res)
    moved_in = routing.save(engine, full=full)
    if rerouted:
        with engine.begin() as conn:
            save_watermark(conn, engine, ROUTES_MARK, rules)
    res.other_company, res.unrouted = routing.other_company, routing.unrouted
    return res, (staged_customer_ids(engine) if router.active else None), bool(moved_in)


def extract_atera_catalog(client: AteraApi, engine: sa.Engine, *, full_refresh: bool = False,
                          now: datetime | None = None, router: Router | None = None) -> dict[str, LoadResult]:
    """Customers and contacts incrementally (``FromLastModifiedDate`` from the watermark less an overlap; a full
    pull when asked, when there is no watermark, or once a day to see deletions); products, expenses, contracts
    and the contract-rate catalog in full (Atera offers no modified filter for them).

    ``router`` (default: the one of the company whose database ``engine`` is): when several companies share the
    Atera account, only this company's customers are staged, with their contacts and contracts; products,
    expenses and rates are the account's, staged whole."""
    started = now or datetime.now(UTC)
    router = router or router_for_database(engine)
    customers, own, moved_in = _pull_customers(client, engine, router, started, full_refresh)
    results: dict[str, LoadResult] = {
        "customers": customers,
        "contacts": _pull_incremental(engine, "contacts", "atera_contacts", client.contacts, contact_row,
                                      "stg_atera_contacts", started, full_refresh or moved_in,
                                      keep=lambda rows: keep_own(rows, own)),
        "products": _pull_rates(engine, "product", "products", client.products()),
        "expenses": _pull_rates(engine, "expense", "expenses", client.expenses()),
    }
    contracts = list(client.contracts())
    res = LoadResult("atera contracts")
    rows = keep_own(stage_each(contracts, "contract", contract_row, res), own)
    results["contracts"] = load(engine, "stg_atera_contracts", ["source_id"], rows, full=True, result=res)

    # Atera has no endpoint listing hourly rates/services: assemble them from the contracts, once per RateID
    # (every contract of the account: rates are account-wide).
    rates: dict[str, dict[str, Any]] = {}
    for contract in contracts:
        for rate in contract_rates(contract):
            rates.setdefault(str(rate["RateID"]), rate)
    results["rates"] = _pull_rates(engine, "rate", "contract rates", rates.values())
    return results


# ------------------------------------------------------------------------------------------------- invoices
def _date_part(value: object) -> str | None:
    return str(value)[:10] if value else None


def customer_resolver(engine: sa.Engine, *, live_only: bool = False,
                      ) -> Callable[[str | None, str | None], str | None]:
    """Atera invoices name their customer (``To.CompanyName``), not its id: resolve it against staged customers
    (exact, then blank/case-insensitive when that is unambiguous), else via the invoice's contract (with
    ``live_only``, routing: only a contract of a customer still staged, not of one that left this company)."""
    customers = table("stg_atera_customers")
    contracts = table("stg_atera_contracts")
    by_name: dict[str, str] = {}
    by_norm: dict[str, list[str]] = {}
    by_contract: dict[tuple[str, str], str] = {}
    with engine.connect() as conn:
        live: set[str] = set()
        for source_id, name in conn.execute(sa.select(customers.c.source_id, customers.c.name)
                                            .where(customers.c.deleted_at.is_(None))):
            live.add(source_id)
            if name is None:
                continue
            by_name[name] = source_id
            by_norm.setdefault(" ".join(name.split()).casefold(), []).append(source_id)
        for cust_name, contract_name, cust_id in conn.execute(
                sa.select(contracts.c.customer_name, contracts.c.name, contracts.c.customer_id)):
            if not live_only or cust_id in live:
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

    return resolve


def invoice_line_row(number: str, pos: int, item: dict[str, Any], flags: list[str]) -> dict[str, Any]:
    return {
        "invoice_source_id": number, "line_idx": int(item["LineIdx"]) if item.get("LineIdx") is not None else pos,
        "product_name": item.get("Product"), "description": item.get("Description"),
        "quantity": money(item.get("Quantity"), flags, "quantity"), "rate": money(item.get("Rate"), flags, "rate"),
        "discount_percentage": money(item.get("DiscountPercentage"), flags, "discount"),
        "tax_percentage": money(item.get("TaxPercentage"), flags, "tax_percentage"),
        "subtotal": money(item.get("Subtotal"), flags, "subtotal"),
        "tax": money(item.get("Tax"), flags, "tax"), "total": money(item.get("Total"), flags, "total"),
    }


def invoice_rows(rec: dict[str, Any], resolve: Callable[[str | None, str | None], str | None],
                 ) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """The staging row of one Atera invoice and the rows of its lines (a line's flags are the invoice's)."""
    number = str(rec["InvoiceNumber"])
    flags: list[str] = []
    company = (rec.get("To") or {}).get("CompanyName")
    customer_id = resolve(company, rec.get("ContractName"))
    if customer_id is None:
        flags.append("customer:unresolved")
    row = {
        "source_id": number, "invoice_uuid": text(rec.get("InvoiceId")),
        "invoice_date": _date_part(rec.get("InvoiceDate")), "customer_name": company,
        "customer_id": customer_id, "contract_name": rec.get("ContractName"), "currency": text(rec.get("Currency")),
        "subtotal": money(rec.get("Subtotal"), flags, "subtotal"),
        "tax": money(rec.get("Tax"), flags, "tax"), "total": money(rec.get("Total"), flags, "total"),
        "tax_percentage": money(rec.get("TaxPercentage"), flags, "tax_percentage"),
        "is_adhoc": bool(rec.get("IsAdhoc")), "period_start": _date_part(rec.get("PeriodStartDate")),
        "period_end": _date_part(rec.get("PeriodEndDate")), "raw_json": dumps(rec),
    }
    lines = []
    for pos, item in enumerate(rec.get("LineItems") or []):
        lflags: list[str] = []
        lines.append(invoice_line_row(number, pos, item, lflags))
        flags.extend(f"line{pos}:{f}" for f in lflags)
    row["quality_flags"] = flags_text(flags)
    return row, lines


def _store_invoices(engine: sa.Engine, inv_rows: list[dict[str, Any]], line_rows: list[dict[str, Any]],
                    skipped: list[str]) -> int:
    """Upsert the invoices and replace their lines (a re-read invoice's lines are replaced, not merged); a staged
    invoice now ``skipped`` (its customer left this company) is flagged deleted, so it is never exported."""
    now = utcnow()
    for rows in (inv_rows, line_rows):
        for row in rows:
            row["extracted_at"] = now
    inv_tbl = table("stg_atera_invoices")
    line_tbl = table("stg_atera_invoice_lines")
    with engine.begin() as conn:
        numbers = [r["source_id"] for r in inv_rows]
        for part in chunked(numbers):
            conn.execute(sa.delete(line_tbl).where(line_tbl.c.invoice_source_id.in_(part)))
        for row in inv_rows:
            row["deleted_at"] = None
        stored = upsert(conn, inv_tbl, inv_rows, ["source_id"])
        upsert(conn, line_tbl, line_rows, ["invoice_source_id", "line_idx"])
        for part in chunked(skipped):
            conn.execute(sa.update(inv_tbl).where(inv_tbl.c.source_id.in_(part), inv_tbl.c.deleted_at.is_(None))
                         .values(deleted_at=now))
    return stored


def extract_atera_invoices(client: AteraApi, engine: sa.Engine, date_from: date, date_to: date, *,
                           router: Router | None = None) -> RoutedResult:
    """Invoices of a date window (account timezone) with their lines. The customer id is resolved from
    ``To.CompanyName`` against staged customers (exact, then blank/case-insensitive), else via the contract.

    ``router`` (default: the one of the company whose database ``engine`` is): an invoice of another company's
    customer is skipped (counted ``other_company``), one of an unrouted customer too (named in ``unrouted`` and the
    log: never exported); one whose customer nobody knows is staged flagged ``customer:unresolved``, as ever."""
    result = RoutedResult(f"atera invoices {date_from}..{date_to}")
    router = router or router_for_database(engine)
    resolve = customer_resolver(engine, live_only=router.active)
    routing = InvoiceRouting(engine, router)
    inv_rows: list[dict[str, Any]] = []
    line_rows: list[dict[str, Any]] = []
    skipped: list[str] = []
    for rec in client.invoices(date_from, date_to):
        try:
            row, lines = invoice_rows(rec, resolve)
        except (KeyError, TypeError, ValueError) as exc:
            result.rejected.append(f"invoice {rec.get('InvoiceNumber')}: {type(exc).__name__}: {exc}")
            continue
        where = routing.elsewhere(row["customer_name"]) if row["customer_id"] is None else None
        if where is not None:
            skipped.append(row["source_id"])
            if where == "other_company":
                result.other_company += 1
            else:
                result.unrouted.append(f"invoice {row['source_id']} of {row['customer_name']!r}")
            continue
        inv_rows.append(row)
        line_rows.extend(lines)
    result.rows = _store_invoices(engine, inv_rows, line_rows, skipped)
    result.flagged = sum(1 for r in inv_rows if r.get("quality_flags"))
    for line in result.unrouted:
        log.warning("%s skipped: its customer is unrouted (no company's route places it); never exported", line)
    return result
