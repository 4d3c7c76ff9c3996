"""Request ids: the idempotency keys of the export's creates (QBO replays a request id it has answered, never
performs it twice). Each invoice's id is minted once and kept in its ledger row before the send."""
from __future__ import annotations

import uuid

from ..errors import ApiError
from ..staging.ledger import LedgerRow

REQUEST_ID_LENGTH = 50  # QBO's limit on a requestid


def request_id_for(number: str, payload_hash: str, state: LedgerRow | None) -> str:
    """The idempotency key of one invoice's create, minted once and kept in the ledger before the send:
    ``<number>-<nonce>-<faults so far>``.

    - the same key after a lost answer (same payload, no fault recorded since): QBO replays, never repeats;
    - a new key after an answered fault (else QBO would replay the old fault to the fixed invoice);
    - a new nonce for a changed payload, and for a ledger row that is new — a lost ledger must not be answered
      with replays of invoices that were deleted in QBO since (the DocNumber lookup guards against duplicates).
    """
    failures = (state.failures or 0) if state is not None else 0
    if state is not None and (state.request_id or "").count("-") >= 2 and state.payload_hash == payload_hash:
        base = state.request_id.rsplit("-", 1)[0]
    else:
        base = f"{number}-{uuid.uuid4().hex[:12]}"
    return f"{base}-{failures}"[:REQUEST_ID_LENGTH]


def answered(exc: BaseException) -> bool:
    """QBO answered the request with a fault (4xx, throttling included): proof that nothing was performed, so the
    next attempt needs a new request id."""
    return isinstance(exc, ApiError) and exc.status is not None and 400 <= exc.status < 500
