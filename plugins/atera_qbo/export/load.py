"""Exactly-once invoice export through the ledger.

Per Atera invoice, ever, one ``export_invoices`` row. A run (one ``export_batches`` row per task attempt) selects
staged invoices, skips what the ledger says is exported, and then, slice by slice (so sending starts at once and
the preparation fits in the waits for QBO's batch budget): transforms, recovers invoices QBO already has (DocNumber lookup: the
safe complement to requestid replay), marks each chunk ``pending`` with its request ids BEFORE sending it, sends
``/batch`` of ≤ 30 with a requestid derived from those ids (a retried or re-run batch is replayed by QBO, not
repeated), and records every item's outcome. Invoices that cannot be exported are ``blocked`` with the reason.
A request id changes once QBO answered it with a fault (nothing was created), never while its outcome is unknown.

Errors (see ``errors.py``): a fatal answer to one ``/batch`` fails its invoices and the run goes on; a retriable one
(QBO unreachable, 5xx, throttled after the client's own retries) stops the run: the chunk stays ``pending`` with its
request id (the task's retry replays it, never repeats it) and the exception goes up so Airflow retries the task.
Whatever ends a run, its ``export_batches`` row is closed (``failed`` with the reason when it stopped early) and its
report is written.
"""
from __future__ import annotations

import json
import logging
import uuid
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from ..errors import ApiError, BatchLoadError, ConfigError, FatalError, RetriableApiError
from ..money import dumps
from ..qbo import rules
from ..qbo.client import BATCH_SIZE, fault_of
from ..qbo.query import in_list
from ..qbo.taxes import country_code
from ..reconcile.store import blocked_by_reconciliation, unusable_targets
from ..staging.db import money_in, table, upsert, utcnow
from .claims import claim
from .report import write_report
from .transform import InvoiceContext, Transformed, transform

log = logging.getLogger(__name__)

SLICE = 300  # invoices prepared (transformed, looked up in QBO) at a time, between the chunks being sent
LOOKUPS = 4  # DocNumber lookups in flight at once (QBO allows 10 requests in flight)


@dataclass
class ExportResult:
    batch_id: str
    selected: int = 0
    already_exported: int = 0
    recovered: int = 0
    exported: dict[str, str] = field(default_factory=dict)  # Atera number → QBO id
    blocked: dict[str, str] = field(default_factory=dict)
    failed: dict[str, str] = field(default_factory=dict)
    dry_run: bool = False
    recovered_ids: dict[str, str] = field(default_factory=dict)  # Atera number → QBO id found by DocNumber
    pending: dict[str, str] = field(default_factory=dict)  # sent, no usable answer (retriable): the retry replays
    not_sent: dict[str, str] = field(default_factory=dict)  # to send, but the run stopped first
    planned: list[str] = field(default_factory=list)  # what this run meant to send (after skips and blocks)
    error: str | None = None  # why the run stopped early (its batch is closed ``failed``)
    note: str = ""  # what the selection found when that is worth saying (nothing dated in the window, ...)

    def as_dict(self) -> dict[str, Any]:
        return {"batch_id": self.batch_id, "selected": self.selected, "already_exported": self.already_exported,
                "recovered": self.recovered, "exported": len(self.exported), "blocked": len(self.blocked),
                "failed": len(self.failed), "pending": len(self.pending), "not_sent": len(self.not_sent),
                "dry_run": self.dry_run, "error": self.error, "note": self.note,
                "exported_ids": dict(list(self.exported.items())[:500]),
                "problems": {**{k: v for k, v in list(self.blocked.items())[:50]},
                             **{k: v for k, v in list(self.failed.items())[:50]}}}


