"""The request pipeline both twins share, and their common control plane under ``/_sandbox/``.

A request to the vendor API goes: injected latency → ``admit`` (auth, rate limits: the twin's own) → injected
error → route handler inside one store transaction → ``release`` → request log → maybe drop the connection
after the commit. Admin routes skip faults, limits and the log.

Subclasses provide the vendor parts: ``register_routes``, ``admit``/``release``, ``render_error`` (the vendor's
error shape for a domain exception), ``fault_response``, ``seed``, ``reset``, ``configure_limits``.
"""
from __future__ import annotations

import logging
from typing import Any

from .faults import FaultConfigError, FaultInjector, RequestLog
from .http import BadJson, DropConnection, MethodNotAllowed, NotFound, Request, Response, Router
from .store import Store

log = logging.getLogger(__name__)

PROFILES = ("none", "demo", "small", "large")


class AdminError(ValueError):
    """A control-plane request the twin cannot honour (answered 400 with the message)."""


class BaseTwin:
    name = "twin"

    def __init__(self, *, state_path: str | None = None, seed_profile: str = "none", seed_value: int = 42) -> None:
        if seed_profile not in PROFILES:
            raise AdminError(f"unknown seed profile {seed_profile!r}; choose one of {', '.join(PROFILES)}")
        self.store = Store(state_path)
        self.faults = FaultInjector(seed_value)
        self.requests = RequestLog()
        self.api = Router()
        self.admin = Router()
        self._register_admin_routes()
        self.register_routes(self.api)
        with self.store.transaction():
            if self.store.is_empty():
                self.reset()
                if seed_profile != "none":
                    self.seed({"profile": seed_profile, "seed": seed_value})

    # -- vendor hooks ----------------------------------------------------------------------------------------
    def register_routes(self, router: Router) -> None:
        raise NotImplementedError

    def admit(self, request: Request) -> Response | None:
        """Authenticate and apply rate limits; answer a Response to refuse the request."""
        return None

    def release(self, request: Request) -> None:
        """Undo what ``admit`` holds for the duration of a request (concurrency slots)."""

    def render_error(self, exc: Exception, request: Request) -> Response | None:
        """The vendor's answer for a domain exception, or None when ``exc`` is not one."""
        return None

    def fault_response(self, status: int, request: Request) -> Response:
        return Response.json({"error": "injected fault"}, status)

    def not_found(self, request: Request) -> Response:
        return Response.empty(404)

    def seed(self, doc: dict[str, Any]) -> dict[str, Any]:
        raise NotImplementedError

    def check_seed(self, doc: dict[str, Any]) -> None:
        """Refuse a seed document (AdminError) BEFORE anything is reset: no half-applied control-plane calls."""

    def reset(self) -> None:
        raise NotImplementedError

    def configure_limits(self, doc: dict[str, Any]) -> dict[str, Any]:
        raise NotImplementedError

    def current_limits(self) -> dict[str, Any]:
        raise NotImplementedError

    def register_admin_routes(self, router: Router) -> None:
        """Twin-specific control-plane routes."""

    # -- the pipeline ----------------------------------------------------------------------------------------
    def handle(self, request: Request) -> Response:
        if request.path.startswith("/_sandbox/"):
            return self._handle_admin(request)
        self.faults.delay()
        refusal = self.admit(request)
        if refusal is not None:
            self.requests.add(request.method, request.path, request.query_string, refusal.status)
            return refusal
        try:
            if self.faults.should_fail(request.path):
                response = self.fault_response(self.faults.config.error_status, request)
            else:
                response = self._dispatch(request)
        finally:
            self.release(request)
        if response.wrote and response.status < 300 and self.faults.should_drop_after_commit(request.path):
            self.requests.add(request.method, request.path, request.query_string, None, dropped=True)
            raise DropConnection()
        self.requests.add(request.method, request.path, request.query_string, response.status)
        return response

    def _dispatch(self, request: Request) -> Response:
        try:
            fn, params = self.api.resolve(request.method, request.path)
        except (NotFound, MethodNotAllowed):
            return self.not_found(request)
        try:
            with self.store.transaction():
                return fn(request, **params)
        except Exception as exc:  # domain exceptions become the vendor's error shape
            rendered = self.render_error(exc, request)
            if rendered is None:
                log.exception("%s twin: unhandled error on %s %s", self.name, request.method, request.path)
                return Response.json({"error": f"twin internal error: {type(exc).__name__}"}, 500)
            return rendered

    # -- control plane ---------------------------------------------------------------------------------------
    def _handle_admin(self, request: Request) -> Response:
        try:
            fn, params = self.admin.resolve(request.method, request.path)
        except NotFound:
            return Response.json({"error": f"no admin route {request.path}"}, 404)
        except MethodNotAllowed:
            return Response.json({"error": f"{request.method} not allowed on {request.path}"}, 405)
        try:
            with self.store.transaction():
                return fn(request, **params)
        except (AdminError, FaultConfigError, BadJson) as exc:
            return Response.json({"error": str(exc)}, 400)

    def _register_admin_routes(self) -> None:
        router = self.admin

        @router.route("POST", "/_sandbox/reset")
        def reset(request: Request) -> Response:
            self.reset()
            self.requests.clear()
            return Response.json({"reset": True})

        @router.route("POST", "/_sandbox/seed")
        def seed(request: Request) -> Response:
            doc = request.json() or {}
            if not isinstance(doc, dict):
                raise AdminError("seed body must be a JSON object like {\"profile\": \"demo\", \"seed\": 42}")
            profile = doc.get("profile", "demo")
            if profile not in PROFILES:
                raise AdminError(f"unknown seed profile {profile!r}; choose one of {', '.join(PROFILES)}")
            doc = {**doc, "profile": profile, "seed": int(doc.get("seed", 42))}
            self.check_seed(doc)
            self.reset()
            return Response.json(self.seed(doc))

        @router.route("PUT", "/_sandbox/faults")
        def put_faults(request: Request) -> Response:
            return Response.json(self.faults.configure(request.json() or {}).to_json())

        @router.route("GET", "/_sandbox/faults")
        def get_faults(request: Request) -> Response:
            return Response.json(self.faults.config.to_json())

        @router.route("PUT", "/_sandbox/limits")
        def put_limits(request: Request) -> Response:
            doc = request.json() or {}
            if not isinstance(doc, dict):
                raise AdminError("limits must be a JSON object")
            return Response.json(self.configure_limits(doc))

        @router.route("GET", "/_sandbox/limits")
        def get_limits(request: Request) -> Response:
            return Response.json(self.current_limits())

        @router.route("GET", "/_sandbox/requests")
        def get_requests(request: Request) -> Response:
            entries = self.requests.entries()
            since = request.arg("since")
            if since:
                entries = [e for e in entries if e["time"] > float(since)]
            return Response.json(entries)

        @router.route("DELETE", "/_sandbox/requests")
        def clear_requests(request: Request) -> Response:
            self.requests.clear()
            return Response.empty(204)

        @router.route("GET", "/_sandbox/health")
        def health(request: Request) -> Response:
            return Response.json({"twin": self.name, "ok": True})

        self.register_admin_routes(router)
