"""The wizard's "Done": plan the external writes, persist the plan, execute it step by step idempotently, and
activate the new mapping only when every step succeeded.

Each step's ``request_id`` is derived from what it creates, so re-running a commit that failed half-way replays
the steps QBO already performed (QBO answers a repeated requestid with the original response) instead of
creating duplicates. Atera creates have no request id: before importing a customer into Atera the commit reads
Atera's customer list and reuses a customer of the same name.
"""
from __future__ import annotations

import dataclasses
import json
import logging
import uuid
from dataclasses import dataclass, field
from typing import Any

import pandas as pd
import sqlalchemy as sa

from ..atera.api import AteraApi
from ..errors import ConfigError, FatalError, MatchingError, RetriableApiError
from ..money import dumps
from ..qbo import rules, taxes
from ..qbo.api import QboApi
from ..staging import mappings
from ..staging.db import table, upsert, utcnow
from ..staging.mappings import OverridesFile
from .catalogs import Catalogs
from .names import held_names, name_problem
from .normalize import exact_key
from .review import Decision, Entity, MatchStatus, rows_of

log = logging.getLogger(__name__)

INCOME_SUBTYPES = ("ServiceFeeIncome", "SalesOfProductIncome", "OtherPrimaryIncome")


@dataclass
class Step:
    step_no: int
    entity: str  # customer | product
    action: str  # create_qbo | import_atera
    atera_id: str | None
    qbo_id: str | None
    payload: dict[str, Any]
    request_id: str
    status: str = "pending"
    result_id: str | None = None
    error: str | None = None
    written: bool = False  # this run wrote it (not a replay of an earlier attempt's write, not a reused record)


@dataclass
class CommitResult:
    """What a commit really wrote: ``created_in_qbo``/``imported_to_atera`` count only this run's writes;
    ``already_done`` counts the steps an earlier attempt of the same plan had done (QBO replayed them by their
    request ids), ``reused_in_atera`` the imports that found the customer already in Atera."""
    plan_id: str
    mapped: dict[str, int] = field(default_factory=dict)
    created_in_qbo: dict[str, int] = field(default_factory=dict)
    imported_to_atera: int = 0
    already_done: dict[str, int] = field(default_factory=dict)
    reused_in_atera: int = 0
    failed: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return self.__dict__.copy()


def income_account(engine: sa.Engine) -> str:
    acc = table("stg_qbo_accounts")
    with engine.connect() as conn:
        rows = conn.execute(sa.select(acc.c.source_id, acc.c.account_sub_type)
                            .where(acc.c.account_type == "Income", acc.c.active.is_(True),
                                   acc.c.deleted_at.is_(None))).all()
    for subtype in INCOME_SUBTYPES:
        for source_id, sub in rows:
            if sub == subtype:
                return str(source_id)
    if rows:
        return str(rows[0][0])
    raise MatchingError("QBO has no active Income account to book new items to: create one in QBO, then re-run "
                        "the catalog sync")


def build_steps(review: pd.DataFrame, catalogs: Catalogs, engine: sa.Engine, *,
                sales_tax_code: str | None = None) -> list[Step]:
    """The external writes of a commit, validated up front: any row QBO would refuse stops the whole plan (names
    are checked against every name staged from QBO, inactive records, vendors and employees included; items for a
    non-US company need the configured default sales tax code, ``sales_tax_code``, active in QBO)."""
    errors: list[str] = []
    steps: list[Step] = []
    atera_customers = catalogs.atera_customers.set_index(catalogs.atera_customers["atera_id"].astype(str))
    atera_products = catalogs.atera_products.set_index("atera_id", drop=False)
    qbo_customers = catalogs.qbo_customers.set_index(catalogs.qbo_customers["qbo_id"].astype(str))
    income_id: str | None = None
    tax_code: str | None = None  # "" once resolved for a US company (no code on items)
    planned_names: dict[tuple[str, str], str] = {}
    held = held_names(catalogs)
    for r in rows_of(review[review["decision"].isin([Decision.CREATE_QBO, Decision.IMPORT_ATERA])]):
        if r.decision == Decision.CREATE_QBO:
            rec = _record(atera_customers if r.entity == "customer" else atera_products, r.atera_id)
            name = rules.clean_name(rec["name"])
            problems = rules.name_problems(name, r.entity)
            other = planned_names.get((r.entity, exact_key(name)))
            if other:
                problems.append(f"would be created twice (also for {other})")
            taken = name_problem(Entity(r.entity), name, held) if name else None
            if taken:
                problems.append(taken)
            if problems:
                fix = "" if taken and len(problems) == 1 else (": rename it in Atera, or map it to an existing QBO "
                                                                "record with action=match")
                errors.append(f"Atera {r.entity} {r.atera_id} {name!r} {' and '.join(problems)}{fix}")
                continue
            planned_names[(r.entity, exact_key(name))] = r.atera_id
            if r.entity == "customer":
                payload = rules.customer_payload(rec)
            else:
                try:
                    income_id = income_id or income_account(engine)
                    tax_code = tax_code if tax_code is not None else (
                        taxes.default_item_tax_code(engine, sales_tax_code) or "")
                except (MatchingError, ConfigError) as exc:
                    if str(exc) not in errors:
                        errors.append(str(exc))
                    continue
                payload = rules.item_payload(rec, income_id, tax_code or None)
            steps.append(Step(len(steps) + 1, r.entity, "create_qbo", r.atera_id, None, payload,
                              rules.request_id("create", r.entity, r.atera_id, dumps(payload))))
        else:
            rec = _record(qbo_customers, r.qbo_id)
            payload = {"CustomerName": rules.clean_name(rec["name"])}
            steps.append(Step(len(steps) + 1, "customer", "import_atera", None, r.qbo_id, payload,
                              rules.request_id("import", r.qbo_id, dumps(payload))))
    if errors:
        raise MatchingError("commit refused, nothing written:\n  " + "\n  ".join(errors))
    return steps


