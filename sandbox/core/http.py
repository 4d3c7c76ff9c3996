"""A small threaded HTTP/1.1 server and router for the twins (stdlib only).

Why not a framework: the twins must be able to do what no well-behaved framework lets an app do — perform a write
and then drop the connection without answering (``DropConnection``), exactly like a flaky load balancer in front of
QBO. ``http.server`` gives that control with keep-alive and a thread per connection.

    app = Router()

    @app.route("GET", "/api/v3/customers/{customer_id:int}")
    def read_customer(request, customer_id): ...

    server = TwinServer(handler=app.dispatch, port=0).start()   # .url, .stop()
"""
from __future__ import annotations

import contextlib
import re
import socket
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

from .store import dumps, loads


class DropConnection(Exception):
    """Raised by a handler to close the socket without sending any response."""


class BadJson(Exception):
    """The request body is not valid JSON."""


@dataclass
class Request:
    method: str
    path: str
    query_string: str
    headers: dict[str, str]  # lower-case names
    body: bytes
    base_url: str
    path_params: dict[str, Any] = field(default_factory=dict)
    # Filled by the twin before the handler runs (tenant, caller, ...).
    context: dict[str, Any] = field(default_factory=dict)

    @property
    def query(self) -> dict[str, list[str]]:
        return parse_qs(self.query_string, keep_blank_values=True)

    def arg(self, name: str, default: str | None = None, *, case_insensitive: bool = True) -> str | None:
        """First value of a query parameter; ASP.NET-style APIs match names case-insensitively."""
        query = self.query
        if name in query:
            return query[name][0]
        if case_insensitive:
            lowered = name.lower()
            for key, values in query.items():
                if key.lower() == lowered:
                    return values[0]
        return default

    def header(self, name: str, default: str | None = None) -> str | None:
        return self.headers.get(name.lower(), default)

    def json(self) -> Any:
        if not self.body:
            return None
        try:
            return loads(self.body.decode("utf-8"))
        except (UnicodeDecodeError, ValueError) as exc:
            raise BadJson(str(exc)) from exc

    @property
    def text(self) -> str:
        return self.body.decode("utf-8", errors="replace")


@dataclass
class Response:
    status: int = 200
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)
    # Set by a handler that changed state: fault injection may then drop the answer after the commit.
    wrote: bool = False

    @classmethod
    def json(cls, obj: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
        hdrs = {"Content-Type": "application/json; charset=utf-8"}
        hdrs.update(headers or {})
        return cls(status, dumps(obj).encode("utf-8"), hdrs)

    @classmethod
    def empty(cls, status: int, headers: dict[str, str] | None = None) -> Response:
        return cls(status, b"", dict(headers or {}))

    @classmethod
    def text(cls, text: str, status: int = 200, content_type: str = "text/plain") -> Response:
        return cls(status, text.encode("utf-8"), {"Content-Type": f"{content_type}; charset=utf-8"})


_CONVERTERS: dict[str, tuple[str, Callable[[str], Any]]] = {
    "str": (r"[^/]+", str),
    "int": (r"-?[0-9]+", int),
    "path": (r".+", str),
}


class NotFound(Exception):
    """No route for this path."""


class MethodNotAllowed(Exception):
    """The path exists, with other methods."""


class Router:
    """Method + path-template routing; the first matching route wins."""

    def __init__(self) -> None:
        self._routes: list[tuple[str, re.Pattern[str], dict[str, Callable[[str], Any]], Callable[..., Response]]] = []

    def route(self, method: str, template: str) -> Callable[[Callable[..., Response]], Callable[..., Response]]:
        def decorator(fn: Callable[..., Response]) -> Callable[..., Response]:
            self.add(method, template, fn)
            return fn

        return decorator

    def add(self, method: str, template: str, fn: Callable[..., Response]) -> None:
        converters: dict[str, Callable[[str], Any]] = {}

        def repl(match: re.Match[str]) -> str:
            name, _, kind = match.group(1).partition(":")
            pattern, conv = _CONVERTERS[kind or "str"]
            converters[name] = conv
            return f"(?P<{name}>{pattern})"

        regex = re.compile("^" + re.sub(r"\{([^}]+)\}", repl, template) + "/?$", re.IGNORECASE)
        for verb in method.upper().split("|"):
            self._routes.append((verb, regex, converters, fn))

    def resolve(self, method: str, path: str) -> tuple[Callable[..., Response], dict[str, Any]]:
        path_matched = False
        for verb, regex, converters, fn in self._routes:
            m = regex.match(path)
            if not m:
                continue
            path_matched = True
            if verb == method:
                return fn, {k: converters[k](v) for k, v in m.groupdict().items()}
        raise MethodNotAllowed(path) if path_matched else NotFound(path)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    # Headers and body go out in separate writes: without TCP_NODELAY, Nagle + delayed ACK add ~40 ms per answer.
    disable_nagle_algorithm = True
    server: _Server

    def log_message(self, format: str, *args: Any) -> None:
        return  # the twins keep their own request log; stderr stays quiet

    def _handle(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        if len(body) < length:
            # The client is gone before its body arrived (killed between headers and body, or its connection
            # broke): the request is incomplete, so it is never performed — a server answers nobody and does
            # nothing, and no requestid remembers it.
            self.close_connection = True
            return
        parts = urlsplit(self.path)
        host = self.headers.get("Host") or self._server_host()
        request = Request(
            method=self.command,
            path=parts.path,
            query_string=parts.query,
            headers={k.lower(): v for k, v in self.headers.items()},
            body=body,
            base_url=f"http://{host}",
        )
        try:
            response = self.server.app_handler(request)
        except DropConnection:
            self.close_connection = True
            with contextlib.suppress(OSError):
                self.connection.shutdown(socket.SHUT_RDWR)
            return
        self.send_response(response.status, HTTPStatus(response.status).phrase if response.status in
                           HTTPStatus._value2member_map_ else "")
        for name, value in response.headers.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(response.body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(response.body)

    def _server_host(self) -> str:
        """``host:port`` the server listens on (for a request without a Host header)."""
        host, port = self.server.server_address[:2]
        return f"{host.decode() if isinstance(host, bytes) else host}:{port}"

    do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = do_HEAD = _handle


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 256
    allow_reuse_address = True
    app_handler: Callable[[Request], Response]


class TwinServer:
    """Runs a request handler on 127.0.0.1 in a background thread: ``start()``, ``url``, ``stop()``."""

    def __init__(self, handler: Callable[[Request], Response], port: int = 0, host: str = "127.0.0.1") -> None:
        self._server = _Server((host, port), _Handler)
        self._server.app_handler = handler
        self._thread: threading.Thread | None = None

    @property
    def port(self) -> int:
        return self._server.server_address[1]

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> TwinServer:
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.1},
                                        name="twin-http", daemon=True)
        self._thread.start()
        return self

    def serve_forever(self) -> None:
        self._server.serve_forever()

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
