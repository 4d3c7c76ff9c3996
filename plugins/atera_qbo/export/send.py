"""Sending: ``/batch`` by chunks of ≤ 30, each chunk claimed, marked ``pending`` with its request ids BEFORE it is
sent, and every item's outcome recorded from QBO's answer.

A fatal answer to one ``/batch`` fails its invoices and the run goes on; a retriable one (QBO unreachable, 5xx,
throttled after the client's own retries) leaves the chunk ``pending`` with its request ids (the task's retry
replays it, never repeats it) and goes up.
"""
from __future__ import annotations

import logging
from typing import Any

from ..errors import FatalError, RetriableApiError
from ..qbo import rules
from ..qbo.api import QboApi
from ..qbo.client import BATCH_SIZE, fault_of
from ..staging.db import chunked
from ..staging.ledger import LedgerRow, LedgerStatus
from .claims import claim
from .ledger import Created, Ledger, Outcome, Sending
from .request_ids import answered, request_id_for
from .result import ExportResult
from .transform import Transformed

log = logging.getLogger(__name__)

NO_ANSWER = ("no answer for this item in the batch response", None)
States = dict[str, LedgerRow]  # Atera number → its ledger row, as last read by the run


def send(qbo: QboApi, ledger: Ledger, result: ExportResult, todo: list[Transformed], states: States) -> None:
    """``/batch`` by chunks of ≤ 30, one after the other (the QBO client paces them to QBO's limits: the wait for
    the batch budget absorbs the ledger's and the preparation's work). Each chunk is claimed (claims.py) and its
    ledger rows re-read under the claim: what a concurrent run exported meanwhile is left out. A fatal answer fails
    its chunk and the run goes on; a retriable one leaves the chunk ``pending`` and goes up."""
    for chunk in chunked(todo, BATCH_SIZE):
        numbers = [t.number for t in chunk]
        with claim(ledger.engine, numbers):
            states.update(ledger.states(numbers))
            fresh = [t for t in chunk if not _exported(states.get(t.number))]
            result.already_exported += len(chunk) - len(fresh)
            if fresh:
                send_chunk(qbo, ledger, result, fresh, states)


def _exported(state: LedgerRow | None) -> bool:
    return state is not None and state.status == LedgerStatus.EXPORTED


def send_chunk(qbo: QboApi, ledger: Ledger, result: ExportResult, chunk: list[Transformed], states: States,
               *, replay_checked: bool = False) -> None:
    """Mark the chunk ``pending`` with its request ids, send it, record each invoice's outcome.

    Request ids (``request_id_for``): an answered fault counts in the ledger, so the next attempt of those invoices
    gets new ids; a lost answer does not, so the next attempt replays. When every id of the chunk was minted by an
    earlier attempt, QBO may answer with a replay of that attempt's answer (a run killed before recording it): its
    faults are then retried at once under new ids, so an old fault is never the last word."""
    rids = {t.number: request_id_for(t.number, t.payload_hash, states.get(t.number)) for t in chunk}
    replayable = not replay_checked and all(_minted(states.get(n)) == r for n, r in rids.items())
    numbers = [t.number for t in chunk]
    ledger.record({t.number: Outcome(LedgerStatus.PENDING, sending=Sending(rids[t.number], t.payload_hash,
                                                                           t.pre_tax_total)) for t in chunk})
    items = [{"bId": t.number, "operation": "create", t.entity: t.payload} for t in chunk]
    try:
        responses = qbo.batch(items, request_id=rules.request_id(*sorted(rids.values())),
                              label=f"export batch {ledger.batch_id} invoices {chunk[0].number}..{chunk[-1].number}")
    except RetriableApiError as exc:
        reason = (f"{exc}: left pending; QBO refused it (nothing was created): the task's retry sends it under new "
                  "request ids" if answered(exc) else
                  f"{exc}: left pending with its request id; the task's retry replays it (never a duplicate)")
        result.pending.update(dict.fromkeys(numbers, reason))
        ledger.record_all(numbers, Outcome(LedgerStatus.PENDING, error_text=reason, fault=answered(exc)))
        raise
    except FatalError as exc:
        result.failed.update(dict.fromkeys(numbers, str(exc)))
        ledger.record_all(numbers, Outcome(LedgerStatus.FAILED, error_text=str(exc), fault=answered(exc)))
        faulted = chunk if answered(exc) else []
    else:
        outcomes = outcomes_of(chunk, responses, result)
        ledger.record(outcomes)
        faulted = [t for t in chunk if outcomes[t.number].status == LedgerStatus.FAILED]
    if faulted and replayable:
        log.info("export batch %s: %d faults may replay an earlier attempt's answer: sending again under new "
                 "request ids", ledger.batch_id, len(faulted))
        states.update(ledger.states([t.number for t in faulted]))
        for t in faulted:
            result.failed.pop(t.number, None)
        send_chunk(qbo, ledger, result, faulted, states, replay_checked=True)


def _minted(state: LedgerRow | None) -> str | None:
    """The request id the ledger holds for an invoice (None without a row)."""
    return state.request_id if state is not None else None


def outcomes_of(chunk: list[Transformed], responses: dict[str, dict[str, Any]],
                result: ExportResult) -> dict[str, Outcome]:
    """Each invoice's outcome from QBO's ``/batch`` answer (an item missing from it is a failure)."""
    outcomes: dict[str, Outcome] = {}
    for t in chunk:
        item = responses.get(t.number) or {}
        fault = fault_of(item) if item else NO_ANSWER
        if fault:
            message, code = fault
            text = f"QBO {code or ''} {message}".strip()
            result.failed[t.number] = text
            outcomes[t.number] = Outcome(LedgerStatus.FAILED, error_text=text, fault=True)
        else:
            created = item[t.entity]
            result.exported[t.number] = str(created["Id"])
            outcomes[t.number] = Outcome(LedgerStatus.EXPORTED, created=Created(
                str(created["Id"]), t.entity, created.get("DocNumber")))
    return outcomes