def _record(frame: pd.DataFrame, key: str) -> dict[str, Any]:
    """The staged record at index ``key`` of a catalog frame, column → cell (what the payload builders read)."""
    return {str(column): cell for column, cell in frame.loc[key].items()}


def _save_steps(engine: sa.Engine, plan_id: str, steps: list[Step]) -> None:
    tbl = table("match_plan_steps")
    now = utcnow()
    rows = [{"plan_id": plan_id, "step_no": s.step_no, "entity": s.entity, "atera_id": s.atera_id,
             "qbo_id": s.qbo_id, "action": s.action, "payload_json": dumps(s.payload), "request_id": s.request_id,
             "status": s.status, "result_id": s.result_id, "error_text": s.error, "attempts": 0,
             "updated_at": now} for s in steps]
    with engine.begin() as conn:
        upsert(conn, tbl, rows, ["plan_id", "step_no"])


def _done_before(engine: sa.Engine, plan_id: str) -> set[tuple[int, str]]:
    """(step_no, request_id) of the steps an earlier attempt of this plan recorded done."""
    tbl = table("match_plan_steps")
    with engine.connect() as conn:
        return {(int(n), str(rid)) for n, rid in conn.execute(
            sa.select(tbl.c.step_no, tbl.c.request_id).where(tbl.c.plan_id == plan_id, tbl.c.status == "done"))}


def _record_step(engine: sa.Engine, plan_id: str, step: Step) -> None:
    tbl = table("match_plan_steps")
    with engine.begin() as conn:
        conn.execute(sa.update(tbl).where(tbl.c.plan_id == plan_id, tbl.c.step_no == step.step_no)
                     .values(status=step.status, result_id=step.result_id, error_text=step.error,
                             attempts=tbl.c.attempts + 1, updated_at=utcnow()))


def execute(engine: sa.Engine, review: pd.DataFrame, steps: list[Step], *, qbo: QboApi, atera: AteraApi | None,
            run_id: str | None = None, overrides: OverridesFile | None = None) -> CommitResult:
    """Run the plan's steps; when all succeeded, activate the new mapping (provenance: ``staging.mappings``;
    ``overrides`` is the file whose lines decided, to record them)."""
    plan_id = run_id or uuid.uuid4().hex
    plans = table("match_plans")
    earlier = _done_before(engine, plan_id)
    with engine.begin() as conn:
        upsert(conn, plans, [{"plan_id": plan_id, "created_at": utcnow(), "finished_at": None,
                              "status": "running", "summary_json": None}], ["plan_id"])
    _save_steps(engine, plan_id, steps)
    result = CommitResult(plan_id)

    atera_names: dict[str, str] | None = None
    for step in steps:
        try:
            if step.action == "create_qbo":
                entity = "Customer" if step.entity == "customer" else "Item"
                created = qbo.create(entity, step.payload, request_id=step.request_id,
                                     label=f"create QBO {entity} for Atera {step.entity} {step.atera_id}")
                step.result_id = str(created["Id"])
                step.qbo_id = step.result_id
                step.written = (step.step_no, step.request_id) not in earlier  # else QBO replayed it
            else:
                if atera is None:
                    raise MatchingError("importing QBO customers into Atera needs the Atera connection")
                if atera_names is None:
                    atera_names = {exact_key(c.get("CustomerName")): str(c["CustomerID"]) for c in atera.customers()}
                key = exact_key(step.payload["CustomerName"])
                step.result_id = atera_names.get(key)
                if step.result_id is None:
                    step.result_id, step.written = str(atera.create_customer(step.payload)), True
                atera_names[key] = step.result_id
                step.atera_id = step.result_id
            step.status, step.error = "done", None
        except FatalError as exc:
            step.status, step.error = "failed", str(exc)
            result.failed.append(f"step {step.step_no} ({step.action} {step.entity} "
                                 f"{step.atera_id or step.qbo_id}): {exc}")
        except BaseException as exc:  # retriable (or unexpected): record it, stop, and let the task retry
            _stop(engine, plan_id, step, result, exc)
            raise
        _record_step(engine, plan_id, step)

    if result.failed:
        _finish(engine, plan_id, "failed", result)
        raise FatalError("commit failed; the previous mapping stays in force. Fix the causes and re-run "
                         "(steps already done are replayed, not repeated):\n  " + "\n  ".join(result.failed))
    _activate(engine, plan_id, review, steps, result, overrides)
    _finish(engine, plan_id, "done", result)
    return result


