"""Finance's whole path in headless chromium against a real Airflow (API server, scheduler, dag processor as
processes; tests/browser/stack.py): log in through Airflow's login page, accept a suggestion with the keyboard,
mark a create, look at the summary, press Done and see the commit's outcome; export two invoices and follow the
link back to the invoice list, now with their QBO links. A read-only login sees the pages but no Done/Export.
Screenshots of every page are written to ``var/browser-artifacts/`` (the path is printed)."""
from __future__ import annotations

import os
import re
import shutil
import sqlite3
from pathlib import Path

import pytest

from scripts.airflow_env import DEMO

from .stack import USERS, Stack

pytestmark = pytest.mark.browser
REPO = Path(__file__).resolve().parents[2]
CHROMIUM = "/usr/bin/chromium"
ARTIFACTS = Path(os.environ.get("ATERA_QBO_BROWSER_ARTIFACTS", REPO / "var" / "browser-artifacts"))
RUN_TIMEOUT_MS = 240_000


@pytest.fixture(scope="module")
def stack(tmp_path_factory):
    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} is missing: apt-get install -y chromium (.ci/run does)")
    running = Stack(tmp_path_factory.mktemp("airflow-browser"))
    try:
        yield running.start()
    finally:
        running.stop()


@pytest.fixture(scope="module")
def browser():
    from playwright.sync_api import sync_playwright

    shutil.rmtree(ARTIFACTS, ignore_errors=True)
    ARTIFACTS.mkdir(parents=True)
    print(f"\nscreenshots: {ARTIFACTS}")
    with sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=["--no-sandbox"])
        yield chromium
        chromium.close()


def login(page, stack: Stack, user: str, target: str) -> None:
    page.goto(f"{stack.url}{target}")
    page.wait_for_url(re.compile(r".*/auth/login.*"))  # Airflow's own login page, not ours
    page.locator("input[name=username]").fill(user)
    page.locator("input[name=password]").fill(USERS[user][1])
    page.locator("button[type=submit]").click()
    page.wait_for_url(re.compile(re.escape(stack.url + target.split("?")[0]) + ".*"))


def shot(page, name: str) -> None:
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"))  # the viewport: what finance sees first


def arrive(page, pattern: str) -> None:
    """Wait for the page to reach ``pattern``; if it does not, fail with where it is and what it says."""
    from playwright.sync_api import TimeoutError as PlaywrightTimeout

    try:
        page.wait_for_url(re.compile(pattern))
    except PlaywrightTimeout:
        pytest.fail(f"expected {pattern}, still at {page.url}: {page.locator('body').inner_text()[:2000]}")


def row(page, name: str):
    return page.locator("tr[data-key]", has=page.locator("td", has_text=name)).first


def review_row(stack: Stack, name: str) -> dict:
    import csv

    with (stack.review_dir / "match_review.csv").open(encoding="utf-8-sig") as fh:
        return next(r for r in csv.DictReader(fh) if r["atera_name"] == name)


