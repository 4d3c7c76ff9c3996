"""Exactly-once invoice export through the ledger: the run.

Per Atera invoice, ever, one ``export_invoices`` row. A run (one ``export_batches`` row per task attempt) selects
staged invoices, skips what the ledger says is exported, and then, slice by slice (so sending starts at once and
the preparation fits in the waits for QBO's batch budget): transforms, recovers invoices QBO already has
(DocNumber lookup: the safe complement to requestid replay), marks each chunk ``pending`` with its request ids
BEFORE sending it, sends ``/batch`` of ≤ 30 with a requestid derived from those ids (a retried or re-run batch is
replayed by QBO, not repeated), and records every item's outcome. Invoices that cannot be exported are
``blocked`` with the reason. A request id changes once QBO answered it with a fault (nothing was created), never
while its outcome is unknown.

Errors (see ``errors.py``): a fatal answer to one ``/batch`` fails its invoices and the run goes on; a retriable one
(QBO unreachable, 5xx, throttled after the client's own retries) stops the run: the chunk stays ``pending`` with its
request id (the task's retry replays it, never repeats it) and the exception goes up so Airflow retries the task.
Whatever ends a run, its ``export_batches`` row is closed (``failed`` with the reason when it stopped early) and its
report is written.

The jobs live in their own modules: ``context`` (the transform's context, taxes), ``selection`` (which invoices),
``ledger`` (the bookkeeping), ``request_ids``, ``recovery`` (by DocNumber), ``send`` (``/batch``), ``result`` and
``report``. This module is the run, and the export's public face (``__all__``).
"""
from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Mapping
from datetime import date
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from ..errors import BatchLoadError, FatalError, RetriableApiError
from ..money import dumps
from ..qbo.api import QboApi
from ..staging.db import chunked
from ..staging.ledger import LedgerStatus, unusable_targets
from .claims import hold_batch
from .context import build_context
from .ledger import Ledger, Outcome
from .recovery import recover
from .report import write_report
from .result import ExportResult
from .selection import StagedInvoice, check_requested, load_invoices, select_invoices, select_numbers
from .send import States, send
from .transform import InvoiceContext, Transformed, transform

__all__ = ["ExportResult", "Ledger", "build_context", "export_invoices", "raise_for_problems", "select_invoices"]

log = logging.getLogger(__name__)

SLICE = 300  # invoices prepared (transformed, looked up in QBO) at a time, between the chunks being sent

Unusable = dict[tuple[str, str], str]  # (customer|item, QBO id) → why reconciliation found it unusable


def export_invoices(engine: sa.Engine, qbo: QboApi, *, batch_id: str, run_id: str | None = None,
                    date_from: date | None = None, date_to: date | None = None,
                    numbers: Iterable[str] | None = None, dry_run: bool = False,
                    context: InvoiceContext | None = None, try_number: int | None = None,
                    prepare: Callable[[], Mapping[str, str] | None] | None = None, report_path: Path | None = None,
                    app_url: str | None = None) -> ExportResult:
    """One export run = one ``export_batches`` row. ``prepare`` runs inside the batch once the selection is
    checked (creating missing customers and items; it may answer ``unmapped_reasons`` for the transform);
    ``report_path`` gets the run's report however the run ends, with QBO links to ``app_url`` (production QBO by
    default). Retriable errors go up after the batch is closed. The batch's claim is held the whole time: a batch
    left ``running`` by a process that died is told from a live one by it (``Ledger.open`` closes the former)."""
    with hold_batch(engine, batch_id):
        return _export(engine, qbo, batch_id=batch_id, run_id=run_id, date_from=date_from, date_to=date_to,
                       numbers=numbers, dry_run=dry_run, context=context, try_number=try_number, prepare=prepare,
                       report_path=report_path, app_url=app_url)