def build_context(engine: sa.Engine) -> InvoiceContext:
    mc, mp = table("map_customers"), table("map_products")
    ap, qi = table("stg_atera_products"), table("stg_qbo_items")
    prefs = table("stg_qbo_preferences")
    with engine.connect() as conn:
        customer_map = {str(a): str(q) for a, q in conn.execute(
            sa.select(mc.c.atera_id, mc.c.qbo_id).where(mc.c.active.is_(True), mc.c.qbo_id.is_not(None)))}
        product_map: dict[str, set[str]] = {}
        joined = sa.select(ap.c.name, mp.c.qbo_id).select_from(
            mp.join(ap, mp.c.atera_id == ap.c.kind + ":" + ap.c.source_id)).where(
            mp.c.active.is_(True), mp.c.qbo_id.is_not(None), ap.c.deleted_at.is_(None))
        for name, qbo_id in conn.execute(joined):
            product_map.setdefault(name, set()).add(str(qbo_id))
        items = conn.execute(sa.select(qi.c.source_id, qi.c.taxable, qi.c.raw_json)).all()
        pref = conn.execute(sa.select(prefs)).first()
    item_taxable = {str(i): bool(t) for i, t, _ in items}
    item_tax_code = {}
    for item_id, _, raw in items:
        ref = (json.loads(raw or "{}").get("SalesTaxCodeRef") or {}).get("value")
        if ref:
            item_tax_code[str(item_id)] = str(ref)
    ctx = InvoiceContext(customer_map, product_map, item_taxable, item_tax_code)
    if pref is not None:
        ctx.country = country_code(pref.country)
        ctx.custom_txn_numbers = bool(pref.custom_txn_numbers)
        ctx.multi_currency = bool(pref.multi_currency)
        ctx.home_currency = pref.home_currency or "USD"
    if ctx.country != "US":
        ctx.zero_tax_code = _zero_tax_code(engine)
    return ctx


def _zero_tax_code(engine: sa.Engine) -> str | None:
    """The company's 0% (or exempt) sales TaxCode, for non-taxable lines of non-US companies."""
    codes, rates = table("stg_qbo_tax_codes"), table("stg_qbo_tax_rates")
    with engine.connect() as conn:
        rate_values = {str(i): money_in(v) for i, v in conn.execute(sa.select(rates.c.source_id, rates.c.rate_value))}
        rows = conn.execute(sa.select(codes.c.source_id, codes.c.name, codes.c.raw_json)
                            .where(codes.c.active.is_(True))).all()
    for source_id, name, raw in rows:
        details = ((json.loads(raw or "{}").get("SalesTaxRateList") or {}).get("TaxRateDetail")) or []
        ids = [str((d.get("TaxRateRef") or {}).get("value")) for d in details]
        if ids and all(rate_values.get(i) == 0 for i in ids):
            return str(source_id)
    for source_id, name, _ in rows:
        if name and ("0%" in name or "exempt" in name.lower() or "zero" in name.lower()):
            return str(source_id)
    return None


def select_numbers(engine: sa.Engine, *, date_from: date | None, date_to: date | None,
                   numbers: Iterable[str] | None) -> list[str]:
    """The staged (not deleted) invoices of a window, or of the given numbers, in export order: date, number."""
    inv = table("stg_atera_invoices")
    cond = [inv.c.deleted_at.is_(None)]
    if date_from:
        cond.append(inv.c.invoice_date >= date_from.isoformat())
    if date_to:
        cond.append(inv.c.invoice_date <= date_to.isoformat())
    numbers = [str(n) for n in numbers or []]
    if numbers:
        cond.append(inv.c.source_id.in_(numbers))
    with engine.connect() as conn:
        rows = conn.execute(sa.select(inv.c.source_id, inv.c.invoice_date).where(*cond)).all()
    rows.sort(key=lambda r: (r.invoice_date or "", int(r.source_id) if r.source_id.isdigit() else 0, r.source_id))
    return [r.source_id for r in rows]


def load_invoices(engine: sa.Engine, numbers: list[str]) -> list[tuple[dict[str, Any], list[dict[str, Any]]]]:
    """These staged invoices with their lines, in the order given."""
    inv, lines = table("stg_atera_invoices"), table("stg_atera_invoice_lines")
    invoices: dict[str, dict[str, Any]] = {}
    all_lines: dict[str, list[dict[str, Any]]] = {}
    with engine.connect() as conn:
        for start in range(0, len(numbers), 500):
            part = numbers[start:start + 500]
            invoices.update((r.source_id, dict(r._mapping)) for r in conn.execute(
                sa.select(inv).where(inv.c.source_id.in_(part))))
            for r in conn.execute(sa.select(lines).where(lines.c.invoice_source_id.in_(part))):
                all_lines.setdefault(r.invoice_source_id, []).append(dict(r._mapping))
    return [(invoices[n], all_lines.get(n, [])) for n in numbers if n in invoices]


