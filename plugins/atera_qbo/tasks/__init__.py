"""What each DAG task does, as plain functions (the DAG files only wire them), one module per DAG family:
``catalog`` (catalog sync, quality gates, Atera following QBO, restore), ``matching``, ``export`` and
``reconcile`` (with disconnect). ``runtime`` is the tasks' composition root: each task opens the staging engine
and the API clients it uses through ``runtime.wiring()``, and closes them when it ends.

Every function answers a small JSON-able dict for XCom; data travels through the staging tables.

The error contract: a ``FatalError`` becomes ``AirflowFailException`` (no pointless Airflow retries) with the
message naming the record and what to do, and the original error as its cause; a ``RetriableApiError`` (QBO or
Atera unreachable, 5xx, still throttled after the client's own retries) goes up unchanged, after the ledger/plan
recorded it, so Airflow retries the task — safe, because request ids and the ledger make a rerun exactly-once.

Nothing is imported here: a DAG file imports the one module its task needs, at run time, so a task never pays
for another family's imports (Great Expectations, pandas).
"""
