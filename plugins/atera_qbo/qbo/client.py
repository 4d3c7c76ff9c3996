"""QBO Accounting API v3 client: query paging, create with ``requestid``, ``/batch``, and one refresh + retry
on a 401. Retries of writes are safe because every write carries a ``requestid`` that QBO replays.

Pacing: one budget per limit QBO enforces per realm (``QboLimits``: 500 requests/min, 40 ``/batch``/min, 10 in
flight), in Redis when a client is given (shared by every worker), else owned by this client. Every request holds
a slot of the in-flight and per-minute budgets, a ``/batch`` also one of the batch budget: a caller that sends
batches back to back is paced to QBO's ceiling instead of running into 429s.
"""
from __future__ import annotations

import logging
import threading
import uuid
from collections import deque
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import redis
import requests

from ..errors import AuthError, FatalApiError
from ..http import ApiSession, RetryPolicy, json_object
from ..pacing import Budget, make_budget
from .auth import TokenStore
from .query import MAX_RESULTS, select

PAGES_AHEAD = 2  # query pages in flight while the caller works through the current one

log = logging.getLogger(__name__)

MINOR_VERSION = "75"
BATCH_SIZE = 30


def _describe(response: requests.Response) -> tuple[str, str | None]:
    """Intuit faults: ``Fault.Error[0]`` (Message, Detail, code) or the gateway's lower-case ``fault.error``."""
    try:
        body = response.json()
    except ValueError:
        text = response.text[:200]
        if "<Fault" in text or "<IntuitResponse" in text:
            code = "3001" if "3001" in text else None
            return "XML fault", code
        return "", None
    fault = body.get("Fault") or body.get("fault") if isinstance(body, dict) else None
    if not isinstance(fault, dict):
        return "", None
    errors = fault.get("Error") or fault.get("error") or []
    if not errors:
        return "", None
    first = errors[0]
    message = first.get("Message") or first.get("message") or ""
    detail = first.get("Detail") or first.get("detail") or ""
    element = first.get("element") or ""
    text = f"{message}: {detail}" if detail else message
    if element:
        text += f" (element {element})"
    return text[:400], str(first.get("code")) if first.get("code") is not None else None


def fault_of(item: dict[str, Any]) -> tuple[str, str | None] | None:
    """The (message, code) of a per-item batch Fault, or None."""
    fault = item.get("Fault")
    if not fault:
        return None
    error = (fault.get("Error") or [{}])[0]
    message = error.get("Message", "")
    if error.get("Detail"):
        message += f": {error['Detail']}"
    return message[:400], str(error.get("code")) if error.get("code") is not None else None


@dataclass(frozen=True)
class QboLimits:
    """What QBO allows per realm (0 or None: no budget). ``minute`` is how long a minute lasts: 60 s, or less
    against a time-scaled twin."""

    per_minute: int | None = 500
    per_second: int | None = 10
    batch_per_minute: int | None = 40
    in_flight: int | None = 10
    minute: float = 60.0

    @property
    def second(self) -> float:
        return self.minute / 60.0


class QboBudgets:
    """The budgets of one realm, and which of them a request holds."""

    def __init__(self, key: str, limits: QboLimits, redis_client: redis.Redis | None = None) -> None:
        self.limits = limits
        self.batch = make_budget("batch", limits.batch_per_minute, limits.minute, key=key, redis_client=redis_client)
        per_minute = make_budget("requests", limits.per_minute, limits.minute, key=key, redis_client=redis_client)
        per_second = make_budget("per_second", limits.per_second, limits.second, key=key, redis_client=redis_client)
        in_flight = make_budget("in_flight", limits.in_flight, 0.0, key=key, redis_client=redis_client)
        # taken in this order (the scarcest first), so a request waiting for a batch slot holds nothing else
        self.request: tuple[Budget, ...] = tuple(b for b in (per_minute, per_second, in_flight) if b is not None)

    def for_path(self, path: str) -> tuple[Budget, ...]:
        if path.rstrip("/").endswith("/batch") and self.batch is not None:
            return (self.batch, *self.request)
        return self.request


