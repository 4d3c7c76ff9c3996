"""Bring staging up to date for reconciliation, reading only what changed.

- catalogs: the catalog sync's own incremental extraction (QBO ``Metadata.LastUpdatedTime`` + CDC deletions,
  Atera customers/contacts by ``FromLastModifiedDate``);
- the QBO invoices / credit memos the export created, and the payments on them: CDC since the last run (less an
  overlap); the ones never read yet (newly exported) by ``Id IN (...)``; everything by id when there is no
  watermark, it is older than CDC's 30 days, or CDC's 1000-object cap was hit. An exported document a read by id
  no longer returns was deleted (QBO hard-deletes transactions);
- Atera invoices of the window: from the last run's end less a week (Atera has no modified filter on invoices),
  the whole window the first time.
"""
from __future__ import annotations

import json
import logging
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

import sqlalchemy as sa

from .. import extract
from ..atera.api import AteraApi
from ..extract.qbo import CDC_MAX_AGE, QBO_OVERLAP
from ..extract.watermarks import get_watermark, iso, parse_instant, save_watermark
from ..money import dumps, to_decimal
from ..qbo.api import QboApi
from ..qbo.query import in_list
from ..staging.db import chunked, table, upsert, utcnow
from ..staging.ledger import LedgerStatus

log = logging.getLogger(__name__)

TXN_ENTITIES = ("Invoice", "CreditMemo")
CDC_ENTITIES = [*TXN_ENTITIES, "Payment"]
CDC_CAP = 1000
TXN_MARK = "recon_qbo_transactions@synced"
ATERA_INVOICES_MARK = "recon_atera_invoices@read_to"
ATERA_REREAD = timedelta(days=7)  # invoices of the last week may still change in Atera
ID_CHUNK = 100


@dataclass
class RefreshResult:
    mode: str = "cdc"  # cdc | full
    cdc_objects: int = 0
    read_by_id: int = 0
    changed: int = 0
    deleted: int = 0
    payments: int = 0
    atera_invoices: int = 0
    catalogs: dict[str, Any] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


def _num(value: Any) -> str:
    """A number as a canonical string (125, 125.0 and '125.00' alike)."""
    amount = to_decimal(value) if not isinstance(value, float) else Decimal(str(value))
    if amount is None:
        return ""
    text = format(amount.normalize(), "f")
    return "0" if text in ("-0", "") else text


def line_signature(doc: dict[str, Any]) -> str:
    parts = []
    for line in doc.get("Line") or []:
        if line.get("DetailType") != "SalesItemLineDetail":
            continue
        detail = line.get("SalesItemLineDetail") or {}
        item = (detail.get("ItemRef") or {}).get("value", "")
        parts.append(f"{item}|{_num(detail.get('Qty'))}|{_num(detail.get('UnitPrice'))}|{_num(line.get('Amount'))}")
    return ";".join(parts)


def is_voided(doc: dict[str, Any]) -> bool:
    """QBO voids by zeroing the amounts and noting "Voided" (there is no status field)."""
    return str(doc.get("PrivateNote") or "").startswith("Voided") and to_decimal(doc.get("TotalAmt") or 0) == 0


def txn_row(entity: str, doc: dict[str, Any], engine: sa.Engine) -> dict[str, Any]:
    open_field = "Balance" if entity == "Invoice" else "RemainingCredit"
    customer = doc.get("CustomerRef") or {}
    return {"qbo_type": entity, "source_id": str(doc["Id"]), "doc_number": doc.get("DocNumber"),
            "customer_id": str(customer.get("value") or "") or None, "customer_name": customer.get("name"),
            "txn_date": doc.get("TxnDate"), "due_date": doc.get("DueDate"),
            "total": to_decimal(doc.get("TotalAmt") or 0),
            "balance": to_decimal(doc.get(open_field) or 0),
            "status": "voided" if is_voided(doc) else "active", "line_sig": line_signature(doc),
            "sync_token": str(doc.get("SyncToken") or ""),
            "last_updated": (doc.get("MetaData") or {}).get("LastUpdatedTime"), "raw_json": dumps(doc)}


