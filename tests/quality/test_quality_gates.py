"""The quality gates against staging databases (SQLite, and PostgreSQL when ATERA_QBO_TEST_PG_URL is set): a clean
dataset passes; each expectation fails on purpose-made bad data and names the offending ids; nameless QBO items
are excluded and counted; deleted rows are history; Data Docs are written; the error message reads well."""
from __future__ import annotations

import html
import json
import re
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from quality_data import ALL_TABLES, stage, update

from atera_qbo.errors import DataQualityError
from atera_qbo.quality import GATED_TABLES, run_gates

D = Decimal
DELETED = datetime(2026, 1, 1, 12, 0, 0)


def raw_update(engine: sa.Engine, sql: str) -> None:
    """A change no code path can make (past the column types): a hand-edited database."""
    with engine.begin() as conn:
        assert conn.exec_driver_sql(sql).rowcount == 1


def gate_error(engine: sa.Engine, tables: list[str], **kwargs: Any) -> DataQualityError:
    with pytest.raises(DataQualityError) as info:
        run_gates(engine, tables, **kwargs)
    return info.value


# ------------------------------------------------------------------------------------------------ clean data
def test_every_staging_table_has_a_gate(engine: sa.Engine) -> None:
    # reconciliation's read model of the exported QBO documents is checked by reconciliation itself (its findings)
    not_gated = {"stg_qbo_transactions", "stg_qbo_payments"}
    staging = sorted(t for t in sa.inspect(engine).get_table_names() if t.startswith("stg_") and t not in not_gated)
    assert sorted(GATED_TABLES) == staging
    assert sorted(ALL_TABLES) == staging  # and the clean dataset covers them all


def test_clean_dataset_passes_and_writes_data_docs(clean: sa.Engine, tmp_path: Path) -> None:
    docs = tmp_path / "review" / "data_docs"
    summary = run_gates(clean, ALL_TABLES, docs_dir=docs)

    assert set(summary) == set(ALL_TABLES)
    for name, result in summary.items():
        assert result["success"], (name, result)
        assert result["failed"] == []
    assert summary["stg_atera_products"]["rows"] == 5
    assert summary["stg_atera_invoice_lines"]["rows"] == 3
    assert json.loads(json.dumps(summary)) == summary  # JSON-able as is (XCom)

    index = docs / "index.html"
    assert index.is_file()
    pages = list((docs / "validations").rglob("*.html"))
    assert {p.relative_to(docs / "validations").parts[0] for p in pages} == set(ALL_TABLES)
    products = next(p for p in pages if "stg_atera_products" in p.parts).read_text(encoding="utf-8")
    assert "amount is a valid money amount" in products  # plain words are what Data Docs show
    assert "stg_qbo_items" in index.read_text(encoding="utf-8")


def test_data_docs_keep_only_recent_runs(clean: sa.Engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from atera_qbo.quality import gates

    monkeypatch.setattr(gates, "DOCS_KEEP_RUNS", 2)
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "notes.txt").write_text("not ours")
    for _ in range(3):
        run_gates(clean, ["stg_qbo_accounts", "stg_qbo_terms"], docs_dir=docs)
    for name in ("stg_qbo_accounts", "stg_qbo_terms"):
        runs = sorted((docs / "validations" / name / "quality_gates").iterdir())
        assert len(runs) == 2, runs
    assert (docs / "notes.txt").read_text() == "not ours"
    assert (docs / "index.html").is_file()


def test_only_requested_tables_are_gated_and_missing_ones_skipped(clean: sa.Engine) -> None:
    with clean.begin() as conn:
        conn.exec_driver_sql("DROP TABLE stg_qbo_terms")
    summary = run_gates(clean, ["stg_qbo_terms", "stg_atera_customers", "stg_atera_customers"])
    assert list(summary) == ["stg_atera_customers"]
    assert summary["stg_atera_customers"] == {"success": True, "rows": 3, "failed": [],
                                              "excluded": {"deleted": 0}}


def test_unknown_table_is_a_programming_error(clean: sa.Engine) -> None:
    with pytest.raises(ValueError, match="no quality gate for map_customers"):
        run_gates(clean, ["stg_atera_customers", "map_customers"])


# ------------------------------------------------------------------------------------------------ bad data
@dataclass
class Bad:
    table: str
    spoil: Callable[[sa.Engine], None]
    expectation: str   # plain words, as in the message
    column: str | None
    ids: list[str]
    count: int | None = None
    sqlite_only: bool = False


