"""The shared load primitive of every extraction: build staging rows leniently, upsert them in one transaction,
flag as deleted what a full pull no longer returns, and advance the watermarks in that same transaction."""
from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

import sqlalchemy as sa

from ..money import to_decimal
from ..staging.db import table, upsert, utcnow
from .watermarks import save_watermark

log = logging.getLogger(__name__)


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


# ------------------------------------------------------------------------- lenient typed columns (row builders)
def text(value: object) -> str | None:
    if value is None:
        return None
    return str(value)


def money(value: object, flags: list[str], name: str) -> Decimal | None:
    """An amount as a Decimal; a value that is not money (a float, garbage) is flagged ``<name>:not_money``."""
    try:
        return to_decimal(value, field=name)
    except (TypeError, ValueError):
        flags.append(f"{name}:not_money")
        return None


def flags_text(flags: list[str]) -> str | None:
    return ",".join(flags) or None


# ----------------------------------------------------------------------------------------------- staging rows
_ID_KEYS = ("CustomerID", "EndUserID", "RateID", "ContractID", "InvoiceNumber", "Id")
_NAME_KEYS = ("CustomerName", "Description", "ContractName", "DisplayName", "Name")


def describe_record(rec: object) -> str:
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


def stage_each(records: Iterable[dict[str, Any]], entity: str, build: Callable[[dict[str, Any]], dict[str, Any]],
               result: LoadResult) -> Iterator[dict[str, Any]]:
    """Staging rows, built as the records arrive; a record that cannot be staged at all is reported by id, never
    crashes the load."""
    for rec in records:
        try:
            row = build(rec)
        except Exception as exc:  # noqa: BLE001 - a bad record must not stop the load
            result.rejected.append(f"{entity} {describe_record(rec)}: {type(exc).__name__}: {exc}")
            continue
        yield row


def watched(rows: Iterable[dict[str, Any]], stamp: Callable[[dict[str, Any]], str | None],
            seen: list[str | None]) -> Iterator[dict[str, Any]]:
    """``rows`` as they pass, each one's ``stamp`` appended to ``seen`` (what a watermark is computed from)."""
    for row in rows:
        seen.append(stamp(row))
        yield row


Marks = dict[str, str | None] | Callable[[], dict[str, str | None]]
CHUNK = 5000


def load(engine: sa.Engine, table_name: str, keys: list[str], rows: Iterable[dict[str, Any]], *,
         full: bool, scope: dict[str, Any] | None = None, result: LoadResult,
         watermarks: Marks | None = None) -> LoadResult:
    """Upsert ``rows`` as they arrive, ``CHUNK`` at a time (each chunk its own short transaction: the next pages
    are fetched while this one is written); then, in one last transaction, with ``full`` flag the rows of this
    scope that were not returned as deleted, and write the watermarks (a callable is asked only then, once every
    row went by). A load that stops half-way leaves rows upserted — the same rows again next time — and the old
    watermarks, so the next run reads it all again."""
    now = utcnow()
    tbl = table(table_name)
    has_deleted = "deleted_at" in tbl.c
    count = flagged = 0
    chunk: list[dict[str, Any]] = []
    for row in rows:
        row["extracted_at"] = now
        if has_deleted:
            row["deleted_at"] = None
        flagged += bool(row.get("quality_flags"))
        chunk.append(row)
        if len(chunk) >= CHUNK:
            with engine.begin() as conn:
                count += upsert(conn, tbl, chunk, keys)
            chunk = []
    with engine.begin() as conn:
        result.rows = count + upsert(conn, tbl, chunk, keys)
        if full and has_deleted:
            cond = [tbl.c.deleted_at.is_(None), tbl.c.extracted_at < now]
            for col, value in (scope or {}).items():
                cond.append(tbl.c[col] == value)
            result.deleted = conn.execute(sa.update(tbl).where(*cond).values(deleted_at=now)).rowcount
        for entity, value in ((watermarks() if callable(watermarks) else watermarks) or {}).items():
            if value is not None:
                save_watermark(conn, engine, entity, value)
    result.flagged = flagged
    log.info("staged %s: %d rows, %d newly flagged deleted, %d with quality flags, %d rejected",
             result.entity, result.rows, result.deleted, result.flagged, len(result.rejected))
    return result
