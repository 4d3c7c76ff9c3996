"""The run's outputs: one CSV per finding type (Excel-safe, like the review CSV) and one self-contained HTML
report (inline CSS, no external resource), plus ``reconciliation_latest.html`` beside the run folders.

The HTML is a morning report a person reads in a browser: each type's table shows at most ``HTML_ROWS_PER_TYPE``
findings — the most severe and the new ones first — and says how many more its CSV holds (the counts at the top
are always of all findings). A first run on a large catalog finds tens of thousands of ``unmapped`` records; an HTML
of all of them would be tens of megabytes that no browser opens comfortably."""
from __future__ import annotations

import csv
import html
import re
from collections import Counter
from collections.abc import Iterable
from datetime import datetime
from pathlib import Path
from typing import Any

from ..matching.review_csv import _protect
from .findings import COLUMNS, FINDING_TYPES, SEVERITIES, Finding

LATEST = "reconciliation_latest.html"
HTML_ROWS_PER_TYPE = 1000
CSS = """
body{font-family:-apple-system,Segoe UI,Roboto,Helvetica,Arial,sans-serif;margin:24px;color:#1f2933}
h1{font-size:22px;margin:0 0 4px} h2{font-size:17px;margin:28px 0 4px} p.meta{color:#616e7c;margin:0 0 16px}
.counts{display:flex;gap:12px;margin:12px 0}
.count{border-radius:6px;padding:10px 16px;min-width:110px;color:#fff}
.count b{display:block;font-size:26px}
.critical{background:#c62828} .warning{background:#ef8c00} .info{background:#1e6fb8} .muted{background:#7b8794}
table{border-collapse:collapse;width:100%;font-size:13px;margin-top:6px}
th,td{border:1px solid #d9e2ec;padding:4px 6px;text-align:left;vertical-align:top}
th{background:#f0f4f8} td.sev{color:#fff;font-weight:600}
span.new{background:#ffe08a;border-radius:3px;padding:0 4px;font-size:11px;margin-left:4px}
p.what{color:#52606d;margin:2px 0}
"""


def run_folder_name(run_id: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", run_id)[:60] or "manual"


def write_csv(path: Path, findings: Iterable[Finding]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", encoding="utf-8-sig", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(COLUMNS)
        for f in findings:
            writer.writerow([_protect(cell) for cell in f.row()])
    return path


def counts(findings: Iterable[Finding]) -> dict[str, Any]:
    findings = list(findings)
    by_sev = Counter(f.severity for f in findings)
    return {"total": len(findings), "by_severity": {s: by_sev.get(s, 0) for s in SEVERITIES},
            "by_type": dict(sorted(Counter(f.type for f in findings).items()))}


def _cell(f: Finding, column: str, new_keys: set[str], now: datetime) -> str:
    value = str(getattr(f, column) or "")
    if column == "qbo_link":
        return f'<a href="{html.escape(value)}">open in QBO</a>' if value else ""
    if column == "severity":
        return html.escape(value)
    if column == "first_seen":
        if f.key in new_keys:
            return f'{html.escape(value)}<span class="new">new</span>'
        try:
            days = (now - datetime.strptime(value, "%Y-%m-%d %H:%M UTC")).days
        except ValueError:
            return html.escape(value)
        return f"{html.escape(value)} (open {days} day{'s' if days != 1 else ''})"
    return html.escape(value)


def render_html(findings: list[Finding], *, run_id: str, window: tuple[str, str], types: list[str], now: datetime,
                new_keys: set[str], resolved: int, csv_prefix: str, max_rows: int = HTML_ROWS_PER_TYPE) -> str:
    c = counts(findings)
    parts = [f"<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'><title>Atera ↔ QBO reconciliation "
             f"{html.escape(run_id)}</title><style>{CSS}</style></head><body>",
             "<h1>Atera ↔ QBO reconciliation</h1>",
             f"<p class='meta'>Run {html.escape(run_id)} · {now:%Y-%m-%d %H:%M} UTC · exported documents dated "
             f"{html.escape(window[0])} to {html.escape(window[1])} · {len(new_keys)} new since the previous run, "
             f"{resolved} resolved</p><div class='counts'>"]
    for sev in SEVERITIES:
        parts.append(f"<div class='count {sev}' id='count-{sev}'><b>{c['by_severity'][sev]}</b>{sev}</div>")
    parts.append(f"<div class='count muted' id='count-new'><b>{len(new_keys)}</b>new</div></div>")
    by_type: dict[str, list[Finding]] = {t: [] for t in types}
    for f in findings:
        by_type.setdefault(f.type, []).append(f)
    for ftype, rows in by_type.items():
        title, what = FINDING_TYPES[ftype]
        parts.append(f"<h2 id='{ftype}'>{html.escape(title)} ({len(rows)})</h2><p class='what'>{html.escape(what)} "
                     f"<a href='{html.escape(csv_prefix + ftype)}.csv'>{ftype}.csv</a></p>")
        if not rows:
            parts.append("<p class='what'>Nothing found.</p>")
            continue
        parts.append(f"<table data-type='{ftype}'><tr>" + "".join(f"<th>{c}</th>" for c in COLUMNS) + "</tr>")
        order = {s: i for i, s in enumerate(SEVERITIES)}
        ranked = sorted(rows, key=lambda f: (order[f.severity], f.key not in new_keys, f.atera_id, f.qbo_id))
        for f in ranked[:max_rows]:
            cells = "".join(f"<td class='sev {f.severity}'>{_cell(f, col, new_keys, now)}</td>" if col == "severity"
                            else f"<td>{_cell(f, col, new_keys, now)}</td>" for col in COLUMNS)
            parts.append(f"<tr class='finding' data-severity='{f.severity}'>{cells}</tr>")
        parts.append("</table>")
        if len(ranked) > max_rows:
            parts.append(f"<p class='what more' data-type='{ftype}' data-hidden='{len(ranked) - max_rows}'>Showing "
                         f"the first {max_rows:,} of {len(ranked):,} (most severe and new first): all of them are in "
                         f"<a href='{html.escape(csv_prefix + ftype)}.csv'>{ftype}.csv</a>.</p>")
    parts.append("</body></html>")
    return "".join(parts)


def write_outputs(review_dir: Path, findings: list[Finding], *, run_id: str, window: tuple[str, str],
                  types: list[str], now: datetime, new_keys: set[str], resolved: int) -> dict[str, Any]:
    """Write the run folder and the latest report; answers their paths."""
    folder_name = run_folder_name(run_id)
    folder = review_dir / "reconciliation" / folder_name
    folder.mkdir(parents=True, exist_ok=True)
    csvs = {t: str(write_csv(folder / f"{t}.csv", [f for f in findings if f.type == t])) for t in types}
    args = dict(run_id=run_id, window=window, types=types, now=now, new_keys=new_keys, resolved=resolved)
    report = folder / "report.html"
    _atomic_write(report, render_html(findings, csv_prefix="", **args))
    latest = review_dir / LATEST
    _atomic_write(latest, render_html(findings, csv_prefix=f"reconciliation/{folder_name}/", **args))
    return {"report": str(report), "latest": str(latest), "csv": csvs}


def _atomic_write(path: Path, text: str) -> None:
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_text(text, encoding="utf-8")
    tmp.replace(path)