BAD: dict[str, Bad] = {
    "customer name null": Bad(
        "stg_atera_customers", lambda e: update(e, "stg_atera_customers", {"source_id": "2"}, name=None),
        "name is present", "name", ["2"]),
    "customer name blank": Bad(
        "stg_atera_customers", lambda e: update(e, "stg_atera_customers", {"source_id": "3"}, name="   "),
        "name is not blank", "name", ["3"]),
    "product name missing": Bad(
        "stg_atera_products", lambda e: stage(e, "stg_atera_products", [
            {"kind": "product", "source_id": "9", "name": None, "amount": D("1"), "quality_flags": "name:missing"}]),
        "name is present", "name", ["product:9"]),
    "product amount negative": Bad(
        "stg_atera_products", lambda e: update(e, "stg_atera_products", {"kind": "product", "source_id": "1"},
                                               amount=D("-10.50")),
        "amount is not negative (≥ 0)", "amount", ["product:1"]),
    "expense amount negative": Bad(
        "stg_atera_products", lambda e: update(e, "stg_atera_products", {"kind": "expense", "source_id": "1"},
                                               amount=D("-0.01")),
        "amount is not negative (≥ 0)", "amount", ["expense:1"]),
    "rate flagged amount:not_money": Bad(
        "stg_atera_products", lambda e: update(e, "stg_atera_products", {"kind": "rate", "source_id": "2"},
                                               amount=None, quality_flags="amount:not_money"),
        "amount is a valid money amount (a decimal number, at most 5 decimals)", "amount_is_money", ["rate:2"]),
    "product without price": Bad(
        "stg_atera_products", lambda e: update(e, "stg_atera_products", {"kind": "product", "source_id": "2"},
                                               amount=None),
        "amount is a valid money amount", "amount_is_money", ["product:2"]),
    "product price with 6 decimals": Bad(
        "stg_atera_products", lambda e: update(e, "stg_atera_products", {"kind": "product", "source_id": "2"},
                                               amount="0.123456"),
        "amount is a valid money amount", "amount_is_money", ["product:2"], sqlite_only=True),
    "product price not a number (a hand-edited SQLite file: Money refuses it)": Bad(
        "stg_atera_products", lambda e: raw_update(e, "UPDATE stg_atera_products SET amount = '12,50' "
                                                      "WHERE kind = 'rate' AND source_id = '1'"),
        "amount is a valid money amount", "amount_is_money", ["rate:1"], sqlite_only=True),
    "QBO item unit_price negative": Bad(
        "stg_qbo_items", lambda e: update(e, "stg_qbo_items", {"source_id": "3"}, unit_price=D("-1")),
        "unit_price is not negative (≥ 0)", "unit_price", ["3"]),
    "QBO customer display_name blank": Bad(
        "stg_qbo_customers", lambda e: update(e, "stg_qbo_customers", {"source_id": "3"}, display_name=""),
        "display_name is not blank", "display_name", ["3"]),
    "invoice currency lower case": Bad(
        "stg_atera_invoices", lambda e: update(e, "stg_atera_invoices", {"source_id": "INV-1"}, currency="usd"),
        "currency is an ISO 4217 currency code", "currency", ["INV-1"]),
    "QBO customer currency not ISO": Bad(
        "stg_qbo_customers", lambda e: update(e, "stg_qbo_customers", {"source_id": "2"}, currency="EURO"),
        "currency is an ISO 4217 currency code", "currency", ["2"]),
    "home currency XXX": Bad(
        "stg_qbo_preferences", lambda e: update(e, "stg_qbo_preferences", {"source_id": "9130350000000001"},
                                                home_currency="XXX"),
        "home_currency is an ISO 4217 currency code", "home_currency", ["9130350000000001"]),
    "contract of an unknown customer": Bad(
        "stg_atera_contracts", lambda e: stage(e, "stg_atera_contracts", [
            {"source_id": "k3", "customer_id": "404"}, {"source_id": "k4", "customer_id": None}]),
        "customer_id refers to a staged stg_atera_customers.source_id", "customer_id_exists", ["k3", "k4"]),
    "contract of a deleted customer": Bad(
        "stg_atera_contracts", lambda e: update(e, "stg_atera_customers", {"source_id": "2"}, deleted_at=DELETED),
        "customer_id refers to a staged stg_atera_customers.source_id", "customer_id_exists", ["k2"]),
    "contact of an unknown customer": Bad(
        "stg_atera_contacts", lambda e: update(e, "stg_atera_contacts", {"source_id": "c2"}, customer_id="99"),
        "customer_id refers to a staged stg_atera_customers.source_id", "customer_id_exists", ["c2"]),
    "invoice line of an unknown invoice": Bad(
        "stg_atera_invoice_lines", lambda e: stage(e, "stg_atera_invoice_lines", [
            {"invoice_source_id": "INV-404", "line_idx": 0}]),
        "invoice_source_id refers to a staged stg_atera_invoices.source_id", "invoice_source_id_exists",
        ["INV-404#0"]),
    "QBO item with an unknown income account": Bad(
        "stg_qbo_items", lambda e: update(e, "stg_qbo_items", {"source_id": "1"}, income_account_id="1234"),
        "income_account_id refers to a staged stg_qbo_accounts.source_id when set", "income_account_id_exists",
        ["1"]),
    "invoice total off by a cent": Bad(
        "stg_atera_invoices", lambda e: update(e, "stg_atera_invoices", {"source_id": "INV-1"}, total=D("108.31")),
        "subtotal + tax = total (exact)", "total_consistent", ["INV-1"]),
    "invoice without total": Bad(
        "stg_atera_invoices", lambda e: update(e, "stg_atera_invoices", {"source_id": "INV-2"}, total=None,
                                               quality_flags="total:not_money"),
        "subtotal + tax = total (exact)", "total_consistent", ["INV-2"]),
}