class Metered:
    """QBO requests as Intuit meters them: reads and queries ("CorePlus": metered, and capped for Builder-tier
    apps) apart from writes (creates, updates, batches of creates: not metered). Every attempt sent counts;
    thread-safe (listings fetch pages ahead in threads)."""

    def __init__(self) -> None:
        self.reads = 0
        self.writes = 0
        self._lock = threading.Lock()

    def count(self, read: bool) -> None:
        with self._lock:
            if read:
                self.reads += 1
            else:
                self.writes += 1

    def as_dict(self) -> dict[str, int]:
        with self._lock:
            return {"reads": self.reads, "writes": self.writes}


def is_read(method: str, path: str) -> bool:
    return method.upper() == "GET" or path.rstrip("/").endswith(("/query", "/cdc"))


class QboClient:
    def __init__(self, base_url: str, realm_id: str, tokens: TokenStore, *, policy: RetryPolicy | None = None,
                 rate_per_minute: float | None = 500, limits: QboLimits | None = None,
                 redis_client: redis.Redis | None = None) -> None:
        """``limits`` default to QBO's, with ``rate_per_minute`` requests/min (None: no per-minute budget)."""
        self.realm_id = realm_id
        self.tokens = tokens
        limits = limits or QboLimits(per_minute=int(rate_per_minute) if rate_per_minute else None)
        self.budgets = QboBudgets(f"qbo:{urlsplit(base_url).netloc}:{realm_id}", limits, redis_client)
        self.http = ApiSession(base_url, policy=policy, describe=_describe)
        self._version: int | None = None
        self.metered = Metered()

    def close(self) -> None:
        self.http.close()

    def _auth(self) -> dict[str, Any]:
        token, self._version = self.tokens.access_token()
        return {"headers": {"Authorization": f"Bearer {token}"}}

    def _call(self, method: str, path: str, *, entity: str, **kwargs: Any) -> dict[str, Any]:
        url = f"/v3/company/{self.realm_id}{path}"
        params = dict(kwargs.pop("params", None) or {})
        params.setdefault("minorversion", MINOR_VERSION)
        read = is_read(method, path)
        kwargs.update(budgets=self.budgets.for_path(path), on_attempt=lambda: self.metered.count(read))
        try:
            response = self.http.request(method, url, entity=entity, params=params, prepare=self._auth,
                                         safe_to_retry=True, **kwargs)
        except AuthError as exc:
            if exc.status != 401:
                raise
            log.info("%s: access token refused (401); refreshing once", entity)
            self.tokens.access_token(stale_version=self._version)  # refreshes unless another worker just did
            try:
                response = self.http.request(method, url, entity=entity, params=params, prepare=self._auth,
                                             safe_to_retry=True, **kwargs)
            except AuthError as again:
                raise AuthError(f"{again} — refused again with a freshly refreshed token: this app may no longer "
                                f"access QBO company {self.realm_id} (disconnected in Intuit, or the wrong "
                                "extra.realm_id); reconnect (README 'Disconnecting and reconnecting QBO')",
                                status=again.status, vendor_code=again.vendor_code, entity=again.entity) from again
        return json_object(ApiSession.json(response), entity)

    # -- reads -------------------------------------------------------------------------------------------------
    def query(self, statement: str, *, entity: str) -> dict[str, Any]:
        body = self._call("POST", "/query", entity=entity, data=statement.encode("utf-8"),
                          headers={"Content-Type": "application/text"})
        return body.get("QueryResponse") or {}

    def _page(self, entity: str, where: str | None, start: int, page_size: int) -> list[dict[str, Any]]:
        page = self.query(select(entity, where, start=start, max_results=page_size),
                          entity=f"QBO {entity} from {start}")
        return page.get(entity) or []

    def query_all(self, entity: str, where: str | None = None, *, page_size: int = MAX_RESULTS
                  ) -> Iterator[dict[str, Any]]:
        """Every row of ``SELECT * FROM entity WHERE ...``, paging with STARTPOSITION/MAXRESULTS, in order.

        While the caller works through one page the next ones are already being fetched: after a first full page,
        ``PAGES_AHEAD`` requests are in flight (under the same rate limit), so QBO's time, the transfer and the
        caller's time overlap instead of adding up. The first short page ends it; a page asked beyond it comes
        back empty and is dropped (at most ``PAGES_AHEAD - 1`` such requests per listing)."""
        with ThreadPoolExecutor(max_workers=PAGES_AHEAD, thread_name_prefix="qbo-prefetch") as pool:
            pending = deque([pool.submit(self._page, entity, where, 1, page_size)])
            start = 1 + page_size
            while pending:
                rows = pending.popleft().result()
                if len(rows) < page_size:  # the last page: what is still in flight lies beyond the end
                    pending.clear()
                while len(rows) == page_size and len(pending) < PAGES_AHEAD:
                    pending.append(pool.submit(self._page, entity, where, start, page_size))
                    start += page_size
                yield from rows

    def cdc(self, entities: list[str], changed_since: str) -> dict[str, list[dict[str, Any]]]:
        """Objects changed since a moment (≤ 30 days back), deleted ones with ``status: Deleted``."""
        body = self._call("GET", "/cdc", entity=f"QBO CDC {','.join(entities)}",
                          params={"entities": ",".join(entities), "changedSince": changed_since})
        out: dict[str, list[dict[str, Any]]] = {e: [] for e in entities}
        for response in body.get("CDCResponse") or []:
            for part in response.get("QueryResponse") or []:
                for entity in entities:
                    out[entity].extend(part.get(entity) or [])
        return out

    def read(self, entity: str, entity_id: str) -> dict[str, Any]:
        label = f"QBO {entity} {entity_id}"
        return json_object(self._call("GET", f"/{entity.lower()}/{entity_id}", entity=label).get(entity), label)

    def preferences(self) -> dict[str, Any]:
        return json_object(self._call("GET", "/preferences", entity="QBO Preferences").get("Preferences"),
                           "QBO Preferences")

    def company_info(self) -> dict[str, Any]:
        rows = self.query("SELECT * FROM CompanyInfo", entity="QBO CompanyInfo").get("CompanyInfo") or [{}]
        return json_object(rows[0], "QBO CompanyInfo")

    # -- writes ------------------------------------------------------------------------------------------------
    def create(self, entity: str, body: dict[str, Any], *, request_id: str | None = None,
               label: str | None = None) -> dict[str, Any]:
        """Create one object; the ``request_id`` makes a retry (or a rerun after a crash) replay, not repeat."""
        rid = request_id or uuid.uuid4().hex
        if len(rid) > 50:
            raise ValueError("QBO requestid must be at most 50 characters")
        result = self._call("POST", f"/{entity.lower()}", entity=label or f"QBO {entity}", json=body,
                            params={"requestid": rid})
        if entity not in result:
            raise FatalApiError(f"{label or entity}: QBO answer has no {entity} object", entity=entity)
        return json_object(result[entity], label or entity)

    def batch(self, items: list[dict[str, Any]], *, request_id: str | None = None,
              label: str = "QBO batch") -> dict[str, dict[str, Any]]:
        """POST /batch (≤ 30 items). Answers the per-item responses keyed by ``bId``."""
        if not 0 < len(items) <= BATCH_SIZE:
            raise ValueError(f"a QBO batch holds 1..{BATCH_SIZE} items, got {len(items)}")
        params = {"requestid": request_id} if request_id else {}
        if request_id and len(request_id) > 36:
            raise ValueError("QBO requestid on /batch must be at most 36 characters")
        body = self._call("POST", "/batch", entity=label, json={"BatchItemRequest": items}, params=params)
        return {item["bId"]: item for item in body.get("BatchItemResponse", [])}
