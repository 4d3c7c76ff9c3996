"""What the browser tests share: where chromium and the screenshots are, Airflow's login as a user does it, and
waiting for a page (or a run's state on it) with a failure that says where the page is and what it shows."""
from __future__ import annotations

import os
import re
import sqlite3
from pathlib import Path

import pytest

from scripts.airflow_env import DEMO

from .stack import USERS, Stack

REPO = Path(__file__).resolve().parents[2]
CHROMIUM = "/usr/bin/chromium"
ARTIFACTS = Path(os.environ.get("ATERA_QBO_BROWSER_ARTIFACTS", REPO / "var" / "browser-artifacts"))
RUN_TIMEOUT_MS = 240_000


def login(page, stack: Stack, user: str, target: str, lands: str | None = None) -> None:
    """Open ``target``, log in on Airflow's own login page; wait until the browser is back at ``target`` (or at
    the regex ``lands``, when ``target`` redirects further)."""
    page.goto(f"{stack.url}{target}")
    page.wait_for_url(re.compile(r".*/auth/login.*"))  # Airflow's own login page, not ours
    page.locator("input[name=username]").fill(user)
    page.locator("input[name=password]").fill(USERS[user][1])
    page.locator("button[type=submit]").click()
    if lands is None:
        page.wait_for_url(re.compile(re.escape(stack.url + target.split("?")[0]) + ".*"))
    else:
        arrive(page, lands)


def shot(page, name: str, *, full_page: bool = False) -> None:
    """A screenshot: the viewport (what the user sees first), or the whole page."""
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=full_page)


def arrive(page, pattern: str) -> None:
    """Wait for the page to reach ``pattern``; if it does not, fail with where it is and what it says."""
    from playwright.sync_api import TimeoutError as PlaywrightTimeout

    try:
        page.wait_for_url(re.compile(pattern))
    except PlaywrightTimeout:
        pytest.fail(f"expected {pattern}, still at {page.url}: {page.locator('body').inner_text()[:2000]}")


def run_finished(page) -> str:
    """Wait until the run page (it refreshes itself) shows the run finished; answers its state."""
    page.wait_for_function("() => ['success','failed'].includes(document.querySelector('#run-state')"
                           "?.textContent.trim())", timeout=RUN_TIMEOUT_MS)
    return page.locator("#run-state").inner_text()


def row(page, name: str):
    return page.locator("tr[data-key]", has=page.locator("td", has_text=name)).first


def review_row(stack: Stack, name: str) -> dict:
    import csv

    with (stack.review_dir / "match_review.csv").open(encoding="utf-8-sig") as fh:
        return next(r for r in csv.DictReader(fh) if r["atera_name"] == name)


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
