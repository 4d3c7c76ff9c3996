"""A refresh token's two expiries: the token request asks Intuit for the hard one
(``x-include-refresh-token-hard-expires-in``), each rotation stores both (the rolling one moves, the hard one is
the grant's), and a warning is logged from 30 days before either."""
from __future__ import annotations

from datetime import UTC, datetime

import pytest

from atera_qbo.qbo.auth import HARD_EXPIRY_HEADER, TokenEndpoint, TokenStore
from sandbox.core.http import Request, Response, TwinServer

DAY = 86400.0
NOW = datetime(2026, 12, 6, tzinfo=UTC).timestamp()


class Clock:
    def __init__(self) -> None:
        self.now = NOW

    def __call__(self) -> float:
        return self.now


class Intuit:
    """Intuit's token endpoint as far as expiries go: a rolling 100 days, and the grant's hard end (told only
    when asked for), both in seconds from now."""

    def __init__(self, clock: Clock, hard_end: float) -> None:
        self.clock, self.hard_end, self.calls = clock, hard_end, 0
        self.asked_for_hard: list[str | None] = []
        self.server = TwinServer(self.handle).start()

    def handle(self, request: Request) -> Response:
        self.calls += 1
        self.asked_for_hard.append(request.header(HARD_EXPIRY_HEADER))
        body = {"access_token": f"at-{self.calls}", "refresh_token": f"rt-{self.calls}", "expires_in": 3600,
                "x_refresh_token_expires_in": int(100 * DAY)}
        if request.header(HARD_EXPIRY_HEADER) == "true":
            body["x_refresh_token_hard_expires_in"] = int(self.hard_end - self.clock())
        return Response.json(body)


@pytest.fixture
def intuit():
    made: list[Intuit] = []

    def make(clock: Clock, hard_end: float) -> Intuit:
        made.append(Intuit(clock, hard_end))
        return made[-1]

    yield make
    for server in made:
        server.server.stop()


def test_each_rotation_stores_both_expiries_and_asks_for_the_hard_one(engine, intuit):
    clock = Clock()
    api = intuit(clock, hard_end=NOW + 400 * DAY)
    store = TokenStore(engine, "r1", TokenEndpoint(f"{api.server.url}/tokens", "id", "secret"),
                       seed_refresh_token="seed", clock=clock)
    assert store.expiries().rolling is None and store.expiries().hard is None  # not known before a refresh
    store.access_token()
    first = store.expiries()
    assert api.asked_for_hard == ["true"]
    assert first.rolling == datetime.fromtimestamp(NOW + 100 * DAY, UTC)
    assert first.hard == datetime.fromtimestamp(NOW + 400 * DAY, UTC)
    clock.now += 50 * DAY
    store.access_token(force_refresh=True)
    later = store.expiries()
    assert later.rolling == datetime.fromtimestamp(clock.now + 100 * DAY, UTC)  # rolling: moved by the rotation
    assert later.hard == first.hard  # hard: the grant's, unmoved
    assert store.warn_if_expiring() == []


def test_a_warning_from_30_days_before_either_expiry_names_it_and_never_the_token(engine, intuit, caplog):
    clock = Clock()
    api = intuit(clock, hard_end=NOW + 20 * DAY)
    store = TokenStore(engine, "r2", TokenEndpoint(f"{api.server.url}/tokens", "id", "secret"),
                       seed_refresh_token="seed", clock=clock)
    with caplog.at_level("WARNING", logger="atera_qbo.qbo.auth"):
        store.access_token()
    warned = [r.getMessage() for r in caplog.records if "hard expiry" in r.getMessage()]
    assert warned and "expires on 2026-12-26 (in 20 day(s))" in warned[0] and "reconnect QuickBooks" in warned[0]
    assert "rt-1" not in caplog.text and "at-1" not in caplog.text
    assert not any("rolling expiry" in r.getMessage() for r in caplog.records)  # 100 days off: no warning
    clock.now += 21 * DAY
    assert any("hard expiry expired on 2026-12-26" in w for w in store.warn_if_expiring())
