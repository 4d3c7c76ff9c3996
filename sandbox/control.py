"""A typed client of the twins' control plane (``/_sandbox/...``): what tests, benchmarks and ``make run`` use to
reset, seed, throttle and inspect a twin, instead of raw URLs. Every call raises ``ControlError`` with the twin's
own message when the twin refuses it.

    qbo = QboControl(twin.url)
    qbo.set_limits(per_minute=100_000)
    with qbo.faults(error_rate=1.0, error_status=503):
        ...
    writes = [r for r in qbo.requests() if r["method"] == "POST"]
"""
from __future__ import annotations

import html
import re
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, TypedDict, cast

import requests


class ControlError(RuntimeError):
    """The twin refused a control-plane call (its status and message), or could not be reached."""


class MintedToken(TypedDict):
    """An Atera API token minted by the twin (``POST /_sandbox/tokens``)."""

    token: str  # the JWT, for ``Authorization: Bearer <token>``
    expires_at: str  # its ``exp``, ISO 8601 UTC (``2027-01-01T00:00:00Z``)


class RequestRecord(TypedDict):
    """One entry of a twin's request log (``GET /_sandbox/requests``)."""

    method: str
    path: str
    query: str
    status: int
    time: float


class TwinControl:
    """The control plane both twins share: reset, seed, faults, limits and the request log."""

    def __init__(self, url: str, *, api_key: str | None = None, timeout: float = 60) -> None:
        self.url = url.rstrip("/")
        self.timeout = timeout
        self._headers = {"X-API-KEY": api_key} if api_key else {}

    def call(self, method: str, path: str, body: Any = None, *, params: dict[str, Any] | None = None) -> Any:
        """``method`` on ``/_sandbox/<path>``; the decoded JSON answer (None for an empty one)."""
        try:
            resp = requests.request(method, f"{self.url}/_sandbox/{path}", json=body, params=params,
                                    headers=self._headers, timeout=self.timeout)
        except requests.RequestException as exc:
            raise ControlError(f"{method} /_sandbox/{path}: the twin at {self.url} did not answer: {exc}") from exc
        if resp.status_code >= 400:
            raise ControlError(f"{method} /_sandbox/{path} answered {resp.status_code}: {resp.text[:500]}")
        return resp.json() if resp.content else None

    # ------------------------------------------------------------------------------------------------ data
    def reset(self) -> None:
        """Empty every record (QBO keeps its company set-up) and the request log."""
        self.call("POST", "reset")

    def seed(self, profile: str = "demo", seed: int = 42, **extra: Any) -> dict[str, Any]:
        """Reset, then load a seed profile (``none``, ``demo``, ``small``, ``large``); answers what was made."""
        return cast(dict[str, Any], self.call("POST", "seed", {"profile": profile, "seed": seed, **extra}))

    # ---------------------------------------------------------------------------------------------- faults
    def set_faults(self, **config: Any) -> dict[str, Any]:
        """``error_rate``, ``error_status``, ``latency_ms`` and the twin's other fault keys; none clears them."""
        return cast(dict[str, Any], self.call("PUT", "faults", config))

    def clear_faults(self) -> None:
        self.call("PUT", "faults", {})

    def get_faults(self) -> dict[str, Any]:
        return cast(dict[str, Any], self.call("GET", "faults"))

    @contextmanager
    def faults(self, **config: Any) -> Iterator[dict[str, Any]]:
        """Faults for the ``with`` block, cleared after it however it ends."""
        applied = self.set_faults(**config)
        try:
            yield applied
        finally:
            self.clear_faults()

    # ---------------------------------------------------------------------------------------------- limits
    def set_limits(self, **limits: Any) -> dict[str, Any]:
        """QBO: ``per_minute``, ``per_second``, ``concurrent``, ``batch_per_minute``, ``time_scale``; Atera:
        ``per_minute``, ``time_scale``. Answers the limits now in force (0 or None: no limit)."""
        return cast(dict[str, Any], self.call("PUT", "limits", limits))

    def get_limits(self) -> dict[str, Any]:
        return cast(dict[str, Any], self.call("GET", "limits"))

    # ------------------------------------------------------------------------------------------ request log
    def requests(self, since: float | None = None) -> list[RequestRecord]:
        """The requests the twin answered (control-plane calls excluded), oldest first; ``since`` a log time."""
        params = {"since": since} if since is not None else None
        return cast(list[RequestRecord], self.call("GET", "requests", params=params))

    def clear_requests(self) -> None:
        self.call("DELETE", "requests")

    def health(self) -> dict[str, Any]:
        return cast(dict[str, Any], self.call("GET", "health"))


