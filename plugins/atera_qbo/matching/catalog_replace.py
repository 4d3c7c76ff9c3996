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
"""
from __future__ import annotations

import json
import logging
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from ..errors import FatalError
from ..money import to_decimal
from ..qbo.rules import text_or_none
from ..staging.db import table, upsert, utcnow

log = logging.getLogger(__name__)

KIND_ENDPOINT = {"product": "/rates/products", "expense": "/rates/expenses"}
USABLE_ITEM_TYPES = {"Service", "NonInventory", "Inventory"}  # not Category/Group/Bundle: nothing to bill
STATE_KEY = "atera_products"
PLANNED = "(created in QBO by this commit)"  # a proposed mapping whose QBO item does not exist yet


@dataclass(frozen=True)
class CatalogStep:
    """One change to Atera's catalog. ``body`` is what Atera is sent (update/create), Decimal amounts."""
    action: str  # update | create | archive | remove | keep (already equal: only remembered, nothing sent)
    atera_id: str | None  # "product:17" / "expense:9"; None for a create
    qbo_id: str | None
    name: str
    body: dict[str, Any] = field(default_factory=dict)
    reason: str = ""
    target: dict[str, Any] = field(default_factory=dict)  # every field Atera holds afterwards (update: body ⊆ it)

    @property
    def key(self) -> str:
        return f"{self.action}:{self.atera_id or 'qbo:' + str(self.qbo_id)}"


@dataclass
class CatalogPlan:
    steps: list[CatalogStep]
    findings: list[dict[str, str]]  # reported, never acted on: atera_changed, atera_only, contract_rate

    def counts(self) -> dict[str, int]:
        out: dict[str, int] = {}
        for s in self.steps:
            out[s.action] = out.get(s.action, 0) + 1
        for f in self.findings:
            out[f["type"]] = out.get(f["type"], 0) + 1
        return out


# ------------------------------------------------------------------------------------------------ planning
def usable_item(item: dict[str, Any]) -> bool:
    """An item Atera may show: active, not deleted, named, and of a kind that is billed."""
    return bool(item.get("active")) and item.get("deleted_at") is None and text_or_none(item.get("name")) is not None \
        and (item.get("item_type") or "NonInventory") in USABLE_ITEM_TYPES


def desired_fields(item: dict[str, Any]) -> dict[str, Any]:
    """What Atera should show for a QBO item: its name, price (when QBO has one) and SKU."""
    fields: dict[str, Any] = {"Description": text_or_none(item.get("name")), "SKU": text_or_none(item.get("sku"))}
    price = to_decimal(item.get("unit_price"))
    if price is not None:
        fields["Amount"] = price
    return fields


def _current(product: dict[str, Any]) -> dict[str, Any]:
    return {"Description": text_or_none(product.get("name")), "SKU": text_or_none(product.get("sku")),
            "Amount": to_decimal(product.get("amount"))}


def _diff(current: dict[str, Any], wanted: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in wanted.items() if current.get(k) != v}


def plan(products: Iterable[dict[str, Any]], items: Iterable[dict[str, Any]], mapping: dict[str, str], *,
         follow: bool, last_written: dict[str, dict[str, Any]] | None = None) -> CatalogPlan:
    """The changes that make Atera's catalog equal QBO's active named items.

    ``products``: staged Atera rates (``kind``, ``source_id``, ``name``, ``sku``, ``amount``, ``deleted_at``);
    ``items``: staged QBO items; ``mapping``: Atera id (``product:17``) → QBO item id, the mapping in force (or
    proposed, for a preview); ``follow``: a scheduled follow-up (report unmapped Atera records, never remove);
    ``last_written``: Atera id → the fields last written to Atera (tells an Atera-side change)."""
    by_id = {str(i["source_id"]): i for i in items}
    last_written = last_written or {}
    steps: list[CatalogStep] = []
    findings: list[dict[str, str]] = []
    targets: set[str] = set()
    for p in sorted(products, key=lambda r: (r["kind"], int(r["source_id"]) if str(r["source_id"]).isdigit()
                                              else 0, str(r["source_id"]))):
        if p.get("deleted_at") is not None:
            continue
        atera_id = f"{p['kind']}:{p['source_id']}"
        qbo_id = mapping.get(atera_id)
        if qbo_id is not None:
            targets.add(str(qbo_id))
        if qbo_id == PLANNED:
            continue  # created in QBO from this record: its name and price are already the item's
        if p["kind"] not in KIND_ENDPOINT:
            findings.extend(_contract_rate(p, by_id.get(str(qbo_id)) if qbo_id else None, qbo_id))
            continue
        steps.extend(_steps_for(p, atera_id, by_id.get(str(qbo_id)) if qbo_id else None, qbo_id, follow,
                                last_written.get(atera_id), findings))
    for item_id, item in sorted(by_id.items(), key=lambda kv: (text_or_none(kv[1].get("name")) or "").lower()):
        if item_id not in targets and usable_item(item):
            steps.append(CatalogStep("create", None, item_id, text_or_none(item["name"]) or "", desired_fields(item),
                                     "QBO item with no Atera counterpart"))
    return CatalogPlan(steps, findings)


