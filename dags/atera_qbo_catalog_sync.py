"""
### Atera ↔ QBO catalog sync

Extracts both systems' catalogs into the staging database, in parallel:
Atera customers, contacts, products, expenses, contracts and the contract-rate catalog; QBO customers (inactive
and sub-customers too), items, accounts, tax codes and company preferences. Records that disappeared are kept
and flagged (`deleted_at`). Then Great Expectations gates the staged catalogs (keys, names, amounts, currencies,
references; Data Docs under the review dir) and, only if they pass, emits the `atera_qbo://staging/catalog` Asset,
which schedules `atera_qbo_matching`.

Incremental: Atera customers/contacts by `FromLastModifiedDate`, QBO lists by `Metadata.LastUpdatedTime` (each
from a watermark less an overlap; deletions/merges from QBO's CDC); a full pull at least daily to see deletions.
Params: `full_refresh` — re-read everything now.

Once Atera's catalog was handed to QBO (`atera_qbo_matching` with `replace_atera_catalog=true, commit=true`), the
last task keeps Atera's products following QBO's items: renames, price changes, new and deactivated items; an edit
made in Atera to a mapped product is reported (and set back), never pushed to QBO. Before that it does nothing.
Connections: `atera_default`, `quickbooks_default`, `atera_qbo_staging` (see README).
"""
from __future__ import annotations

from datetime import timedelta
from typing import Any

from airflow.sdk import Param, dag, task

from atera_qbo.assets import company_assets  # the one definition of each Asset (light import)
from atera_qbo.companies import Company, load_companies  # light: reads only the companies file
from atera_qbo.notify.callbacks import on_task_failure  # light: imports nothing until a task fails

default_args = {"owner": "data-engineering", "retries": 2, "retry_delay": timedelta(minutes=2),
                "on_failure_callback": on_task_failure}  # told after its last retry (README 'Notifications')


FAMILY = "atera_qbo_catalog_sync"


def build(company: Company) -> None:
    """This family's DAG for ``company``: its DAG id, tag and name. The tasks take no company argument:
    ``tasks.runtime.wiring()`` finds the company from the running DAG id."""
    catalog = company_assets(None if company.is_default else company.id).catalog

    @dag(
        **company.dag_args(FAMILY, __doc__ or "", what="Atera ↔ QBO catalog sync",
                           tags=["atera", "quickbooks", "extract"]),
        schedule="@hourly",
        default_args=default_args,
        params={"full_refresh": Param(
            False, type="boolean", title="Full refresh",
            description="Re-read every record from both APIs instead of only what changed since the last run (also "
                        "finds records deleted in Atera). true/false; default false; example: true after restoring "
                        "a backup.")},
    )
    def atera_qbo_catalog_sync() -> None:
        @task
        def extract_atera(params: dict[str, Any]) -> dict[str, Any]:
            from atera_qbo.tasks.catalog import extract_atera_catalog  # at run time: parsing stays light

            return extract_atera_catalog(full_refresh=bool(params.get("full_refresh")))

        @task(pool="qbo_api", pool_slots=1)
        def extract_qbo(params: dict[str, Any]) -> dict[str, Any]:
            from atera_qbo.tasks.catalog import extract_qbo_catalog  # at run time: parsing stays light

            return extract_qbo_catalog(full_refresh=bool(params.get("full_refresh")))

        @task(outlets=[catalog])
        def quality_gate(atera: dict[str, Any], qbo: dict[str, Any]) -> dict[str, Any]:
            from atera_qbo.tasks.catalog import CATALOG_TABLES  # at run time: parsing stays light
            from atera_qbo.tasks.catalog import quality_gate as gate  # at run time: parsing stays light

            result = gate(CATALOG_TABLES)
            result["rows"] = {"atera": {k: v["rows"] for k, v in atera.items()},
                              "qbo": {k: v["rows"] for k, v in qbo.items() if k != "qbo_calls"}}
            return result

        @task
        def follow_qbo_catalog(gate: dict[str, Any], run_id: str | None = None) -> dict[str, Any]:
            """Once Atera's catalog was handed to QBO (replace_atera_catalog), Atera's products follow QBO's items."""
            from atera_qbo.tasks.catalog import follow_qbo_catalog as follow  # at run time: parsing stays light

            return follow(run_id=run_id)

        follow_qbo_catalog(quality_gate(extract_atera(), extract_qbo()))  # type: ignore[arg-type,call-arg,misc]  # XComArgs stand for the upstream values; Airflow fills the context

    atera_qbo_catalog_sync()


for _company in load_companies():  # one DAG per company; a broken companies file fails this import
    build(_company)
