"""Intuit OAuth 2.0 as the twin plays it: clients, grants with rotating refresh tokens, access tokens.

- A grant starts with ``POST /_sandbox/oauth/refresh-token`` (the consent screen's stand-in) or ``--refresh-token``.
- Each refresh answers a NEW refresh token; the one used is spent, and using it again is ``invalid_grant``
  (Intuit keeps the previous token alive for a while in some cases; the twin is strict, per the brief).
- Access tokens live 3600 vendor-seconds (time-scaled); refresh tokens 8726400 (100 days, rolling: each refresh
  answers a new token with a new 100 days), reported as ``x_refresh_token_expires_in``.
- Each grant also has a hard expiry (Intuit: five years, 157680000 s), set when the grant starts and kept through
  every rotation: past it, a refresh is ``invalid_grant`` however fresh the refresh token. The token endpoint reports
  what is left of it as ``x_refresh_token_hard_expires_in`` only when asked (``include_hard``: the request header
  ``x-include-refresh-token-hard-expires-in: true``).
- Revoking any token of a grant ends the whole grant (its refresh and access tokens).
Everything is kept in the store (tenant ``_oauth``), so tokens survive a restart with ``--state``.
Wall-clock time is used (``wall``: the twin's ``Clock.wall``, which a manual test clock moves), scaled by the clock's
``time_scale``, so lifetimes survive restarts too.
"""
from __future__ import annotations

import base64
import secrets
import time
from collections.abc import Callable
from typing import Any

from sandbox.core.store import Store

from ..exceptions import OAuthError

TENANT = "_oauth"
ACCESS_TTL = 3600
REFRESH_TTL = 8726400
HARD_TTL = 5 * 365 * 86400  # 157680000 s: Intuit's five-year maximum life of a grant's refresh tokens
CODE_TTL = 300