def _stop(engine: sa.Engine, plan_id: str, step: Step, result: CommitResult, exc: BaseException) -> None:
    """A step met an error a retry may cure (QBO/Atera unreachable): the step and the plan are recorded
    ``failed`` with the reason, the old mapping stays in force, and the caller re-raises so Airflow retries (the
    steps already done are replayed by their request ids, not repeated)."""
    retriable = isinstance(exc, RetriableApiError)
    step.status = "failed"
    step.error = (f"{exc} (transient: the task's retry resumes the plan)" if retriable
                  else f"{type(exc).__name__}: {exc}")
    result.failed.append(f"step {step.step_no} ({step.action} {step.entity} {step.atera_id or step.qbo_id}): "
                         f"{step.error}")
    try:
        _record_step(engine, plan_id, step)
        _finish(engine, plan_id, "failed", result, error=step.error)
    except Exception:  # the store is what failed: keep the original error
        log.exception("commit plan %s: could not record the failure of step %s", plan_id, step.step_no)


def _finish(engine: sa.Engine, plan_id: str, status: str, result: CommitResult, *, error: str | None = None) -> None:
    plans = table("match_plans")
    summary = {**result.as_dict(), **({"error": error} if error else {})}
    with engine.begin() as conn:
        conn.execute(sa.update(plans).where(plans.c.plan_id == plan_id)
                     .values(status=status, finished_at=utcnow(), summary_json=json.dumps(summary)))


def step_key(step: Step) -> tuple[str, str, str | None]:
    """(action, entity, the id the step started from): an Atera id for a create, a QBO id for an import (the two
    may be equal strings: Atera customer 25 and QBO customer 25 are different records)."""
    return step.action, str(step.entity), step.atera_id if step.action == "create_qbo" else step.qbo_id


def _activate(engine: sa.Engine, plan_id: str, review: pd.DataFrame, steps: list[Step],
              result: CommitResult, overrides: OverridesFile | None) -> None:
    """Replace the active mapping with this plan's, in one transaction, each mapping with its provenance."""
    by_key = {step_key(s): s for s in steps}
    chosen: dict[str, list[mappings.Mapping]] = {"customer": [], "product": []}

    def decided(entity: str, key: str, method: mappings.Method) -> mappings.Provenance:
        """``method``, with the overrides line that decided it (if one did) and this plan when it created."""
        line = overrides.provenance(entity, key) if overrides else None
        return dataclasses.replace(line or mappings.Provenance(method), method=method,
                                   origin_plan_id=None if method == mappings.Method.OVERRIDE else plan_id)

    for r in rows_of(review):
        if r.decision == Decision.MAP:
            how = (mappings.Provenance(mappings.Method.EXACT) if r.status == MatchStatus.MATCHED_EXACT
                   else decided(r.entity, r.atera_id, mappings.Method.OVERRIDE))
            chosen[r.entity].append(mappings.Mapping(r.atera_id, r.qbo_id, how, r.atera_name, r.qbo_name,
                                                     str(r.status)))
        elif r.decision == Decision.CREATE_QBO:
            step = by_key[("create_qbo", r.entity, r.atera_id)]
            chosen[r.entity].append(mappings.Mapping(
                r.atera_id, str(step.result_id), decided(r.entity, r.atera_id, mappings.Method.CREATED),
                r.atera_name, step.payload.get("DisplayName") or step.payload.get("Name"), "matched_override"))
            _count(result, step)
        elif r.decision == Decision.IMPORT_ATERA:
            step = by_key[("import_atera", "customer", r.qbo_id)]
            chosen["customer"].append(mappings.Mapping(
                str(step.result_id), r.qbo_id, decided("customer", r.qbo_id, mappings.Method.IMPORTED),
                step.payload["CustomerName"], r.qbo_name, "matched_override"))
            _count(result, step)
    result.mapped.update(mappings.activate(engine, plan_id, chosen))


def _count(result: CommitResult, step: Step) -> None:
    """Count ``step`` as written by this run, or as done before (replayed / reused)."""
    if step.action == "create_qbo":
        tally = result.created_in_qbo if step.written else result.already_done
        tally[str(step.entity)] = tally.get(str(step.entity), 0) + 1
    elif step.written:
        result.imported_to_atera += 1
    else:
        result.reused_in_atera += 1
