"""Triggering the DAGs from the plugin (in the API server's process, as Airflow's own trigger endpoint does)
and reading a run's outcome: its state, the task's return value, and on failure the task's error message."""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from airflow.api.common.trigger_dag import trigger_dag
from airflow.configuration import conf as airflow_conf
from airflow.exceptions import DagNotFound
from airflow.models.dagrun import DagRun
from airflow.models.taskinstance import TaskInstance
from airflow.models.xcom import XComModel
from airflow.utils.session import create_session
from airflow.utils.types import DagRunTriggeredByType
from sqlalchemy import select

from ..companies import DAG_SEPARATOR, Company

MATCHING_DAG = "atera_qbo_matching"
EXPORT_DAG = "atera_qbo_invoice_export"
RECONCILIATION_DAG = "atera_qbo_reconciliation"
FAMILIES = (MATCHING_DAG, EXPORT_DAG, RECONCILIATION_DAG)  # the DAGs whose read permission shows a company
TASK_OF = {MATCHING_DAG: "commit", EXPORT_DAG: "export"}  # the task whose return value is the outcome
FINISHED = ("success", "failed")


class TriggerError(Exception):
    """The DAG could not be triggered (not parsed yet, import errors, params refused...)."""


@dataclass
class RunOutcome:
    dag_id: str
    run_id: str
    state: str
    result: dict[str, Any] | None = None
    errors: list[str] = field(default_factory=list)

    @property
    def finished(self) -> bool:
        return self.state in FINISHED

    def without_log_text(self) -> RunOutcome:
        """This outcome for a user who may not read the DAG's task logs: the errors (taken from them) withheld."""
        if not self.errors:
            return self
        return RunOutcome(self.dag_id, self.run_id, self.state, self.result,
                          ["the run failed; its error comes from the task logs, which your login may not read: "
                           "ask someone who may, or an Airflow admin for the permission"])


def trigger(dag_id: str, conf: dict[str, Any], user: str) -> str:
    """Create a manual run of ``dag_id`` with ``conf`` (validated against the DAG's params); answers its run id."""
    try:
        run = trigger_dag(dag_id, conf=conf, triggered_by=DagRunTriggeredByType.UI, triggering_user_name=user)
    except DagNotFound:
        raise TriggerError(f"DAG {dag_id} is not known to Airflow yet (has the dag processor parsed dags/?)") from None
    except Exception as exc:  # noqa: BLE001 - param validation, import errors...: say so, naming the DAG
        raise TriggerError(f"Airflow refused to start {dag_id}: {exc}") from None
    if run is None:
        raise TriggerError(f"Airflow did not create a run of {dag_id}")
    return run.run_id


def outcome(dag_id: str, run_id: str) -> RunOutcome | None:
    with create_session() as session:
        run = session.scalar(select(DagRun).where(DagRun.dag_id == dag_id, DagRun.run_id == run_id))
        if run is None:
            return None
        result = RunOutcome(dag_id, run_id, str(getattr(run.state, "value", run.state) or "queued"))
        task_id = TASK_OF.get(dag_id.partition(DAG_SEPARATOR)[0])  # a company's DAG: its family's task
        xcom = session.scalars(XComModel.get_many(run_id=run_id, key="return_value", task_ids=task_id,
                                                  dag_ids=dag_id).limit(1)).first()
        if xcom is not None:
            value = XComModel.deserialize_value(xcom)
            result.result = value if isinstance(value, dict) else None
        if result.state == "failed":
            tis = session.scalars(select(TaskInstance).where(TaskInstance.dag_id == dag_id,
                                                             TaskInstance.run_id == run_id,
                                                             TaskInstance.state == "failed")).all()
            for ti in tis:
                result.errors.extend(task_errors(dag_id, run_id, ti.task_id, ti.try_number) or
                                     [f"task {ti.task_id} failed (see its log in Airflow)"])
    return result


def task_errors(dag_id: str, run_id: str, task_id: str, try_number: int) -> list[str]:
    """The exception messages a task attempt logged (Airflow 3 writes JSON lines with ``error_detail``)."""
    base = Path(airflow_conf.get("logging", "base_log_folder"))
    path = base / f"dag_id={dag_id}" / f"run_id={run_id}" / f"task_id={task_id}" / f"attempt={try_number}.log"
    if not path.exists():
        return []
    found = []
    for line in path.read_text(encoding="utf-8", errors="replace").splitlines():
        try:
            event = json.loads(line)
        except ValueError:
            continue
        for detail in event.get("error_detail") or [] if isinstance(event, dict) else []:
            if isinstance(detail, dict) and detail.get("exc_value"):
                found.append(f"{detail.get('exc_type', 'Error')}: {detail['exc_value']}")
    return found[-1:]  # the outermost (last) error is the one that failed the task


class DagRuns(Protocol):
    """How the pages start DAG runs and read their outcome (Airflow's, or a test's stand-in)."""

    def trigger(self, dag_id: str, conf: dict[str, Any], user: str) -> str: ...

    def outcome(self, dag_id: str, run_id: str) -> RunOutcome | None: ...


class AirflowRuns:
    """``DagRuns`` on Airflow's own trigger and metadata database, in the API server's process."""

    def trigger(self, dag_id: str, conf: dict[str, Any], user: str) -> str:
        return trigger(dag_id, conf, user)

    def outcome(self, dag_id: str, run_id: str) -> RunOutcome | None:
        return outcome(dag_id, run_id)


class CompanyRuns:
    """One company's runs: the pages name a DAG family (``atera_qbo_invoice_export``), this starts and reads the
    company's own DAG of it (``atera_qbo_invoice_export__uk``), so a run id of another company's DAG is never
    found through it."""

    def __init__(self, runs: DagRuns, company: Company) -> None:
        self.runs, self.company = runs, company

    def dag_id(self, family: str) -> str:
        return self.company.dag_id(family)

    def trigger(self, family: str, conf: dict[str, Any], user: str) -> str:
        return self.runs.trigger(self.dag_id(family), conf, user)

    def outcome(self, family: str, run_id: str) -> RunOutcome | None:
        return self.runs.outcome(self.dag_id(family), run_id)