def payment_row(doc: dict[str, Any], engine: sa.Engine) -> dict[str, Any]:
    links = [[link.get("TxnType"), str(link.get("TxnId")), _num(line.get("Amount"))]
             for line in doc.get("Line") or [] for link in line.get("LinkedTxn") or []]
    return {"source_id": str(doc["Id"]), "txn_date": doc.get("TxnDate"),
            "total": to_decimal(doc.get("TotalAmt") or 0), "links_json": json.dumps(links),
            "deleted_at": None}


def exported_documents(engine: sa.Engine) -> set[tuple[str, str]]:
    """Every (QBO type, id) the export ledger says it created."""
    led = table("export_invoices")
    with engine.connect() as conn:
        return {(t or "Invoice", str(i)) for t, i in conn.execute(
            sa.select(led.c.qbo_type, led.c.qbo_id).where(led.c.status == LedgerStatus.EXPORTED,
                                                           led.c.qbo_id.is_not(None)))}


def _staged_keys(engine: sa.Engine) -> set[tuple[str, str]]:
    tbl = table("stg_qbo_transactions")
    with engine.connect() as conn:
        return {(t, i) for t, i in conn.execute(sa.select(tbl.c.qbo_type, tbl.c.source_id))}


def _read_by_id(qbo: QboApi, entity: str, ids: list[str]) -> Iterable[dict[str, Any]]:
    for part in chunked(ids, ID_CHUNK):
        yield from qbo.query_all(entity, f"Id IN {in_list(part)}")


def _cdc_changes(qbo: QboApi, since: datetime) -> dict[str, list[dict[str, Any]]] | None:
    """CDC of the transaction entities, or None when it cannot be trusted to be complete (the 1000 cap)."""
    changes = qbo.cdc(CDC_ENTITIES, iso(since - QBO_OVERLAP))
    if sum(len(v) for v in changes.values()) >= CDC_CAP:
        log.info("reconciliation: CDC answered %d objects (its cap): reading by id instead", CDC_CAP)
        return None
    return changes


def refresh_transactions(qbo: QboApi, engine: sa.Engine, *, now: datetime | None = None,
                         result: RefreshResult | None = None, full: bool = False) -> RefreshResult:
    started = now or datetime.now(UTC)
    result = result or RefreshResult()
    tracked = exported_documents(engine)
    staged = _staged_keys(engine)
    synced = parse_instant(get_watermark(engine, TXN_MARK))
    changes = None
    if not full and synced is not None and started - synced < CDC_MAX_AGE - timedelta(days=1):
        changes = _cdc_changes(qbo, synced)
    result.mode = "cdc" if changes is not None else "full"
    rows: dict[tuple[str, str], dict[str, Any]] = {}
    deleted: set[tuple[str, str]] = set()
    payments: dict[str, dict[str, Any]] = {}
    gone_payments: set[str] = set()
    to_read = set(tracked) if changes is None else tracked - staged
    if changes is not None:
        result.cdc_objects = sum(len(v) for v in changes.values())
        for entity in TXN_ENTITIES:
            for doc in changes.get(entity, []):
                key = (entity, str(doc["Id"]))
                if key not in tracked:
                    continue
                to_read.discard(key)
                if doc.get("status") == "Deleted":
                    deleted.add(key)
                else:
                    rows[key] = txn_row(entity, doc, engine)
        for doc in changes.get("Payment", []):
            if doc.get("status") == "Deleted":
                gone_payments.add(str(doc["Id"]))
            else:
                payments[str(doc["Id"])] = payment_row(doc, engine)
    wanted_payments: set[str] = set()
    for entity in TXN_ENTITIES:
        ids = sorted(i for e, i in to_read if e == entity)
        found = set()
        for doc in _read_by_id(qbo, entity, ids):
            found.add(str(doc["Id"]))
            rows[(entity, str(doc["Id"]))] = txn_row(entity, doc, engine)
            wanted_payments.update(str(link.get("TxnId")) for link in doc.get("LinkedTxn") or []
                                   if link.get("TxnType") == "Payment")
        result.read_by_id += len(ids)
        deleted.update((entity, i) for i in ids if i not in found)
    wanted_payments -= set(payments)
    for doc in _read_by_id(qbo, "Payment", sorted(wanted_payments)):
        payments[str(doc["Id"])] = payment_row(doc, engine)
    _save(engine, rows, deleted, payments, gone_payments, started)
    result.changed, result.deleted, result.payments = len(rows), len(deleted), len(payments) + len(gone_payments)
    return result