class OAuthServer:
    def __init__(self, store: Store, realm_id: str, time_scale: Callable[[], float],
                 wall: Callable[[], float] = time.time, hard_expires_in: int = HARD_TTL) -> None:
        self.store = store
        self.realm_id = realm_id
        self.time_scale = time_scale
        self.wall = wall
        self.hard_expires_in = hard_expires_in  # of grants started without their own

    # -- clients --------------------------------------------------------------------------------------------
    def register_client(self, client_id: str, client_secret: str) -> None:
        if self.store.get(TENANT, "clients", client_id) != {"client_id": client_id, "secret": client_secret}:
            self.store.put(TENANT, "clients", client_id, {"client_id": client_id, "secret": client_secret})

    def authenticate_client(self, authorization: str | None) -> str:
        """The client id from an HTTP Basic header, or ``invalid_client`` (401)."""
        if not authorization or not authorization.lower().startswith("basic "):
            raise OAuthError(401, "invalid_client")
        try:
            decoded = base64.b64decode(authorization[6:].strip(), validate=True).decode("utf-8")
        except (ValueError, UnicodeDecodeError):
            raise OAuthError(401, "invalid_client") from None
        client_id, sep, secret = decoded.partition(":")
        client = self.store.get(TENANT, "clients", client_id)
        if not sep or client is None or not secrets.compare_digest(client["secret"], secret):
            raise OAuthError(401, "invalid_client")
        return client_id

    # -- grants ---------------------------------------------------------------------------------------------
    def _elapsed(self, since: float) -> float:
        """Vendor-seconds since a wall-clock moment."""
        return (self.wall() - float(since)) * self.time_scale()  # stored times come back as Decimal

    def start_grant(self, client_id: str, refresh_token: str | None = None, hard_expires_in: int | None = None) -> str:
        """A new, independent grant; answers its first refresh token. Its hard expiry is ``hard_expires_in``
        vendor-seconds from now (default: the server's, five years)."""
        if self.store.get(TENANT, "clients", client_id) is None:
            raise OAuthError(400, "invalid_client", f"unknown client {client_id!r}")
        if refresh_token is not None and self.store.get(TENANT, "refresh_tokens", refresh_token) is not None:
            return refresh_token  # already known (e.g. --refresh-token on a restart): keep its current state
        grant_id = str(self.store.next_id(TENANT, "grants"))
        self.store.put(TENANT, "grants", grant_id, {
            "id": grant_id, "client_id": client_id, "realm_id": self.realm_id, "revoked": False,
            "started": self.wall(), "hard_ttl": hard_expires_in or self.hard_expires_in})
        return self._issue_refresh(grant_id, client_id, refresh_token)

    def _hard_left(self, grant: dict[str, Any]) -> float:
        """Vendor-seconds left before the grant's hard expiry (a grant stored before hard expiries existed gets the
        default from its first refresh on)."""
        if "started" not in grant:
            grant.update(started=self.wall(), hard_ttl=self.hard_expires_in)
            self.store.put(TENANT, "grants", grant["id"], grant)
        return float(grant["hard_ttl"]) - self._elapsed(grant["started"])

    def _issue_refresh(self, grant_id: str, client_id: str, token: str | None = None) -> str:
        token = token or "RT1-" + secrets.token_urlsafe(32)
        self.store.put(TENANT, "refresh_tokens", token, {"grant_id": grant_id, "client_id": client_id,
                                                          "issued": self.wall(), "status": "valid"})
        return token

    def refresh(self, client_id: str, refresh_token: str | None, include_hard: bool = False) -> dict[str, Any]:
        """The ``refresh_token`` grant: rotate the refresh token, issue an access token. ``invalid_grant`` for a
        token that is unknown, another client's, used, revoked, past its rolling expiry, or whose grant is past its
        hard expiry. ``include_hard``: answer ``x_refresh_token_hard_expires_in`` too."""
        if not refresh_token:
            raise OAuthError(400, "invalid_request")
        record = self.store.get(TENANT, "refresh_tokens", refresh_token)
        if record is None or record["client_id"] != client_id or record["status"] != "valid":
            raise OAuthError(400, "invalid_grant")
        grant = self.store.get(TENANT, "grants", record["grant_id"])
        if grant is None or grant["revoked"]:
            raise OAuthError(400, "invalid_grant")
        hard_left = self._hard_left(grant)
        if self._elapsed(record["issued"]) >= REFRESH_TTL or hard_left <= 0:
            raise OAuthError(400, "invalid_grant")
        self.store.put(TENANT, "refresh_tokens", refresh_token, {**record, "status": "used"})
        new_refresh = self._issue_refresh(grant["id"], client_id)
        self._forget_expired_access_tokens()
        access = "AT1-" + secrets.token_urlsafe(48)
        self.store.put(TENANT, "access_tokens", access, {"grant_id": grant["id"], "client_id": client_id,
                                                          "realm_id": grant["realm_id"], "issued": self.wall()})
        # Strict choice (undocumented): the rolling expiry is reported whole even when the hard expiry is nearer.
        answer: dict[str, Any] = {"token_type": "bearer", "access_token": access, "refresh_token": new_refresh,
                                  "expires_in": ACCESS_TTL, "x_refresh_token_expires_in": REFRESH_TTL}
        if include_hard:
            answer["x_refresh_token_hard_expires_in"] = round(hard_left)  # seconds left, to the nearest
        return answer

    def _forget_expired_access_tokens(self) -> None:
        tokens = self.store.collection(TENANT, "access_tokens")
        if len(tokens) < 1000:
            return
        for token, record in list(tokens.items()):
            if self._elapsed(record["issued"]) >= ACCESS_TTL:
                self.store.delete(TENANT, "access_tokens", token)

    def revoke(self, client_id: str, token: str | None) -> None:
        if not token:
            raise OAuthError(400, "invalid_request")
        record = self.store.get(TENANT, "refresh_tokens", token) or self.store.get(TENANT, "access_tokens", token)
        if record is None or record["client_id"] != client_id:
            return  # RFC 7009: an unknown token is not an error
        grant = self.store.get(TENANT, "grants", record["grant_id"])
        if grant is not None and not grant["revoked"]:
            self.store.put(TENANT, "grants", grant["id"], {**grant, "revoked": True})

    # -- authorization codes (the consent screen, answered yes at once) ---------------------------------------
    def check_client(self, client_id: str) -> None:
        if self.store.get(TENANT, "clients", client_id) is None:
            raise OAuthError(400, "invalid_client", f"unknown client {client_id!r}")

    def issue_code(self, client_id: str, redirect_uri: str) -> str:
        self.check_client(client_id)
        code = "AB1-" + secrets.token_urlsafe(24)
        self.store.put(TENANT, "codes", code, {"client_id": client_id, "redirect_uri": redirect_uri,
                                                "issued": self.wall(), "used": False})
        return code

    def exchange_code(self, client_id: str, code: str | None, redirect_uri: str | None,
                      include_hard: bool = False) -> dict[str, Any]:
        """``authorization_code`` grant: a code is single-use, lives 5 minutes and is bound to its redirect URI."""
        record = self.store.get(TENANT, "codes", code) if code else None
        if record is None or record["used"] or record["client_id"] != client_id \
                or record["redirect_uri"] != redirect_uri or self._elapsed(record["issued"]) >= CODE_TTL:
            raise OAuthError(400, "invalid_grant")
        self.store.put(TENANT, "codes", code, {**record, "used": True})
        first = self.start_grant(client_id)
        return self.refresh(client_id, first, include_hard)

    # -- the API gateway's check ----------------------------------------------------------------------------
    def check_access(self, authorization: str | None) -> tuple[str | None, str]:
        """``(realm_id, "")`` for a live bearer token, else ``(None, reason)``."""
        if not authorization or not authorization.lower().startswith("bearer "):
            return None, "Authorization header is missing or is not a Bearer token"
        token = authorization[7:].strip()
        record = self.store.get(TENANT, "access_tokens", token)
        if record is None:
            return None, "Token invalid"
        grant = self.store.get(TENANT, "grants", record["grant_id"])
        if grant is None or grant["revoked"]:
            return None, "Token revoked"
        if self._elapsed(record["issued"]) >= ACCESS_TTL:
            return None, "Token expired"
        return record["realm_id"], ""

    def expire_access_tokens(self) -> int:
        """Admin: make every live access token expired (as if an hour had passed)."""
        tokens = self.store.collection(TENANT, "access_tokens")
        count = 0
        for token, record in list(tokens.items()):
            self.store.put(TENANT, "access_tokens", token, {**record, "issued": 0.0})
            count += 1
        return count
