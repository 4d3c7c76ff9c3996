"""
### Atera ↔ QBO matching (the sync wizard)

Matches Atera customers and products/rates/expenses to QBO customers and items: exact names (as QBO compares
them: case and surrounding blanks ignored), then finance's decisions from the overrides CSV, then scored
suggestions for the rest. Always writes the review CSV (`match_review.csv` in the review dir) — edit its
`action` column and pass it back as `overrides_path`.

With `commit=true` (the wizard's "Done") it plans the writes (create in QBO, import into Atera), executes them
idempotently and activates the new mapping only when every step succeeded.

Runs after each catalog sync (Asset) or by hand.
"""
from __future__ import annotations

from datetime import datetime, timedelta

from airflow.sdk import Asset, Param, dag, task

CATALOG_ASSET = Asset("atera_qbo://staging/catalog")
MAPPING_ASSET = Asset("atera_qbo://staging/mapping")

default_args = {"owner": "data-engineering", "retries": 1, "retry_delay": timedelta(minutes=2)}


@dag(
    dag_id="atera_qbo_matching",
    schedule=[CATALOG_ASSET],
    start_date=datetime(2026, 1, 1),
    catchup=False,
    max_active_runs=1,
    default_args=default_args,
    tags=["atera", "quickbooks", "matching"],
    params={
        "overrides_path": Param(None, type=["null", "string"],
                                description="CSV of finance's decisions (the review CSV, edited)"),
        "commit": Param(False, type="boolean", description="Apply the plan: create/import, then activate mapping"),
        "create_unmatched_in_qbo": Param(False, type="boolean",
                                         description="Create Atera records with no QBO candidate at all in QBO"),
        "import_unmatched_qbo_customers": Param(False, type="boolean",
                                                description="Create QBO-only customers in Atera"),
    },
    doc_md=__doc__,
)
def atera_qbo_matching() -> None:
    @task(outlets=[MAPPING_ASSET], pool="qbo_api", pool_slots=1)
    def match_and_commit(params: dict, run_id: str) -> dict:
        from atera_qbo.tasks import match

        return match(overrides_path=params.get("overrides_path"), commit=bool(params.get("commit")),
                     create_unmatched_in_qbo=bool(params.get("create_unmatched_in_qbo")),
                     import_unmatched_qbo_customers=bool(params.get("import_unmatched_qbo_customers")),
                     run_id=run_id)

    match_and_commit()


atera_qbo_matching()