@pytest.mark.parametrize("case", list(BAD))
def test_each_expectation_fails_on_bad_data_naming_the_ids(clean: sa.Engine, case: str) -> None:
    bad = BAD[case]
    if bad.sqlite_only and clean.dialect.name != "sqlite":
        pytest.skip("PostgreSQL's NUMERIC / NOT NULL key cannot hold this value")
    bad.spoil(clean)

    error = gate_error(clean, [bad.table])

    result = error.summary[bad.table]
    assert result["success"] is False
    assert len(result["failed"]) == 1, result["failed"]
    failed = result["failed"][0]
    assert failed["expectation"].startswith(bad.expectation)
    assert failed["column"] == bad.column
    assert failed["examples"] == bad.ids
    assert failed["unexpected_count"] == (bad.count or len(bad.ids))
    message = str(error)
    assert bad.table in message and bad.expectation in message
    for ident in bad.ids:
        assert ident in message


# ------------------------------------------------------------------------------------------------ exclusions
def test_a_null_key_cannot_be_staged_any_more(engine: sa.Engine) -> None:
    """It used to be a gate case on SQLite (``TEXT PRIMARY KEY`` let NULL in); keys are NOT NULL everywhere now."""
    with pytest.raises(sa.exc.IntegrityError):
        stage(engine, "stg_atera_customers", [{"source_id": None, "name": "Ghost"}])


def test_qbo_items_without_name_are_excluded_and_counted(clean: sa.Engine) -> None:
    stage(clean, "stg_qbo_items", [
        # would fail three expectations if gated: negative price, unknown account, no name
        {"source_id": "50", "name": None, "unit_price": D("-5"), "income_account_id": "nope",
         "quality_flags": "name:missing"},
        {"source_id": "51", "name": "  ", "unit_price": D("1")},
    ])
    summary = run_gates(clean, ["stg_qbo_items"])
    assert summary["stg_qbo_items"] == {"success": True, "rows": 3, "failed": [],
                                        "excluded": {"deleted": 0, "no_name": 2}}


def test_deleted_rows_are_history_and_not_gated(clean: sa.Engine) -> None:
    stage(clean, "stg_atera_customers", [{"source_id": "8", "name": None, "deleted_at": DELETED}])
    stage(clean, "stg_atera_products", [
        {"kind": "product", "source_id": "8", "name": "", "amount": D("-3"), "deleted_at": DELETED}])
    stage(clean, "stg_atera_contracts", [{"source_id": "k8", "customer_id": "8", "deleted_at": DELETED}])
    stage(clean, "stg_atera_invoices", [{"source_id": "INV-8", "currency": "dollars", "subtotal": D("1"),
                                         "tax": D("1"), "total": D("5"), "deleted_at": DELETED}])
    stage(clean, "stg_atera_invoice_lines", [{"invoice_source_id": "INV-8", "line_idx": 0}])
    stage(clean, "stg_qbo_items", [{"source_id": "8", "name": "Old", "unit_price": D("-1"), "deleted_at": DELETED}])

    summary = run_gates(clean, ALL_TABLES)

    assert all(s["success"] for s in summary.values()), summary
    for name in ("stg_atera_customers", "stg_atera_products", "stg_atera_contracts", "stg_atera_invoices",
                 "stg_atera_invoice_lines", "stg_qbo_items"):
        assert summary[name]["excluded"]["deleted"] == 1, name
    assert summary["stg_atera_customers"]["rows"] == 3