def select_invoices(engine: sa.Engine, *, date_from: date | None, date_to: date | None,
                    numbers: Iterable[str] | None) -> list[tuple[dict[str, Any], list[dict[str, Any]]]]:
    return load_invoices(engine, select_numbers(engine, date_from=date_from, date_to=date_to, numbers=numbers))


def check_requested(engine: sa.Engine, numbers: list[str], selected: list[str], date_from: date | None,
                    date_to: date | None) -> None:
    """Every requested invoice number must have been selected: a ConfigError names each one that was not and why
    (not staged, deleted in Atera, dated outside the window) — never a green run that silently skipped it."""
    missing = sorted(set(numbers) - set(selected), key=lambda n: (len(n), n))
    if not missing:
        return
    inv = table("stg_atera_invoices")
    with engine.connect() as conn:
        staged = {r.source_id: r for r in conn.execute(sa.select(inv.c.source_id, inv.c.invoice_date,
                                                                 inv.c.deleted_at).where(inv.c.source_id.in_(missing)))}
    window = f"{date_from or '…'}..{date_to or '…'}"
    reasons = []
    for n in missing:
        row = staged.get(n)
        if row is None:
            reasons.append(f"{n}: not among the staged Atera invoices (extracted for {window}): check the number")
        elif row.deleted_at is not None:
            reasons.append(f"{n}: deleted in Atera")
        else:
            reasons.append(f"{n}: dated {row.invoice_date}, outside the window {window}: widen "
                           "invoice_date_from/invoice_date_to")
    raise ConfigError(f"invoice_numbers: {len(missing)} of {len(numbers)} requested invoices cannot be exported, "
                      "nothing was sent:\n  " + "\n  ".join(reasons))


