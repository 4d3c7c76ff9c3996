"""
### Atera ↔ QBO matching (the sync wizard)

Matches Atera customers and products/rates/expenses to QBO customers and items, one to one: exact keys (names
after NFC, blank collapsing and case folding; QBO CompanyName; item SKU — README "What exact means"), then
finance's decisions from the overrides CSV, then scored suggestions for the rest. Always writes the review CSV
(`match_review.csv` in the review dir) — edit its `action` column and pass it back as `overrides_path`.

With `commit=true` (the wizard's "Done") it plans the writes (create in QBO, import into Atera), executes them
idempotently and activates the new mapping only when every step succeeded.

Two tasks, one of which runs: `preview` (`commit=false`: reads staging, writes the review CSV, calls no API, so it
takes no `qbo_api` pool slot) or `commit` (`commit=true`: holds a `qbo_api` slot, and emits the
`atera_qbo://staging/mapping` Asset only when the active mapping really changed).

Runs after each catalog sync (Asset `atera_qbo://staging/catalog`) or by hand.
"""
from __future__ import annotations

from datetime import timedelta
from typing import Any

from airflow.sdk import Param, dag, task

from atera_qbo.assets import company_assets  # the one definition of each Asset (light import)
from atera_qbo.companies import Company, load_companies  # light: reads only the companies file
from atera_qbo.notify.callbacks import on_task_failure  # light: imports nothing until a task fails

default_args = {"owner": "data-engineering", "retries": 1, "retry_delay": timedelta(minutes=2),
                "on_failure_callback": on_task_failure}  # told after its last retry (README 'Notifications')


def _commit_requested(context) -> bool:
    return bool(context["params"].get("commit"))


def _matching(params: dict[str, Any], run_id: str, *, commit: bool, dag_run=None, logical_date=None) -> dict[str, Any]:
    from atera_qbo.tasks.matching import match  # at run time: parsing stays light
    from atera_qbo.tasks.runtime import run_day  # at run time: parsing stays light

    as_of = run_day(logical_date, getattr(dag_run, "run_after", None)) if commit else None
    return match(as_of=as_of, overrides_path=params.get("overrides_path"), commit=commit,
                 create_unmatched_in_qbo=bool(params.get("create_unmatched_in_qbo")),
                 import_unmatched_qbo_customers=bool(params.get("import_unmatched_qbo_customers")), run_id=run_id,
                 replace_atera_catalog=bool(params.get("replace_atera_catalog")))


def dag_params() -> dict[str, Param]:
    """The params of every company's DAG of this family (new objects for each DAG)."""
    return {
        "overrides_path": Param(
            None, type=["null", "string"], title="Overrides CSV",
            description="Finance's decisions: the review CSV with its `action` column filled in. A path readable "
                        "on the worker; a relative path is resolved against the review dir (Variable "
                        "atera_qbo_review_dir). Default: none (the mappings already in force are kept). Example: "
                        "overrides/2026-11.csv"),
        "commit": Param(
            False, type="boolean", title="Commit (the wizard's Done)",
            description="Apply the plan: create/import what the decisions say, then activate the new mapping. "
                        "true/false; default false (preview: only the review CSV). Example: true"),
        "create_unmatched_in_qbo": Param(
            False, type="boolean", title="Create unmatched in QBO",
            description="Atera customers/products with no QBO candidate at all are created in QBO (with commit). "
                        "true/false; default false. Example: true for a new QBO company"),
        "import_unmatched_qbo_customers": Param(
            False, type="boolean", title="Import QBO-only customers into Atera",
            description="QBO customers with no Atera counterpart are created in Atera (with commit). true/false; "
                        "default false. Example: true when Atera starts empty"),
        "replace_atera_catalog": Param(
            False, type="boolean", title="Replace Atera's catalog with QBO's",
            description="The wizard's last step: matched Atera products/expenses take their QBO item's name, "
                        "price and SKU; QBO items with no Atera counterpart are created in Atera; unmatched Atera "
                        "products are removed after a full snapshot (catalog_snapshots/ in the review dir; "
                        "restorable). "
                        "Previewed in catalog_replacement.csv on every run, applied only with commit=true; from "
                        "then on each catalog sync keeps Atera following QBO. true/false; default false. "
                        "Example: true"),
    }


FAMILY = "atera_qbo_matching"


def build(company: Company) -> None:
    """This family's DAG for ``company``: its DAG id, tag and name. The tasks take no company argument:
    ``tasks.runtime.wiring()`` finds the company from the running DAG id."""
    catalog, mapping, mapping_updates = company_assets(None if company.is_default else company.id)

    @dag(
        **company.dag_args(FAMILY, __doc__ or "", what="Atera ↔ QBO matching (the sync wizard)",
                           tags=["atera", "quickbooks", "matching"]),
        schedule=[catalog],  # this company's catalog sync only
        default_args=default_args,
        params=dag_params(),
    )
    def atera_qbo_matching() -> None:
        @task.skip_if(_commit_requested, skip_message="commit=true: the commit task does the matching")
        @task
        def preview(params: dict[str, Any], run_id: str) -> dict[str, Any]:
            return _matching(params, run_id, commit=False)

        @task.run_if(_commit_requested, skip_message="commit=false: a preview writes nothing")
        @task(outlets=[mapping_updates], pool="qbo_api", pool_slots=1)
        def commit(params: dict[str, Any], run_id: str, outlet_events=None, dag_run=None,
                   logical_date=None) -> dict[str, Any]:
            summary = _matching(params, run_id, commit=True, dag_run=dag_run, logical_date=logical_date)
            if summary.get("mapping_changed"):
                outlet_events[mapping_updates].add(mapping, extra={"run_id": run_id})
            return summary

        preview()  # type: ignore[call-arg,misc]  # Airflow fills the context arguments
        commit()  # type: ignore[call-arg,misc]  # Airflow fills the context arguments

    atera_qbo_matching()


for _company in load_companies():  # one DAG per company; a broken companies file fails this import
    build(_company)
