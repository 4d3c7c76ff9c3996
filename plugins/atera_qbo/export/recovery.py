"""Recovery by DocNumber: the invoices QBO already has (a lost ledger, or a crash between send and record) are
recorded as exported instead of being sent again — the safe complement to requestid replay. A DocNumber taken by
another customer's document blocks the invoice."""
from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from typing import Any

from ..qbo.api import QboApi
from ..qbo.query import in_list
from ..staging.db import chunked
from ..staging.ledger import LedgerStatus
from .claims import claim
from .ledger import Created, Ledger, Outcome
from .result import ExportResult
from .transform import Transformed

LOOKUPS = 4  # DocNumber lookups in flight at once (QBO allows 10 requests in flight)
LOOKUP_CHUNK = 100  # DocNumbers per ``DocNumber IN (...)`` query
DOC_ENTITIES = ("Invoice", "CreditMemo")


def existing_documents(qbo: QboApi, todo: list[Transformed]) -> dict[str, dict[str, Any]]:
    """QBO invoices / credit memos that already carry these DocNumbers: ``DocNumber IN (...)`` queries of 100,
    ``LOOKUPS`` at a time under the client's budgets. Answers DocNumber → QBO document (the first found)."""
    def lookup(piece: tuple[str, list[str]]) -> list[dict[str, Any]]:
        entity, numbers = piece
        return list(qbo.query_all(entity, f"DocNumber IN {in_list(numbers)}"))

    pieces = [(entity, list(part)) for entity in DOC_ENTITIES
              for part in chunked([t.number for t in todo if t.entity == entity], LOOKUP_CHUNK)]
    found: dict[str, dict[str, Any]] = {}
    with ThreadPoolExecutor(max_workers=LOOKUPS, thread_name_prefix="export-recover") as pool:
        for docs in pool.map(lookup, pieces):
            for doc in docs:
                found.setdefault(str(doc.get("DocNumber")), doc)
    return found


def recover(qbo: QboApi, ledger: Ledger, result: ExportResult, todo: list[Transformed]) -> list[Transformed]:
    """Invoices QBO already has (by DocNumber) are recorded as exported instead of being sent again; a DocNumber
    taken by another customer's document blocks the invoice. Answers what is still to send."""
    existing = existing_documents(qbo, todo)
    if existing:  # a concurrent run may be sending these: wait for its claim, then believe its ledger
        with claim(ledger.engine, sorted(existing)):
            exported = {n for n, st in ledger.states(sorted(existing)).items() if st.status == LedgerStatus.EXPORTED}
        result.already_exported += len(exported)
        todo = [t for t in todo if t.number not in exported]
    rest = []
    for t in todo:
        doc = existing.get(t.number)
        if doc is None:
            rest.append(t)
        elif str((doc.get("CustomerRef") or {}).get("value")) != _customer_of(t):
            result.blocked[t.number] = (f"QBO already has {t.entity} DocNumber {t.number} (Id {doc.get('Id')}) "
                                        "for another customer: resolve the clash in QBO")
            if not result.dry_run:
                ledger.record({t.number: Outcome(LedgerStatus.BLOCKED, error_text=result.blocked[t.number])})
        else:
            result.recovered += 1
            result.recovered_ids[t.number] = str(doc["Id"])
            if not result.dry_run:
                ledger.record({t.number: Outcome(LedgerStatus.EXPORTED, created=Created(
                    str(doc["Id"]), t.entity, doc.get("DocNumber")))})
    return rest


def _customer_of(t: Transformed) -> Any:
    """The QBO customer id the transformed invoice is for (its payload's CustomerRef)."""
    return (t.payload or {})["CustomerRef"]["value"]
