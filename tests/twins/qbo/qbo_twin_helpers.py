"""Helpers for the QBO twin tests (raw HTTP client, Fault extraction, request bodies)."""
from __future__ import annotations

from decimal import Decimal
from typing import Any

import requests

from sandbox.control import QboControl
from sandbox.qbo.server import DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET, DEFAULT_REALM_ID, QboTwin


class Api:
    """Raw HTTP against the twin: ``api.post("/invoice", json=...)`` under /v3/company/{realm}."""

    def __init__(self, twin: QboTwin, url: str) -> None:
        self.twin = twin
        self.url = url
        self.realm = twin.realm_id
        self.base = f"{url}/v3/company/{self.realm}"
        self.http = requests.Session()
        self.control = QboControl(url)  # the twin's control plane
        self._token: str | None = None

    # OAuth
    def mint_refresh_token(self, client_id: str = DEFAULT_CLIENT_ID) -> str:
        return self.control.mint_refresh_token(client_id)

    def refresh(self, refresh_token: str, client_id: str = DEFAULT_CLIENT_ID,
                client_secret: str = DEFAULT_CLIENT_SECRET) -> requests.Response:
        return self.http.post(f"{self.url}/oauth2/v1/tokens/bearer", auth=(client_id, client_secret),
                              data={"grant_type": "refresh_token", "refresh_token": refresh_token}, timeout=10)

    @property
    def token(self) -> str:
        if self._token is None:
            r = self.refresh(self.mint_refresh_token())
            r.raise_for_status()
            self._token = r.json()["access_token"]
        return self._token

    def headers(self, token: str | None = None) -> dict[str, str]:
        return {"Authorization": f"Bearer {token or self.token}", "Accept": "application/json"}

    def get(self, path: str, token: str | None = None, **kw: Any) -> requests.Response:
        return self.http.get(self.base + path, headers=self.headers(token), timeout=30, **kw)

    def post(self, path: str, token: str | None = None, **kw: Any) -> requests.Response:
        headers = self.headers(token)
        headers.update(kw.pop("headers", {}))
        return self.http.post(self.base + path, headers=headers, timeout=30, **kw)

    def query(self, text: str, method: str = "POST") -> requests.Response:
        if method == "GET":
            return self.get("/query", params={"query": text})
        return self.post("/query", data=text.encode("utf-8"), headers={"Content-Type": "application/text"})

    def rows(self, text: str) -> list[dict]:
        r = self.query(text)
        assert r.status_code == 200, r.text
        doc = r.json()["QueryResponse"]
        return next((v for k, v in doc.items() if isinstance(v, list)), [])

    def admin(self, method: str, path: str, **kw: Any) -> requests.Response:
        """Raw HTTP to a control route (``/_sandbox`` + ``path``): only for tests whose subject is that route's own
        answer (a 400 for a bad body, say); everything else goes through ``control``."""
        return self.http.request(method, f"{self.url}/_sandbox{path}", timeout=30, **kw)


def fault(response: requests.Response) -> dict:
    """The single Error of a Fault response."""
    doc = response.json()
    assert "Fault" in doc, doc
    assert len(doc["Fault"]["Error"]) == 1
    return doc["Fault"]["Error"][0]


def invoice_body(customer: str = "1", item: str = "1", qty: str | int = 2, price: str | int = 125,
                 amount: Any = None, **extra: Any) -> dict:
    line_amount = amount if amount is not None else Decimal(str(qty)) * Decimal(str(price))
    body = {"CustomerRef": {"value": customer},
            "Line": [{"DetailType": "SalesItemLineDetail", "Amount": float(line_amount) if not isinstance(
                line_amount, str) else line_amount,
                "SalesItemLineDetail": {"ItemRef": {"value": item}, "Qty": qty, "UnitPrice": price,
                                        "TaxCodeRef": {"value": "NON"}}}]}
    body.update(extra)
    return body


REALM = DEFAULT_REALM_ID