def _save(engine: sa.Engine, rows: dict[tuple[str, str], dict[str, Any]], deleted: set[tuple[str, str]],
          payments: dict[str, dict[str, Any]], gone_payments: set[str], started: datetime) -> None:
    txns, pays, base = (table(n) for n in ("stg_qbo_transactions", "stg_qbo_payments", "recon_baselines"))
    now = utcnow()
    with engine.begin() as conn:
        upsert(conn, txns, [dict(r, extracted_at=now) for r in rows.values()], ["qbo_type", "source_id"])
        for entity, source_id in sorted(deleted):
            hit = conn.execute(sa.update(txns).where(txns.c.qbo_type == entity, txns.c.source_id == source_id)
                               .values(status="deleted", extracted_at=now)).rowcount
            if not hit:  # deleted before reconciliation ever read it
                conn.execute(sa.insert(txns).values(qbo_type=entity, source_id=source_id, status="deleted",
                                                    extracted_at=now))
        upsert(conn, pays, [dict(p, extracted_at=now) for p in payments.values()], ["source_id"])
        if gone_payments:
            conn.execute(sa.update(pays).where(pays.c.source_id.in_(sorted(gone_payments)))
                         .values(deleted_at=now))
        have = {(t, i) for t, i in conn.execute(sa.select(base.c.qbo_type, base.c.source_id))}
        fresh = [{"qbo_type": r["qbo_type"], "source_id": r["source_id"], "doc_number": r["doc_number"],
                  "customer_id": r["customer_id"], "customer_name": r["customer_name"], "total": r["total"],
                  "line_sig": r["line_sig"], "taken_at": now}
                 for key, r in rows.items() if key not in have and r["status"] == "active"]
        upsert(conn, base, fresh, ["qbo_type", "source_id"])
        save_watermark(conn, engine, TXN_MARK, iso(started))


def refresh_atera_invoices(atera: AteraApi, engine: sa.Engine, date_from: date, date_to: date, *,
                           full: bool = False) -> int:
    """Atera invoices of the window. When an earlier run read a range covering this window's start, only the last
    week before that range's end is read again; the watermark is the range read so far ("from..to")."""
    previous = get_watermark(engine, ATERA_INVOICES_MARK) or ""
    lo, hi = date_from.isoformat(), date_to.isoformat()
    start = date_from
    if ".." in previous and not full:
        plo, phi = previous.split("..", 1)
        if plo <= lo <= phi:
            start = max(date_from, date.fromisoformat(min(phi, hi)) - ATERA_REREAD)
            lo, hi = plo, max(phi, hi)
    loaded = extract.extract_atera_invoices(atera, engine, start, date_to)
    with engine.begin() as conn:
        save_watermark(conn, engine, ATERA_INVOICES_MARK, f"{lo}..{hi}")
    return loaded.rows


def refresh_all(qbo: QboApi, atera: AteraApi | None, engine: sa.Engine, date_from: date, date_to: date, *,
                now: datetime | None = None, full: bool = False) -> RefreshResult:
    """Everything reconciliation reads, incrementally (see the module docstring); ``full``: re-read it all. The
    Atera extractions route customers for the company whose database ``engine`` is (``extract.routing``)."""
    result = RefreshResult()
    result.catalogs["qbo"] = {k: v.rows for k, v in extract.extract_qbo_catalog(qbo, engine, now=now,
                                                                              full_refresh=full).items()}
    if atera is not None:
        result.catalogs["atera"] = {k: v.rows for k, v in extract.extract_atera_catalog(
            atera, engine, now=now, full_refresh=full).items()}
        result.atera_invoices = refresh_atera_invoices(atera, engine, date_from, date_to, full=full)
    refresh_transactions(qbo, engine, now=now, result=result, full=full)
    log.info("reconciliation refresh: %s", result.as_dict())
    return result
