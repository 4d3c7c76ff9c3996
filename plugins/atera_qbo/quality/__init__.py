"""Quality gates: Great Expectations 1.x suites over the staging tables, run after each load and before anything
is written to QuickBooks Online.

``run_gates(engine, tables, docs_dir=None, fail=True, keep_runs=None)`` validates the current rows of each named
``stg_*`` table (those that exist) and answers a JSON-able summary per table::

    {"stg_qbo_items": {"success": False, "rows": 120,
                       "failed": [{"expectation": "unit_price is not negative (≥ 0)", "column": "unit_price",
                                   "unexpected_count": 1, "examples": ["19"]}],
                       "excluded": {"deleted": 3, "no_name": 2}}}

A failed gate raises ``atera_qbo.errors.DataQualityError`` (readable message naming table, expectation and up to
five offending ids; ``summary`` attached) unless ``fail=False``. Without ``docs_dir`` the validations run in an
ephemeral GX context. With it, they run in the persistent GX project beside it (``<review dir>/gx``, ``docs.py``):
a checkpoint per table whose ``UpdateDataDocsAction`` updates the Data Docs (``docs_dir/index.html``), also when
the gate fails; each table keeps its newest ``keep_runs`` validations (default 48), so every DAG's latest
validations stay; ``docs_dir/gates_summary.html`` is a self-contained page of them that renders offline (GX's own
pages load their assets from CDNs). Unknown table names raise ``ValueError``; tables missing from the database
are skipped (logged). ``gate_tables(engine)`` lists the gated tables present.

What is gated (``suites.py`` has one builder per table, ``frames.py`` the rows they see):

- every table: its key not null and unique — ``source_id``; ``(kind, source_id)`` for ``stg_atera_products``,
  ``(invoice_source_id, line_idx)`` for ``stg_atera_invoice_lines``, ``(entity, source_id)`` for ``stg_qbo_names``;
- names present (not null, not blank): Atera customers and products ``name``, QBO customers ``display_name``,
  QBO items ``name`` — QBO items without a Name are excluded, not failed (they do not show in Atera either), and
  counted in ``excluded["no_name"]``;
- amounts not negative: Atera products/expenses/rates ``amount``, QBO items ``unit_price``;
- each Atera product's (expense's, rate's) price a valid money amount: present (the API's Amount is not nullable),
  a finite Decimal with at most 5 decimals, trailing zeros aside (QBO keeps prices to 5 places; staging is
  NUMERIC(18,5), so also |amount| < 10**13), and not flagged ``amount:not_money`` by the extraction;
- currency codes, where present, ISO 4217 codes in upper case (``currencies.py``): ``stg_atera_invoices.currency``,
  ``stg_qbo_customers.currency``, ``stg_qbo_preferences.home_currency``;
- references to live (not deleted) parent rows: contracts and contacts ``customer_id`` → Atera customers (a null
  customer_id fails), invoice lines → Atera invoices, QBO items ``income_account_id`` → QBO accounts (when set);
- Atera invoices: subtotal + tax = total, exact in Decimal (all three present).

Rows with ``deleted_at`` set are history and not gated (nor are lines of a deleted invoice); they are counted in
``excluded["deleted"]``. Other ``quality_flags`` (odd or over-long names) are left to matching and review.
Checks GX cannot express (references, Decimal sums, money validity) are computed as boolean columns in pandas and
still expected through GX, so they show in Data Docs.
"""
from __future__ import annotations

from .gates import GATED_TABLES, failure_message, gate_tables, run_gates

__all__ = ["GATED_TABLES", "failure_message", "gate_tables", "run_gates"]
