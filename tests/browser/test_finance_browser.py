"""Finance's whole path in headless chromium against a real Airflow (API server, scheduler, dag processor as
processes; tests/browser/stack.py): log in through Airflow's login page, accept a suggestion with the keyboard,
mark a create, look at the summary, press Done and see the commit's outcome; export two invoices and follow the
link back to the invoice list, now with their QBO links. A read-only login sees the pages but no Done/Export.
Screenshots of every page are written to ``var/browser-artifacts/`` (the path is printed)."""
from __future__ import annotations

import re
import sqlite3
from pathlib import Path

import pytest

from scripts.airflow_env import DEMO

from .helpers import CHROMIUM, RUN_TIMEOUT_MS, arrive, exportable, login, review_row, row, shot
from .stack import Stack

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def stack(tmp_path_factory):
    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} is missing: apt-get install -y chromium (.ci/run does)")
    running = Stack(tmp_path_factory.mktemp("airflow-browser"))
    try:
        yield running.start()
    finally:
        running.stop()


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

    export_two(page, stack)
    context.close()


def export_two(page, stack: Stack) -> None:
    """Export two invoices whose customer is now mapped; the run's report links them in QBO."""
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
