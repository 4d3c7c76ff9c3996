"""Reconciliation's pure parts: payment states, line signatures, the report files, params (what it keeps in staging:
tests/integration/test_reconcile_store.py)."""
from __future__ import annotations

import csv
from datetime import date, datetime
from decimal import Decimal as D
from pathlib import Path

import pytest

from atera_qbo.errors import ConfigError
from atera_qbo.reconcile import report
from atera_qbo.reconcile.findings import Finding, qbo_link, with_host
from atera_qbo.reconcile.refresh import is_voided, line_signature
from atera_qbo.reconcile.run import finding_types, window
from atera_qbo.reconcile.transactions import payment_state

TODAY = date(2026, 11, 27)


@pytest.mark.parametrize(("qbo_type", "total", "balance", "due", "state"), [
    ("Invoice", "100", "100", "2026-12-01", "open"),
    ("Invoice", "100", "100", "2026-11-01", "open_overdue"),
    ("Invoice", "100", "40", "2026-12-01", "partially_paid"),
    ("Invoice", "100", "40", "2026-11-26", "partially_paid_overdue"),
    ("Invoice", "100", "0", "2026-11-01", "paid"),  # paid late is paid
    ("CreditMemo", "30", "30", None, "unapplied"),
    ("CreditMemo", "30", "10", None, "partially_applied"),
    ("CreditMemo", "30", "0", None, "applied"),
])
def test_payment_state(qbo_type, total, balance, due, state):
    assert payment_state(qbo_type, D(total), D(balance), due, TODAY) == state


def test_line_signature_ignores_number_formatting_and_non_item_lines():
    a = {"Line": [{"DetailType": "SalesItemLineDetail", "Amount": "250.00",
                   "SalesItemLineDetail": {"ItemRef": {"value": "7"}, "Qty": 2, "UnitPrice": D("125.0")}},
                  {"DetailType": "SubTotalLineDetail", "Amount": "250.00"}]}
    b = {"Line": [{"DetailType": "SalesItemLineDetail", "Amount": D("250"),
                   "SalesItemLineDetail": {"ItemRef": {"value": "7"}, "Qty": D("2.00"), "UnitPrice": 125}}]}
    assert line_signature(a) == line_signature(b) == "7|2|125|250"
    b["Line"][0]["SalesItemLineDetail"]["Qty"] = 3
    assert line_signature(a) != line_signature(b)


def test_voided_is_zero_total_with_the_void_note():
    assert is_voided({"TotalAmt": 0, "PrivateNote": "Voided"})
    assert not is_voided({"TotalAmt": 0, "PrivateNote": "free of charge"})
    assert not is_voided({"TotalAmt": D("12.50"), "PrivateNote": "Voided"})


def _f(kind="txn_voided", atera="1001", qbo="77", sev="critical", detail="x") -> Finding:
    return Finding(kind, sev, "invoice", atera_id=atera, qbo_id=qbo, detail=detail)


def test_the_html_shows_the_most_severe_rows_of_a_long_type_and_points_at_its_csv():
    many = [Finding("unmapped", "info", "customer", atera_id=f"{i:05d}", atera_name=f"C{i}") for i in range(30)]
    many.append(Finding("unmapped", "warning", "customer", atera_id="99999", atera_name="Urgent"))
    page = report.render_html(many, run_id="r", window=("a", "b"), types=["unmapped"], now=datetime(2026, 11, 27),
                              new_keys={many[29].key}, resolved=0, csv_prefix="", max_rows=5)
    assert page.count("<tr class='finding'") == 5
    assert page.index("Urgent") < page.index(">C29<") < page.index(">C0<")  # severe, then new, then the rest
    assert ">C5<" not in page and "Showing the first 5 of 31" in page and "href='unmapped.csv'" in page
    assert "id='count-info'><b>30</b>" in page  # the counts are of every finding


def test_report_files(tmp_path):
    risky = Finding("name_changed", "info", "customer", atera_id="4", atera_name="=HYPERLINK(\"x\")",
                    qbo_id="9", qbo_link=qbo_link("customer", "9"), detail="renamed <b>")
    fs = [risky, _f()]
    with_host(fs, "https://app.sandbox.qbo.intuit.com")
    now = datetime(2026, 11, 27, 7, 0)
    for f in fs:
        f.first_seen = "2026-11-24 06:00 UTC"
    paths = report.write_outputs(tmp_path, fs, run_id="scheduled__2026-11-27T06:00:00+00:00",
                                 window=("2025-11-27", "2026-11-27"), types=["name_changed", "txn_voided", "unmapped"],
                                 now=now, new_keys={fs[1].key}, resolved=1)
    assert set(paths["csv"]) == {"name_changed", "txn_voided", "unmapped"}
    with open(paths["csv"]["name_changed"], encoding="utf-8-sig", newline="") as fh:
        (row,) = list(csv.DictReader(fh))
    assert row["atera_name"] == "'=HYPERLINK(\"x\")"  # no formula when Excel opens it
    assert row["qbo_link"] == "https://app.sandbox.qbo.intuit.com/app/customerdetail?nameId=9"
    with open(paths["csv"]["unmapped"], encoding="utf-8-sig", newline="") as fh:
        assert list(csv.reader(fh)) == [report.COLUMNS]
    html = Path(paths["report"]).read_text(encoding="utf-8")
    assert "renamed &lt;b&gt;" in html and "<script" not in html and "stylesheet" not in html
    assert "(open 3 days)" in html and "<span class=\"new\">new</span>" in html
    assert "href='name_changed.csv'" in html
    assert "reconciliation/scheduled__2026-11-27T06_00_00_00_00/name_changed.csv" in \
        Path(paths["latest"]).read_text(encoding="utf-8")


def test_params():
    assert window(None, None, TODAY) == (date(2025, 11, 27), TODAY)
    assert window("2026-08-01", "2026-10-31", TODAY) == (date(2026, 8, 1), date(2026, 10, 31))
    with pytest.raises(ConfigError, match="date_from 2026-10-31 is after date_to 2026-08-01"):
        window("2026-10-31", "2026-08-01", TODAY)
    with pytest.raises(ConfigError, match="not a date"):
        window("31/10/2026", None, TODAY)
    assert finding_types([]) == finding_types(None) and len(finding_types([])) == 13
    assert finding_types(["payment_status", "txn_voided"]) == ["txn_voided", "payment_status"]
    with pytest.raises(ConfigError, match=r"unknown \['payments'\]"):
        finding_types(["payments"])
