"""Atera ↔ QuickBooks Online sync: the domain package behind the DAGs.

The flow, stage by stage (each a subpackage named after what it does):

1. ``extract/``  — API → staging tables: ``atera.py`` and ``qbo.py`` per vendor, on the shared ``load.py`` and
   ``watermarks.py`` (DAG ``atera_qbo_catalog_sync``; invoices in ``atera_qbo_invoice_export``);
2. ``quality/``  — Great Expectations gates over the staged rows, before anything is written to QBO;
3. ``matching/`` — match Atera customers/products to QBO customers/items (``match.py``), the review CSV, and the
   commit that creates what is missing and activates the mapping (``commit.py``) (DAG ``atera_qbo_matching``);
4. ``export/``   — Atera invoice → QBO invoice (``transform.py``), exactly once through the ledger (``load.py``);
5. ``reconcile/`` — where present: what QBO did with what we exported (payments, balances).

Beside the stages: ``atera/`` and ``qbo/`` are the API clients, each with the ``Protocol`` the domain is typed
against (``api.py``; ``qbo/rules.py`` holds QBO's rules for names, request ids and payloads; ``qbo/auth.py`` the
OAuth token chain), ``staging/`` the staging database (``db.engine_for``: one engine per URL per process),
``http.py`` retries and rate limits, ``pacing.py`` the rate budgets, ``money.py`` Decimal money, ``errors.py`` the
error tree, ``config.py`` settings and the one reader of Airflow's Connections and Variables, ``html.py`` the one
Jinja environment (``templates/``), ``cells.py`` the one spreadsheet-cell writer (nothing Excel would evaluate),
``reports.py`` the run summary; ``qbo/connect.py`` Intuit's authorization-code flow (Connect), ``qbo/usage.py``
the QBO calls as Intuit meters them, ``atera/credentials.py`` Atera's tokens and keys; ``notify/`` tells people
when something needs them (Airflow's SMTP and Slack notifiers, remembered per channel so nothing is re-sent).

The wiring: ``hooks.py`` builds clients from Connections (context managers owning one engine and one client);
``tasks/`` holds what each DAG task runs, one module per DAG family, opening what it uses through
``tasks.runtime.wiring()``; ``webui/`` is the Airflow plugin's FastAPI app (its dependencies in ``webui/deps.py``;
the wizard, the export page, Connect and the Accounting page).
The layers and what may import what are written in ``.importlinter`` (``make lint`` checks them). The DAG files
import ``tasks.<family>`` inside their task callables only, so parsing a DAG imports nothing of this package but
``assets.py``.
"""
