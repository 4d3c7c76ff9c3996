"""QBO OAuth 2.0: a refresh-token rotation chain kept in the staging database.

QBO answers every refresh with a NEW refresh token and refuses the old one (``invalid_grant``) afterwards, so:
- the refresh token in the Airflow connection only seeds the store, once;
- every rotated refresh token is committed to the store before the new access token is used;
- refreshing is compare-and-swap on a lease: ``UPDATE ... SET lease_until = :t WHERE lease is free`` is atomic
  on SQLite and PostgreSQL alike, so of two workers refreshing at once exactly one calls Intuit; the other waits
  for the stored version to change and uses the new access token;
- tokens are encrypted at rest with a Fernet key when one is configured, and never logged.
"""
from __future__ import annotations

import base64
import logging
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Protocol

import requests
import sqlalchemy as sa

from ..errors import AuthError, ConfigError, RetriableApiError
from ..staging.db import table

log = logging.getLogger(__name__)

EARLY_REFRESH_SECONDS = 300  # refresh an access token this long before it expires
LEASE_SECONDS = 30
EXPIRY_WARNING_DAYS = 30  # warn this long before a refresh token's rolling or hard expiry
HARD_EXPIRY_HEADER = "x-include-refresh-token-hard-expires-in"  # asks Intuit for the chain's hard expiry


class Cipher(Protocol):
    def encrypt(self, data: bytes) -> bytes: ...

    def decrypt(self, data: bytes) -> bytes: ...


class PlainText:
    """No encryption (used when no Fernet key is configured: say so in the logs once)."""

    def encrypt(self, data: bytes) -> bytes:
        return data

    def decrypt(self, data: bytes) -> bytes:
        return data


@dataclass
class TokenEndpoint:
    url: str
    client_id: str
    client_secret: str
    timeout: float = 30.0
    revoke_url: str | None = None

    def _post(self, what: str, url: str, *, extra_headers: dict[str, str] | None = None,
              **kwargs: Any) -> requests.Response:
        """POST to an Intuit OAuth endpoint with the client's Basic auth; connection trouble, 429 and 5xx are
        retriable."""
        basic = base64.b64encode(f"{self.client_id}:{self.client_secret}".encode()).decode()
        headers = {"Authorization": f"Basic {basic}", "Accept": "application/json", **(extra_headers or {})}
        try:
            response = requests.post(url, headers=headers, timeout=self.timeout, **kwargs)
        except (requests.ConnectionError, requests.Timeout) as exc:
            raise RetriableApiError(f"QBO token {what}: {type(exc).__name__}", entity="QBO OAuth") from exc
        if response.status_code >= 500 or response.status_code == 429:
            raise RetriableApiError(f"QBO token {what}: HTTP {response.status_code}", status=response.status_code,
                                    entity="QBO OAuth")
        return response

    def revoke(self, token: str) -> None:
        """Intuit's revoke endpoint (JSON ``{"token"}``): the token's grant ends, refresh and access tokens alike."""
        if not self.revoke_url:
            raise ConfigError("no revoke URL for the QBO connection (extra.revoke_url)")
        response = self._post("revoke", self.revoke_url, json={"token": token})
        if response.status_code != 200:
            raise AuthError(f"QBO token revoke refused (HTTP {response.status_code}): check the client id/secret of "
                            "the quickbooks_default connection", status=response.status_code, entity="QBO OAuth")

    def refresh(self, refresh_token: str) -> dict[str, Any]:
        """A refresh; the answer carries both refresh-token expiries (``x_refresh_token_expires_in``, and
        ``x_refresh_token_hard_expires_in`` because we ask for it), in seconds."""
        response = self._post("refresh", self.url, data={"grant_type": "refresh_token",
                                                         "refresh_token": refresh_token},
                              extra_headers={HARD_EXPIRY_HEADER: "true"})
        if response.status_code != 200:
            try:
                error = response.json().get("error", "")
            except ValueError:
                error = ""
            hint = {
                "invalid_grant": "the refresh token was already used, revoked or expired (the app was disconnected in "
                                 "Intuit): run the atera_qbo_disconnect DAG, authorize the app again in Intuit and "
                                 "put the new refresh token in the quickbooks_default connection "
                                 "(extra.refresh_token); see README 'Disconnecting and reconnecting QBO'",
                "invalid_client": "the client id/secret of the quickbooks_default connection are wrong",
            }.get(error, "check the quickbooks_default connection")
            raise AuthError(f"QBO token refresh refused ({error or response.status_code}): {hint}",
                            status=response.status_code, vendor_code=error or None, entity="QBO OAuth")
        body = response.json()
        if not isinstance(body, dict) or "access_token" not in body or "refresh_token" not in body:
            raise AuthError("QBO token refresh: answer without access_token/refresh_token", entity="QBO OAuth")
        return body


