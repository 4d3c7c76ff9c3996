"""An export run that SIGKILLs itself at a chosen point (run by test_export_crash.py as a separate process).

    python -m tests.integration.crash_child '{"staging_url": ..., "qbo_url": ..., "run_id": ..., "batch_id": ...,
                                               "kill": "headers" | "answer" | "between" | "item_created", "at": N}'

- ``headers``: during the N-th ``/batch`` request, once its headers are on the wire and before its body;
- ``answer``: the N-th ``/batch`` was sent whole and QBO's answer is waiting in the socket, unread;
- ``between``: right after the N-th chunk's outcome was recorded in the ledger;
- ``item_created``: the process only runs the export's ``create_missing_items`` and dies after the N-th item was
  created in QBO, before its mapping is written.
Without ``kill`` the run ends normally (exit 0).
"""
from __future__ import annotations

import json
import os
import select
import signal
import sys

import urllib3.connection

from atera_qbo.export import load
from atera_qbo.http import RetryPolicy
from atera_qbo.qbo.auth import TokenEndpoint, TokenStore
from atera_qbo.qbo.client import QboClient
from atera_qbo.staging.db import make_engine
from scripts.airflow_env import DEMO

WINDOW = ("2026-08-01", "2026-10-31")


def die() -> None:
    os.kill(os.getpid(), signal.SIGKILL)


def arm(kill: str, at: int) -> None:
    """Patch the HTTP connection (or the ledger) so the process dies at the ``at``-th occurrence of ``kill``."""
    seen = {"n": 0}
    conn_cls = urllib3.connection.HTTPConnection

    def due() -> bool:
        seen["n"] += 1
        return seen["n"] == at

    if kill == "item_created":
        from atera_qbo.export import missing

        def die_before_mapping(*args, **kwargs):  # type: ignore[no-untyped-def]
            if due():
                die()
            return map_item(*args, **kwargs)

        map_item, missing._map = missing._map, die_before_mapping
        return
    if kill == "between":
        record = load.Ledger.record

        def record_then_die(self, outcomes):  # type: ignore[no-untyped-def]
            record(self, outcomes)
            if any(v.status in ("exported", "failed") for v in outcomes.values()) and due():  # export.ledger.Outcome
                die()

        load.Ledger.record = record_then_die  # type: ignore[method-assign]
        return
    putrequest, endheaders, getresponse = conn_cls.putrequest, conn_cls.endheaders, conn_cls.getresponse

    def remember(self, method, url, *args, **kwargs):  # type: ignore[no-untyped-def]
        self._crash_batch = url.split("?", 1)[0].endswith("/batch")
        return putrequest(self, method, url, *args, **kwargs)

    def headers_then_die(self, *args, **kwargs):  # type: ignore[no-untyped-def]
        endheaders(self, *args, **kwargs)
        if kill == "headers" and getattr(self, "_crash_batch", False) and due():
            die()

    def answer_waiting_then_die(self, *args, **kwargs):  # type: ignore[no-untyped-def]
        if kill == "answer" and getattr(self, "_crash_batch", False) and due():
            select.select([self.sock], [], [], 30)  # QBO has committed and answered (or dropped the line)
            die()
        return getresponse(self, *args, **kwargs)

    conn_cls.putrequest, conn_cls.endheaders, conn_cls.getresponse = remember, headers_then_die, \
        answer_waiting_then_die


def main(doc: dict) -> int:
    if doc.get("kill"):
        arm(doc["kill"], int(doc["at"]))
    engine = make_engine(doc["staging_url"])
    endpoint = TokenEndpoint(f"{doc['qbo_url']}/oauth2/v1/tokens/bearer", DEMO["client_id"], DEMO["client_secret"])
    store = TokenStore(engine, DEMO["realm_id"], endpoint, seed_refresh_token=None)
    qbo = QboClient(doc["qbo_url"], DEMO["realm_id"], store, rate_per_minute=None,
                    policy=RetryPolicy(initial_wait=0.01, max_wait=0.1, timeout=10, throttle_deadline=60,
                                       error_deadline=60))
    from datetime import date

    if doc.get("kill") == "item_created":
        from atera_qbo.export.missing import create_missing_items

        done, problems = create_missing_items(engine, qbo, *(date.fromisoformat(d) for d in WINDOW), [],
                                              origin=doc["run_id"], sales_tax_code=None)
        print(json.dumps({"created": done, "problems": problems}))
        return 0
    result = load.export_invoices(engine, qbo, batch_id=doc["batch_id"], run_id=doc["run_id"],
                                  date_from=date.fromisoformat(WINDOW[0]), date_to=date.fromisoformat(WINDOW[1]))
    print(json.dumps(result.as_dict(), default=str))
    return 0


if __name__ == "__main__":
    sys.exit(main(json.loads(sys.argv[1])))
