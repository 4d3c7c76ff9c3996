"""The one writer of the mappings (``map_customers``, ``map_products``), and what they remember: how each
mapping came to be.

Provenance (``method`` and its columns, see ``tables._mapping``):

- ``exact`` — the names are the same;
- ``override`` — a line of an overrides file decided it: ``override_file`` (its name), ``override_sha256`` (of
  its bytes, so the very version finance signed off is identifiable) and ``override_line``;
- ``created`` — a commit (or the export's ``create_missing_customers``) created the QBO record:
  ``origin_plan_id``;
- ``imported`` — a commit created the customer in Atera: ``origin_plan_id``.

A pair (Atera id → QBO id) keeps the provenance it was first recorded with for as long as the pair stands: a later
run that finds the same pair again (by name, as a kept decision, or on the same override line) re-activates it and
never relabels it, so a ``created`` mapping stays ``created`` with its plan, run after run. Mapping an Atera record
to a different QBO record is a new decision with a new provenance.

Readers elsewhere may select from the tables; only this module writes them.
"""
from __future__ import annotations

import hashlib
from collections.abc import Iterable
from collections.abc import Mapping as MappingType
from dataclasses import asdict, dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from .db import chunked, upsert, utcnow
from .tables import map_customers, map_products

TABLES: dict[str, sa.Table] = {"customer": map_customers, "product": map_products}
PROVENANCE = ("method", "override_file", "override_sha256", "override_line", "origin_plan_id", "decided_at")


class Method(StrEnum):
    EXACT = "exact"
    OVERRIDE = "override"
    CREATED = "created"
    IMPORTED = "imported"


@dataclass(frozen=True)
class Provenance:
    method: Method
    override_file: str | None = None
    override_sha256: str | None = None
    override_line: int | None = None
    origin_plan_id: str | None = None

    def describe(self) -> str:
        """In words: ``exact``, ``override (overrides.csv line 5)``, ``created by <plan id>``."""
        words = [str(self.method)]
        if self.origin_plan_id:
            words.append(f"by {self.origin_plan_id}")
        if self.override_file:
            words.append(f"({self.override_file} line {self.override_line})")
        return " ".join(words)


@dataclass(frozen=True)
class Mapping:
    """One Atera record → QBO record, with how it came to be."""
    atera_id: str
    qbo_id: str
    provenance: Provenance
    atera_name: str | None = None
    qbo_name: str | None = None
    status: str = ""  # what matching saw this run (the review's status)


@dataclass(frozen=True)
class OverridesFile:
    """An overrides file as read for a run: its name, the sha256 of its bytes, and the line of each decision."""
    name: str
    sha256: str
    lines: MappingType[tuple[str, str], int] = field(default_factory=dict)

    @classmethod
    def of(cls, path: Path, decisions: Iterable[tuple[str, str, int]]) -> OverridesFile:
        """``decisions``: (entity, Atera id — or QBO id for an import —, line) of each row with an action."""
        digest = hashlib.sha256(Path(path).read_bytes()).hexdigest()
        return cls(Path(path).name, digest, {(str(e), str(k)): int(n) for e, k, n in decisions})

    def provenance(self, entity: str, key: str) -> Provenance | None:
        line = self.lines.get((str(entity), str(key)))
        if line is None:
            return None
        return Provenance(Method.OVERRIDE, self.name, self.sha256, line)


def _row(m: Mapping, prior: Any, now: Any) -> dict[str, Any]:
    row = {"atera_id": m.atera_id, "atera_name": m.atera_name, "qbo_id": m.qbo_id, "qbo_name": m.qbo_name,
           "status": m.status, "active": True, "updated_at": now}
    if prior is not None and prior.qbo_id == m.qbo_id and prior.method:  # the same pair: its history stands
        row.update({k: getattr(prior, k) for k in PROVENANCE})
        row["decided_at"] = prior.decided_at or now
    else:
        row.update(asdict(m.provenance), method=str(m.provenance.method), decided_at=now)
    return row


def _priors(conn: sa.Connection, tbl: sa.Table, atera_ids: list[str]) -> dict[str, Any]:
    cols = [tbl.c.atera_id, tbl.c.qbo_id, *(tbl.c[k] for k in PROVENANCE)]
    found: dict[str, Any] = {}
    for part in chunked(atera_ids):
        found.update({r.atera_id: r for r in conn.execute(sa.select(*cols).where(tbl.c.atera_id.in_(part)))})
    return found


def _write(conn: sa.Connection, entity: str, mappings: list[Mapping], plan_id: str | None, now: Any) -> int:
    tbl = TABLES[entity]
    prior = _priors(conn, tbl, [m.atera_id for m in mappings])
    rows = [dict(_row(m, prior.get(m.atera_id), now), plan_id=plan_id) for m in mappings]
    return upsert(conn, tbl, rows, ["atera_id"])


def activate(engine: sa.Engine, plan_id: str, mappings: MappingType[str, list[Mapping]]) -> dict[str, int]:
    """A commit's "Done": these mappings (per entity: ``customer``, ``product``) replace the active ones, in one
    transaction; mappings no longer chosen stay as inactive history. Answers how many are active per entity."""
    now = utcnow()
    counts: dict[str, int] = {}
    with engine.begin() as conn:
        for entity, tbl in TABLES.items():
            conn.execute(sa.update(tbl).where(tbl.c.active.is_(True)).values(active=False, updated_at=now))
            counts[entity] = _write(conn, entity, list(mappings.get(entity, [])), plan_id, now)
    return counts


def add(engine: sa.Engine, entity: str, mapping: Mapping) -> None:
    """One mapping made outside a commit (the export's ``create_missing_customers``), active at once."""
    with engine.begin() as conn:
        _write(conn, entity, [mapping], None, utcnow())


def active(conn: sa.Connection, entity: str, *, decided_only: bool = False) -> list[Any]:
    """The active mappings of an entity (rows with every column); ``decided_only``: all but ``exact`` ones —
    the decisions a new matching run must carry over."""
    tbl = TABLES[entity]
    query = sa.select(tbl).where(tbl.c.active.is_(True))
    if decided_only:
        query = query.where(sa.or_(tbl.c.method.is_(None), tbl.c.method != Method.EXACT))
    return list(conn.execute(query.order_by(tbl.c.atera_id)))


def provenance_of(row: Any) -> Provenance:
    """The provenance of a mapping row (as ``active`` answers it)."""
    try:
        method = Method(row.method)
    except ValueError:
        method = Method.OVERRIDE  # a row from before methods were recorded: someone decided it
    return Provenance(method, row.override_file, row.override_sha256, row.override_line, row.origin_plan_id)
