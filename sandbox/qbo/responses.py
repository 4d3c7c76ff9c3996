"""The QBO twin's HTTP layer: read the request, call the backend, render (moto's ``responses.py``).

Rendering rules: entities answer ``{"<Entity>": {...}, "time": ...}``; errors are Intuit's Fault document (see
``render_fault``); the gateway's 401/403 use its lower-case body; the token endpoint answers OAuth JSON.
"""
from __future__ import annotations

import html
import time
from collections.abc import Callable
from typing import Any, Protocol
from urllib.parse import parse_qs, urlencode

from sandbox.core.http import Request, Response, Router
from sandbox.core.store import Store, loads
from sandbox.core.store import dumps as dumps  # re-exported (see __all__)

from .exceptions import (
    BusinessValidation,
    GatewayAuthenticationFailed,
    GatewayAuthorizationFailed,
    InvalidRequest,
    OAuthError,
    QboError,
    RequiredParamMissing,
    ThrottleExceeded,
    UnsupportedMediaType,
)
from .models.backend import ENTITY_BY_SEGMENT, QboBackend
from .models.base import Record
from .models.oauth import OAuthServer
from .times import response_time

MAX_REQUEST_ID = 50
MAX_BATCH_REQUEST_ID = 36
MAX_BATCH_BID_WITH_REQUEST_ID = 10


def fault_doc(exc: QboError) -> Record:
    return {"Fault": {"Error": [exc.error_doc()], "type": exc.fault_type}, "time": response_time()}


def render_fault(exc: QboError) -> Response:
    return Response.json(fault_doc(exc), exc.status)


def gateway_fault(status: int, detail: str) -> Response:
    """Intuit's API gateway answers 401/403 with lower-case keys (python-quickbooks#250)."""
    exc = GatewayAuthenticationFailed if status == 401 else GatewayAuthorizationFailed
    message, code, kind = exc.message, exc.code, ("AUTHENTICATION" if status == 401 else "SERVICE")
    return Response.json({"warnings": None, "intuitObject": None,
                          "fault": {"error": [{"message": message, "detail": detail, "code": code,
                                               "element": None}], "type": kind},
                          "report": None, "queryResponse": [], "batchItemResponse": [], "attachableResponse": [],
                          "syncErrorResponse": None, "requestId": None, "time": int(time.time() * 1000),
                          "status": None, "cdcresponse": []}, status)


def throttle_response(xml: bool) -> Response:
    exc = ThrottleExceeded()
    message, detail = exc.message, exc.detail
    if xml:
        body = ('<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
                f'<IntuitResponse xmlns="http://schema.intuit.com/finance/v3" time="{response_time()}">'
                f'<Fault type="SERVICE"><Error code="{exc.code}"><Message>{message}</Message><Detail>{detail}</Detail>'
                '</Error></Fault></IntuitResponse>')
        return Response(429, body.encode("utf-8"), {"Content-Type": "application/xml"})
    return Response.json({"Fault": {"Error": [{"Message": message, "Detail": detail, "code": exc.code}],
                                    "type": "SERVICE"}, "time": response_time()}, 429)


def system_fault(status: int) -> Response:
    return Response.json({"Fault": {"Error": [{
        "Message": "An application error has occurred while processing your request",
        "Detail": "System Failure Error: An unexpected error occurred while accessing or saving your data. Please "
                  "wait a few minutes and try again. If the problem persists, contact customer support.",
        "code": "10000"}], "type": "SystemFault"}, "time": response_time()}, status)


def media_type(request: Request) -> str:
    return (request.header("Content-Type") or "").split(";", 1)[0].strip().lower()


def require_media_type(request: Request, *allowed: str) -> None:
    """QBO consumes JSON for writes and ``application/text`` for POST queries; anything else is refused.
    (Real QBO also takes XML bodies; the twin speaks JSON only, so it refuses XML the same way.)"""
    if media_type(request) not in allowed:
        raise UnsupportedMediaType()


