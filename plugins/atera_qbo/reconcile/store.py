"""Findings across runs (``recon_runs``, ``recon_findings``): a finding seen again keeps its first_seen, one no
longer seen is resolved. Which QBO records the open findings make unusable for the export is read by the export
itself (``staging.ledger.unusable_targets``)."""
from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from ..staging.db import chunked, table, upsert
from ..staging.ledger import stamp
from .findings import Finding


@dataclass
class Recorded:
    new: list[Finding] = field(default_factory=list)
    persisting: list[Finding] = field(default_factory=list)
    resolved: list[dict[str, Any]] = field(default_factory=list)


def open_since(engine: sa.Engine) -> dict[str, datetime]:
    tbl = table("recon_findings")
    with engine.connect() as conn:
        return {r.finding_key: r.first_seen for r in conn.execute(sa.select(tbl.c.finding_key, tbl.c.first_seen)
                                                                    .where(tbl.c.resolved_at.is_(None)))}


def start_run(engine: sa.Engine, run_id: str, now: datetime, date_from: str, date_to: str,
              types: Iterable[str]) -> None:
    with engine.begin() as conn:
        upsert(conn, table("recon_runs"), [{
            "run_id": run_id, "started_at": now, "finished_at": None, "date_from": date_from, "date_to": date_to,
            "finding_types": ",".join(types), "counts_json": None, "report_path": None, "status": "running"}],
            ["run_id"])


def finish_run(engine: sa.Engine, run_id: str, now: datetime, counts: dict[str, Any], report: str) -> None:
    tbl = table("recon_runs")
    with engine.begin() as conn:
        conn.execute(sa.update(tbl).where(tbl.c.run_id == run_id).values(
            finished_at=now, counts_json=json.dumps(counts), report_path=report, status="done"))


def record(engine: sa.Engine, run_id: str, findings: list[Finding], checked: Iterable[str],
           now: datetime) -> Recorded:
    """Upsert this run's findings (first_seen kept for open ones) and resolve the open findings of the checked
    types that this run no longer produced. Sets ``first_seen`` on each finding."""
    tbl = table("recon_findings")
    checked = list(checked)
    out = Recorded()
    by_key = {f.key: f for f in findings}  # one finding per key (the last wins)
    with engine.begin() as conn:
        types = sorted(set(checked) | {f.type for f in findings})
        previous = {r.finding_key: r for r in conn.execute(sa.select(tbl).where(tbl.c.type.in_(types)))}
        rows = []
        for key, f in by_key.items():
            old = previous.get(key)
            still_open = old is not None and old.resolved_at is None
            first = old.first_seen if old is not None and still_open else now
            first_run = old.first_run_id if old is not None and still_open else run_id
            (out.persisting if still_open else out.new).append(f)
            f.first_seen = stamp(first)
            rows.append({"finding_key": key, "type": f.type, "severity": f.severity, "entity": f.entity,
                         "atera_id": f.atera_id, "atera_name": f.atera_name, "qbo_id": f.qbo_id,
                         "qbo_name": f.qbo_name, "detail": f.detail, "qbo_link": f.qbo_link, "action": f.action,
                         "first_seen": first, "last_seen": now,
                         "first_run_id": first_run, "last_run_id": run_id,
                         "resolved_at": None})
        upsert(conn, tbl, rows, ["finding_key"])
        gone = [r for k, r in previous.items() if k not in by_key and r.resolved_at is None and r.type in checked]
        for part in chunked(gone):
            keys = [r.finding_key for r in part]
            conn.execute(sa.update(tbl).where(tbl.c.finding_key.in_(keys)).values(resolved_at=now,
                                                                                   last_run_id=run_id))
        out.resolved = [dict(r._mapping) for r in gone]
    return out
