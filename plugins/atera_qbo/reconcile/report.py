"""The run's outputs: one CSV per finding type (Excel-safe, like the review CSV) and one self-contained HTML
report (inline CSS, no external resource), plus ``reconciliation_latest.html`` beside the run folders. The HTML is
rendered from ``templates/reports/reconciliation.html`` (``atera_qbo.html``: autoescaped).

The HTML is a morning report a person reads in a browser: each type's table shows at most ``HTML_ROWS_PER_TYPE``
findings — the most severe and the new ones first — and says how many more its CSV holds (the counts at the top
are always of all findings). A first run on a large catalog finds tens of thousands of ``unmapped`` records; an HTML
of all of them would be tens of megabytes that no browser opens comfortably."""
from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from ..cells import csv_file
from ..html import render
from .findings import COLUMNS, FINDING_TYPES, SEVERITIES, Finding

LATEST = "reconciliation_latest.html"
HTML_ROWS_PER_TYPE = 1000
TEMPLATE = "reports/reconciliation.html"
FIRST_SEEN = "%Y-%m-%d %H:%M UTC"  # how ``first_seen`` reads (``staging.ledger.stamp``)


def run_folder_name(run_id: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", run_id)[:60] or "manual"


def write_csv(path: Path, findings: Iterable[Finding]) -> Path:
    with csv_file(path, COLUMNS) as writer:
        writer.writerows(f.row() for f in findings)
    return path


def counts(findings: Iterable[Finding]) -> dict[str, Any]:
    findings = list(findings)
    by_sev = Counter(f.severity for f in findings)
    return {"total": len(findings), "by_severity": {s: by_sev.get(s, 0) for s in SEVERITIES},
            "by_type": dict(sorted(Counter(f.type for f in findings).items()))}


@dataclass(frozen=True)
class ReportRow:
    """One finding as a row of the report."""
    finding: Finding
    new: bool  # first seen by this run
    open_days: int | None  # days since first seen (None when new, or when first_seen does not read as a date)

    def value(self, column: str) -> str:
        return str(getattr(self.finding, column) or "")


@dataclass(frozen=True)
class Section:
    """One finding type's part of the report: its rows shown (at most ``max_rows``) out of ``total``."""
    type: str
    title: str
    what: str
    total: int
    rows: list[ReportRow]

    @property
    def hidden(self) -> int:
        return self.total - len(self.rows)


def _open_days(first_seen: str, now: datetime) -> int | None:
    try:
        return (now - datetime.strptime(first_seen, FIRST_SEEN)).days
    except ValueError:
        return None


def _sections(findings: list[Finding], types: list[str], new_keys: set[str], now: datetime,
              max_rows: int) -> list[Section]:
    """One section per type (the chosen ones, then any other found), rows most severe first, then the new ones."""
    by_type: dict[str, list[Finding]] = {t: [] for t in types}
    for f in findings:
        by_type.setdefault(f.type, []).append(f)
    order = {s: i for i, s in enumerate(SEVERITIES)}
    sections = []
    for ftype, rows in by_type.items():
        title, what = FINDING_TYPES[ftype]
        ranked = sorted(rows, key=lambda f: (order[f.severity], f.key not in new_keys, f.atera_id, f.qbo_id))
        shown = [ReportRow(f, f.key in new_keys, None if f.key in new_keys else _open_days(f.first_seen, now))
                 for f in ranked[:max_rows]]
        sections.append(Section(ftype, title, what, len(rows), shown))
    return sections


def render_html(findings: list[Finding], *, run_id: str, window: tuple[str, str], types: list[str], now: datetime,
                new_keys: set[str], resolved: int, csv_prefix: str, max_rows: int = HTML_ROWS_PER_TYPE) -> str:
    """The self-contained HTML report (``TEMPLATE``); ``csv_prefix`` is where its links find the CSVs."""
    return render(TEMPLATE, run_id=run_id, generated=f"{now:%Y-%m-%d %H:%M}", window=window,
                  new_count=len(new_keys), resolved=resolved, by_severity=counts(findings)["by_severity"],
                  sections=_sections(findings, types, new_keys, now, max_rows), columns=COLUMNS,
                  csv_prefix=csv_prefix)


def write_outputs(review_dir: Path, findings: list[Finding], *, run_id: str, window: tuple[str, str],
                  types: list[str], now: datetime, new_keys: set[str], resolved: int) -> dict[str, Any]:
    """Write the run folder and the latest report; answers their paths."""
    folder_name = run_folder_name(run_id)
    folder = review_dir / "reconciliation" / folder_name
    folder.mkdir(parents=True, exist_ok=True)
    csvs = {t: str(write_csv(folder / f"{t}.csv", [f for f in findings if f.type == t])) for t in types}
    report = folder / "report.html"
    latest = review_dir / LATEST
    for path, csv_prefix in ((report, ""), (latest, f"reconciliation/{folder_name}/")):
        _atomic_write(path, render_html(findings, run_id=run_id, window=window, types=types, now=now,
                                        new_keys=new_keys, resolved=resolved, csv_prefix=csv_prefix))
    return {"report": str(report), "latest": str(latest), "csv": csvs}


def _atomic_write(path: Path, text: str) -> None:
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_text(text, encoding="utf-8")
    tmp.replace(path)
