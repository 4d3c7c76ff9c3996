"""The export ledger's vocabulary, shared by the export (which writes it) and reconciliation (which reads it).

- ``export_invoices``: one row per Atera invoice, ever; its ``status`` is a :class:`LedgerStatus`; read as
  :class:`LedgerRow` (``ledger_rows``).
- ``export_batches``: one row per export task attempt; its ``status`` is a :class:`BatchStatus`.
- What reconciliation tells the export: the QBO records its open findings call unusable (``unusable_targets``).

The enum values are the words stored in the database (a ``StrEnum`` member equals its word), so the schema and
the stored rows are those of before.
"""
from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, fields
from datetime import datetime
from decimal import Decimal
from enum import StrEnum
from typing import Any

import sqlalchemy as sa

from .db import chunked, table


class LedgerStatus(StrEnum):
    """Where one Atera invoice stands (``export_invoices.status``)."""
    PENDING = "pending"  # marked before its send; the send's outcome not (yet) recorded
    EXPORTED = "exported"  # QBO has it (created by the export, or recovered by DocNumber)
    FAILED = "failed"  # QBO refused it
    BLOCKED = "blocked"  # never sent: the export cannot make a valid document of it (the reason is recorded)


class BatchStatus(StrEnum):
    """How one export task attempt ended (``export_batches.status``)."""
    RUNNING = "running"  # still running, or its worker was killed (the next attempt closes it ``failed``)
    DONE = "done"
    PARTIAL = "partial"  # some invoices blocked or failed
    FAILED = "failed"  # stopped early (``error_text`` says why)
    DRY_RUN = "dry_run"


@dataclass(frozen=True)
class LedgerRow:
    """One ``export_invoices`` row as read."""
    atera_invoice_number: str
    batch_id: str
    status: LedgerStatus
    qbo_id: str | None
    qbo_doc_number: str | None
    request_id: str
    payload_hash: str | None
    total: Decimal | None
    error_text: str | None
    attempts: int
    failures: int | None
    qbo_type: str | None  # Invoice | CreditMemo
    first_attempt_at: datetime | None
    last_attempt_at: datetime | None
    exported_at: datetime | None

    @classmethod
    def of(cls, row: sa.Row[Any]) -> LedgerRow:
        values = {f.name: row._mapping[f.name] for f in fields(cls)}
        values["status"] = LedgerStatus(values["status"])
        return cls(**values)


def ledger_rows(conn: sa.Connection, numbers: Sequence[str]) -> dict[str, LedgerRow]:
    """The ledger rows of these Atera invoice numbers (those that have one)."""
    led = table("export_invoices")
    return {r.atera_invoice_number: r for part in chunked(numbers) for r in map(LedgerRow.of, conn.execute(
        sa.select(led).where(led.c.atera_invoice_number.in_(part))))}


def ledger_rows_with(conn: sa.Connection, statuses: Iterable[LedgerStatus]) -> list[LedgerRow]:
    """Every ledger row in one of these statuses."""
    led = table("export_invoices")
    return [LedgerRow.of(r) for r in conn.execute(sa.select(led).where(led.c.status.in_(list(statuses))))]


# ------------------------------------------------------------------------- what reconciliation tells the export
# Open findings of these types make their QBO record unusable: the export blocks invoices that name it.
UNUSABLE_TYPES = ("mapping_target_deleted", "mapping_target_inactive")


def stamp(moment: datetime) -> str:
    """A finding's moment as the reports show it: ``2026-11-27 06:00 UTC``."""
    return f"{moment:%Y-%m-%d %H:%M} UTC"


def unusable_targets(engine: sa.Engine) -> dict[tuple[str, str], str]:
    """(customer|item, QBO id) → why reconciliation found it unusable (open findings: deleted/merged, inactive)."""
    tbl = table("recon_findings")
    with engine.connect() as conn:
        rows = conn.execute(sa.select(tbl.c.entity, tbl.c.qbo_id, tbl.c.detail, tbl.c.first_seen).where(
            tbl.c.resolved_at.is_(None), tbl.c.type.in_(UNUSABLE_TYPES))).all()
    return {(r.entity, str(r.qbo_id)): f"{r.detail} (reconciliation, since {stamp(r.first_seen)})" for r in rows}
