"""The run summary ``make run`` prints (``python -m atera_qbo.reports summary``): counts per table, active mappings
by method, the last batch and the ledger totals — read from a staged database, on SQLite and PostgreSQL."""
from __future__ import annotations

import sqlalchemy as sa

from atera_qbo.reports import format_summary, main, summary
from atera_qbo.staging.db import table, utcnow


def test_the_summary_counts_mappings_and_the_ledger(engine):
    now = utcnow()
    with engine.begin() as conn:
        conn.execute(table("map_customers").insert(), [
            {"atera_id": str(i), "status": "matched", "method": method, "active": active, "updated_at": now}
            for i, (method, active) in enumerate([("exact", True), ("exact", True), ("override", True),
                                                  ("exact", False)])])
        conn.execute(table("export_batches").insert(), [
            {"batch_id": "b1", "run_id": "manual__1", "started_at": now, "status": "success",
             "selected_count": 3, "skipped_count": 0, "failed_count": 1}])
        conn.execute(table("export_invoices").insert(), [
            {"atera_invoice_number": n, "batch_id": "b1", "status": s, "qbo_id": q, "request_id": f"r{n}",
             "attempts": 1} for n, s, q in (("1001", "exported", "7"), ("1002", "exported", "8"),
                                            ("1003", "blocked", None))])
    data = summary(engine)
    assert data["matches"]["map_customers"] == {"exact": 2, "override": 1}  # the inactive one is not counted
    assert data["matches"]["map_products"] == {}
    assert data["export"]["ledger_totals"] == {"exported": 2, "blocked": 1}
    assert data["export"]["exported_ids"] == {"1001": "7", "1002": "8"}
    text = format_summary(data)
    assert "exact=2, override=1" in text and "1001→7" in text


def test_the_summary_of_an_unknown_company_is_a_message(capsys):
    assert main(["summary", "--company", "nope"]) == 2
    assert "no company 'nope'" in capsys.readouterr().err


def test_the_summary_command_reads_a_database(tmp_path, capsys):
    url = f"sqlite:///{tmp_path / 's.db'}"
    assert main(["summary", "--url", url, "--json"]) == 0
    assert '"ledger_totals": {}' in capsys.readouterr().out
    sa.create_engine(url).dispose()
