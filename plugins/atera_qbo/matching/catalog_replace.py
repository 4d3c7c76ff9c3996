"""Atera's product catalog replaced by QBO's (the wizard's "Done" with ``replace_atera_catalog``), then kept
following QBO on every catalog sync: from the first replacement on, QBO is the master of names, prices and SKUs.

What a replacement does to Atera products and expenses (``/rates/products``, ``/rates/expenses``):

- ``update``: an Atera record mapped to an active, named QBO item takes the item's name (``Description``), price
  (``Amount``, when QBO has one) and SKU — only the fields that differ are sent (``PUT``);
- ``create``: an active, named QBO item that no Atera record maps to is created in Atera (``POST
  /rates/products``) and mapped (method ``imported``). Items without a name are never brought to Atera;
- ``archive``: an Atera record mapped to a QBO item that became inactive or was deleted is archived in Atera
  (``Archived: true``: reversible, old invoices keep naming it);
- ``remove``: an Atera record with no mapping (neither matched nor created in QBO) is removed — first replacement
  only, and only after its full record (``GET`` by id, every field) is stored in ``atera_catalog_snapshots`` and
  written to ``<review dir>/catalog_snapshots/<plan>.json``. ``restore`` brings them back (Atera assigns new ids).

Contract rates (hourly rates / services) are NOT replaced: Atera's public API has no endpoint for them, and a
contract update (``UpdateContractDto``) can change only the contract's name, dates, flags, tax and billing period,
never a rate's name or amount. They are listed as ``contract_rate`` findings so they can be aligned by hand.

After the first replacement, each catalog sync runs ``plan(..., follow=True)``: QBO renames, price changes and new
and deactivated items reach Atera; unmapped Atera records are reported (not removed); and a change made in Atera to
a mapped record (its values differ from what was last written there) is reported as ``atera_changed`` — it is not
pushed to QBO, and the record is set back to QBO's values.

Atera's creates carry no request id: a create is recorded ``pending`` before it is sent, and a rerun that finds a
``pending`` create first looks for a product with that exact name and SKU (adopting it) before sending again.

The plan itself (pure: what to change, what to report, the preview file) is ``catalog_plan``, re-exported here;
this module reads its inputs from staging, applies it, snapshots what it removes and restores it.
"""
from __future__ import annotations

import json
import logging
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass, field
from datetime import datetime
from decimal import Decimal
from pathlib import Path
from typing import Any, TypedDict

import sqlalchemy as sa

from ..atera.api import AteraApi
from ..errors import FatalError
from ..qbo.rules import text_or_none
from ..staging import mappings
from ..staging.db import table, upsert, utcnow
from .catalog_plan import (
    KIND_ENDPOINT,
    PLANNED,
    PREVIEW_COLUMNS,
    USABLE_ITEM_TYPES,
    AteraRate,
    CatalogFinding,
    CatalogPlan,
    CatalogStep,
    QboItem,
    desired_fields,
    plan,
    proposed_mapping,
    usable_item,
    write_preview,
)

__all__ = ["KIND_ENDPOINT", "PLANNED", "PREVIEW_COLUMNS", "STATE_KEY", "USABLE_ITEM_TYPES", "AteraRate",
           "CatalogFinding", "CatalogMaster", "CatalogPlan", "CatalogStep", "QboItem", "ReplaceResult", "Restored",
           "desired_fields", "execute", "is_following", "load_inputs", "plan", "proposed_mapping", "restore",
           "snapshot", "usable_item", "write_preview"]

log = logging.getLogger(__name__)

STATE_KEY = "atera_products"


class CatalogMaster(TypedDict):
    """``catalog_master``'s row: since when, and after which plan, Atera's catalog follows QBO's."""
    catalog: str
    master: str
    since: datetime
    plan_id: str | None


class Restored(TypedDict):
    """One record ``restore`` brought back."""
    kind: str  # product | expense
    old_id: str
    new_id: int
    name: str | None
    adopted: bool  # found in Atera (created before an interruption), not created again