def _steps_for(p: dict[str, Any], atera_id: str, item: dict[str, Any] | None, qbo_id: str | None, follow: bool,
               written: dict[str, Any] | None, findings: list[dict[str, str]]) -> list[CatalogStep]:
    name = text_or_none(p.get("name")) or ""
    if qbo_id is None:
        if follow:
            findings.append(_finding("atera_only", p, None, "Created in Atera after the catalog was handed to QBO: "
                                     "create it in QBO (it will then reach Atera), or delete it in Atera."))
            return []
        return [CatalogStep("remove", atera_id, None, name, reason="no QBO counterpart (neither matched nor created)")]
    if item is None or not usable_item(item):
        return [CatalogStep("archive", atera_id, qbo_id, name, {"Archived": True},
                            reason="its QBO item is inactive, deleted or unnamed")]
    current = _current(p)
    if written is not None and _diff(current, {k: to_decimal(v) if k == "Amount" else v for k, v in written.items()}):
        findings.append(_finding("atera_changed", p, qbo_id, "Changed in Atera although QBO is the master: make "
                                 "the change in QBO; Atera is set back to QBO's values."))
    changes = _diff(current, desired_fields(item))
    if not changes:  # already equal: remembered as written, so a later edit in Atera shows
        return [CatalogStep("keep", atera_id, qbo_id, name, desired_fields(item), reason="already equal")]
    return [CatalogStep("update", atera_id, qbo_id, name, changes, reason="follows QBO item " + str(qbo_id),
                        target=desired_fields(item))]


def _contract_rate(p: dict[str, Any], item: dict[str, Any] | None, qbo_id: str | None) -> list[dict[str, str]]:
    """A contract rate that differs from its QBO item (or has none): reported, since Atera's API cannot change it."""
    if item is not None and usable_item(item):
        wanted = {k: v for k, v in desired_fields(item).items() if k != "SKU"}
        changes = _diff(_current(p), wanted)
        if not changes:
            return []
        what = ", ".join(f"{k} {_current(p).get(k)!s} -> {v!s}" for k, v in changes.items())
    else:
        what = "no active QBO item"
    return [_finding("contract_rate", p, qbo_id, f"Contract rate differs from QBO ({what}); Atera's API cannot "
                     "rename or re-price a contract rate: change it by hand in Atera's contract settings.")]


def _finding(kind: str, p: dict[str, Any], qbo_id: str | None, action: str) -> dict[str, str]:
    return {"type": kind, "atera_id": f"{p['kind']}:{p['source_id']}", "atera_name": str(p.get("name") or ""),
            "qbo_id": str(qbo_id or ""), "action": action}


# ------------------------------------------------------------------------------------------------ staging reads
def load_inputs(engine: sa.Engine) -> tuple[list[dict], list[dict], dict[str, str], dict[str, dict]]:
    """Staged Atera rates, QBO items, the active product mapping and what was last written to Atera."""
    products, items = table("stg_atera_products"), table("stg_qbo_items")
    mapping, state = table("map_products"), table("atera_catalog_state")
    with engine.connect() as conn:
        prows = [dict(r) for r in conn.execute(sa.select(products)).mappings()]
        irows = [dict(r) for r in conn.execute(sa.select(items)).mappings()]
        active = {r.atera_id: r.qbo_id for r in conn.execute(
            sa.select(mapping.c.atera_id, mapping.c.qbo_id).where(mapping.c.active.is_(True),
                                                                  mapping.c.qbo_id.is_not(None)))}
        written = {r.atera_id: json.loads(r.fields_json) for r in conn.execute(sa.select(state))}
    return prows, irows, active, written


