"""
### Disconnect QuickBooks Online (manual)

Revokes the QBO refresh token at Intuit's revoke endpoint (its access tokens die with it), deletes the stored
tokens and records who disconnected and when (`qbo_connection_events`). Mappings, the export ledger and every
report stay. Param `confirm` must be the realm id of the company (the realm Connect stored, or the `realm_id` of
its QBO connection: `quickbooks_default` unless the companies file names another), else the run refuses and
changes nothing. Only this company is disconnected: another company's tokens live in its own database.

While disconnected, export, matching commit, catalog sync and reconciliation refuse with how to reconnect:
authorize the app again in Intuit and put the NEW refresh token in the connection (extra.refresh_token). The next
run picks it up and resumes where it left off; nothing already exported is sent again.
"""
from __future__ import annotations

from typing import Any

from airflow.sdk import Param, dag, task

from atera_qbo.companies import Company, load_companies  # light: reads only the companies file
from atera_qbo.notify.callbacks import on_task_failure  # light: imports nothing until a task fails

default_args = {"owner": "data-engineering", "retries": 0,
                "on_failure_callback": on_task_failure}  # told after its last retry (README 'Notifications')


FAMILY = "atera_qbo_disconnect"


def build(company: Company) -> None:
    """This family's DAG for ``company``: its DAG id, tag and name. The tasks take no company argument:
    ``tasks.runtime.wiring()`` finds the company from the running DAG id."""

    @dag(
        **company.dag_args(FAMILY, __doc__ or "", what="disconnect QuickBooks Online (manual)",
                           tags=["atera", "quickbooks", "disconnect"]),
        schedule=None,
        default_args=default_args,
        params={"confirm": Param(
            "", type="string",
            description=f"Type the realm id of {company.name}'s QBO company (the realm Connect stored, or the "
                        f"realm_id of the {company.qbo_conn_id} connection) to confirm. Default: empty (refused). "
                        "Example: 9341453050298751")},
    )
    def atera_qbo_disconnect() -> None:
        @task
        def disconnect(params: dict[str, Any], dag_run=None) -> dict[str, Any]:
            from atera_qbo.tasks.reconcile import disconnect as run  # at run time: parsing stays light

            actor = getattr(dag_run, "triggering_user_name", None) or getattr(dag_run, "run_id", None)
            return run(confirm=params.get("confirm"), actor=actor)

        disconnect()  # type: ignore[call-arg,misc]  # Airflow fills the context arguments

    atera_qbo_disconnect()


for _company in load_companies():  # one DAG per company; a broken companies file fails this import
    build(_company)
