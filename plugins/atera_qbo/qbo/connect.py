"""Connecting a QuickBooks Online company: Intuit's OAuth 2.0 authorization-code flow, the part that needs no web
framework (the pages are ``webui/connect.py``).

1. The endpoints come from the OpenID discovery document the connection names (extra ``discovery_url``; default
   Intuit's for the connection's environment), so Intuit and the QBO twin take one code path.
2. ``start`` records a ``state`` bound to the user (single use, ``STATE_TTL`` seconds) and answers the
   authorization URL (client id, scope ``com.intuit.quickbooks.accounting``, the redirect URI, the state).
3. ``finish`` takes the callback's query: checks the state (known, this user's, fresh, unused — then used), turns
   Intuit's ``error`` (``access_denied`` when the user pressed Cancel) into a ``ConnectRefused`` saying what
   happened, exchanges the code for tokens and answers them with the realm id. Nothing is stored before the code
   was exchanged; storing (token store, connection event) is ``install``.
"""
from __future__ import annotations

import base64
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlencode

import requests
import sqlalchemy as sa

from ..errors import ConfigError
from ..staging.db import table
from .auth import HARD_EXPIRY_HEADER

SCOPE = "com.intuit.quickbooks.accounting"
STATE_TTL = 600  # seconds a Connect may take between the redirect to Intuit and the callback
INTUIT_DISCOVERY = {
    "production": "https://developer.api.intuit.com/.well-known/openid_configuration",
    "sandbox": "https://developer.api.intuit.com/.well-known/openid_sandbox_configuration",
}

# What Intuit's error codes on the callback mean for the user (RFC 6749 4.1.2.1), and what to do.
CALLBACK_ERRORS = {
    "access_denied": "you pressed Cancel on Intuit's consent page (or were not allowed to connect the company): "
                     "nothing was stored; press Connect to try again",
    "invalid_scope": "Intuit refused the accounting scope for this app: check the app's scopes in Intuit's "
                     "developer portal",
    "unauthorized_client": "Intuit does not let this app use the authorization-code flow: check the app's keys "
                           "and redirect URIs in Intuit's developer portal",
    "invalid_request": "Intuit found the request malformed (often a redirect URI not registered for the app): "
                       "register the redirect URI shown on this page in Intuit's developer portal",
    "server_error": "Intuit had an error: try again in a few minutes",
    "temporarily_unavailable": "Intuit is unavailable: try again in a few minutes",
}


class ConnectRefused(ConfigError):
    """A Connect that cannot go on: the message says what happened and what to do; nothing was stored."""


@dataclass(frozen=True)
class Discovery:
    authorization_endpoint: str
    token_endpoint: str
    revocation_endpoint: str | None = None


def discovery_url(configured: str | None, environment: str) -> str:
    """The connection's ``discovery_url``, else Intuit's document for its environment (production | sandbox)."""
    return configured or INTUIT_DISCOVERY.get(environment) or INTUIT_DISCOVERY["production"]


def discover(url: str, *, timeout: float = 15.0) -> Discovery:
    """The authorization, token and revocation endpoints of an OpenID discovery document."""
    try:
        response = requests.get(url, timeout=timeout, headers={"Accept": "application/json"})
        response.raise_for_status()
        doc = response.json()
    except (requests.RequestException, ValueError) as exc:
        raise ConfigError(f"the OpenID discovery document {url} could not be read ({type(exc).__name__}): check "
                          "the quickbooks_default connection's extra discovery_url, or the network") from exc
    if not isinstance(doc, dict) or not doc.get("authorization_endpoint") or not doc.get("token_endpoint"):
        raise ConfigError(f"{url} is not an OpenID discovery document (no authorization_endpoint/token_endpoint)")
    return Discovery(str(doc["authorization_endpoint"]), str(doc["token_endpoint"]),
                     str(doc["revocation_endpoint"]) if doc.get("revocation_endpoint") else None)


@dataclass(frozen=True)
class Grant:
    """What an exchanged code gives: the company and its first tokens (``body``: Intuit's token answer)."""

    realm_id: str
    body: dict[str, Any]