def _export(engine: sa.Engine, qbo: QboApi, *, batch_id: str, run_id: str | None, date_from: date | None,
            date_to: date | None, numbers: Iterable[str] | None, dry_run: bool, context: InvoiceContext | None,
            try_number: int | None, prepare: Callable[[], Mapping[str, str] | None] | None,
            report_path: Path | None, app_url: str | None) -> ExportResult:
    ledger = Ledger(engine, batch_id)
    wanted = [str(n) for n in numbers or []]
    ledger.open(run_id, {"date_from": date_from, "date_to": date_to, "numbers": wanted, "dry_run": dry_run},
                try_number)
    result = ExportResult(batch_id, dry_run=dry_run)
    try:
        selected = select_numbers(engine, date_from=date_from, date_to=date_to, numbers=wanted)
        check_requested(engine, wanted, selected, date_from, date_to)
        reasons = prepare() if prepare is not None else None
        candidates, states, ctx = _plan(engine, ledger, result, selected, context, date_from, date_to)
        ctx.unmapped_reasons.update(reasons or {})
        unusable = unusable_targets(engine)  # QBO records reconciliation found deleted/merged or inactive
        for part in chunked(candidates, SLICE):  # prepared slice by slice: the sending starts at once
            todo = _transform(ledger, result, load_invoices(engine, part), ctx, unusable)
            if todo and ctx.custom_txn_numbers:
                todo = recover(qbo, ledger, result, todo)
            if not dry_run:
                send(qbo, ledger, result, todo, states)
            else:
                result.would_send.update({t.number: f"would be sent as a QBO {t.entity} ({t.pre_tax_total} pre-tax)"
                                          for t in todo})
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
          ) -> tuple[list[str], States, InvoiceContext]:
    """Skip what the ledger says is exported; answers the rest (the run's plan), the ledger rows, the context."""
    result.selected = len(selected)
    states = ledger.states(selected)
    ctx = context or build_context(engine)
    candidates = [n for n in selected if n not in states or states[n].status != LedgerStatus.EXPORTED]
    result.already_exported += len(selected) - len(candidates)
    if result.dry_run:  # a dry run's report lists every selected invoice, these too
        result.exported_before = {n: f"exported before as QBO {states[n].qbo_type} {states[n].qbo_id}: would not "
                                     "be sent again" for n in selected if n not in set(candidates)}
    result.planned = list(candidates)
    if not selected:
        result.note = (f"no Atera invoice dated {date_from or '…'}..{date_to or '…'} is staged: nothing to export "
                       "(check the window, and that extract_invoices staged any)")
    elif result.already_exported == len(selected):
        result.note = f"all {len(selected)} selected invoices were exported before: nothing new to export"
    return candidates, states, ctx


def _transform(ledger: Ledger, result: ExportResult, candidates: list[StagedInvoice], ctx: InvoiceContext,
               unusable: Unusable) -> list[Transformed]:
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
        ledger.record({n: Outcome(LedgerStatus.BLOCKED, error_text=p) for n, p in blocked.items()})
    return todo


def blocked_by_reconciliation(payload: dict[str, Any] | None, unusable: Unusable) -> list[str]:
    """Why an export payload must not be sent: the QBO customer/items it names that reconciliation found
    deleted/merged or inactive (each named, with what to do)."""
    if not payload or not unusable:
        return []
    refs = [("customer", str((payload.get("CustomerRef") or {}).get("value")))]
    refs += [("item", str(((line.get("SalesItemLineDetail") or {}).get("ItemRef") or {}).get("value")))
             for line in payload.get("Line") or [] if line.get("SalesItemLineDetail")]
    return [f"QBO {entity} {qbo_id}: {unusable[(entity, qbo_id)]}; fix the mapping (or reactivate it in QBO) and "
            f"run reconciliation again" for entity, qbo_id in dict.fromkeys(refs) if (entity, qbo_id) in unusable]


def raise_for_problems(result: ExportResult) -> None:
    problems = result.problems
    if problems:
        lines = [f"invoice {n}: {p}" for n, p in list(problems.items())[:20]]
        more = f"\n  ... and {len(problems) - 20} more" if len(problems) > 20 else ""
        raise BatchLoadError(
            f"export batch {result.batch_id}: {len(result.exported) + result.recovered} exported, "
            f"{len(result.blocked)} blocked, {len(result.failed)} failed (see table export_invoices):\n  "
            + "\n  ".join(lines) + more, dict(problems))