def is_following(engine: sa.Engine) -> dict[str, Any] | None:
    """The first replacement's record when Atera's catalog follows QBO's, else None."""
    master = table("catalog_master")
    with engine.connect() as conn:
        row = conn.execute(sa.select(master).where(master.c.catalog == STATE_KEY)).mappings().first()
    return dict(row) if row else None


def proposed_mapping(rows: Iterable[Any]) -> dict[str, str]:
    """Atera id → QBO id as a commit of these review rows would leave it (for the preview)."""
    from .review import Decision, Entity

    out: dict[str, str] = {}
    for r in rows:
        if r.entity != Entity.PRODUCT or not r.atera_id:
            continue
        if r.decision == Decision.MAP and r.qbo_id:
            out[r.atera_id] = r.qbo_id
        elif r.decision == Decision.CREATE_QBO:
            out[r.atera_id] = PLANNED
    return out


PREVIEW_COLUMNS = ("action", "atera_id", "qbo_id", "name", "changes", "reason")


def write_preview(path: Path, catalog_plan: CatalogPlan) -> Path:
    """What the replacement will do, one row per change and per finding (Excel-safe, like the review CSV)."""
    import csv

    from .review_csv import _protect as excel_safe

    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", encoding="utf-8-sig", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(PREVIEW_COLUMNS)
        for s in catalog_plan.steps:
            if s.action == "keep":
                continue
            changes = "; ".join(f"{k}={v}" for k, v in s.body.items())
            writer.writerow([excel_safe(str(x or "")) for x in (s.action, s.atera_id, s.qbo_id, s.name, changes,
                                                                s.reason)])
        for f in catalog_plan.findings:
            writer.writerow([excel_safe(str(x or "")) for x in (f["type"], f["atera_id"], f["qbo_id"],
                                                                f["atera_name"], "", f["action"])])
    return path


# ------------------------------------------------------------------------------------------------ execution
@dataclass
class ReplaceResult:
    plan_id: str
    done: dict[str, int] = field(default_factory=dict)
    snapshot_file: str | None = None
    findings: list[dict[str, str]] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def execute(engine: sa.Engine, atera: Any, catalog_plan: CatalogPlan, *, plan_id: str, review_dir: Path,
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


def _apply(engine: sa.Engine, atera: Any, step: CatalogStep, plan_id: str) -> None:
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


def _create(engine: sa.Engine, atera: Any, step: CatalogStep, plan_id: str) -> None:
    body = {"Description": step.body.get("Description"), "Amount": step.body.get("Amount", Decimal("0")),
            "SKU": step.body.get("SKU")}
    new_id = None
    if _step_status(engine, plan_id, step) == "pending":  # outcome unknown: was it created before the crash?
        new_id = _find_product(atera, step.body)
    if new_id is None:
        new_id = atera.create_rate("products", body)
    _after_write(engine, f"product:{new_id}", step.qbo_id, step.body, "product", str(new_id), plan_id,
                 created=True)


def _find_product(atera: Any, fields: dict[str, Any]) -> int | None:
    return _by_name_and_sku(atera.products()).get((fields.get("Description"), fields.get("SKU")))


def _by_name_and_sku(records: Any) -> dict[tuple[str | None, str | None], int]:
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
    from ..staging import mappings

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
def snapshot(engine: sa.Engine, atera: Any, removals: list[CatalogStep], *, plan_id: str, review_dir: Path) -> Path:
    """Every record about to be removed, read whole from Atera, stored in staging and written to a JSON file —
    all of it before the first removal."""
    snaps = table("atera_catalog_snapshots")
    with engine.connect() as conn:
        taken = {(r.kind, r.source_id) for r in conn.execute(sa.select(snaps.c.kind, snaps.c.source_id)
                                                              .where(snaps.c.plan_id == plan_id))}
    fresh = []
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


def restore(engine: sa.Engine, atera: Any, *, plan_id: str) -> list[dict[str, Any]]:
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
    restored = []
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
        new_id = found if adopted else atera.create_rate(segment, body)
        claimed.add(str(new_id))
        with engine.begin() as conn:
            conn.execute(snaps.update().where(snaps.c.plan_id == plan_id, snaps.c.kind == row["kind"],
                                              snaps.c.source_id == row["source_id"])
                         .values(restored_as=str(new_id), restored_at=utcnow()))
        restored.append({"kind": row["kind"], "old_id": row["source_id"], "new_id": new_id,
                         "name": rec.get("Description"), "adopted": adopted})
    return restored


def _safe(text: str) -> str:
    return "".join(c if c.isalnum() or c in "-_." else "_" for c in text)[:80]