class ConnectFlow:
    """The flow for one app (client id/secret) and one redirect URI; ``clock`` is epoch seconds."""

    def __init__(self, engine: sa.Engine, discovery: Discovery, *, client_id: str, client_secret: str,
                 redirect_uri: str, clock: Callable[[], float] = time.time, timeout: float = 30.0,
                 state_prefix: str = "") -> None:
        self.engine, self.discovery = engine, discovery
        self.state_prefix = state_prefix  # leads every state: tells the one callback URL whose flow it was
        self.client_id, self._secret, self.redirect_uri = client_id, client_secret, redirect_uri
        self.clock, self.timeout = clock, timeout
        self.states = table("oauth_states")

    def start(self, user: str) -> str:
        """Record a fresh state for ``user``; answer the URL of Intuit's consent page."""
        state = f"{self.state_prefix}{secrets.token_urlsafe(32)}"
        with self.engine.begin() as conn:
            conn.execute(sa.delete(self.states).where(self.states.c.created_at < self._now() - timedelta(days=1)))
            conn.execute(sa.insert(self.states).values(state=state, user_name=user, created_at=self._now()))
        query = urlencode({"client_id": self.client_id, "response_type": "code", "scope": SCOPE,
                           "redirect_uri": self.redirect_uri, "state": state})
        separator = "&" if "?" in self.discovery.authorization_endpoint else "?"
        return f"{self.discovery.authorization_endpoint}{separator}{query}"

    def _now(self) -> datetime:
        return datetime.fromtimestamp(self.clock(), UTC).replace(tzinfo=None)

    def take_state(self, state: str | None, user: str) -> None:
        """The callback's state must be one ``start`` made for this user, within ``STATE_TTL``, never used: it
        is used up now whatever happens next (a replayed callback finds it used)."""
        if not state:
            raise ConnectRefused("the answer from Intuit carries no state: start again with Connect")
        with self.engine.begin() as conn:
            row = conn.execute(sa.select(self.states).where(self.states.c.state == state)).first()
            if row is None:
                raise ConnectRefused("the answer from Intuit does not belong to a Connect started here (unknown "
                                     "state): nothing was stored; start again with Connect")
            if row.used_at is not None:
                raise ConnectRefused("this answer from Intuit was already used (a reloaded or replayed page): "
                                     "nothing more was stored; start again with Connect if you need to")
            conn.execute(sa.update(self.states).where(self.states.c.state == state, self.states.c.used_at.is_(None))
                         .values(used_at=self._now()))
        if row.user_name != user:
            raise ConnectRefused("this Connect was started by another user: nothing was stored; start your own")
        if self._now() - row.created_at > timedelta(seconds=STATE_TTL):
            raise ConnectRefused(f"the Connect took longer than {STATE_TTL // 60} minutes: nothing was stored; "
                                 "start again with Connect")

    def finish(self, query: dict[str, str], user: str) -> Grant:
        """The callback: state first, then Intuit's error if any, then the code exchanged for tokens."""
        self.take_state(query.get("state"), user)
        error = query.get("error")
        if error:
            what = CALLBACK_ERRORS.get(error, "Intuit refused the connection")
            detail = f" ({query['error_description']})" if query.get("error_description") else ""
            raise ConnectRefused(f"QuickBooks was not connected: {what}{detail} [error={error}]")
        code, realm = query.get("code"), query.get("realmId")
        if not code or not realm:
            raise ConnectRefused("the answer from Intuit has no code or no realmId: nothing was stored; start again")
        return Grant(realm, self.exchange(code))

    def exchange(self, code: str) -> dict[str, Any]:
        """``authorization_code`` grant at the token endpoint (asking for the refresh token's hard expiry)."""
        basic = base64.b64encode(f"{self.client_id}:{self._secret}".encode()).decode()
        try:
            response = requests.post(
                self.discovery.token_endpoint, timeout=self.timeout,
                data={"grant_type": "authorization_code", "code": code, "redirect_uri": self.redirect_uri},
                headers={"Authorization": f"Basic {basic}", "Accept": "application/json",
                         HARD_EXPIRY_HEADER: "true"})
        except requests.RequestException as exc:
            raise ConnectRefused(f"Intuit's token endpoint could not be reached ({type(exc).__name__}): nothing "
                                 "was stored; try again") from exc
        body = _json(response)
        if response.status_code != 200:
            error = str(body.get("error") or response.status_code)
            why = {"invalid_grant": "the code expired (Intuit's codes live 5 minutes) or was already used",
                   "invalid_client": "the client id or secret in the quickbooks_default connection is wrong"}.get(
                error, "Intuit refused the code")
            raise ConnectRefused(f"QuickBooks was not connected: {why} [error={error}]; nothing was stored; start "
                                 "again with Connect")
        if "refresh_token" not in body or "access_token" not in body:
            raise ConnectRefused("Intuit's token answer has no tokens: nothing was stored; try again")
        return body


def _json(response: requests.Response) -> dict[str, Any]:
    try:
        body = response.json()
    except ValueError:
        return {}
    return body if isinstance(body, dict) else {}
