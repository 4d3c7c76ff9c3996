"""Which staged Atera invoices a run exports: those of a date window, or the numbers asked for (each of which must
be selectable: a ``ConfigError`` names the ones that are not, and why), in export order; and their rows."""
from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import date
from typing import Any

import sqlalchemy as sa

from ..errors import ConfigError
from ..staging.db import chunked, table

Row = dict[str, Any]  # a staged row, column → value, as ``transform`` reads it
StagedInvoice = tuple[Row, list[Row]]  # an ``stg_atera_invoices`` row and its ``stg_atera_invoice_lines`` rows


def select_numbers(engine: sa.Engine, *, date_from: date | None, date_to: date | None,
                   numbers: Iterable[str] | None) -> list[str]:
    """The staged (not deleted) invoices of a window, or of the given numbers, in export order: date, number."""
    inv = table("stg_atera_invoices")
    cond: list[sa.ColumnElement[bool]] = [inv.c.deleted_at.is_(None)]
    if date_from:
        cond.append(inv.c.invoice_date >= date_from.isoformat())
    if date_to:
        cond.append(inv.c.invoice_date <= date_to.isoformat())
    wanted = [str(n) for n in numbers or []]
    if wanted:
        cond.append(inv.c.source_id.in_(wanted))
    with engine.connect() as conn:
        rows = conn.execute(sa.select(inv.c.source_id, inv.c.invoice_date).where(*cond)).all()
    ordered = sorted(rows, key=lambda r: (r.invoice_date or "", int(r.source_id) if r.source_id.isdigit() else 0,
                                          r.source_id))
    return [r.source_id for r in ordered]


def load_invoices(engine: sa.Engine, numbers: Sequence[str]) -> list[StagedInvoice]:
    """These staged invoices with their lines, in the order given."""
    inv, lines = table("stg_atera_invoices"), table("stg_atera_invoice_lines")
    invoices: dict[str, Row] = {}
    all_lines: dict[str, list[Row]] = {}
    with engine.connect() as conn:
        for part in chunked(numbers):
            invoices.update((r.source_id, dict(r._mapping)) for r in conn.execute(
                sa.select(inv).where(inv.c.source_id.in_(part))))
            for r in conn.execute(sa.select(lines).where(lines.c.invoice_source_id.in_(part))):
                all_lines.setdefault(r.invoice_source_id, []).append(dict(r._mapping))
    return [(invoices[n], all_lines.get(n, [])) for n in numbers if n in invoices]


def select_invoices(engine: sa.Engine, *, date_from: date | None, date_to: date | None,
                    numbers: Iterable[str] | None) -> list[StagedInvoice]:
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
