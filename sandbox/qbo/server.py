"""The QuickBooks Online twin: ``python -m sandbox qbo --port P [--seed demo] [--country US|GB|CA] ...``.

``QboTwin`` plugs the QBO parts into the shared pipeline (``sandbox.core.twin.BaseTwin``): the gateway checks
(bearer token → 401 3200, other company → 403 3100), Intuit's throttles (500 requests/min and 10 requests/s per
realm, 10 in flight, 40 batch requests/min → 429 3001, JSON or XML), the Fault rendering and the control plane
extras:

- ``POST /_sandbox/oauth/refresh-token {"client_id", "hard_expires_in"?}`` → ``{"refresh_token", "realm_id",
  "hard_expires_in"}``: a new, independent grant (its hard expiry: ``hard_expires_in`` seconds, default the twin's,
  ``--refresh-hard-expires-in``, five years).
- ``POST /_sandbox/oauth/expire-access-tokens``: every live access token now gets 401 (as after an hour).
- ``GET /connect/oauth2`` (not under ``/_sandbox``: the authorization endpoint of the discovery document) shows the
  consent screen, a page with Connect and Cancel; ``POST /connect/oauth2`` is its answer: a redirect with ``code``,
  ``state`` and ``realmId`` (Connect) or ``error=access_denied`` and ``state`` (Cancel). ``QboControl.consent``
  answers it as a browser's user would.
- ``POST /_sandbox/customers/merge {"from", "into"}``: QBO's customer merge (a UI action; see
  ``QboBackend.merge_customers``).
- ``GET|PUT /_sandbox/company``: ``{"country", "custom_txn_numbers", "multicurrency", "home_currency",
  "automated_sales_tax", "company_name"}`` (changing the country sets up a new, empty company).
"""
from __future__ import annotations

import argparse
import uuid
from decimal import Decimal
from typing import Any, Literal

from sandbox.core.http import BadJson, Request, Response, Router
from sandbox.core.ratelimit import Clock, ConcurrencyLimiter, SlidingWindowLimiter
from sandbox.core.twin import AdminError, BaseTwin

from .exceptions import InvalidRequest, OAuthError, QboError
from .models.backend import QboBackend
from .models.company import CompanySettings, default_settings
from .models.oauth import HARD_TTL, OAuthServer
from .responses import QboResponses, gateway_fault, render_fault, system_fault, throttle_response
from .seed import seed_company

DEFAULT_REALM_ID = "9341453050298751"
DEFAULT_CLIENT_ID = "twin-client-id"
DEFAULT_CLIENT_SECRET = "twin-client-secret"
DEFAULT_LIMITS = {"per_minute": 500, "per_second": 10, "concurrent": 10, "batch_per_minute": 40}
LIMIT_KEYS = ("per_minute", "per_second", "concurrent", "batch_per_minute")
API_PREFIX = "/v3/company/"
# The company settings a client may switch (true/false) through PUT /_sandbox/company.
SWITCHES: tuple[Literal["custom_txn_numbers", "multicurrency", "automated_sales_tax"], ...] = (
    "custom_txn_numbers", "multicurrency", "automated_sales_tax")