# ------------------------------------------------------------------------------------------------ staging reads
def load_inputs(engine: sa.Engine) -> tuple[list[AteraRate], list[QboItem], dict[str, str], dict[str, dict[str, Any]]]:
    """Staged Atera rates, QBO items, the active product mapping and what was last written to Atera."""
    products, items = table("stg_atera_products"), table("stg_qbo_items")
    mapping, state = table("map_products"), table("atera_catalog_state")
    with engine.connect() as conn:
        prows = [AteraRate(kind=r.kind, source_id=r.source_id, name=r.name, sku=r.sku, amount=r.amount,
                           deleted_at=r.deleted_at) for r in conn.execute(sa.select(products))]
        irows = [QboItem(source_id=r.source_id, name=r.name, sku=r.sku, unit_price=r.unit_price, active=r.active,
                         item_type=r.item_type, deleted_at=r.deleted_at) for r in conn.execute(sa.select(items))]
        active = {r.atera_id: r.qbo_id for r in conn.execute(
            sa.select(mapping.c.atera_id, mapping.c.qbo_id).where(mapping.c.active.is_(True),
                                                                  mapping.c.qbo_id.is_not(None)))}
        written = {r.atera_id: json.loads(r.fields_json) for r in conn.execute(sa.select(state))}
    return prows, irows, active, written


def is_following(engine: sa.Engine) -> CatalogMaster | None:
    """The first replacement's record when Atera's catalog follows QBO's, else None."""
    master = table("catalog_master")
    with engine.connect() as conn:
        row = conn.execute(sa.select(master).where(master.c.catalog == STATE_KEY)).first()
    if row is None:
        return None
    return CatalogMaster(catalog=row.catalog, master=row.master, since=row.since, plan_id=row.plan_id)


# ------------------------------------------------------------------------------------------------ execution
@dataclass
class ReplaceResult:
    plan_id: str
    done: dict[str, int] = field(default_factory=dict)
    snapshot_file: str | None = None
    findings: list[CatalogFinding] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def execute(engine: sa.Engine, atera: AteraApi, catalog_plan: CatalogPlan, *, plan_id: str, review_dir: Path,
            first: bool) -> ReplaceResult:
    """Apply the plan step by step (removals last, after every snapshot is stored and written), then record that
    Atera's catalog follows QBO. Each step is persisted before it is sent, so a rerun never duplicates a create."""
    result = ReplaceResult(plan_id, findings=catalog_plan.findings)
    removals = [s for s in catalog_plan.steps if s.action == "remove" and _step_status(engine, plan_id, s) != "done"]
    if removals:
        result.snapshot_file = str(snapshot(engine, atera, removals, plan_id=plan_id, review_dir=review_dir))
    for step in sorted(catalog_plan.steps, key=lambda s: s.action == "remove"):
        if _step_status(engine, plan_id, step) == "done":
            continue
        _record(engine, plan_id, step, "pending")
        try:
            _apply(engine, atera, step, plan_id)
        except FatalError as exc:
            _record(engine, plan_id, step, "failed", str(exc))
            raise FatalError(f"catalog replacement stopped at {step.action} {step.atera_id or step.qbo_id} "
                             f"{step.name!r}: {exc}. Fix it and run the matching again with commit=true; the steps "
                             "already done are not repeated.") from exc
        _record(engine, plan_id, step, "done")
        result.done[step.action] = result.done.get(step.action, 0) + 1
    if first:
        with engine.begin() as conn:
            upsert(conn, table("catalog_master"),
                   [{"catalog": STATE_KEY, "master": "qbo", "since": utcnow(), "plan_id": plan_id}], ["catalog"])
    return result


def _apply(engine: sa.Engine, atera: AteraApi, step: CatalogStep, plan_id: str) -> None:
    if step.action == "create":
        _create(engine, atera, step, plan_id)
        return
    kind, source_id = (step.atera_id or ":").split(":", 1)
    if step.action == "keep":
        _after_write(engine, step.atera_id or "", step.qbo_id, step.body, kind, source_id, plan_id)
        return
    path = f"{KIND_ENDPOINT[kind]}/{source_id}"
    if step.action == "remove":
        atera.delete(path, entity=f"Atera {kind} {source_id} {step.name!r}")
        _mark_deleted(engine, kind, source_id)
        return
    atera.put(path, dict(step.body), entity=f"Atera {kind} {source_id} {step.name!r}")
    if step.action == "archive":
        _mark_deleted(engine, kind, source_id)
    else:
        _after_write(engine, step.atera_id or "", step.qbo_id, step.target or step.body, kind, source_id, plan_id)