class Ledger:
    def __init__(self, engine: sa.Engine, batch_id: str) -> None:
        self.engine = engine
        self.batch_id = batch_id
        self.batches = table("export_batches")
        self.invoices = table("export_invoices")

    def open(self, run_id: str | None, params: dict[str, Any], try_number: int | None = None) -> None:
        """One batch row per task attempt. An earlier attempt of the same run whose row is still ``running`` died
        without closing it (worker killed): that row is closed ``failed`` now, saying so."""
        now = utcnow()
        with self.engine.begin() as conn:
            if run_id is not None:
                conn.execute(sa.update(self.batches).where(
                    self.batches.c.run_id == run_id, self.batches.c.status == "running",
                    self.batches.c.batch_id != self.batch_id).values(
                    status="failed", finished_at=now,
                    error_text=f"the attempt ended without closing its batch (worker killed?); batch "
                               f"{self.batch_id} took over"))
            upsert(conn, self.batches, [{"batch_id": self.batch_id, "run_id": run_id, "try_number": try_number,
                                         "started_at": now, "finished_at": None, "status": "running",
                                         "params_json": json.dumps(params, default=str), "selected_count": 0,
                                         "exported_count": 0, "skipped_count": 0, "failed_count": 0,
                                         "error_text": None}], ["batch_id"])

    def states(self, numbers: list[str]) -> dict[str, Any]:
        out: dict[str, Any] = {}
        with self.engine.connect() as conn:
            for start in range(0, len(numbers), 500):
                for row in conn.execute(sa.select(self.invoices).where(
                        self.invoices.c.atera_invoice_number.in_(numbers[start:start + 500]))):
                    out[row.atera_invoice_number] = row
        return out

    def mark(self, number: str, **values: Any) -> None:
        self.record({number: values})

    def mark_many(self, numbers: list[str], *, attempt: bool = False, totals: dict[str, Decimal] | None = None,
                  request_ids: dict[str, str] | None = None, hashes: dict[str, str] | None = None,
                  **values: Any) -> None:
        outcomes = {}
        for n in numbers:
            one = dict(values, attempt=attempt)
            if totals and n in totals:
                one["total"] = totals[n]
            if request_ids and n in request_ids:
                one["request_id"] = request_ids[n]
            if hashes and n in hashes:
                one["payload_hash"] = hashes[n]
            outcomes[n] = one
        self.record(outcomes)

    def record(self, outcomes: dict[str, dict[str, Any]]) -> None:
        """Write the outcome of several invoices in ONE transaction: ``{number: {status, qbo_id, qbo_doc_number,
        error_text, attempt, total, request_id, payload_hash}}`` (absent keys keep their stored value)."""
        if not outcomes:
            return
        now = utcnow()
        numbers = list(outcomes)
        with self.engine.begin() as conn:
            existing = {}
            for start in range(0, len(numbers), 500):
                existing.update({r.atera_invoice_number: r for r in conn.execute(sa.select(self.invoices).where(
                    self.invoices.c.atera_invoice_number.in_(numbers[start:start + 500])))})
            rows = []
            for number, values in outcomes.items():
                old = existing.get(number)
                attempt = bool(values.get("attempt"))

                def keep(name: str, default: Any = None) -> Any:
                    return values[name] if name in values else (getattr(old, name) if old else default)

                rows.append({
                    "atera_invoice_number": number, "batch_id": self.batch_id,
                    "status": keep("status", "pending"), "qbo_id": keep("qbo_id"),
                    "qbo_doc_number": keep("qbo_doc_number"), "request_id": keep("request_id", number),
                    "payload_hash": keep("payload_hash"), "qbo_type": keep("qbo_type"),
                    "total": values["total"] if "total" in values else keep("total"),
                    "error_text": values.get("error_text"),
                    "attempts": (old.attempts if old else 0) + (1 if attempt else 0),
                    # only an answered fault counts: a batch whose answer never came may have been performed
                    "failures": ((old.failures or 0) if old else 0) + (1 if values.get("fault") else 0),
                    "first_attempt_at": (old.first_attempt_at if old and old.first_attempt_at
                                         else (now if attempt else None)),
                    "last_attempt_at": now if attempt else (old.last_attempt_at if old else None),
                    "exported_at": now if values.get("status") == "exported" else (old.exported_at if old else None),
                })
            upsert(conn, self.invoices, rows, ["atera_invoice_number"])

    def close(self, result: ExportResult) -> None:
        """``failed`` (with ``result.error``) when the run stopped early; else ``partial`` when some invoices were
        blocked or failed, ``done`` or ``dry_run``."""
        problems = len(result.failed) + len(result.blocked)
        if result.error:
            status, error = "failed", result.error
        elif result.dry_run:
            status, error = "dry_run", None
        else:
            status = "partial" if problems else "done"
            error = (f"{len(result.blocked)} blocked, {len(result.failed)} failed: see export_invoices and the "
                     "report") if problems else None
        with self.engine.begin() as conn:
            conn.execute(sa.update(self.batches).where(self.batches.c.batch_id == self.batch_id).values(
                finished_at=utcnow(), status=status, selected_count=result.selected,
                exported_count=len(result.exported) + result.recovered,
                skipped_count=result.already_exported, failed_count=problems,
                error_text=error[:2000] if error else None))


def request_id_for(number: str, payload_hash: str, state: Any) -> str:
    """The idempotency key of one invoice's create, minted once and kept in the ledger before the send:
    ``<number>-<nonce>-<faults so far>``.

    - the same key after a lost answer (same payload, no fault recorded since): QBO replays, never repeats;
    - a new key after an answered fault (else QBO would replay the old fault to the fixed invoice);
    - a new nonce for a changed payload, and for a ledger row that is new — a lost ledger must not be answered
      with replays of invoices that were deleted in QBO since (the DocNumber lookup guards against duplicates).
    """
    failures = (state.failures or 0) if state is not None else 0
    minted = state is not None and (state.request_id or "").count("-") >= 2
    if minted and state.payload_hash == payload_hash:
        base = state.request_id.rsplit("-", 1)[0]
    else:
        base = f"{number}-{uuid.uuid4().hex[:12]}"
    return f"{base}-{failures}"[:50]