class AteraControl(TwinControl):
    """The Atera twin's own control routes. ``api_key`` picks the account (a twin may hold several)."""

    def add_invoices(self, invoices: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """Store InvoiceDto objects as ``GET /billing/invoices`` returns them (ids assigned when omitted)."""
        return cast(list[dict[str, Any]], self.call("POST", "invoices", invoices))

    def add_services(self, services: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """Hourly rates (Atera has no endpoint for them): ``[{Description, Amount, SKU, Category}]``."""
        return cast(list[dict[str, Any]], self.call("POST", "services", services))

    def define_custom_fields(self, fields: list[dict[str, Any]]) -> list[dict[str, Any]]:
        return cast(list[dict[str, Any]], self.call("POST", "customfields", fields))

    def accounts(self) -> list[dict[str, Any]]:
        return cast(list[dict[str, Any]], self.call("GET", "accounts"))

    def mint_token(self, expires_in: int, scopes: dict[str, list[str]] | None = None,
                   api_key: str | None = None) -> MintedToken:
        """An Atera API token (JWT) for ``Authorization: Bearer``: valid ``expires_in`` seconds (at most a year),
        scoped per area (``{"customers": ["read", "write"], "billing": ["read"]}``; None: every area and right), for
        the account of ``api_key`` (default: this control's key, else the twin's first account)."""
        body: dict[str, Any] = {"expires_in": expires_in}
        if scopes is not None:
            body["scopes"] = scopes
        if api_key is not None:
            body["api_key"] = api_key
        return cast(MintedToken, self.call("POST", "tokens", body))


class QboControl(TwinControl):
    """The QBO twin's own control routes."""

    def mint_refresh_token(self, client_id: str, hard_expires_in: int | None = None) -> str:
        """A refresh token of a new grant (stands in for the user's consent); never invalidates another.
        ``hard_expires_in``: the grant's hard expiry in seconds (default the twin's, five years)."""
        body: dict[str, Any] = {"client_id": client_id}
        if hard_expires_in is not None:
            body["hard_expires_in"] = hard_expires_in
        return str(self.call("POST", "oauth/refresh-token", body)["refresh_token"])

    def expire_access_tokens(self) -> int:
        """Every access token issued so far expires now; answers how many."""
        return int(self.call("POST", "oauth/expire-access-tokens")["expired"])

    def merge_customers(self, from_id: str, into_id: str) -> dict[str, Any]:
        """QBO's customer merge: ``from_id`` becomes inactive, its transactions move to ``into_id``."""
        return cast(dict[str, Any], self.call("POST", "customers/merge", {"from": from_id, "into": into_id}))

    @staticmethod
    def consent(authorize_url: str, *, approve: bool = True, timeout: float = 30) -> str:
        """Answer the twin's consent page as a user would (Connect, or Cancel): GET the page the authorization URL
        shows, post its form with the decision; answers where the twin redirects (the app's callback URL)."""
        page = requests.get(authorize_url, timeout=timeout)
        if page.status_code != 200:
            raise ControlError(f"the consent page answered {page.status_code}: {page.text[:300]}")
        fields = dict(re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)">', page.text))
        fields = {k: html.unescape(v) for k, v in fields.items()}
        target = f"{authorize_url.split('/connect/oauth2')[0]}/connect/oauth2"
        answer = requests.post(target, data={**fields, "decision": "approve" if approve else "cancel"},
                               allow_redirects=False, timeout=timeout)
        if answer.status_code != 302:
            raise ControlError(f"the consent answer was {answer.status_code}: {answer.text[:300]}")
        return str(answer.headers["Location"])

    def company(self) -> dict[str, Any]:
        return cast(dict[str, Any], self.call("GET", "company"))

    def set_company(self, **settings: Any) -> dict[str, Any]:
        """``country``, ``custom_txn_numbers``, ``multicurrency``, ``automated_sales_tax``, ``company_name``."""
        return cast(dict[str, Any], self.call("PUT", "company", settings))
