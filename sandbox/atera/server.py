"""The Atera twin: ``python -m sandbox atera --port P [--seed demo] [--api-key KEY ...] [--timezone TZ ...]``.

``AteraTwin`` plugs Atera's protocol into the shared pipeline (``sandbox.core.twin.BaseTwin``): auth (legacy
``X-API-KEY`` or the key as ``Authorization: Bearer``, and the JWTs ``POST /_sandbox/tokens`` mints, see ``tokens``;
``--bearer-only``: minted JWTs only; 401 with an empty body), token scopes (403, empty body), a per-account
requests-per-minute limit (429 with ``Retry-After``), ProblemDetails errors, and the Atera-only control-plane routes.
"""
from __future__ import annotations

import argparse
import math
import re
import uuid
from decimal import Decimal
from typing import Any

from sandbox.core.http import BadJson, MethodNotAllowed, NotFound, Request, Response, Router
from sandbox.core.ratelimit import Clock, SlidingWindowLimiter
from sandbox.core.store import Store
from sandbox.core.twin import AdminError, BaseTwin

from . import responses, tokens
from .exceptions import AteraError, ValidationFailed
from .models import DEFAULT_API_KEY, DEFAULT_TIMEZONE, AccountConfig, AteraAccount, AteraBackend, resolve_zone
from .schema import OPERATIONS

DEFAULT_PER_MINUTE = 700
PROBLEM_JSON = "application/problem+json; charset=utf-8"
JSON_MEDIA_TYPES = ("application/json", "text/json")


def _template_regexes() -> list[tuple[str, re.Pattern[str], list[tuple[int, str]]]]:
    """(method, regex, [(segment index, parameter name)]) of every operation with an integer id in its path."""
    out = []
    for method, template in OPERATIONS:
        segments = template.split("/")
        params = [(i, seg[1:-1]) for i, seg in enumerate(segments) if seg.startswith("{") and seg != "{fieldName}"]
        if params:
            regex = re.compile("^" + re.sub(r"\{[^}]+\}", "[^/]+", template) + "/?$", re.IGNORECASE)
            out.append((method, regex, params))
    return out


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--api-key", action="append", dest="api_keys", default=None, metavar="KEY",
                        help=f"an accepted API key, each its own account (repeatable; default {DEFAULT_API_KEY}); "
                             "seeds go into the first key's account")
    parser.add_argument("--timezone", action="append", dest="timezones", default=None, metavar="TZ",
                        help="account timezone per --api-key, in order (Windows or IANA name; default "
                             f"'{DEFAULT_TIMEZONE}')")
    parser.add_argument("--per-minute", type=int, default=DEFAULT_PER_MINUTE,
                        help=f"requests per minute per account before 429 (default {DEFAULT_PER_MINUTE}; 0: none)")
    parser.add_argument("--bearer-only", action="store_true",
                        help="accept only the JWTs POST /_sandbox/tokens mints: X-API-KEY and a raw key sent as "
                             "a bearer token get 401 (an account moved to Atera's scoped tokens)")


def account_configs(api_keys: list[str] | None, timezones: list[str] | None = None) -> list[AccountConfig]:
    keys = api_keys or [DEFAULT_API_KEY]
    zones = list(timezones or [])
    if len(zones) > len(keys):
        raise SystemExit("more --timezone than --api-key values")
    configs = []
    for i, key in enumerate(keys):
        if not key:
            raise SystemExit("an --api-key may not be empty")
        zone = zones[i] if i < len(zones) else DEFAULT_TIMEZONE
        try:
            resolve_zone(zone)
        except Exception:  # noqa: BLE001 - any unknown zone name
            raise SystemExit(f"unknown timezone {zone!r}") from None
        configs.append(AccountConfig(key, zone))
    if len({c.api_key for c in configs}) != len(configs):
        raise SystemExit("duplicate --api-key")
    return configs


def create_twin(args: argparse.Namespace) -> AteraTwin:
    return AteraTwin(account_configs(getattr(args, "api_keys", None), getattr(args, "timezones", None)),
                     state_path=args.state, seed_profile=args.seed, seed_value=args.seed_value,
                     per_minute=getattr(args, "per_minute", DEFAULT_PER_MINUTE),
                     bearer_only=getattr(args, "bearer_only", False))


_TEMPLATES = _template_regexes()


def _problem(exc: AteraError, request: Request) -> Response:
    """An Atera error as ASP.NET renders it: ProblemDetails (``application/problem+json``)."""
    body = exc.to_problem(instance=request.path, trace_id=f"00-{uuid.uuid4().hex}-{uuid.uuid4().hex[:16]}-00")
    return Response.json(body, exc.status, headers={"Content-Type": PROBLEM_JSON})