# ------------------------------------------------------------------------------------------------ the error
def test_error_message_is_readable_and_summary_attached(clean: sa.Engine, tmp_path: Path) -> None:
    stage(clean, "stg_atera_contacts", [{"source_id": f"x{i}", "customer_id": "gone"} for i in range(8)])
    update(clean, "stg_qbo_items", {"source_id": "1"}, unit_price=D("-2.00"))
    stage(clean, "stg_qbo_items", [{"source_id": "60", "name": None}])
    docs = tmp_path / "docs"

    error = gate_error(clean, ALL_TABLES, docs_dir=docs)

    lines = str(error).splitlines()
    assert lines[0] == ("Data quality gate failed on 2 staging tables (stg_atera_contacts, stg_qbo_items):")
    assert lines[1] == "stg_atera_contacts: 10 rows checked:"
    assert lines[2] == ("  - customer_id refers to a staged stg_atera_customers.source_id: fails for 8 rows; "
                        "ids: x0, x1, x2, x3, x4 …")
    assert lines[3] == "stg_qbo_items: 3 rows checked (not gated: 1 without a name):"
    assert lines[4] == "  - unit_price is not negative (≥ 0): fails for 1 row; ids: 1"
    assert lines[5] == "Fix these records in Atera / QuickBooks (or the extraction), then run the sync again."
    assert lines[6] == f"Details in the Data Docs: {(docs / 'index.html').resolve()}"
    assert len(lines) == 7
    # the summary travels with the error, and the Data Docs were written although the gate failed
    assert error.summary["stg_atera_contacts"]["failed"][0]["examples"] == ["x0", "x1", "x2", "x3", "x4"]
    assert error.summary["stg_atera_customers"]["success"] is True
    assert (docs / "index.html").is_file()


def test_fail_false_answers_the_summary(clean: sa.Engine) -> None:
    update(clean, "stg_atera_customers", {"source_id": "1"}, name=None)
    summary = run_gates(clean, ["stg_atera_customers", "stg_qbo_accounts"], fail=False)
    assert summary["stg_atera_customers"]["success"] is False
    assert summary["stg_atera_customers"]["failed"] == [
        {"expectation": "name is present", "column": "name", "unexpected_count": 1, "examples": ["1"]}]
    assert summary["stg_qbo_accounts"]["success"] is True