class TokenStore:
    """The token chain of one realm in table ``oauth_tokens``."""

    def __init__(self, engine: sa.Engine, realm_id: str, endpoint: TokenEndpoint, *, seed_refresh_token: str | None,
                 cipher: Cipher | None = None, clock: Callable[[], float] = time.time,
                 sleep: Callable[[float], None] = time.sleep) -> None:
        self.engine = engine
        self.realm_id = realm_id
        self.endpoint = endpoint
        self.cipher = cipher or PlainText()
        self.clock = clock
        self.sleep = sleep
        self.owner = uuid.uuid4().hex
        # The store's threads share its lease owner, so the lease cannot keep them apart: this does (one takes
        # the lease and refreshes; the next finds the chain's version moved on and takes the new token).
        self._refreshing = threading.Lock()
        self.tokens = table("oauth_tokens")
        self._seed(seed_refresh_token)

    def _enc(self, value: str | None) -> str | None:
        return None if value is None else self.cipher.encrypt(value.encode()).decode()

    def _dec(self, value: str | None) -> str | None:
        return None if value is None else self.cipher.decrypt(value.encode()).decode()

    def _token(self, value: str | None, what: str) -> str:
        """A stored token that must be there (the row's invariants); its absence is a broken store, said so."""
        token = self._dec(value)
        if not token:
            raise ConfigError(f"QBO token store for realm {self.realm_id}: the {what} is missing; reconnect "
                              "(README 'Disconnecting and reconnecting QBO')")
        return token

    def _seed(self, refresh_token: str | None) -> None:
        with self.engine.begin() as conn:
            exists = conn.execute(sa.select(self.tokens.c.realm_id).where(
                self.tokens.c.realm_id == self.realm_id)).first()
            if exists:
                return
            if not refresh_token:
                raise ConfigError(
                    f"No QBO refresh token for realm {self.realm_id}: set extra.refresh_token on the "
                    "quickbooks_default connection (it seeds the token store once)")
            conn.execute(sa.insert(self.tokens).values(
                realm_id=self.realm_id, refresh_token=self._enc(refresh_token), access_token=None,
                access_expires_at=0, version=0, lease_owner=None, lease_until=0, updated_at=_now()))

    def _row(self) -> sa.Row[Any]:
        with self.engine.connect() as conn:
            return conn.execute(sa.select(self.tokens).where(self.tokens.c.realm_id == self.realm_id)).one()

    def access_token(self, *, force_refresh: bool = False, stale_version: int | None = None) -> tuple[str, int]:
        """A valid access token and the version it belongs to. ``stale_version``: the caller got a 401 with it."""
        deadline = self.clock() + 2 * LEASE_SECONDS
        while True:
            row = self._row()
            fresh = row.access_token and row.access_expires_at > self.clock() + EARLY_REFRESH_SECONDS
            if fresh and not force_refresh and (stale_version is None or row.version != stale_version):
                return self._token(row.access_token, "access token"), int(row.version)
            if stale_version is not None and row.version != stale_version and row.access_token:
                return self._token(row.access_token, "access token"), int(row.version)  # refreshed since our 401
            with self._refreshing:
                if self._take_lease(row.version):
                    try:
                        return self._refresh(row.version)
                    finally:
                        self._drop_lease()
            if self.clock() > deadline:
                raise RetriableApiError("QBO token refresh: another worker holds the refresh lease for too long",
                                        entity="QBO OAuth")
            self.sleep(0.2)

    def _take_lease(self, version: int) -> bool:
        now = self.clock()
        with self.engine.begin() as conn:
            result = conn.execute(
                sa.update(self.tokens)
                .where(self.tokens.c.realm_id == self.realm_id, self.tokens.c.version == version,
                       sa.or_(self.tokens.c.lease_until < now, self.tokens.c.lease_owner == self.owner))
                .values(lease_owner=self.owner, lease_until=now + LEASE_SECONDS))
            return result.rowcount == 1

    def _drop_lease(self) -> None:
        with self.engine.begin() as conn:
            conn.execute(sa.update(self.tokens)
                         .where(self.tokens.c.realm_id == self.realm_id, self.tokens.c.lease_owner == self.owner)
                         .values(lease_owner=None, lease_until=0))

    def _refresh(self, version: int) -> tuple[str, int]:
        row = self._row()
        body = self.endpoint.refresh(self._token(row.refresh_token, "refresh token"))
        now = self.clock()
        values = {"refresh_token": self._enc(body["refresh_token"]), "access_token": self._enc(body["access_token"]),
                  "access_expires_at": now + float(body.get("expires_in", 3600)), "updated_at": _now(),
                  "refresh_expires_at": _expiry(now, body.get("x_refresh_token_expires_in"),
                                                row.refresh_expires_at),
                  "refresh_hard_expires_at": _expiry(now, body.get("x_refresh_token_hard_expires_in"),
                                                     row.refresh_hard_expires_at)}
        with self.engine.begin() as conn:
            result = conn.execute(
                sa.update(self.tokens)
                .where(self.tokens.c.realm_id == self.realm_id, self.tokens.c.lease_owner == self.owner)
                .values(version=version + 1, **values))
            if result.rowcount != 1:  # pragma: no cover - the lease outlived LEASE_SECONDS: never drop a token
                conn.execute(sa.update(self.tokens).where(self.tokens.c.realm_id == self.realm_id)
                             .values(version=self.tokens.c.version + 1, **values))
        log.info("QBO realm %s: access token refreshed (chain version %d)", self.realm_id, version + 1)
        self.warn_if_expiring(now)
        return body["access_token"], version + 1

    def expiries(self) -> TokenExpiries:
        """When the stored refresh token stops working: its rolling expiry and the grant's hard end (UTC; None
        until the first refresh tells, or when Intuit did not say)."""
        row = self._row()
        return TokenExpiries(_at(row.refresh_expires_at), _at(row.refresh_hard_expires_at))

    def warn_if_expiring(self, now: float | None = None) -> list[str]:
        """Warnings (logged, and answered) from ``EXPIRY_WARNING_DAYS`` before either expiry."""
        moment = datetime.fromtimestamp(self.clock() if now is None else now, UTC)
        out = []
        for what, at in self.expiries().named():
            if at is None or (at - moment).total_seconds() > EXPIRY_WARNING_DAYS * 86400:
                continue
            days = (at - moment).total_seconds() / 86400
            state = f"expired on {at:%Y-%m-%d}" if days <= 0 else f"expires on {at:%Y-%m-%d} (in {days:.0f} day(s))"
            text = (f"QBO realm {self.realm_id}: the refresh token's {what} {state}: reconnect QuickBooks before "
                    "then (README 'Disconnecting and reconnecting QBO'), or every QBO call will be refused")
            log.warning(text)
            out.append(text)
        return out

    @classmethod
    def install(cls, engine: sa.Engine, realm_id: str, endpoint: TokenEndpoint, body: dict[str, Any], *,
                cipher: Cipher | None = None, clock: Callable[[], float] = time.time) -> TokenStore:
        """Start the realm's chain from a new grant (Connect): its first refresh and access tokens and both
        expiries replace whatever the realm had (a reconnect); the version moves on, so a worker holding the old
        access token refreshes from the new chain."""
        now, tokens = clock(), table("oauth_tokens")
        store = cls.__new__(cls)
        store.engine, store.realm_id, store.endpoint = engine, realm_id, endpoint
        store.cipher, store.clock, store.sleep = cipher or PlainText(), clock, time.sleep
        store.owner, store.tokens = uuid.uuid4().hex, tokens
        values = {"refresh_token": store._enc(str(body["refresh_token"])),
                  "access_token": store._enc(str(body["access_token"])),
                  "access_expires_at": now + float(body.get("expires_in", 3600)), "lease_owner": None,
                  "lease_until": 0, "updated_at": _now(),
                  "refresh_expires_at": _expiry(now, body.get("x_refresh_token_expires_in"), None),
                  "refresh_hard_expires_at": _expiry(now, body.get("x_refresh_token_hard_expires_in"), None)}
        with engine.begin() as conn:
            version = conn.execute(sa.select(tokens.c.version).where(tokens.c.realm_id == realm_id)).scalar()
            conn.execute(sa.delete(tokens).where(tokens.c.realm_id == realm_id))
            conn.execute(sa.insert(tokens).values(realm_id=realm_id, version=(version or 0) + 1, **values))
        store.warn_if_expiring(now)
        return store

    def current_refresh_token(self) -> str | None:
        """The refresh token in force (None when none is stored)."""
        with self.engine.connect() as conn:
            value = conn.execute(sa.select(self.tokens.c.refresh_token).where(
                self.tokens.c.realm_id == self.realm_id)).scalar()
        return self._dec(value)

    def forget(self) -> None:
        """Drop the realm's stored token chain (for a disconnect, or before re-seeding the store after a
        reconnect): the next ``TokenStore`` for this realm seeds it again from the connection's refresh token."""
        with self.engine.begin() as conn:
            conn.execute(sa.delete(self.tokens).where(self.tokens.c.realm_id == self.realm_id))


@dataclass(frozen=True)
class TokenExpiries:
    rolling: datetime | None  # Intuit's 100 days, renewed by every rotation
    hard: datetime | None  # the grant's end: no rotation moves it

    def named(self) -> list[tuple[str, datetime | None]]:
        return [("rolling expiry", self.rolling), ("hard expiry", self.hard)]


def _expiry(now: float, seconds: Any, known: float | None) -> float | None:
    """An expiry from an answer's ``..._expires_in`` seconds; the one already known when the answer is silent."""
    try:
        return now + float(seconds) if seconds is not None else known
    except (TypeError, ValueError):
        return known


def _at(epoch: float | None) -> datetime | None:
    return datetime.fromtimestamp(epoch, UTC) if epoch else None


def _now() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)
