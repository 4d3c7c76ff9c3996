"""The export's bookkeeping: its ``export_batches`` row (opened per task attempt, closed however the attempt ends)
and the ``export_invoices`` rows (one per Atera invoice, ever) it writes each invoice's ``Outcome`` to.

The statuses and the row as read are ``staging.ledger``'s (reconciliation reads the same rows).
"""
from __future__ import annotations

import json
import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

import sqlalchemy as sa

from ..staging.db import table, upsert, utcnow
from ..staging.ledger import BatchStatus, LedgerRow, LedgerStatus, ledger_rows
from .claims import batch_is_held
from .result import ExportResult

log = logging.getLogger(__name__)

ERROR_TEXT_LIMIT = 2000  # characters of a reason kept in ``error_text``


@dataclass(frozen=True)
class Created:
    """The QBO document an invoice is exported as (created by a send, or found by DocNumber)."""
    qbo_id: str
    qbo_type: str  # Invoice | CreditMemo
    doc_number: str | None


@dataclass(frozen=True)
class Sending:
    """The send about to happen: it counts as an attempt and fixes the invoice's request id, payload and total."""
    request_id: str
    payload_hash: str
    total: Decimal


@dataclass(frozen=True)
class Outcome:
    """What happened to one invoice, as its ledger row records it. What an outcome does not carry (no ``created``,
    no ``sending``) keeps its stored value; ``error_text`` is always replaced (None clears it)."""
    status: LedgerStatus
    error_text: str | None = None
    created: Created | None = None
    sending: Sending | None = None
    fault: bool = False  # QBO answered with a fault (nothing was created): counts in ``failures``


class Ledger:
    def __init__(self, engine: sa.Engine, batch_id: str) -> None:
        self.engine = engine
        self.batch_id = batch_id
        self.batches = table("export_batches")
        self.invoices = table("export_invoices")

    def open(self, run_id: str | None, params: dict[str, Any], try_number: int | None = None) -> None:
        """One batch row per task attempt (its process holds the batch's claim: ``claims.hold_batch``). Every
        ``running`` batch whose claim nobody holds any more — whatever run it belonged to: a killed ``dags test``,
        a lost worker host, an earlier attempt of this run — is closed ``failed`` now, saying why; its invoices
        left ``pending`` stay so, for this run to replay."""
        now = utcnow()
        self.close_abandoned(run_id)
        with self.engine.begin() as conn:
            upsert(conn, self.batches, [{"batch_id": self.batch_id, "run_id": run_id, "try_number": try_number,
                                         "started_at": now, "finished_at": None,
                                         "status": BatchStatus.RUNNING.value,
                                         "params_json": json.dumps(params, default=str), "selected_count": 0,
                                         "exported_count": 0, "skipped_count": 0, "failed_count": 0,
                                         "error_text": None}], ["batch_id"])

    def close_abandoned(self, run_id: str | None) -> list[str]:
        """Close ``failed`` each other ``running`` batch no live process holds; answers their ids."""
        with self.engine.connect() as conn:
            running = [str(b) for b in conn.execute(sa.select(self.batches.c.batch_id).where(
                self.batches.c.status == BatchStatus.RUNNING.value, self.batches.c.batch_id != self.batch_id))
                .scalars()]
        gone = [b for b in running if not batch_is_held(self.engine, b)]
        if not gone:
            return gone
        why = (f"closed by batch {self.batch_id}" + (f" (run {run_id})" if run_id else "") + ": the process that "
               "held it is gone (killed, or its host lost) without closing it; its pending invoices are replayed "
               "by the next export, never sent twice")
        with self.engine.begin() as conn:
            conn.execute(sa.update(self.batches).where(
                self.batches.c.batch_id.in_(gone), self.batches.c.status == BatchStatus.RUNNING.value).values(
                status=BatchStatus.FAILED.value, finished_at=utcnow(), error_text=why))
        log.warning("export: closed %d abandoned batch(es) %s: the process that held each is gone", len(gone), gone)
        return gone

    def states(self, numbers: Sequence[str]) -> dict[str, LedgerRow]:
        with self.engine.connect() as conn:
            return ledger_rows(conn, numbers)

    def record(self, outcomes: Mapping[str, Outcome]) -> None:
        """Write the outcome of several invoices (Atera number → ``Outcome``) in ONE transaction."""
        if not outcomes:
            return
        now = utcnow()
        with self.engine.begin() as conn:
            existing = ledger_rows(conn, list(outcomes))
            rows = [self._row(number, outcome, existing.get(number), now) for number, outcome in outcomes.items()]
            upsert(conn, self.invoices, rows, ["atera_invoice_number"])

    def record_all(self, numbers: Sequence[str], outcome: Outcome) -> None:
        """The same outcome for each of these invoices, in one transaction."""
        self.record(dict.fromkeys(numbers, outcome))

    def _row(self, number: str, outcome: Outcome, old: LedgerRow | None, now: datetime) -> dict[str, Any]:
        created, sending = outcome.created, outcome.sending
        attempt = sending is not None
        error = outcome.error_text
        return {
            "atera_invoice_number": number, "batch_id": self.batch_id, "status": outcome.status.value,
            "qbo_id": created.qbo_id if created else (old.qbo_id if old else None),
            "qbo_doc_number": created.doc_number if created else (old.qbo_doc_number if old else None),
            "qbo_type": created.qbo_type if created else (old.qbo_type if old else None),
            "request_id": sending.request_id if sending else (old.request_id if old else number),
            "payload_hash": sending.payload_hash if sending else (old.payload_hash if old else None),
            "total": sending.total if sending else (old.total if old else None),
            "error_text": error[:ERROR_TEXT_LIMIT] if error is not None else None,
            "attempts": (old.attempts if old else 0) + (1 if attempt else 0),
            # only an answered fault counts: a batch whose answer never came may have been performed
            "failures": ((old.failures or 0) if old else 0) + (1 if outcome.fault else 0),
            "first_attempt_at": (old.first_attempt_at if old and old.first_attempt_at else (now if attempt else None)),
            "last_attempt_at": now if attempt else (old.last_attempt_at if old else None),
            "exported_at": now if outcome.status == LedgerStatus.EXPORTED else (old.exported_at if old else None),
        }

    def close(self, result: ExportResult) -> None:
        """``failed`` (with ``result.error``) when the run stopped early; else ``partial`` when some invoices were
        blocked or failed, ``done`` or ``dry_run``."""
        problems = len(result.failed) + len(result.blocked)
        error: str | None
        if result.error:
            status, error = BatchStatus.FAILED, result.error
        elif result.dry_run:
            status, error = BatchStatus.DRY_RUN, None
        else:
            status = BatchStatus.PARTIAL if problems else BatchStatus.DONE
            error = (f"{len(result.blocked)} blocked, {len(result.failed)} failed: see export_invoices and the "
                     "report") if problems else None
        with self.engine.begin() as conn:
            conn.execute(sa.update(self.batches).where(self.batches.c.batch_id == self.batch_id).values(
                finished_at=utcnow(), status=status.value, selected_count=result.selected,
                exported_count=len(result.exported) + result.recovered,
                skipped_count=result.already_exported, failed_count=problems,
                error_text=error[:ERROR_TEXT_LIMIT] if error else None))