def _create(engine: sa.Engine, atera: AteraApi, step: CatalogStep, plan_id: str) -> None:
    body = {"Description": step.body.get("Description"), "Amount": step.body.get("Amount", Decimal("0")),
            "SKU": step.body.get("SKU")}
    new_id = None
    if _step_status(engine, plan_id, step) == "pending":  # outcome unknown: was it created before the crash?
        new_id = _find_product(atera, step.body)
    if new_id is None:
        new_id = atera.create_rate("products", body)
    _after_write(engine, f"product:{new_id}", step.qbo_id, step.body, "product", str(new_id), plan_id,
                 created=True)


def _find_product(atera: AteraApi, fields: dict[str, Any]) -> int | None:
    return _by_name_and_sku(atera.products()).get((fields.get("Description"), fields.get("SKU")))


def _by_name_and_sku(records: Iterable[Mapping[str, Any]]) -> dict[tuple[str | None, str | None], int]:
    """(Description, SKU) → RateID of what Atera lists: how a create whose answer was lost is found again (Atera's
    creates carry no request id)."""
    return {(text_or_none(r.get("Description")), text_or_none(r.get("SKU"))): int(r["RateID"]) for r in records}


def _after_write(engine: sa.Engine, atera_id: str, qbo_id: str | None, fields: dict[str, Any], kind: str,
                 source_id: str, plan_id: str, *, created: bool = False) -> None:
    """Staging follows what Atera now holds; the state row remembers what was written (Atera-side edits show)."""
    now = utcnow()
    stored = {k: (str(v) if isinstance(v, Decimal) else v) for k, v in fields.items() if k != "Archived"}
    with engine.begin() as conn:
        upsert(conn, table("atera_catalog_state"),
               [{"atera_id": atera_id, "qbo_id": qbo_id, "fields_json": json.dumps(stored, sort_keys=True),
                 "plan_id": plan_id, "written_at": now}], ["atera_id"])
        products = table("stg_atera_products")
        columns = {"Description": "name", "SKU": "sku", "Amount": "amount"}
        values = {col: fields[key] for key, col in columns.items() if key in fields}
        if created:
            upsert(conn, products, [{"kind": kind, "source_id": source_id, "category": None, "name": None,
                                     "sku": None, "amount": None, **values, "extracted_at": now}],
                   ["kind", "source_id"])
        elif values:
            conn.execute(products.update().where(products.c.kind == kind, products.c.source_id == source_id)
                         .values(**values))
    if created:  # after the staging row: a crash in between is adopted by the rerun (step still pending)
        _map_imported(engine, atera_id, qbo_id, fields.get("Description"), plan_id)


def _map_imported(engine: sa.Engine, atera_id: str, qbo_id: str | None, name: str | None, plan_id: str) -> None:
    provenance = mappings.Provenance(mappings.Method.IMPORTED, origin_plan_id=plan_id)
    mappings.add(engine, "product", mappings.Mapping(atera_id, str(qbo_id), provenance, atera_name=name,
                                                     qbo_name=name, status="matched_override"))


def _mark_deleted(engine: sa.Engine, kind: str, source_id: str) -> None:
    products = table("stg_atera_products")
    with engine.begin() as conn:
        conn.execute(products.update().where(products.c.kind == kind, products.c.source_id == source_id)
                     .values(deleted_at=utcnow()))


# ------------------------------------------------------------------------------------------------ step log
def _step_status(engine: sa.Engine, plan_id: str, step: CatalogStep) -> str | None:
    steps = table("atera_catalog_steps")
    with engine.connect() as conn:
        return conn.execute(sa.select(steps.c.status).where(steps.c.plan_id == plan_id,
                                                            steps.c.step_key == step.key)).scalar()


def _record(engine: sa.Engine, plan_id: str, step: CatalogStep, status: str, error: str | None = None) -> None:
    body = {k: (str(v) if isinstance(v, Decimal) else v) for k, v in step.body.items()}
    with engine.begin() as conn:
        upsert(conn, table("atera_catalog_steps"),
               [{"plan_id": plan_id, "step_key": step.key, "action": step.action, "atera_id": step.atera_id,
                 "qbo_id": step.qbo_id, "name": step.name, "body_json": json.dumps(body, sort_keys=True),
                 "status": status, "error_text": error, "updated_at": utcnow()}], ["plan_id", "step_key"])


