"""Atera REST API v3 client: auth header, the paging envelope, retries and the client-side rate limit.

Atera publishes no rate limit; 700 requests/minute is the common third-party figure, so that is the default
budget per account (``rate_per_minute`` in the connection extras lowers it).
"""
from __future__ import annotations

import hashlib
import logging
from collections.abc import Iterator
from datetime import date
from typing import Any
from urllib.parse import urlsplit

import redis
import requests

from ..errors import FatalApiError
from ..http import ApiSession, RetryPolicy, json_object, make_limiter
from .credentials import AteraCredential

log = logging.getLogger(__name__)

PAGE_SIZE = 50  # Atera's maximum itemsInPage
MAX_PAGES = 100_000


def _describe(response: requests.Response) -> tuple[str, str | None]:
    """Atera errors: ProblemDetails {title, detail} on 400s, empty bodies on 401/404."""
    try:
        body = response.json()
    except ValueError:
        return "", None
    if isinstance(body, dict):
        parts = [str(body.get(k)) for k in ("title", "detail") if body.get(k)]
        return "; ".join(parts)[:300], None
    return "", None


class AteraPaginator:
    """Decides the next page from one envelope; stops on ``nextLink`` null or "", on ``page >= totalPages`` and on
    a page that repeats (a loop guard), whichever comes first."""

    def __init__(self) -> None:
        self._seen: set[int] = set()

    def next_page(self, envelope: dict[str, Any], requested_page: int) -> int | None:
        page = envelope.get("page") or requested_page
        if page in self._seen:
            raise FatalApiError(f"Atera paging loop: page {page} returned twice")
        self._seen.add(page)
        total_pages = envelope.get("totalPages")
        if not envelope.get("nextLink"):
            return None
        if isinstance(total_pages, int) and page >= total_pages:
            return None
        if not envelope.get("items"):
            return None
        return page + 1


class AteraClient:
    """``secret``: the connection's password, an API token (sent as a bearer token) or a legacy key (as
    ``X-API-KEY``); ``auth`` forces either (the connection's extra ``auth``)."""

    def __init__(self, base_url: str, secret: str, *, policy: RetryPolicy | None = None,
                 rate_per_minute: float | None = 700, account_key: str | None = None, burst: int = 1,
                 redis_client: redis.Redis | None = None, auth: str | None = None) -> None:
        self.credential = AteraCredential.of(secret, auth)
        self.credential.warn_if_expiring()
        # Stable across processes (a shared limiter is keyed in Redis), and no secret in it: a digest of the key.
        key_digest = hashlib.sha256(secret.encode()).hexdigest()[:12]
        limiter_key = f"atera:{account_key or urlsplit(base_url).netloc}:{key_digest}"
        self.http = ApiSession(base_url, policy=policy, describe=self._describe,
                               limiter=make_limiter(limiter_key, rate_per_minute, burst, redis_client))

    def close(self) -> None:
        self.http.close()

    def _describe(self, response: requests.Response) -> tuple[str, str | None]:
        """A 401/403 says which credential Atera refused and what to do; other errors Atera's own words."""
        if response.status_code in (401, 403):
            return self.credential.refusal_hint(response.status_code), None
        return _describe(response)

    def _headers(self) -> dict[str, Any]:
        return {"headers": self.credential.headers()}

    def get(self, path: str, params: dict[str, Any] | None = None, *, entity: str) -> Any:
        response = self.http.request("GET", f"/api/v3{path}", params=params, entity=entity, prepare=self._headers)
        return ApiSession.json(response)

    def paged(self, path: str, params: dict[str, Any] | None = None, *, entity: str) -> Iterator[dict[str, Any]]:
        """Every item of a paged list, page by page."""
        paginator = AteraPaginator()
        page = 1
        for _ in range(MAX_PAGES):
            query = dict(params or {}, page=page, itemsInPage=PAGE_SIZE)
            envelope = self.get(path, query, entity=f"{entity} page {page}")
            if not isinstance(envelope, dict) or "items" not in envelope:
                raise FatalApiError(f"{entity}: page {page} is not an Atera paging envelope", entity=entity)
            yield from envelope["items"] or []
            next_page = paginator.next_page(envelope, page)
            if next_page is None:
                return
            page = next_page
        raise FatalApiError(f"{entity}: more than {MAX_PAGES} pages", entity=entity)

    def post(self, path: str, body: dict[str, Any], *, entity: str) -> Any:
        # Atera creates are not idempotent: retried only on 429 (the server did nothing).
        response = self.http.request("POST", f"/api/v3{path}", json=body, entity=entity, prepare=self._headers,
                                     safe_to_retry=False)
        return ApiSession.json(response)

    # -- catalogs ----------------------------------------------------------------------------------------------
    def customers(self, modified_since: str | None = None) -> Iterator[dict[str, Any]]:
        params: dict[str, Any] = {}
        if modified_since:
            params = {"FromLastModifiedDate": modified_since, "SortBy": "LastModified"}
        return self.paged("/customers", params, entity="Atera customers")

    def contacts(self, modified_since: str | None = None) -> Iterator[dict[str, Any]]:
        params = {"FromLastModifiedDate": modified_since} if modified_since else None
        return self.paged("/contacts", params, entity="Atera contacts")

    def products(self) -> Iterator[dict[str, Any]]:
        return self.paged("/rates/products", entity="Atera products")

    def expenses(self) -> Iterator[dict[str, Any]]:
        return self.paged("/rates/expenses", entity="Atera expenses")

    def contracts(self) -> Iterator[dict[str, Any]]:
        return self.paged("/contracts", entity="Atera contracts")

    def invoices(self, date_from: date, date_to: date) -> Iterator[dict[str, Any]]:
        params = {"invoiceDateFrom": date_from.isoformat(), "invoiceDateTo": date_to.isoformat()}
        return self.paged("/billing/invoices", params, entity=f"Atera invoices {date_from}..{date_to}")

    def invoice(self, number: int | str) -> dict[str, Any]:
        entity = f"Atera invoice {number}"
        return json_object(self.get(f"/billing/invoice/{number}", entity=entity), entity)

    def create_customer(self, body: dict[str, Any]) -> int:
        result = self.post("/customers", body, entity=f"Atera customer {body.get('CustomerName')!r}")
        return int(result["ActionID"])

    # -- catalog replacement (Atera's products follow QBO's items) ---------------------------------------------
    def put(self, path: str, body: dict[str, Any], *, entity: str) -> Any:
        """An update: PUT sets the same fields again when repeated, so it is retried like a read."""
        response = self.http.request("PUT", f"/api/v3{path}", json=body, entity=entity, prepare=self._headers)
        return ApiSession.json(response)

    def delete(self, path: str, *, entity: str) -> None:
        self.http.request("DELETE", f"/api/v3{path}", entity=entity, prepare=self._headers)

    def create_rate(self, segment: str, body: dict[str, Any]) -> int:
        """``segment``: ``products`` or ``expenses``; answers the new RateID."""
        result = self.post(f"/rates/{segment}", body, entity=f"Atera {segment[:-1]} {body.get('Description')!r}")
        return int(result["ActionID"])