def _recover_existing(qbo: Any, todo: list[Transformed]) -> dict[str, dict[str, Any]]:
    """QBO invoices / credit memos that already carry these DocNumbers (a lost ledger, or a crash between send
    and record): ``DocNumber IN (...)`` queries of 100, ``LOOKUPS`` at a time under the client's budgets."""
    def lookup(entity: str, numbers: list[str]) -> list[dict[str, Any]]:
        return list(qbo.query_all(entity, f"DocNumber IN {in_list(numbers)}"))

    slices = [(entity, numbers[start:start + 100]) for entity in ("Invoice", "CreditMemo")
              for numbers in [[t.number for t in todo if t.entity == entity]]
              for start in range(0, len(numbers), 100)]
    found: dict[str, dict[str, Any]] = {}
    with ThreadPoolExecutor(max_workers=LOOKUPS, thread_name_prefix="export-recover") as pool:
        for docs in pool.map(lambda piece: lookup(*piece), slices):
            for doc in docs:
                found.setdefault(str(doc.get("DocNumber")), doc)
    return found


def export_invoices(engine: sa.Engine, qbo: Any, *, batch_id: str, run_id: str | None = None,
                    date_from: date | None = None, date_to: date | None = None,
                    numbers: Iterable[str] | None = None, dry_run: bool = False,
                    context: InvoiceContext | None = None, try_number: int | None = None,
                    prepare: Callable[[], Any] | None = None, report_path: Path | None = None,
                    app_url: str | None = None) -> ExportResult:
    """One export run = one ``export_batches`` row. ``prepare`` runs inside the batch once the selection is
    checked (creating missing customers and items; it may answer ``unmapped_reasons`` for the transform); ``report_path`` gets the run's report however the run ends, with QBO
    links to ``app_url`` (production QBO by default). Retriable errors go up after the batch is closed."""
    ledger = Ledger(engine, batch_id)
    numbers = [str(n) for n in numbers or []]
    ledger.open(run_id, {"date_from": date_from, "date_to": date_to, "numbers": numbers, "dry_run": dry_run},
                try_number)
    result = ExportResult(batch_id, dry_run=dry_run)
    try:
        selected = select_numbers(engine, date_from=date_from, date_to=date_to, numbers=numbers)
        check_requested(engine, numbers, selected, date_from, date_to)
        reasons = prepare() if prepare is not None else None
        candidates, states, ctx = _plan(engine, ledger, result, selected, context, date_from, date_to)
        ctx.unmapped_reasons.update(reasons or {})
        unusable = unusable_targets(engine)  # QBO records reconciliation found deleted/merged or inactive
        for start in range(0, len(candidates), SLICE):  # prepared slice by slice: the sending starts at once
            todo = _transform(ledger, result, load_invoices(engine, candidates[start:start + SLICE]), ctx, unusable)
            if todo and ctx.custom_txn_numbers:
                todo = _recover(qbo, ledger, result, todo)
            if not dry_run:
                _send(qbo, ledger, result, todo, states)
    except BaseException as exc:
        _stopped(result, exc)
        _finish(engine, ledger, result, report_path, app_url, quiet=True)
        raise
    _finish(engine, ledger, result, report_path, app_url)
    return result


def _stopped(result: ExportResult, exc: BaseException) -> None:
    """The run stops on ``exc``: say why, and which planned invoices it did not get to."""
    ours = isinstance(exc, FatalError | RetriableApiError)  # their messages already say what and what to do
    result.error = str(exc) if ours else f"{type(exc).__name__}: {exc}"
    done = (result.exported, result.failed, result.pending, result.recovered_ids, result.blocked)
    for n in result.planned:
        if not any(n in d for d in done):
            result.not_sent[n] = "not sent: the run stopped first (see the batch's error)"


def _finish(engine: sa.Engine, ledger: Ledger, result: ExportResult, report_path: Path | None,
            app_url: str | None, *, quiet: bool = False) -> None:
    """Close the batch and write the report. ``quiet`` (the run is already failing): a problem here is logged,
    not raised, so it cannot hide the error that stopped the run."""
    try:
        ledger.close(result)
        if report_path is not None:
            write_report(engine, result, report_path, app_url=app_url)
    except Exception:
        if not quiet:
            raise
        log.exception("export batch %s: could not close the batch / write the report", result.batch_id)
    level = logging.WARNING if result.error or result.note else logging.INFO
    log.log(level, "export batch %s: %s", result.batch_id,
            dumps({k: v for k, v in result.as_dict().items() if k != "exported_ids"}))


