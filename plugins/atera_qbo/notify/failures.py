"""A task that failed after its last retry (``tell_failure``, run by ``callbacks.on_task_failure``): the DAG, the
task, the run and the error's first line (scrubbed of anything shaped like a secret, and of the connections'
secrets), with a link to the task's log.

The failure is recorded in the failed DAG's company's staging database (``failed_company``: each company's
DAGs are its own, ``atera_qbo_invoice_export__uk`` is company ``uk``'s), never another company's.

No storm: one message per DAG per hour (``notify_items`` row ``failure|<dag_id>``, taken by one conditional update,
so two workers failing at once send one message); the failures held back are recorded (``notify_messages``,
``throttled``) and counted in the DAG's next message. A failure its own run already explained — the export's
blocked invoices, the reconciliation's critical findings (told, or found already told, by that run's notifying
step) — is not told again.
"""
from __future__ import annotations

import logging
from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa

from ..companies import Company, company_staging_url, load_companies, working_for
from ..config import conn_info
from ..html import render
from ..staging.db import engine_for, utcnow
from ..staging.identity import claim_database
from .deliver import quietly, send_and_record
from .memory import Ids, claim, explained, record_message, throttled_since
from .message import Message, first_line, slack_text, subject
from .settings import Channels, channels, task_log

log = logging.getLogger(__name__)

KIND = "failure"
STORM_WINDOW = timedelta(hours=1)
SYNC_CONNECTIONS = ("atera_default", "quickbooks_default", "atera_qbo_staging")


def failed_company(dag_id: str | None) -> Company:
    """The company whose DAG failed (``atera_qbo_invoice_export__uk`` → ``uk``), as ``tasks.runtime.task_company``
    finds it; a DAG no company owns, among several, is a ConfigError (logged by ``quietly``: its failure is not
    recorded in some other company's database)."""
    return load_companies().for_dag(dag_id)


def staging_engine(company: Company | None = None) -> sa.Engine:
    """The company's staging database, as the tasks' ``StagingHook(company=...)`` finds it, checked to hold that
    company's rows."""
    company = company or load_companies().get(None)
    engine = engine_for(company_staging_url(company))
    claim_database(engine, company.id)
    return engine


def _sync_connections() -> list[str]:
    """Every company's connections, and the deployment's own (an error may quote any of them)."""
    ids = list(SYNC_CONNECTIONS)
    for c in load_companies():
        ids += [x for x in (c.atera_conn_id, c.qbo_conn_id, c.staging_conn_id) if x and x not in ids]
    return ids


def _sync_secrets() -> list[str]:
    """The sync's own secrets (API keys, client secret, refresh token): an error line must not show them."""
    out: list[str] = []
    for conn_id in _sync_connections():
        try:
            conn = conn_info(conn_id, required=False)
        except Exception:  # noqa: BLE001 - a connection that cannot be read has no secret to hide here
            continue
        if conn is not None:
            out += [conn.password or "", str(conn.extra.get("refresh_token") or "")]
    return [s for s in out if s]


def failure_ids(context: Mapping[str, Any]) -> dict[str, str | None]:
    """dag_id, run_id, task_id and try_number of the failed task, from the callback's context."""
    ti = context.get("ti") or context.get("task_instance")
    dag_run = context.get("dag_run")
    run_id = context.get("run_id") or getattr(ti, "run_id", None) or getattr(dag_run, "run_id", None)
    try_number = getattr(ti, "try_number", None)
    return {"dag_id": getattr(ti, "dag_id", None) or getattr(dag_run, "dag_id", None), "run_id": run_id,
            "task_id": getattr(ti, "task_id", None), "try_number": str(try_number) if try_number else None}


def build(ids: Mapping[str, str | None], error: str, held: int, since: datetime | None) -> Message:
    dag_id, task_id, run_id = ids.get("dag_id") or "?", ids.get("task_id") or "?", ids.get("run_id") or "?"
    title = f"{dag_id} failed: task {task_id} — {error}"
    log_url = task_log(dag_id, run_id, task_id)
    context = {"subject": title, "title": f"{dag_id} failed", "dag_id": dag_id, "task_id": task_id,
               "run_id": run_id, "try_number": ids.get("try_number"), "error": error, "held": held,
               "since": f"{since:%Y-%m-%d %H:%M}" if since else "", "log_url": log_url}
    lines = [f"DAG {dag_id}, task {task_id}, run {run_id}", f"error: {error}"]
    if held:
        lines.append(f"{held} more failure(s) of this DAG since the last message were not sent (one per hour)")
    text = slack_text(f"{dag_id} failed: task {task_id}", lines, [("the task's log", log_url)])
    return Message(KIND, subject(title), render("notify/failure.html", **context), text, items=1 + held)


@quietly
def tell_failure(context: Mapping[str, Any], *, now: datetime | None = None,
                 engine: sa.Engine | None = None) -> str | None:
    """Tell that a task failed for good. Answers ``sent``, ``failed`` (every channel failed: logged), ``throttled``
    (inside its DAG's hour), ``explained`` (its run's own message already said why), or None (no channel takes
    failure messages). Never raises."""
    chans = channels()
    if not chans.reach(KIND):
        return None
    ids = failure_ids(context)
    company = failed_company(ids["dag_id"])
    with working_for(company, several=len(load_companies()) > 1):
        return _tell_failure(context, ids, chans, engine or staging_engine(company), now)


def _tell_failure(context: Mapping[str, Any], ids: Ids, chans: Channels, engine: sa.Engine,
                  now: datetime | None) -> str | None:
    if explained(engine, ids["dag_id"], ids["run_id"]):
        log.info("the failure of %s (run %s) was explained by that run's own notification; no failure message",
                 ids["task_id"], ids["run_id"])
        return "explained"
    moment = now or utcnow()
    error = first_line(context.get("exception") or context.get("reason"), [*chans.secrets, *_sync_secrets()])
    record_ids: Ids = {k: ids[k] for k in ("dag_id", "run_id", "task_id")}
    taken, previous = claim(engine, f"failure|{ids['dag_id']}", KIND, moment, STORM_WINDOW)
    if not taken:
        record_message(engine, KIND, record_ids, "throttled", moment, subject=f"{ids['task_id']}: {error}", items=1)
        log.info("failure of %s.%s not sent: this DAG's failure message of the hour went out already",
                 ids["dag_id"], ids["task_id"])
        return "throttled"
    held = throttled_since(engine, KIND, ids["dag_id"] or "", previous)
    return send_and_record(engine, build(ids, error, held, previous), chans, record_ids, moment).status
