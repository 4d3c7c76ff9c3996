"""Atera ↔ QuickBooks Online sync: the domain package behind the DAGs.

The flow, stage by stage (each a subpackage named after what it does):

1. ``extract/``  — API → staging tables: ``atera.py`` and ``qbo.py`` per vendor, on the shared ``load.py`` and
   ``watermarks.py`` (DAG ``atera_qbo_catalog_sync``; invoices in ``atera_qbo_invoice_export``);
2. ``quality/``  — Great Expectations gates over the staged rows, before anything is written to QBO;
3. ``matching/`` — match Atera customers/products to QBO customers/items (``match.py``), the review CSV, and the
   commit that creates what is missing and activates the mapping (``commit.py``) (DAG ``atera_qbo_matching``);
4. ``export/``   — Atera invoice → QBO invoice (``transform.py``), exactly once through the ledger (``load.py``);
5. ``reconcile/`` — where present: what QBO did with what we exported (payments, balances).

Beside the stages: ``atera/`` and ``qbo/`` are the API clients (``qbo/rules.py`` holds QBO's rules for names,
request ids and payloads; ``qbo/auth.py`` the OAuth token chain), ``staging/`` the staging database, ``http.py``
retries and rate limits, ``money.py`` Decimal money, ``errors.py`` the error tree, ``config.py`` settings,
``reports.py`` the run summary.

Everything here is testable without Airflow except ``hooks.py`` (which imports the Airflow SDK at the top: it
builds clients from Connections), ``assets.py`` (the DAGs' Assets, defined once) and ``tasks.py`` (what each DAG task runs; it imports Airflow lazily, inside the
functions). The DAG files import ``tasks`` inside their task callables only.
"""