def test_finance_does_the_wizard_and_an_export(stack, browser):
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    login(page, stack, "finance", "/atera-qbo/step/customers")

    # the plugin is in Airflow's navigation
    plugins = page.request.get(f"{stack.url}/api/v2/plugins").json()["plugins"]
    views = [v for p in plugins for v in p["external_views"]]
    assert any(v["name"] == "Atera ↔ QBO" and v["href"] == "/atera-qbo/" for v in views)

    suggested = review_row(stack, "Acme Inc")
    assert suggested["status"] == "suggested"
    acme = row(page, "Acme Inc")
    acme.focus()
    page.keyboard.press("m")  # keyboard: accept the suggestion
    assert acme.locator("select.action").input_value() == "match"
    assert acme.locator("select.cand").input_value() == suggested["qbo_id"]
    new = row(page, "Greenfield Architects")
    new.locator("select.action").select_option("create")
    new.locator("input.note").fill("new client: create in QBO")
    new.locator("input.note").press("Tab")
    assert "2 decision(s) not saved yet" in page.locator("#draft-count").inner_text()
    shot(page, "customers")

    page.goto(f"{stack.url}/atera-qbo/step/products")
    shot(page, "products")
    page.goto(f"{stack.url}/atera-qbo/step/import")
    shot(page, "import")

    page.get_by_role("button", name="4 · Summary").click()
    arrive(page, r".*/atera-qbo/summary$")
    assert "2 decision(s)" in page.content()
    assert page.locator("table.summary").inner_text().count("1 customer(s), 0 product(s)") == 1
    shot(page, "summary")
    page.locator("#done").click()
    arrive(page, r".*/atera-qbo/versions/1\?saved=1$")
    state = page.locator("#run-state")
    page.wait_for_function("() => ['success','failed'].includes(document.querySelector('#run-state')"
                           "?.textContent.trim())", timeout=RUN_TIMEOUT_MS)
    assert state.inner_text() == "success", page.locator("main").inner_text()
    outcome = page.locator("#outcome").inner_text()
    assert re.search(r"Created in QBO\s+customer: 1", outcome), outcome
    assert page.evaluate("sessionStorage.getItem('atera-qbo-draft')") is None  # saved: the draft is gone
    shot(page, "done")
    with sqlite3.connect(stack.staging) as db:
        mapped = dict(db.execute("SELECT atera_name, qbo_id FROM map_customers WHERE active"))
        saved = db.execute("SELECT created_by, decisions FROM review_overrides").fetchall()
    assert mapped["Acme Inc"] == suggested["qbo_id"] and mapped["Greenfield Architects"]
    assert saved == [("finance", 2)]
    csv_text = page.request.get(f"{stack.url}/atera-qbo/versions/1/overrides.csv").text()
    assert re.search(r"^customer,\d+,Greenfield Architects,,,create,unmatched,.*new client", csv_text, re.M)

    # export: two invoices whose customer is now mapped
    numbers = exportable(stack, 2)
    page.goto(f"{stack.url}/atera-qbo/export?date_from={DEMO['invoice_date_from']}"
              f"&date_to={DEMO['invoice_date_to']}")
    for number in numbers:
        page.get_by_label(f"export invoice {number}", exact=True).check()
    shot(page, "export")
    page.locator("#export").click()
    arrive(page, r".*/atera-qbo/export/runs/.+")
    page.wait_for_function("() => ['success','failed'].includes(document.querySelector('#run-state')"
                           "?.textContent.trim())", timeout=RUN_TIMEOUT_MS)
    assert page.locator("#run-state").inner_text() == "success", page.locator("main").inner_text()
    report = page.locator("#report tbody tr")
    assert sorted(report.locator("td:first-child").all_inner_texts()) == sorted(numbers)
    links = report.locator("a").evaluate_all("els => els.map(e => e.href)")
    assert len(links) == 2 and all(re.fullmatch(r"https://app(\.sandbox)?\.qbo\.intuit\.com/app/(invoice|creditmemo)"
                                                r"\?txnId=\d+", link) for link in links), links
    shot(page, "export_run")
    page.get_by_role("link", name="back to the invoices").click()
    arrive(page, r".*/atera-qbo/export$")
    context.close()


def exportable(stack: Stack, n: int) -> list[str]:
    """Invoices of the demo window whose customer and every line's product are mapped now (the export's rule)."""
    with sqlite3.connect(stack.staging) as db:
        rows = db.execute("""
            WITH products AS (
                SELECT p.name FROM map_products m JOIN stg_atera_products p ON m.atera_id = p.kind || ':' || p.source_id
                WHERE m.active AND m.qbo_id IS NOT NULL GROUP BY p.name HAVING COUNT(DISTINCT m.qbo_id) = 1)
            SELECT i.source_id FROM stg_atera_invoices i
            JOIN map_customers c ON c.atera_id = i.customer_id AND c.active AND c.qbo_id IS NOT NULL
            WHERE i.invoice_date BETWEEN ? AND ? AND i.total > 0
              AND NOT EXISTS (SELECT 1 FROM stg_atera_invoice_lines l WHERE l.invoice_source_id = i.source_id
                              AND COALESCE(l.product_name, '') NOT IN (SELECT name FROM products))
            ORDER BY CAST(i.source_id AS INTEGER)""", (DEMO["invoice_date_from"], DEMO["invoice_date_to"] + "T99"))
        found = [r[0] for r in rows]
    assert len(found) >= n, found
    return found[:n]


def test_a_read_only_login_sees_the_pages_but_cannot_commit(stack, browser):
    context = browser.new_context()
    page = context.new_page()
    login(page, stack, "auditor", "/atera-qbo/")
    assert "(read-only)" in page.locator("header").inner_text()
    page.get_by_role("button", name="4 · Summary").click()
    assert page.locator("#done").count() == 0
    assert "read-only" in page.locator("main").inner_text()
    page.goto(f"{stack.url}/atera-qbo/export")
    assert page.locator("#export").count() == 0
    context.close()
