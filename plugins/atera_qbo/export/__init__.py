"""Invoice export, one job per module:

- ``load.py`` — the run (``export_invoices``, ``raise_for_problems``): exactly once, through the ledger;
- ``context.py`` — the transform's context from staging (mappings, tax settings, the 0% code);
- ``selection.py`` — which staged invoices a run exports, and their rows;
- ``transform.py`` — Atera invoice → QBO payload, pre-tax;
- ``ledger.py`` — the ``export_batches`` / ``export_invoices`` bookkeeping (statuses: ``staging.ledger``);
- ``request_ids.py`` — the idempotency keys of the creates;
- ``recovery.py`` — invoices QBO already has, found by DocNumber;
- ``send.py`` — ``/batch`` of 30 with requestid, each chunk claimed (``claims.py``);
- ``result.py`` / ``report.py`` — what a run did, and its CSV report;
- ``customers.py`` / ``missing.py`` — the ``create_missing_customers`` / ``create_missing_items`` options.
"""