def _plan(engine: sa.Engine, ledger: Ledger, result: ExportResult, selected: list[str],
          context: InvoiceContext | None, date_from: date | None, date_to: date | None
          ) -> tuple[list[str], dict[str, Any], InvoiceContext]:
    """Skip what the ledger says is exported; answers the rest (the run's plan), the ledger rows, the context."""
    result.selected = len(selected)
    states = ledger.states(selected)
    ctx = context or build_context(engine)
    candidates = [n for n in selected if getattr(states.get(n), "status", None) != "exported"]
    result.already_exported += len(selected) - len(candidates)
    result.planned = list(candidates)
    if not selected:
        result.note = (f"no Atera invoice dated {date_from or '…'}..{date_to or '…'} is staged: nothing to export "
                       "(check the window, and that extract_invoices staged any)")
    elif result.already_exported == len(selected):
        result.note = f"all {len(selected)} selected invoices were exported before: nothing new to export"
    return candidates, states, ctx


def _transform(ledger: Ledger, result: ExportResult, candidates: list[tuple[dict[str, Any], list[dict[str, Any]]]],
               ctx: InvoiceContext, unusable: Any) -> list[Transformed]:
    """Transform a slice of the plan; block (and record) what cannot be exported. Answers what is to send."""
    todo: list[Transformed] = []
    blocked: dict[str, str] = {}
    for inv, lines in candidates:
        t = transform(inv, lines, ctx)
        problems = t.problems or blocked_by_reconciliation(t.payload, unusable)
        if problems:
            blocked[t.number] = "; ".join(problems)
        else:
            todo.append(t)
    result.blocked.update(blocked)
    if not result.dry_run and blocked:
        ledger.record({n: {"status": "blocked", "error_text": p[:2000]} for n, p in blocked.items()})
    return todo


def _recover(qbo: Any, ledger: Ledger, result: ExportResult, todo: list[Transformed]) -> list[Transformed]:
    """Invoices QBO already has (by DocNumber) are recorded as exported instead of being sent again; a DocNumber
    taken by another customer's document blocks the invoice. Answers what is still to send."""
    existing = _recover_existing(qbo, todo)
    if existing:  # a concurrent run may be sending these: wait for its claim, then believe its ledger
        with claim(ledger.engine, sorted(existing)):
            exported = {n for n, st in ledger.states(sorted(existing)).items() if st.status == "exported"}
        result.already_exported += len(exported)
        todo = [t for t in todo if t.number not in exported]
    rest = []
    for t in todo:
        inv = existing.get(t.number)
        if inv is None:
            rest.append(t)
        elif str((inv.get("CustomerRef") or {}).get("value")) != t.payload["CustomerRef"]["value"]:
            result.blocked[t.number] = (f"QBO already has {t.entity} DocNumber {t.number} (Id {inv.get('Id')}) "
                                        "for another customer: resolve the clash in QBO")
            if not result.dry_run:
                ledger.mark(t.number, status="blocked", error_text=result.blocked[t.number])
        else:
            result.recovered += 1
            result.recovered_ids[t.number] = str(inv["Id"])
            if not result.dry_run:
                ledger.mark(t.number, status="exported", qbo_id=str(inv["Id"]), qbo_type=t.entity,
                            qbo_doc_number=inv.get("DocNumber"), error_text=None)
    return rest


def _send(qbo: Any, ledger: Ledger, result: ExportResult, todo: list[Transformed], states: dict[str, Any]) -> None:
    """``/batch`` by chunks of ≤ 30, one after the other (the QBO client paces them to QBO's limits: the wait for
    the batch budget absorbs the ledger's and the preparation's work). Each chunk is claimed (claims.py) and its
    ledger rows re-read under the claim: what a concurrent run exported meanwhile is left out. A fatal answer fails
    its chunk and the run goes on; a retriable one leaves the chunk ``pending`` and goes up."""
    for start in range(0, len(todo), BATCH_SIZE):
        chunk = todo[start:start + BATCH_SIZE]
        with claim(ledger.engine, [t.number for t in chunk]):
            states.update(ledger.states([t.number for t in chunk]))
            fresh = [t for t in chunk if getattr(states.get(t.number), "status", None) != "exported"]
            result.already_exported += len(chunk) - len(fresh)
            if fresh:
                _send_chunk(qbo, ledger, result, fresh, states)


def _answered(exc: BaseException) -> bool:
    """QBO answered the request with a fault (4xx, throttling included): proof that nothing was performed."""
    return isinstance(exc, ApiError) and exc.status is not None and 400 <= exc.status < 500


