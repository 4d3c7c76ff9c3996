"""One reconciliation run: refresh, find, remember, report. Called by the DAG task; testable without Airflow."""
from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from ..atera.api import AteraApi
from ..config import QBO_APP_URLS, date_window
from ..errors import ConfigError, FatalError
from ..qbo.api import QboApi
from . import report, store
from .checks import load_sides, mapping_findings, unmapped_findings, unrouted_findings
from .findings import FINDING_TYPES, Finding, with_host
from .refresh import RefreshResult, refresh_all
from .transactions import document_findings, not_exported_findings, stuck_ledger_findings

log = logging.getLogger(__name__)

DEFAULT_WINDOW_DAYS = 365
DEFAULT_STALE_DAYS = 3
MAPPING_TYPES = {"mapping_target_deleted", "mapping_target_inactive", "mapping_source_gone", "name_changed",
                 "price_drift"}
DOCUMENT_TYPES = {"txn_voided", "txn_deleted", "txn_changed", "payment_status"}


class CriticalFindings(FatalError):
    """The run found critical findings (raised after the report is written, so alerting fires)."""


@dataclass
class ReconResult:
    run_id: str
    window: tuple[str, str]
    types: list[str]
    counts: dict[str, Any]
    paths: dict[str, Any]
    critical: list[Finding] = field(default_factory=list)
    refresh: RefreshResult | None = None

    def as_dict(self) -> dict[str, Any]:
        return {"run_id": self.run_id, "date_from": self.window[0], "date_to": self.window[1],
                "counts": self.counts, "report": self.paths["report"], "latest": self.paths["latest"],
                "critical": len(self.critical), "refresh": self.refresh.as_dict() if self.refresh else None}

    def summary_line(self) -> str:
        sev = self.counts["by_severity"]
        return (f"reconciliation {self.run_id}: {self.counts['total']} findings — {sev['critical']} critical, "
                f"{sev['warning']} warning, {sev['info']} info; {self.counts['new']} new, "
                f"{self.counts['resolved']} resolved; by type {self.counts['by_type']}; report {self.paths['report']}")


def window(date_from: str | None, date_to: str | None, today: date) -> tuple[date, date]:
    return date_window(date_from, date_to, today, DEFAULT_WINDOW_DAYS)


def finding_types(types: Iterable[str] | None) -> list[str]:
    chosen = [t.strip() for t in (types or []) if t and t.strip()]
    unknown = [t for t in chosen if t not in FINDING_TYPES]
    if unknown:
        raise ConfigError(f"param finding_types: unknown {unknown}; known: {', '.join(FINDING_TYPES)}")
    return [t for t in FINDING_TYPES if t in chosen] if chosen else list(FINDING_TYPES)


def collect(engine: sa.Engine, types: list[str], lo: date, hi: date, now: datetime,
            stale_days: int) -> list[Finding]:
    """Every finding of the wanted types from staging (``now``: naive UTC)."""
    wanted = set(types)
    out: list[Finding] = []
    if wanted & (MAPPING_TYPES | {"unmapped"}):
        sides = load_sides(engine)
        for side in sides:
            out.extend(f for f in mapping_findings(side) if f.type in wanted)
        if "unmapped" in wanted:
            out.extend(unmapped_findings(engine, sides))
    if wanted & DOCUMENT_TYPES:
        out.extend(f for f in document_findings(engine, lo, hi, now.date(), wanted) if f.type in wanted)
    if "not_exported" in wanted:
        out.extend(not_exported_findings(engine, lo, hi))
    if "ledger_stuck" in wanted:
        out.extend(stuck_ledger_findings(engine, now, stale_days, store.open_since(engine)))
    if "unrouted_customer" in wanted:
        out.extend(unrouted_findings(engine))
    return out


def reconcile(engine: sa.Engine, *, qbo: QboApi, atera: AteraApi | None, review_dir: Path, run_id: str,
              date_from: str | None = None, date_to: str | None = None, types: Iterable[str] | None = None,
              stale_days: int = DEFAULT_STALE_DAYS, now: datetime | None = None, refresh: bool = True,
              full_refresh: bool = False, app_url: str | None = None) -> ReconResult:
    """One run; ``refresh``: bring staging up to date first (incrementally unless ``full_refresh``); ``app_url``:
    the QBO web app of the connection (links), production by default."""
    moment = now or datetime.now(UTC)
    naive = moment.astimezone(UTC).replace(tzinfo=None)
    lo, hi = window(date_from, date_to, moment.date())
    chosen = finding_types(types)
    store.start_run(engine, run_id, naive, lo.isoformat(), hi.isoformat(), chosen)
    refreshed = refresh_all(qbo, atera, engine, lo, hi, now=moment, full=full_refresh) if refresh else None
    findings = collect(engine, chosen, lo, hi, naive, stale_days)
    with_host(findings, app_url or QBO_APP_URLS["production"])
    recorded = store.record(engine, run_id, findings, chosen, naive)
    paths = report.write_outputs(review_dir, findings, run_id=run_id, window=(lo.isoformat(), hi.isoformat()),
                                 types=chosen, now=naive, new_keys={f.key for f in recorded.new},
                                 resolved=len(recorded.resolved))
    counts = {**report.counts(findings), "new": len(recorded.new), "resolved": len(recorded.resolved)}
    store.finish_run(engine, run_id, naive, counts, paths["report"])
    result = ReconResult(run_id, (lo.isoformat(), hi.isoformat()), chosen, counts, paths,
                         [f for f in findings if f.severity == "critical"], refreshed)
    log.info(result.summary_line())
    return result


def raise_for_critical(critical: list[dict[str, Any]], report_path: str) -> None:
    """Fail (after the report landed) when there are critical findings, naming them."""
    if not critical:
        return
    lines = [f"{c['type']}: Atera {c['atera_id'] or '-'} / QBO {c['qbo_id'] or '-'} — {c['detail']}"
             for c in critical[:20]]
    more = f"\n  ... and {len(critical) - 20} more" if len(critical) > 20 else ""
    raise CriticalFindings(f"{len(critical)} critical reconciliation finding(s); the report is at {report_path}:\n  "
                           + "\n  ".join(lines) + more)
