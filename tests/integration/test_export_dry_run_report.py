"""A dry run's report lists every selected invoice with what a real run would do — sent (as which document, at
what pre-tax total), blocked (why), or already exported (as which QBO document) — and sends nothing."""
from __future__ import annotations

import csv
from collections import Counter

from .pipeline import atera_client, export, sync_and_match
from .test_extract_qbo import client as qbo_client


def report(path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8-sig", newline="") as fh:
        return list(csv.DictReader(fh))


def test_a_dry_run_reports_every_selected_invoice_and_sends_nothing(atera_twin, qbo_twin, qbo_control, engine,
                                                                   tmp_path):
    atera, qbo = atera_client(atera_twin), qbo_client(qbo_twin, engine)
    sync_and_match(atera, qbo, engine)
    sent = len(qbo_control.requests())
    before = export(atera, qbo, engine, "dry-before", dry_run=True, report_path=tmp_path / "before.csv")
    rows = report(tmp_path / "before.csv")
    assert len(rows) == before.selected > 0 and {r["status"] for r in rows} <= {"would_export", "blocked"}
    assert all(r["error"].startswith("would be sent as a QBO ") for r in rows if r["status"] == "would_export")
    assert Counter(r["status"] for r in rows)["would_export"] == len(before.would_send) > 0
    assert not [r for r in qbo_control.requests()[sent:] if r["method"] == "POST" and "/query" not in r["path"]]

    first = export(atera, qbo, engine, "real", numbers=[], report_path=tmp_path / "real.csv")
    exported = set(first.exported) | set(first.recovered_ids)
    assert exported
    sent = len(qbo_control.requests())
    dry = export(atera, qbo, engine, "dry", dry_run=True, report_path=tmp_path / "dry.csv")
    assert not [r for r in qbo_control.requests()[sent:] if r["method"] == "POST" and "/query" not in r["path"]]
    rows = report(tmp_path / "dry.csv")
    assert len(rows) == dry.selected == first.selected  # every selected invoice, once
    by_status = Counter(r["status"] for r in rows)
    assert by_status["already_exported"] == len(exported)
    assert all("would not be sent again" in r["error"] and r["qbo_id"] for r in rows
               if r["status"] == "already_exported")