def entity_name(segment: str) -> str:
    entity = ENTITY_BY_SEGMENT.get(segment.lower())
    if entity is None:
        raise InvalidRequest(f"Unsupported entity {segment!r}", message="Unsupported Operation")
    return entity


class TwinParts(Protocol):
    """What the HTTP layer uses of the twin (``server.QboTwin``, which builds this layer, provides it)."""

    @property
    def backend(self) -> QboBackend: ...
    @property
    def oauth(self) -> OAuthServer: ...
    @property
    def store(self) -> Store: ...


class QboResponses:
    def __init__(self, twin: TwinParts) -> None:
        self.twin = twin

    @property
    def backend(self) -> QboBackend:
        return self.twin.backend

    def register(self, router: Router) -> None:
        r = router.add
        r("GET", "/.well-known/openid_configuration", self.discovery)
        r("GET", "/.well-known/openid_sandbox_configuration", self.discovery)
        r("GET", "/connect/oauth2", self.authorize)
        r("POST", "/connect/oauth2", self.consent)
        r("POST", "/oauth2/v1/tokens/bearer", self.token)
        r("POST", "/v2/oauth2/tokens/revoke", self.revoke)
        base = "/v3/company/{realm}"
        r("GET|POST", base + "/query", self.query)
        r("POST", base + "/batch", self.batch)
        r("GET", base + "/cdc", self.cdc)
        r("GET", base + "/preferences", self.read_preferences)
        r("GET", base + "/{entity}/{object_id}", self.read)
        r("POST", base + "/{entity}", self.write)

    # -- OAuth ------------------------------------------------------------------------------------------------
    def discovery(self, request: Request) -> Response:
        base = request.base_url
        return Response.json({
            "issuer": "https://oauth.platform.intuit.com/op/v1",
            "authorization_endpoint": f"{base}/connect/oauth2",
            "token_endpoint": f"{base}/oauth2/v1/tokens/bearer",
            "userinfo_endpoint": f"{base}/v1/openid_connect/userinfo",
            "revocation_endpoint": f"{base}/v2/oauth2/tokens/revoke",
            "jwks_uri": f"{base}/op/v1/jwks",
            "response_types_supported": ["code"],
            "subject_types_supported": ["public"],
            "id_token_signing_alg_values_supported": ["RS256"],
            "scopes_supported": ["openid", "email", "profile", "address", "phone",
                                 "com.intuit.quickbooks.accounting", "com.intuit.quickbooks.payment"],
            "token_endpoint_auth_methods_supported": ["client_secret_post", "client_secret_basic"],
            "claims_supported": ["aud", "exp", "iat", "iss", "realmid", "sub"],
        })

    def token(self, request: Request) -> Response:
        oauth = self.twin.oauth
        client_id = oauth.authenticate_client(request.header("Authorization"))
        if media_type(request) != "application/x-www-form-urlencoded":
            raise OAuthError(415, "invalid_request", "the token endpoint takes an application/x-www-form-urlencoded "
                                                     "body")
        form = parse_qs(request.text, keep_blank_values=True)
        grant_type = (form.get("grant_type") or [""])[0]
        # Intuit reports the grant's hard expiry only to a client that asks for it.
        include_hard = (request.header("x-include-refresh-token-hard-expires-in") or "").strip().lower() == "true"
        if grant_type == "refresh_token":
            return Response.json(oauth.refresh(client_id, (form.get("refresh_token") or [""])[0], include_hard),
                                 headers={"Cache-Control": "no-cache, no-store", "Pragma": "no-cache"})
        if grant_type == "authorization_code":
            return Response.json(oauth.exchange_code(client_id, (form.get("code") or [""])[0],
                                                     (form.get("redirect_uri") or [""])[0], include_hard),
                                 headers={"Cache-Control": "no-cache, no-store", "Pragma": "no-cache"})
        raise OAuthError(400, "unsupported_grant_type")

    def authorize(self, request: Request) -> Response:
        """Intuit's consent screen, as a page a browser can answer: Connect (a code) or Cancel (access_denied)."""
        client_id, redirect_uri = request.arg("client_id"), request.arg("redirect_uri")
        if not client_id or not redirect_uri or request.arg("response_type") != "code":
            return Response.json({"error": "invalid_request"}, 400)
        self.twin.oauth.check_client(client_id)
        fields = {"client_id": client_id, "redirect_uri": redirect_uri, "state": request.arg("state") or "",
                  "scope": request.arg("scope") or ""}
        company = self.backend.company_settings().get("company_name") or "your company"
        return Response.text(consent_page(company, self.backend.realm_id, fields), content_type="text/html")

    def consent(self, request: Request) -> Response:
        """The user's answer on the consent page: redirect to ``redirect_uri`` with a code and the realm id, or
        with ``error=access_denied`` (Cancel), and the state either way, as Intuit does."""
        form = {k: v[0] for k, v in parse_qs(request.text, keep_blank_values=True).items()}
        client_id, redirect_uri = form.get("client_id"), form.get("redirect_uri")
        if not client_id or not redirect_uri:
            return Response.json({"error": "invalid_request"}, 400)
        if form.get("decision") == "approve":
            code = self.twin.oauth.issue_code(client_id, redirect_uri)
            query = urlencode({"code": code, "state": form.get("state", ""), "realmId": self.backend.realm_id})
        else:
            self.twin.oauth.check_client(client_id)
            query = urlencode({"error": "access_denied", "state": form.get("state", "")})
        separator = "&" if "?" in redirect_uri else "?"
        return Response(302, b"", {"Location": f"{redirect_uri}{separator}{query}"})

    def revoke(self, request: Request) -> Response:
        oauth = self.twin.oauth
        client_id = oauth.authenticate_client(request.header("Authorization"))
        if media_type(request) != "application/json":
            raise OAuthError(415, "invalid_request", "the revoke endpoint takes a JSON body")
        try:
            doc = loads(request.body) if request.body else {}
        except ValueError:
            raise OAuthError(400, "invalid_request") from None
        oauth.revoke(client_id, (doc or {}).get("token"))
        return Response.empty(200)

    # -- API --------------------------------------------------------------------------------------------------
    def query(self, request: Request, realm: str) -> Response:
        text = request.arg("query") if request.method == "GET" else request.text
        if request.method == "POST" and not request.body:
            text = request.arg("query")
        elif request.method == "POST":
            require_media_type(request, "application/text")
        return self.ok({"QueryResponse": self.backend.query(text or "")})

    def read(self, request: Request, realm: str, entity: str, object_id: str) -> Response:
        name = entity_name(entity)
        return self.ok({name: self.backend.read(name, object_id)})

    def read_preferences(self, request: Request, realm: str) -> Response:
        return self.ok({"Preferences": self.backend.read("Preferences", "1")})

    def write(self, request: Request, realm: str, entity: str) -> Response:
        name = entity_name(entity)
        operation = (request.arg("operation") or "").lower()
        include = (request.arg("include") or "").lower()

        require_media_type(request, "application/json")  # refused before any processing: never replayed
        body = request.json()

        def run() -> Response:
            self.backend.allow_duplicate_docnum = "allowduplicatedocnum" in include.split(",")
            try:
                if operation == "delete":
                    return self.ok({name: self.backend.delete(name, body)})
                if operation == "void" or (operation == "update" and "void" in include.split(",")):
                    return self.ok({name: self.backend.void(name, body)})
                if operation not in ("", "create", "update"):
                    raise InvalidRequest(f"Unsupported operation {operation!r}", "operation",
                                         message="Unsupported Operation")
                return self.ok({name: self.backend.save(name, body)})
            finally:
                self.backend.allow_duplicate_docnum = False

        return self.idempotent(request, run, MAX_REQUEST_ID)

    def batch(self, request: Request, realm: str) -> Response:
        request_id = request.arg("requestid")

        require_media_type(request, "application/json")
        doc = request.json()

        def run() -> Response:
            if request_id is not None and isinstance(doc, dict):
                for item in doc.get("BatchItemRequest") or []:
                    if isinstance(item, dict) and len(str(item.get("bId", ""))) > MAX_BATCH_BID_WITH_REQUEST_ID:
                        raise BusinessValidation(
                            f"With a requestid, a bId cannot be longer than {MAX_BATCH_BID_WITH_REQUEST_ID} "
                            f"characters", "bId")
            responses = self.backend.batch(doc, self.batch_item)
            return self.ok({"BatchItemResponse": responses})

        return self.idempotent(request, run, MAX_BATCH_REQUEST_ID)

    def batch_item(self, item: Record) -> tuple[str, Any, str]:
        if "Query" in item:
            return "QueryResponse", self.backend.query(item["Query"]), "query"
        operation = str(item.get("operation") or "").lower()
        entities = [key for key in item if key in ENTITY_BY_SEGMENT.values()]
        if len(entities) != 1:
            raise RequiredParamMissing("Required parameter entity is missing in the batch item", "BatchItemRequest")
        name = entities[0]
        body = item[name]
        if operation == "create":
            if isinstance(body, dict) and body.get("Id") not in (None, "", 0, "0"):
                raise InvalidRequest("Id must not be supplied with operation create", "Id")
            return name, self.backend.save(name, body), "create"
        if operation == "update":
            if not isinstance(body, dict) or body.get("Id") in (None, "", 0, "0"):
                raise RequiredParamMissing("Required parameter Id is missing in the request", "Id")
            return name, self.backend.save(name, body), "update"
        if operation == "delete":
            return name, self.backend.delete(name, body), "delete"
        raise RequiredParamMissing("Required parameter operation is missing in the batch item (create, update or "
                                   "delete)", "operation")

    def cdc(self, request: Request, realm: str) -> Response:
        results = self.backend.cdc(request.arg("entities"), request.arg("changedSince"))
        return self.ok({"CDCResponse": [{"QueryResponse": results}]})

    # -- helpers ----------------------------------------------------------------------------------------------
    @staticmethod
    def ok(doc: Record) -> Response:
        doc["time"] = response_time()
        return Response.json(doc)

    def idempotent(self, request: Request, run: Callable[[], Response], limit: int) -> Response:
        """``requestid``: a repeated id in this realm answers the original response and does nothing again."""
        request_id = request.arg("requestid")
        if request_id is not None:
            if len(request_id) > limit:
                raise BusinessValidation(f"You cannot enter more than {limit} characters in the request_id field",
                                         "requestid")
            cached = self.twin.store.get(self.backend.realm_id, "_requestids", request_id)
            if cached is not None:
                return Response(cached["status"], cached["body"].encode("utf-8"),
                                {"Content-Type": "application/json; charset=utf-8"})
        try:
            response = run()
        except QboError as exc:
            response = render_fault(exc)
        if request_id is not None:
            self.twin.store.put(self.backend.realm_id, "_requestids", request_id,
                                {"status": response.status, "body": response.body.decode("utf-8")})
        response.wrote = response.status < 300
        return response


__all__ = ["QboResponses", "dumps", "gateway_fault", "render_fault", "system_fault", "throttle_response"]


def consent_page(company: str, realm_id: str, fields: dict[str, str]) -> str:
    """The twin's consent screen: what Intuit asks a user who signed in (Connect or Cancel), fields escaped."""
    esc = html.escape
    hidden = "".join(f'<input type="hidden" name="{esc(k)}" value="{esc(v)}">' for k, v in fields.items())
    who, what = esc(company), esc(fields["scope"]) or "no scope"
    return ('<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Connect to QuickBooks (twin)'
            f"</title></head><body><main><h1>Connect {esc(fields['client_id'])} to {who}</h1>"
            f"<p>The app asks for access to the accounting data of {who} (realm {esc(realm_id)}): {what}.</p>"
            f'<form method="post" action="/connect/oauth2">{hidden}'
            '<button type="submit" name="decision" value="approve" id="approve">Connect</button> '
            '<button type="submit" name="decision" value="cancel" id="cancel">Cancel</button></form>'
            "</main></body></html>")