# ------------------------------------------------------------------------------------------------ snapshots
def snapshot(engine: sa.Engine, atera: AteraApi, removals: list[CatalogStep], *, plan_id: str,
             review_dir: Path) -> Path:
    """Every record about to be removed, read whole from Atera, stored in staging and written to a JSON file —
    all of it before the first removal."""
    snaps = table("atera_catalog_snapshots")
    with engine.connect() as conn:
        taken = {(r.kind, r.source_id) for r in conn.execute(sa.select(snaps.c.kind, snaps.c.source_id)
                                                              .where(snaps.c.plan_id == plan_id))}
    fresh: list[dict[str, Any]] = []  # atera_catalog_snapshots rows
    for step in removals:
        kind, source_id = (step.atera_id or ":").split(":", 1)
        if (kind, source_id) not in taken:  # a rerun keeps the snapshot taken before the first removal
            record = atera.get(f"{KIND_ENDPOINT[kind]}/{source_id}", entity=f"Atera {kind} {source_id}")
            fresh.append({"plan_id": plan_id, "kind": kind, "source_id": source_id, "taken_at": utcnow(),
                          "record_json": json.dumps(record, sort_keys=True, default=str)})
    with engine.begin() as conn:
        if fresh:
            upsert(conn, snaps, fresh, ["plan_id", "kind", "source_id"])
        rows = conn.execute(sa.select(snaps).where(snaps.c.plan_id == plan_id)
                            .order_by(snaps.c.kind, snaps.c.source_id)).mappings().all()
    path = review_dir / "catalog_snapshots" / f"{_safe(plan_id)}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    records = [{"kind": r["kind"], "source_id": r["source_id"], "record": json.loads(r["record_json"])} for r in rows]
    path.write_text(json.dumps({"plan_id": plan_id, "taken_at": utcnow().isoformat(), "records": records,
                                "restore": "airflow tasks / python: atera_qbo.tasks.restore_atera_catalog("
                                           f"plan_id={plan_id!r})"}, indent=2, default=str), encoding="utf-8")
    return path


def restore(engine: sa.Engine, atera: AteraApi, *, plan_id: str) -> list[Restored]:
    """Recreate the records a replacement removed (from ``atera_catalog_snapshots``); Atera assigns new ids.
    A record already restored is skipped, and one whose create was sent but not recorded (a crash, a lost answer)
    is found in Atera by name and SKU and adopted: restore can be rerun and retried, never making two."""
    snaps = table("atera_catalog_snapshots")
    with engine.connect() as conn:
        rows = [dict(r) for r in conn.execute(sa.select(snaps).where(snaps.c.plan_id == plan_id)
                                              .order_by(snaps.c.kind, snaps.c.source_id)).mappings()]
    if not rows:
        raise FatalError(f"no catalog snapshot for plan {plan_id!r}: see atera_catalog_snapshots (or "
                         "catalog_snapshots/*.json in the review dir) for the plan ids")
    restored: list[Restored] = []
    listed: dict[str, dict[tuple[str | None, str | None], int]] = {}  # per segment, listed once when needed
    claimed = {str(r["restored_as"]) for r in rows if r.get("restored_as")}
    for row in rows:
        if row.get("restored_as"):
            continue
        rec = json.loads(row["record_json"])
        body = {"Description": rec.get("Description"), "Amount": Decimal(str(rec.get("Amount") or 0)),
                "SKU": rec.get("SKU"), "Category": rec.get("Category")}
        segment = "products" if row["kind"] == "product" else "expenses"
        if segment not in listed:
            listed[segment] = _by_name_and_sku(atera.products() if segment == "products" else atera.expenses())
        found = listed[segment].get((text_or_none(body["Description"]), text_or_none(body["SKU"])))
        adopted = found is not None and str(found) not in claimed
        new_id = found if found is not None and adopted else atera.create_rate(segment, body)
        claimed.add(str(new_id))
        with engine.begin() as conn:
            conn.execute(snaps.update().where(snaps.c.plan_id == plan_id, snaps.c.kind == row["kind"],
                                              snaps.c.source_id == row["source_id"])
                         .values(restored_as=str(new_id), restored_at=utcnow()))
        restored.append(Restored(kind=row["kind"], old_id=row["source_id"], new_id=new_id,
                                 name=rec.get("Description"), adopted=adopted))
    return restored


def _safe(text: str) -> str:
    return "".join(c if c.isalnum() or c in "-_." else "_" for c in text)[:80]
