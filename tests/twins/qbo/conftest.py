"""Fixtures for the QBO twin tests: one loopback HTTP server per session, a fresh twin (demo seed) per test."""
from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any

import pytest
from qbo_twin_helpers import Api

from sandbox.core.http import Request, Response, TwinServer
from sandbox.qbo.server import QboTwin

os.environ.setdefault("OAUTHLIB_INSECURE_TRANSPORT", "1")  # requests-oauthlib over http://127.0.0.1


class _Switch:
    """The session's server hands every request to the current test's twin."""

    def __init__(self) -> None:
        self.twin: QboTwin | None = None

    def __call__(self, request: Request) -> Response:
        assert self.twin is not None, "no twin installed"
        return self.twin.handle(request)


@pytest.fixture(scope="session")
def qbo_server():
    switch = _Switch()
    server = TwinServer(switch, port=0).start()
    yield switch, server.url
    server.stop()


@pytest.fixture
def make_api(qbo_server) -> Callable[..., Api]:
    switch, url = qbo_server

    def make(**kwargs: Any) -> Api:
        kwargs.setdefault("seed_profile", "demo")
        twin = QboTwin(**kwargs)
        switch.twin = twin
        return Api(twin, url)

    yield make
    switch.twin = None


@pytest.fixture
def api(make_api) -> Api:
    return make_api()