class QboTwin(BaseTwin):
    name = "qbo"

    def __init__(self, *, state_path: str | None = None, seed_profile: str = "none", seed_value: int = 42,
                 realm_id: str = DEFAULT_REALM_ID, country: str = "US", client_id: str = DEFAULT_CLIENT_ID,
                 client_secret: str = DEFAULT_CLIENT_SECRET, refresh_token: str | None = None,
                 time_scale: float = 1.0, per_second: int | None = DEFAULT_LIMITS["per_second"],
                 refresh_hard_expires_in: int = HARD_TTL) -> None:
        default_settings(country)  # validates the country
        self.realm_id = realm_id
        self.country = country
        self.clock = Clock(time_scale)
        self.rate_limiter = SlidingWindowLimiter(DEFAULT_LIMITS["per_minute"], self.clock)
        self.second_limiter = SlidingWindowLimiter(per_second, self.clock, window=1.0)
        self.batch_limiter = SlidingWindowLimiter(DEFAULT_LIMITS["batch_per_minute"], self.clock)
        self.concurrency = ConcurrencyLimiter(DEFAULT_LIMITS["concurrent"])
        self._backend: QboBackend | None = None
        self.responses = QboResponses(self)
        super().__init__(state_path=state_path, seed_profile=seed_profile, seed_value=seed_value)
        self.oauth = OAuthServer(self.store, realm_id, lambda: self.clock.time_scale, wall=self.clock.wall,
                                 hard_expires_in=refresh_hard_expires_in)
        with self.store.transaction():
            self.backend.ensure_setup(country)
            self.oauth.register_client(client_id, client_secret)
            if refresh_token:
                self.oauth.start_grant(client_id, refresh_token)

    @property
    def backend(self) -> QboBackend:
        if self._backend is None:
            self._backend = QboBackend(self.store, self.realm_id, self.country)
        return self._backend

    def handle(self, request: Request) -> Response:
        response = super().handle(request)
        # Intuit tags every answer with a transaction id (intuitlib's AuthClientError reads it).
        response.headers.setdefault("intuit_tid", uuid.uuid4().hex)
        return response

    # -- BaseTwin hooks -------------------------------------------------------------------------------------
    def register_routes(self, router: Router) -> None:
        self.responses.register(router)

    def admit(self, request: Request) -> Response | None:
        if not request.path.lower().startswith(API_PREFIX):
            return None  # OAuth and discovery: no gateway checks
        realm, reason = self.oauth.check_access(request.header("Authorization"))
        if realm is None:
            return gateway_fault(401, reason)
        path_realm = request.path[len(API_PREFIX):].split("/", 1)[0]
        if path_realm != realm or path_realm != self.realm_id:
            return gateway_fault(403, f"The token is not authorized for company {path_realm}")
        if not self.concurrency.try_enter(realm):
            return throttle_response(self.faults.config.xml_429)
        request.context["slot"] = realm
        # Intuit counts "per realm and app"; the twin counts per realm (strict choice: one app per twin in practice).
        if self.second_limiter.try_acquire(realm) is not None or self.rate_limiter.try_acquire(realm) is not None:
            return self._refuse(request)
        if request.path.rstrip("/").lower().endswith("/batch") and \
                self.batch_limiter.try_acquire(realm) is not None:
            return self._refuse(request)
        return None

    def _refuse(self, request: Request) -> Response:
        self.release(request)
        return throttle_response(self.faults.config.xml_429)

    def release(self, request: Request) -> None:
        slot = request.context.pop("slot", None)
        if slot is not None:
            self.concurrency.leave(slot)

    def render_error(self, exc: Exception, request: Request) -> Response | None:
        if isinstance(exc, OAuthError):
            doc: dict[str, Any] = {"error": exc.error}
            if exc.description:
                doc["error_description"] = exc.description
            return Response.json(doc, exc.status)
        if isinstance(exc, QboError):
            return render_fault(exc)
        if isinstance(exc, BadJson):
            return render_fault(InvalidRequest(f"Request has invalid or unsupported property: malformed JSON "
                                               f"({exc})"))
        return None

    def fault_response(self, status: int, request: Request) -> Response:
        if status == 429:
            return throttle_response(self.faults.config.xml_429)
        if status in (401, 403):
            return gateway_fault(status, "Injected fault")
        if status >= 500:
            return system_fault(status)
        return render_fault(QboError("Injected fault"))

    def not_found(self, request: Request) -> Response:
        return Response.json({"Fault": {"Error": [{"Message": "Resource not found",
                                                   "Detail": f"No such resource: {request.method} {request.path}",
                                                   "code": "404"}], "type": "ValidationFault"}}, 404)

    def reset(self) -> None:
        self.backend.reset()
        self._reset_windows()

    def _reset_windows(self) -> None:
        self.rate_limiter.reset()
        self.second_limiter.reset()
        self.batch_limiter.reset()

    def seed(self, doc: dict[str, Any]) -> dict[str, Any]:
        return seed_company(self.backend, doc.get("profile", "demo"), int(doc.get("seed", 42)))

    def configure_limits(self, doc: dict[str, Any]) -> dict[str, Any]:
        known = {*LIMIT_KEYS, "time_scale"}
        # request bodies read non-integers as Decimal (store.loads)
        doc = {k: float(v) if isinstance(v, Decimal) else v for k, v in doc.items()}
        unknown = set(doc) - known
        if unknown:
            raise AdminError(f"unknown limits {sorted(unknown)}; known: {sorted(known)}")
        for key in LIMIT_KEYS:
            if key in doc and doc[key] is not None and (not isinstance(doc[key], int) or isinstance(doc[key], bool)
                                                        or doc[key] < 0):
                raise AdminError(f"{key} must be a non-negative integer (0 or null: no limit)")
        if "time_scale" in doc and (not isinstance(doc["time_scale"], (int, float)) or doc["time_scale"] <= 0):
            raise AdminError("time_scale must be a positive number")
        limiters: dict[str, SlidingWindowLimiter | ConcurrencyLimiter] = {
            "per_minute": self.rate_limiter, "per_second": self.second_limiter, "batch_per_minute": self.batch_limiter,
            "concurrent": self.concurrency}
        for key, limiter in limiters.items():
            if key in doc:
                limiter.limit = doc[key]
        if "time_scale" in doc:
            self.clock.time_scale = float(doc["time_scale"])
        self._reset_windows()
        return self.current_limits()

    def current_limits(self) -> dict[str, Any]:
        return {"per_minute": self.rate_limiter.limit, "per_second": self.second_limiter.limit,
                "concurrent": self.concurrency.limit, "batch_per_minute": self.batch_limiter.limit,
                "time_scale": self.clock.time_scale}

    def register_admin_routes(self, router: Router) -> None:
        @router.route("POST", "/_sandbox/oauth/refresh-token")
        def mint_refresh_token(request: Request) -> Response:
            doc = request.json() or {}
            client_id = doc.get("client_id") if isinstance(doc, dict) else None
            if not client_id:
                raise AdminError('body must be {"client_id": "...", "hard_expires_in": <seconds, optional>}')
            hard = doc.get("hard_expires_in")
            if hard is not None and (not isinstance(hard, int) or isinstance(hard, bool) or hard <= 0):
                raise AdminError("hard_expires_in must be a positive integer (seconds)")
            try:
                token = self.oauth.start_grant(str(client_id), hard_expires_in=hard)
            except OAuthError as exc:
                raise AdminError(exc.description or exc.error) from None
            return Response.json({"refresh_token": token, "realm_id": self.realm_id,
                                  "hard_expires_in": hard or self.oauth.hard_expires_in})

        @router.route("POST", "/_sandbox/oauth/expire-access-tokens")
        def expire_access_tokens(request: Request) -> Response:
            return Response.json({"expired": self.oauth.expire_access_tokens()})

        @router.route("POST", "/_sandbox/customers/merge")
        def merge_customers(request: Request) -> Response:
            doc = request.json() or {}
            if not isinstance(doc, dict) or not doc.get("from") or not doc.get("into"):
                raise AdminError('body must be {"from": "<customer id>", "into": "<customer id>"}')
            try:
                merged = self.backend.merge_customers(str(doc["from"]), str(doc["into"]))
            except QboError as exc:
                raise AdminError(str(exc)) from None
            return Response.json({"Customer": merged})

        @router.route("GET", "/_sandbox/company")
        def get_company(request: Request) -> Response:
            return Response.json({**self.backend.company_settings(), "realm_id": self.realm_id})

        @router.route("PUT", "/_sandbox/company")
        def put_company(request: Request) -> Response:
            doc = request.json() or {}
            if not isinstance(doc, dict):
                raise AdminError("company settings must be a JSON object")
            self.backend.apply_settings(self._company_settings(doc))
            return Response.json({**self.backend.company_settings(), "realm_id": self.realm_id})

    def _company_settings(self, doc: dict[str, Any]) -> CompanySettings:
        """The company settings ``doc`` asks for: a new country is a new company (its defaults, the same name);
        multi-currency stays on once customers use other currencies; the home currency follows the country."""
        current = self.backend.company_settings()
        settings = current.copy()
        if "country" in doc and doc["country"] != settings["country"]:
            try:
                settings = default_settings(str(doc["country"]))
            except ValueError as exc:
                raise AdminError(str(exc)) from None
            settings["company_name"] = current["company_name"]
        known = set(settings) | {"realm_id"}
        unknown = set(doc) - known
        if unknown:
            raise AdminError(f"unknown company settings {sorted(unknown)}; known: {sorted(known - {'realm_id'})}")
        for key in SWITCHES:
            if key in doc:
                if not isinstance(doc[key], bool):
                    raise AdminError(f"{key} must be true or false")
                settings[key] = doc[key]
        if settings["multicurrency"] is False and settings["country"] == self.backend.company_settings()[
                "country"] and self.backend.has_foreign_customers():
            # QBO can turn multi-currency on, never off; with foreign-currency customers it must stay on.
            raise AdminError("multi-currency cannot be turned off: the company has customers in another "
                             "currency (seed another profile, or change the country for a new company)")
        if "company_name" in doc:
            settings["company_name"] = str(doc["company_name"])
        if "home_currency" in doc and doc["home_currency"] != settings["home_currency"]:
            raise AdminError("the home currency follows the country and cannot be changed")
        return settings


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--country", default="US", choices=["US", "GB", "CA"], help="company country (tax rules)")
    parser.add_argument("--realm-id", default=DEFAULT_REALM_ID, help="the company id (realmId)")
    parser.add_argument("--client-id", default=DEFAULT_CLIENT_ID, help="OAuth client id")
    parser.add_argument("--client-secret", default=DEFAULT_CLIENT_SECRET, help="OAuth client secret")
    parser.add_argument("--refresh-token", default=None,
                        help="a valid first refresh token for the client (kept as is on restarts with --state)")
    parser.add_argument("--time-scale", type=float, default=1.0,
                        help="N: a minute lasts 60/N s, an access token 3600/N s")
    parser.add_argument("--per-second", type=int, default=DEFAULT_LIMITS["per_second"],
                        help=f"requests per second per realm before 429 (default {DEFAULT_LIMITS['per_second']}, "
                             "Intuit's; 0: none). Also PUT /_sandbox/limits {\"per_second\": N}")
    parser.add_argument("--refresh-hard-expires-in", type=int, default=HARD_TTL, metavar="SECONDS",
                        help=f"hard expiry of a new grant's refresh-token chain (default {HARD_TTL}: five years); "
                             "POST /_sandbox/oauth/refresh-token may give a grant its own (hard_expires_in)")


def create_twin(args: argparse.Namespace) -> QboTwin:
    if args.per_second < 0 or args.refresh_hard_expires_in <= 0:
        raise SystemExit("--per-second must be >= 0 and --refresh-hard-expires-in > 0")
    return QboTwin(state_path=args.state, seed_profile=args.seed, seed_value=args.seed_value,
                   realm_id=args.realm_id, country=args.country, client_id=args.client_id,
                   client_secret=args.client_secret, refresh_token=args.refresh_token, time_scale=args.time_scale,
                   per_second=args.per_second, refresh_hard_expires_in=args.refresh_hard_expires_in)