# ------------------------------------------------------------------------------------------------ cost
def test_importing_the_package_does_not_import_great_expectations_or_pandas() -> None:
    plugins = Path(__file__).resolve().parents[2] / "plugins"
    code = ("import sys; import atera_qbo.quality; "
            "print(sorted(m for m in ('great_expectations', 'pandas') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                         env={"PYTHONPATH": str(plugins)})
    assert out.stdout.strip() == "[]"


def test_a_few_thousand_rows_are_gated_whole(engine: sa.Engine) -> None:
    """Every row of every table is validated (the speed is for benchmarks, not a timed test)."""
    n = 2000
    stage(engine, "stg_atera_customers", [{"source_id": str(i), "name": f"Customer {i}"} for i in range(n)])
    stage(engine, "stg_atera_contracts", [{"source_id": f"k{i}", "customer_id": str(i)} for i in range(n)])
    stage(engine, "stg_atera_products", [{"kind": "product", "source_id": str(i), "name": f"P{i}",
                                          "amount": D(i) / 100} for i in range(n)])
    stage(engine, "stg_atera_invoices", [{"source_id": f"INV-{i}", "currency": "EUR", "subtotal": D(i) / 10,
                                          "tax": D("0.2"), "total": D(i) / 10 + D("0.2")} for i in range(n)])
    stage(engine, "stg_atera_invoice_lines", [{"invoice_source_id": f"INV-{i}", "line_idx": j}
                                              for i in range(n) for j in range(2)])
    summary = run_gates(engine, ALL_TABLES)
    assert all(s["success"] for s in summary.values())
    assert sum(s["rows"] for s in summary.values()) == 6 * n


def test_scope_limits_the_gate_to_part_of_a_table(engine):
    """An old bad invoice must not block the gate of a later window."""
    import sqlalchemy as sa

    from atera_qbo.staging.db import table, upsert, utcnow

    inv = table("stg_atera_invoices")
    now = utcnow()
    rows = [{"source_id": "1", "invoice_date": "2026-01-05", "subtotal": Decimal("10.00"),
             "tax": Decimal("0.00"), "total": Decimal("99.00"),
             "currency": "USD", "extracted_at": now},
            {"source_id": "2", "invoice_date": "2026-09-05", "subtotal": Decimal("10.00"),
             "tax": Decimal("0.80"), "total": Decimal("10.80"),
             "currency": "USD", "extracted_at": now}]
    with engine.begin() as conn:
        upsert(conn, inv, rows, ["source_id"])
    with pytest.raises(DataQualityError, match="1"):
        run_gates(engine, ["stg_atera_invoices"])
    window = {"stg_atera_invoices": lambda t: sa.and_(t.c.invoice_date >= "2026-09-01",
                                                      t.c.invoice_date <= "2026-09-30")}
    summary = run_gates(engine, ["stg_atera_invoices"], scopes=window)
    assert summary["stg_atera_invoices"]["success"] and summary["stg_atera_invoices"]["rows"] == 1


# ------------------------------------------------------------------------------------------------ Data Docs
INVOICE_TABLES = ["stg_atera_invoices", "stg_atera_invoice_lines"]
CATALOG_TABLES = [t for t in ALL_TABLES if t not in INVOICE_TABLES]


def _validation_pages(docs: Path) -> dict[str, list[Path]]:
    pages: dict[str, list[Path]] = {}
    for page in (docs / "validations").rglob("*.html"):
        pages.setdefault(page.relative_to(docs / "validations").parts[0], []).append(page)
    return pages


def test_each_dags_latest_validations_stay_in_the_data_docs(clean: sa.Engine, tmp_path: Path) -> None:
    """The catalog sync's gates and then the export's gates write into one site: neither removes the other's."""
    docs = tmp_path / "review" / "data_docs"
    run_gates(clean, CATALOG_TABLES, docs_dir=docs)
    run_gates(clean, INVOICE_TABLES, docs_dir=docs)

    pages = _validation_pages(docs)
    assert set(pages) == set(ALL_TABLES)  # the catalog's pages survived the export's run
    index = (docs / "index.html").read_text(encoding="utf-8")
    assert all(t in index for t in ALL_TABLES)
    assert (tmp_path / "review" / "gx" / "great_expectations.yml").is_file()  # the persistent GX project
    assert {p.name for p in (tmp_path / "review" / "gx" / "checkpoints").iterdir()} == {
        f"{t}.json" for t in ALL_TABLES}  # a checkpoint per gated table

    run_gates(clean, ["stg_qbo_items"], docs_dir=docs)  # and the export's pages survive the next catalog run
    pages = _validation_pages(docs)
    assert set(pages) == set(ALL_TABLES)
    assert [len(pages[t]) for t in INVOICE_TABLES] == [1, 1] and len(pages["stg_qbo_items"]) == 2


def test_the_summary_page_renders_offline_and_links_every_latest_validation(clean: sa.Engine,
                                                                            tmp_path: Path) -> None:
    docs = tmp_path / "data_docs"
    update(clean, "stg_qbo_items", {"source_id": "1"}, unit_price=D("-2.00"))
    catalog = ["stg_qbo_items", "stg_qbo_accounts"]
    run_gates(clean, catalog, docs_dir=docs, fail=False)
    run_gates(clean, catalog, docs_dir=docs, fail=False)  # an earlier run, linked too
    run_gates(clean, INVOICE_TABLES, docs_dir=docs)

    page = (docs / "gates_summary.html").read_text(encoding="utf-8")
    assert "http://" not in page and "https://" not in page  # no CDN, no remote asset of any kind
    assert "<style>" in page and "<script" not in page
    links = re.findall(r'href="([^"]+)"', page)
    validation_links = [link for link in links if link.startswith("validations/")]
    assert {link.split("/")[1] for link in validation_links} == {*catalog, *INVOICE_TABLES}
    assert len(validation_links) == 2 * len(catalog) + len(INVOICE_TABLES)  # latest and earlier runs
    assert all((docs / html.unescape(link)).is_file() for link in links), links
    row = next(r for r in page.split("<tr>") if r.startswith("<td>stg_qbo_items<"))
    assert "FAILED" in row and "unit_price is not negative" in row


def test_data_docs_keep_the_last_runs_per_suite_not_per_site(clean: sa.Engine, tmp_path: Path) -> None:
    docs = tmp_path / "data_docs"
    run_gates(clean, INVOICE_TABLES, docs_dir=docs, keep_runs=2)
    for _ in range(3):
        run_gates(clean, ["stg_qbo_terms"], docs_dir=docs, keep_runs=2)
    pages = _validation_pages(docs)
    assert len(pages["stg_qbo_terms"]) == 2  # pruned to the setting
    assert [len(pages[t]) for t in INVOICE_TABLES] == [1, 1]  # another suite's only run is kept
    stored = list((tmp_path / "gx" / "uncommitted" / "validations" / "stg_qbo_terms").rglob("*.json"))
    assert len(stored) == 2  # the results store is pruned too, not only the pages
