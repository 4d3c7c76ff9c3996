"""
### Restore what a catalog replacement removed from Atera (manual)

`atera_qbo_matching` with `replace_atera_catalog=true` and `commit=true` removes the Atera products and expenses
that are neither matched nor created in QBO, after storing each whole record (`atera_catalog_snapshots`, and
`catalog_snapshots/<plan id>.json` in the review dir). This DAG puts them back: each snapshot of the plan is created
again in Atera with its description, price, SKU and category (Atera gives it a new id; the snapshot row records it).

Param `plan_id`: the replacement's plan id, `catalog-<matching run id>` — in the matching task's summary
(`catalog_replacement.plan_id`) and in the snapshot file's name. An unknown plan id fails naming where to look;
nothing is sent.

Safe to rerun and to retry: a record already restored is skipped, and one whose create was sent but not recorded
(an interruption) is found in Atera by name and SKU and adopted, never made twice. A restored product is unmapped:
while Atera's catalog follows QBO's, each catalog sync reports it as `atera_only` (never removed again); map it in
the next matching review, or create it in QBO.
"""
from __future__ import annotations

from datetime import timedelta
from typing import Any

from airflow.sdk import Param, dag, task

from atera_qbo.companies import Company, load_companies  # light: reads only the companies file
from atera_qbo.notify.callbacks import on_task_failure  # light: imports nothing until a task fails

default_args = {"owner": "data-engineering", "retries": 1, "retry_delay": timedelta(minutes=2),
                "on_failure_callback": on_task_failure}  # told after its last retry (README 'Notifications')


FAMILY = "atera_qbo_restore_catalog"


def build(company: Company) -> None:
    """This family's DAG for ``company``: its DAG id, tag and name. The tasks take no company argument:
    ``tasks.runtime.wiring()`` finds the company from the running DAG id."""

    @dag(
        **company.dag_args(FAMILY, __doc__ or "", what="restore what a catalog replacement removed from Atera (manual)",
                           tags=["atera", "catalog", "restore"]),
        schedule=None,
        default_args=default_args,
        params={"plan_id": Param(
            "", type="string",
            description="The plan id of the catalog replacement to undo (catalog-<matching run id>: in the matching "
                        "task's summary, and the name of catalog_snapshots/<plan id>.json in the review dir). Default: "
                        "empty (refused). Example: catalog-manual__2026-11-27T101500.1234560000")},
    )
    def atera_qbo_restore_catalog() -> None:
        @task
        def restore(params: dict[str, Any]) -> dict[str, Any]:
            from atera_qbo.tasks.catalog import restore_atera_catalog  # at run time: parsing stays light

            return restore_atera_catalog(plan_id=params.get("plan_id") or "")

        restore()  # type: ignore[call-arg,misc]  # Airflow fills the context arguments

    atera_qbo_restore_catalog()


for _company in load_companies():  # one DAG per company; a broken companies file fails this import
    build(_company)
