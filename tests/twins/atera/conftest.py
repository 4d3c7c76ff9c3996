"""Fixtures for the Atera twin tests: in-process twins over real HTTP on loopback (port 0), and a client that
checks every answer against the twin's schema model (``sandbox.atera.schema``)."""
from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import requests

from sandbox.atera.models import AccountConfig
from sandbox.atera.schema import OPERATIONS, validate
from sandbox.atera.server import AteraTwin
from sandbox.control import AteraControl
from sandbox.core.http import TwinServer
from sandbox.core.store import loads

KEY = "twin-atera-key"


def _template_regex(template: str) -> re.Pattern[str]:
    return re.compile("^" + re.sub(r"\{[^}]+\}", r"[^/]+", template) + "$", re.IGNORECASE)


_OPS = [(method, template, _template_regex(template)) for (method, template) in OPERATIONS]


def operation_of(method: str, path: str) -> tuple[str, str] | None:
    matches = [(m, t) for m, t, rx in _OPS if m == method and rx.match(path)]
    # prefer the most literal template (/tickets/lastmodified over /tickets/{ticketId})
    matches.sort(key=lambda mt: mt[1].count("{"))
    return matches[0] if matches else None


class AteraClient:
    """A requests session bound to one twin and key; ``call`` validates the answer against the schema model."""

    def __init__(self, base_url: str, key: str | None = KEY, bearer: bool = False) -> None:
        self.base_url = base_url
        self.session = requests.Session()
        self.seen: set[tuple[str, str, int]] = set()
        if key and bearer:
            self.session.headers["Authorization"] = f"Bearer {key}"
        elif key:
            self.session.headers["X-API-KEY"] = key

    def raw(self, method: str, path: str, **kwargs: Any) -> requests.Response:
        kwargs.setdefault("timeout", 10)
        return self.session.request(method, self.base_url + path, **kwargs)

    def call(self, method: str, path: str, expect: int | None = None, **kwargs: Any) -> requests.Response:
        response = self.raw(method, path, **kwargs)
        if expect is not None:
            assert response.status_code == expect, (response.status_code, response.text[:500])
        op = operation_of(method, path.split("?")[0])
        if op is not None and response.status_code in OPERATIONS[op]:
            schema = OPERATIONS[op][response.status_code]
            if schema is None:
                assert response.content == b""
            else:
                validate(schema, loads(response.content))
            self.seen.add((op[0], op[1], response.status_code))
        return response

    def get(self, path: str, expect: int | None = 200, **kw: Any) -> Any:
        response = self.call("GET", path, expect, **kw)
        return loads(response.content) if response.content else None

    def post(self, path: str, body: Any, expect: int | None = 201, **kw: Any) -> Any:
        response = self.call("POST", path, expect, json=body, **kw)
        return loads(response.content) if response.content else None

    def put(self, path: str, body: Any, expect: int | None = 200, **kw: Any) -> Any:
        response = self.call("PUT", path, expect, json=body, **kw)
        return loads(response.content) if response.content else None

    def delete(self, path: str, expect: int | None = 204, **kw: Any) -> Any:
        response = self.call("DELETE", path, expect, **kw)
        return loads(response.content) if response.content else None

    def all_items(self, path: str) -> list[Any]:
        items: list[Any] = []
        sep = "&" if "?" in path else "?"
        page = 1
        while True:
            env = self.get(f"{path}{sep}page={page}&itemsInPage=50")
            items.extend(env["items"])
            if not env["nextLink"]:
                return items
            page += 1

    @property
    def control(self) -> AteraControl:
        """The twin's control plane (``sandbox.control``), on the twin's default account."""
        return AteraControl(self.base_url)

    def admin(self, method: str, path: str, body: Any = None) -> requests.Response:
        """Raw HTTP to a control route (``/_sandbox/...``): only for tests whose subject is that route's own answer
        (its status, its body); everything else goes through ``control``."""
        return requests.request(method, self.base_url + path, json=body, timeout=30)


@pytest.fixture
def make_twin() -> Iterator[Callable[..., tuple[AteraTwin, str]]]:
    """Start in-process twins (stopped at teardown): ``make_twin(seed_profile="demo", accounts=[...])``."""
    servers: list[tuple[TwinServer, AteraTwin]] = []

    def start(**kwargs: Any) -> tuple[AteraTwin, str]:
        twin = AteraTwin(**kwargs)
        server = TwinServer(twin.handle).start()
        servers.append((server, twin))
        return twin, server.url

    yield start
    for server, twin in servers:
        server.stop()
        twin.store.close()


@pytest.fixture(scope="module")
def demo_twin() -> Iterator[tuple[AteraTwin, str]]:
    """A demo-seeded twin shared by a module's read-only tests (no rate limit: a module makes many requests)."""
    twin = AteraTwin(seed_profile="demo", per_minute=0)
    server = TwinServer(twin.handle).start()
    yield twin, server.url
    server.stop()


@pytest.fixture
def demo(demo_twin: tuple[AteraTwin, str]) -> AteraClient:
    """A client on the module's demo twin, put back as the demo seed made it (its tests read; a few try writes the
    twin must refuse, and if one ever got through, the next test would not see it)."""
    control = AteraControl(demo_twin[1])
    control.clear_faults()
    control.seed("demo")
    control.clear_requests()
    return AteraClient(demo_twin[1])


@pytest.fixture
def fresh(make_twin: Callable[..., tuple[AteraTwin, str]]) -> AteraClient:
    """A client on a new demo twin of its own (for tests that change state)."""
    _, url = make_twin(seed_profile="demo")
    return AteraClient(url)


@pytest.fixture
def empty(make_twin: Callable[..., tuple[AteraTwin, str]]) -> AteraClient:
    _, url = make_twin(seed_profile="none")
    return AteraClient(url)


__all__ = ["KEY", "AccountConfig", "AteraClient"]


@pytest.fixture
def client_cls() -> type[AteraClient]:
    return AteraClient