class AteraTwin(BaseTwin):
    name = "atera"

    def __init__(self, accounts: list[AccountConfig] | None = None, *, state_path: str | None = None,
                 seed_profile: str = "none", seed_value: int = 42, per_minute: int | None = DEFAULT_PER_MINUTE,
                 time_scale: float = 1.0, bearer_only: bool = False) -> None:
        self.configs = accounts or [AccountConfig(DEFAULT_API_KEY)]
        self.bearer_only = bearer_only
        self.clock = Clock(time_scale)
        self.limiter = SlidingWindowLimiter(per_minute or None, self.clock)
        self.backend: AteraBackend | None = None
        self._backend_store: Store | None = None
        super().__init__(state_path=state_path, seed_profile=seed_profile, seed_value=seed_value)
        with self.store.transaction():
            self.model.ensure()  # accounts added to an existing state file get their setup
            for account in self.model.accounts:
                account.invoices.generator()  # build the seeded invoices' catalog now, not on the first request

    @property
    def model(self) -> AteraBackend:
        if self.backend is None or self._backend_store is not self.store:
            self.backend = AteraBackend(self.store, self.configs)
            self._backend_store = self.store
        return self.backend

    # -- hooks -------------------------------------------------------------------------------------------------
    def register_routes(self, router: Router) -> None:
        responses.register(router)

    def authenticate(self, request: Request) -> tuple[AteraAccount | None, tokens.Scopes | None]:
        """(the caller's account or None, the token's scopes or None for all): ``X-API-KEY`` first, then the bearer
        token, a raw key or a minted JWT; in bearer-only mode minted JWTs only."""
        key = None if self.bearer_only else request.header("x-api-key")
        if key:
            return self.model.account_for_key(key), None
        auth = request.header("authorization") or ""
        scheme, _, credential = auth.partition(" ")
        credential = credential.strip()
        if scheme.lower() != "bearer" or not credential:
            return None, None
        if not self.bearer_only:
            account = self.model.account_for_key(credential)
            if account is not None:
                return account, None
        claims = tokens.verify(credential, self._api_key_of, self.clock.elapsed)
        if claims is None:
            return None, None
        return self.model.account_for_id(claims.account_id), claims.scopes

    def _api_key_of(self, account_id: str) -> str | None:
        account = self.model.account_for_id(account_id)
        return account.config.api_key if account is not None else None

    def admit(self, request: Request) -> Response | None:
        account, scopes = self.authenticate(request)
        if account is None:
            return Response.empty(401)
        if not tokens.permits(scopes, request.method, request.path):
            return Response.empty(403)
        wait = self.limiter.try_acquire(account.tenant)
        if wait is not None:
            body = {"type": "https://tools.ietf.org/html/rfc6585#section-4", "title": "Too Many Requests",
                    "status": 429, "detail": "API rate limit exceeded. Retry after the period in Retry-After.",
                    "instance": request.path}
            return Response.json(body, 429, headers={"Retry-After": str(max(1, math.ceil(wait)))})
        request.context["account"] = account
        if request.method in ("POST", "PUT") and request.path.lower().startswith("/api/"):
            media = (request.header("content-type") or "").split(";")[0].strip().lower()
            if media not in JSON_MEDIA_TYPES and not (media.startswith("application/") and media.endswith("+json")):
                # ASP.NET's [FromBody] binding answers 415 before the action runs
                body = {"type": "https://tools.ietf.org/html/rfc9110#section-15.5.16",
                        "title": "Unsupported Media Type", "status": 415, "detail": None,
                        "instance": request.path}
                return Response.json(body, 415, headers={"Content-Type": PROBLEM_JSON})
        return None

    def render_error(self, exc: Exception, request: Request) -> Response | None:
        if isinstance(exc, BadJson):
            exc = ValidationFailed({"$": [f"The JSON value is not valid: {exc}"]})
        if isinstance(exc, AteraError):
            return _problem(exc, request)
        return None

    def fault_response(self, status: int, request: Request) -> Response:
        if status >= 500:
            return Response.empty(status)
        headers = {"Retry-After": "1"} if status == 429 else None
        body = {"type": None, "title": "Injected fault", "status": status, "detail": "injected by the twin",
                "instance": request.path}
        return Response.json(body, status, headers=headers)

    def not_found(self, request: Request) -> Response:
        """No route: a path served under other methods is 405 (ASP.NET endpoint routing), a known path whose id is
        not a number a model-binding 400, anything else an empty 404."""
        try:
            self.api.resolve(request.method, request.path)
        except MethodNotAllowed:
            allowed = sorted({m for m in ("GET", "POST", "PUT", "DELETE") if self._routes_to(m, request.path)})
            return Response.empty(405, headers={"Allow": ", ".join(allowed)})
        except NotFound:
            pass
        for method, regex, params in _TEMPLATES:
            if method == request.method and regex.match(request.path):
                segments = request.path.rstrip("/").split("/")
                bad = {name: [f"The value '{segments[i]}' is not valid."] for i, name in params
                       if i < len(segments) and not segments[i].lstrip("-").isdigit()}
                if bad:
                    return _problem(ValidationFailed(bad), request)
        return Response.empty(404)

    def _routes_to(self, method: str, path: str) -> bool:
        try:
            self.api.resolve(method, path)
        except (NotFound, MethodNotAllowed):
            return False
        return True

    def check_seed(self, doc: dict[str, Any]) -> None:
        if doc.get("api_key") and self.model.account_for_key(doc["api_key"]) is None:
            raise AdminError("seed: api_key is not one of the twin's keys")

    def seed(self, doc: dict[str, Any]) -> dict[str, Any]:
        account: AteraAccount | None = self.model.default
        if doc.get("api_key"):
            account = self.model.account_for_key(doc["api_key"])
            if account is None:
                raise AdminError("seed: api_key is not one of the twin's keys")
        return self.model.seed(doc.get("profile", "demo"), int(doc.get("seed", 42)), account)

    def reset(self) -> None:
        self.model.reset()
        self.limiter.reset()

    def configure_limits(self, doc: dict[str, Any]) -> dict[str, Any]:
        unknown = set(doc) - {"per_minute", "time_scale"}
        if unknown:
            raise AdminError(f"unknown limits {sorted(unknown)}; Atera knows per_minute and time_scale")
        if "per_minute" in doc:
            value = doc["per_minute"]
            if value is not None and (not isinstance(value, int) or isinstance(value, bool) or value < 0):
                raise AdminError("per_minute must be a non-negative integer or null (0/null: no limit)")
            self.limiter.limit = value or None
        if "time_scale" in doc:
            scale = doc["time_scale"]
            if not isinstance(scale, (int, float, Decimal)) or isinstance(scale, bool) or scale <= 0:
                raise AdminError("time_scale must be a positive number")
            self.clock.time_scale = float(scale)
        self.limiter.reset()
        return self.current_limits()

    def current_limits(self) -> dict[str, Any]:
        return {"per_minute": self.limiter.limit or 0, "time_scale": self.clock.time_scale}

    def register_admin_routes(self, router: Router) -> None:
        self._register_token_route(router)

        @router.route("POST", "/_sandbox/invoices")
        def post_invoices(request: Request) -> Response:
            account = self._admin_account(request)
            try:
                stored = account.invoices.add_many(request.json())
            except AteraError as exc:
                return Response.json(exc.to_problem(instance=request.path), exc.status,
                                     headers={"Content-Type": "application/problem+json; charset=utf-8"})
            return Response.json(stored, 201)

        @router.route("POST", "/_sandbox/services")
        def post_services(request: Request) -> Response:
            """Hourly rates / services (Atera has no endpoint for them): [{Description, Amount, SKU, Category}]."""
            account = self._admin_account(request)
            docs = request.json()
            if not isinstance(docs, list):
                raise AdminError("body must be a list of {Description, Amount, SKU, Category}")
            out = []
            for doc in docs:
                try:
                    out.append(account.services.render(account.services.create(doc)))
                except AteraError as exc:
                    raise AdminError(exc.detail) from None
            return Response.json(out, 201)

        @router.route("POST", "/_sandbox/customfields")
        def post_custom_fields(request: Request) -> Response:
            account = self._admin_account(request)
            docs = request.json()
            docs = docs if isinstance(docs, list) else [docs]
            try:
                return Response.json([account.custom.define(d) for d in docs], 201)
            except AteraError as exc:
                raise AdminError(exc.detail) from None

        @router.route("GET", "/_sandbox/accounts")
        def get_accounts(request: Request) -> Response:
            return Response.json([{"AccountID": a.info()["AccountID"], "TimeZoneName": a.timezone_name,
                                   "customers": len(a.customers.records()),
                                   "invoices": a.invoices.count()} for a in self.model.accounts])

    def _register_token_route(self, router: Router) -> None:
        @router.route("POST", "/_sandbox/tokens")
        def mint_token(request: Request) -> Response:
            """``{"expires_in": s, "scopes": {...}?, "api_key": "..."?}`` → 201 ``{"token", "expires_at"}``."""
            doc = request.json()
            if not isinstance(doc, dict):
                raise AdminError('body must be {"expires_in": <seconds>, "scopes": {"customers": ["read"]}, '
                                 '"api_key": "<key>"} (scopes and api_key optional)')
            unknown = set(doc) - {"expires_in", "scopes", "api_key"}
            if unknown:
                raise AdminError(f"unknown fields {sorted(unknown)}; known: api_key, expires_in, scopes")
            try:
                expires_in = tokens.parse_expires_in(doc.get("expires_in"))
                scopes = tokens.parse_scopes(doc.get("scopes"))
            except tokens.TokenRequestError as exc:
                raise AdminError(str(exc)) from None
            account = self.model.account_for_key(str(doc["api_key"])) if doc.get("api_key") else \
                self._admin_account(request)
            if account is None:
                raise AdminError("api_key is not one of the twin's keys")
            token, exp = tokens.mint(account.config.api_key, account.tenant.removeprefix("acct-"),
                                     self.clock.wall(), expires_in, scopes)
            return Response.json({"token": token, "expires_at": tokens.expires_at(exp)}, 201)

    def _admin_account(self, request: Request) -> AteraAccount:
        key = request.header("x-api-key") or request.arg("api_key")
        auth = request.header("authorization") or ""
        if not key and auth.lower().startswith("bearer "):
            key = auth[7:].strip()
        if not key:
            return self.model.default
        account = self.model.account_for_key(key)
        if account is None:
            raise AdminError("the API key given to the control plane is not one of the twin's keys")
        return account