def _send_chunk(qbo: Any, ledger: Ledger, result: ExportResult, chunk: list[Transformed], states: dict[str, Any],
                *, replay_checked: bool = False) -> None:
    """Mark the chunk ``pending`` with its request ids, send it, record each invoice's outcome.

    Request ids (``request_id_for``): an answered fault counts in the ledger, so the next attempt of those invoices
    gets new ids; a lost answer does not, so the next attempt replays. When every id of the chunk was minted by an
    earlier attempt, QBO may answer with a replay of that attempt's answer (a run killed before recording it): its
    faults are then retried at once under new ids, so an old fault is never the last word."""
    rids = {t.number: request_id_for(t.number, t.payload_hash, states.get(t.number)) for t in chunk}
    replayable = not replay_checked and all(getattr(states.get(n), "request_id", None) == r for n, r in rids.items())
    numbers = [t.number for t in chunk]
    ledger.mark_many(numbers, status="pending", attempt=True, request_ids=rids,
                     hashes={t.number: t.payload_hash for t in chunk},
                     totals={t.number: t.pre_tax_total for t in chunk})
    items = [{"bId": t.number, "operation": "create", t.entity: t.payload} for t in chunk]
    try:
        responses = qbo.batch(items, request_id=rules.request_id(*sorted(rids.values())),
                              label=f"export batch {ledger.batch_id} invoices {chunk[0].number}..{chunk[-1].number}")
    except RetriableApiError as exc:
        reason = (f"{exc}: left pending; QBO refused it (nothing was created): the task's retry sends it under new "
                  "request ids" if _answered(exc) else
                  f"{exc}: left pending with its request id; the task's retry replays it (never a duplicate)")
        result.pending.update(dict.fromkeys(numbers, reason))
        ledger.mark_many(numbers, status="pending", error_text=reason[:2000], fault=_answered(exc))
        raise
    except FatalError as exc:
        result.failed.update(dict.fromkeys(numbers, str(exc)))
        ledger.mark_many(numbers, status="failed", error_text=str(exc)[:2000], fault=_answered(exc))
        faulted = chunk if _answered(exc) else []
    else:
        outcomes = _outcomes(chunk, responses, result)
        ledger.record(outcomes)
        faulted = [t for t in chunk if outcomes[t.number]["status"] == "failed"]
    if faulted and replayable:
        log.info("export batch %s: %d faults may replay an earlier attempt's answer: sending again under new "
                 "request ids", ledger.batch_id, len(faulted))
        states.update(ledger.states([t.number for t in faulted]))
        for t in faulted:
            result.failed.pop(t.number, None)
        _send_chunk(qbo, ledger, result, faulted, states, replay_checked=True)


def _outcomes(chunk: list[Transformed], responses: dict[str, Any], result: ExportResult) -> dict[str, dict[str, Any]]:
    outcomes: dict[str, dict[str, Any]] = {}
    for t in chunk:
        item = responses.get(t.number)
        fault = fault_of(item) if item else ("no answer for this item in the batch response", None)
        if fault:
            message = f"QBO {fault[1] or ''} {fault[0]}".strip()
            result.failed[t.number] = message
            outcomes[t.number] = {"status": "failed", "error_text": message[:2000], "fault": True}
        else:
            created = item[t.entity]
            result.exported[t.number] = str(created["Id"])
            outcomes[t.number] = {"status": "exported", "qbo_id": str(created["Id"]), "qbo_type": t.entity,
                                  "qbo_doc_number": created.get("DocNumber"), "error_text": None}
    return outcomes


def raise_for_problems(result: ExportResult) -> None:
    problems = {**result.blocked, **result.failed}
    if problems:
        lines = [f"invoice {n}: {p}" for n, p in list(problems.items())[:20]]
        more = f"\n  ... and {len(problems) - 20} more" if len(problems) > 20 else ""
        raise BatchLoadError(
            f"export batch {result.batch_id}: {len(result.exported) + result.recovered} exported, "
            f"{len(result.blocked)} blocked, {len(result.failed)} failed (see table export_invoices):\n  "
            + "\n  ".join(lines) + more, {k: v for k, v in problems.items()})

