"""Changes made "by hand" in the twins, through their public HTTP APIs (what a bookkeeper or technician does)."""
from __future__ import annotations

from typing import Any

import requests

from scripts.airflow_env import DEMO


def qbo_http(qbo_twin, qbo, method: str, path: str, **kwargs: Any) -> dict:
    """A QBO API call with the sync's own access token (as the QBO web app would make it)."""
    token, _ = qbo.tokens.access_token()
    r = requests.request(method, f"{qbo_twin.url}/v3/company/{DEMO['realm_id']}{path}",
                         headers={"Authorization": f"Bearer {token}", "Accept": "application/json"}, timeout=30,
                         **kwargs)
    assert r.status_code == 200, r.text
    return r.json()


def read(qbo_twin, qbo, entity: str, qbo_id: str) -> dict:
    return qbo_http(qbo_twin, qbo, "GET", f"/{entity.lower()}/{qbo_id}")[entity]


def void_invoice(qbo_twin, qbo, qbo_id: str) -> dict:
    inv = read(qbo_twin, qbo, "Invoice", qbo_id)
    return qbo_http(qbo_twin, qbo, "POST", "/invoice", params={"operation": "void"},
                    json={"Id": qbo_id, "SyncToken": inv["SyncToken"]})["Invoice"]


def delete_txn(qbo_twin, qbo, entity: str, qbo_id: str) -> None:
    doc = read(qbo_twin, qbo, entity, qbo_id)
    qbo_http(qbo_twin, qbo, "POST", f"/{entity.lower()}", params={"operation": "delete"},
             json={"Id": qbo_id, "SyncToken": doc["SyncToken"]})


def pay(qbo_twin, qbo, entity: str, qbo_id: str, amount=None, txn_date: str = "2026-11-20") -> dict:
    """A payment of ``amount`` (default: all that is open) on an invoice, or applying a credit memo."""
    doc = read(qbo_twin, qbo, entity, qbo_id)
    open_amount = doc["Balance"] if entity == "Invoice" else doc["RemainingCredit"]
    amount = open_amount if amount is None else amount
    lines = [{"Amount": amount, "LinkedTxn": [{"TxnId": qbo_id, "TxnType": entity}]}]
    total = amount
    if entity == "CreditMemo":  # a credit is applied against an open invoice of the same customer
        inv = next(i for i in qbo.query_all("Invoice", f"CustomerRef = '{doc['CustomerRef']['value']}'")
                   if i["Balance"] >= amount)
        lines.append({"Amount": amount, "LinkedTxn": [{"TxnId": inv["Id"], "TxnType": "Invoice"}]})
        total = 0
    body = {"CustomerRef": doc["CustomerRef"], "TotalAmt": total, "TxnDate": txn_date, "Line": lines}
    return qbo_http(qbo_twin, qbo, "POST", "/payment", json=body)["Payment"]


def sparse_update(qbo_twin, qbo, entity: str, qbo_id: str, **fields: Any) -> dict:
    doc = read(qbo_twin, qbo, entity, qbo_id)
    return qbo_http(qbo_twin, qbo, "POST", f"/{entity.lower()}",
                    json={"Id": qbo_id, "SyncToken": doc["SyncToken"], "sparse": True, **fields})[entity]


def atera_http(atera_twin, method: str, path: str, **kwargs: Any) -> Any:
    r = requests.request(method, f"{atera_twin.url}/api/v3{path}", headers={"X-API-KEY": DEMO["atera_api_key"]},
                         timeout=30, **kwargs)
    assert r.status_code < 300, r.text
    return r.json() if r.content else None
