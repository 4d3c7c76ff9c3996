"""Refresh tokens' two expiries (Intuit): the rolling 100 days of each refresh token (``x_refresh_token_expires_in``)
and the hard expiry of the grant's whole refresh-token chain (five years; ``x_refresh_token_hard_expires_in``, only
for a token request with ``x-include-refresh-token-hard-expires-in: true``). Time moves by a manual clock."""
from __future__ import annotations

import argparse
from urllib.parse import parse_qs, urlencode, urlsplit

import pytest

from sandbox.control import QboControl
from sandbox.qbo.models.oauth import HARD_TTL, REFRESH_TTL
from sandbox.qbo.server import DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET, add_arguments, create_twin

DAY = 86400
ASK = {"x-include-refresh-token-hard-expires-in": "true"}


def _refresh(api, token, headers=None):
    return api.http.post(f"{api.url}/oauth2/v1/tokens/bearer", auth=(DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET),
                         data={"grant_type": "refresh_token", "refresh_token": token}, headers=headers or {},
                         timeout=10)


def test_the_hard_expiry_is_answered_only_when_asked(api):
    first = api.mint_refresh_token()
    plain = _refresh(api, first)
    assert plain.status_code == 200
    assert "x_refresh_token_hard_expires_in" not in plain.json()
    assert plain.json()["x_refresh_token_expires_in"] == REFRESH_TTL
    asked = _refresh(api, plain.json()["refresh_token"], ASK)
    assert asked.status_code == 200
    doc = asked.json()
    assert set(doc) == {"access_token", "refresh_token", "expires_in", "x_refresh_token_expires_in",
                        "x_refresh_token_hard_expires_in", "token_type"}
    assert doc["x_refresh_token_expires_in"] == REFRESH_TTL
    assert doc["x_refresh_token_hard_expires_in"] == HARD_TTL == 157680000  # five years, a fresh grant
    not_true = _refresh(api, doc["refresh_token"], {"x-include-refresh-token-hard-expires-in": "false"})
    assert "x_refresh_token_hard_expires_in" not in not_true.json()


def test_the_authorization_code_grant_answers_it_too(api):
    redirect = "http://127.0.0.1:9/callback"
    authorize = f"{api.url}/connect/oauth2?" + urlencode({"client_id": DEFAULT_CLIENT_ID, "response_type": "code",
                                                          "redirect_uri": redirect, "state": "s"})
    code = parse_qs(urlsplit(QboControl.consent(authorize)).query)["code"][0]
    doc = api.http.post(f"{api.url}/oauth2/v1/tokens/bearer", auth=(DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET),
                        data={"grant_type": "authorization_code", "code": code, "redirect_uri": redirect},
                        headers=ASK, timeout=10).json()
    assert doc["x_refresh_token_hard_expires_in"] == HARD_TTL


def test_rotation_keeps_the_grants_hard_expiry(api, manual_clock):
    clock = manual_clock(api.twin)
    token = api.control.mint_refresh_token(DEFAULT_CLIENT_ID, hard_expires_in=250 * DAY)
    clock.advance(90 * DAY)
    r = _refresh(api, token, ASK)
    assert r.status_code == 200 and r.json()["x_refresh_token_hard_expires_in"] == 160 * DAY
    clock.advance(90 * DAY)
    r = _refresh(api, r.json()["refresh_token"], ASK)  # a new token, the same grant: its hard expiry stays
    assert r.status_code == 200 and r.json()["x_refresh_token_hard_expires_in"] == 70 * DAY
    assert r.json()["x_refresh_token_expires_in"] == REFRESH_TTL  # the rolling expiry is reported unchanged
    fresh = r.json()["refresh_token"]
    clock.advance(70 * DAY)  # the fresh token is 70 days old (rolling: fine), the grant is at its hard expiry
    r = _refresh(api, fresh)
    assert r.status_code == 400 and r.json() == {"error": "invalid_grant"}
    # another grant, started now, is not touched
    assert _refresh(api, api.mint_refresh_token()).status_code == 200


def test_the_default_hard_expiry_is_five_years(api, manual_clock):
    clock = manual_clock(api.twin)
    token = api.mint_refresh_token()
    days = 0
    while days + 90 < 5 * 365:  # refreshed every 90 days: the rolling expiry never bites
        clock.advance(90 * DAY)
        days += 90
        r = _refresh(api, token)
        assert r.status_code == 200, days
        token = r.json()["refresh_token"]
    clock.advance((5 * 365 - days) * DAY)
    assert _refresh(api, token).json() == {"error": "invalid_grant"}


def test_the_rolling_expiry_still_applies(api, manual_clock):
    clock = manual_clock(api.twin)
    token = api.mint_refresh_token()
    clock.advance(REFRESH_TTL - 1)
    token = _refresh(api, token).json()["refresh_token"]
    clock.advance(REFRESH_TTL)
    r = _refresh(api, token)
    assert r.status_code == 400 and r.json() == {"error": "invalid_grant"}


def test_a_restart_keeps_the_grants_hard_expiry(make_api, tmp_path):
    state = str(tmp_path / "qbo.sqlite")
    api = make_api(state_path=state, seed_profile="none")
    token = api.control.mint_refresh_token(DEFAULT_CLIENT_ID, hard_expires_in=3 * DAY)
    token = _refresh(api, token).json()["refresh_token"]
    api.twin.store.close()
    again = make_api(state_path=state, seed_profile="none")
    r = _refresh(again, token, ASK)
    assert r.status_code == 200 and 3 * DAY - 60 <= r.json()["x_refresh_token_hard_expires_in"] <= 3 * DAY


@pytest.mark.parametrize("hard", [0, -5, "100", 1.5, True])
def test_a_bad_hard_expiry_is_refused(api, hard):
    # the subject is the control route's own answer (400): raw HTTP
    r = api.admin("POST", "/oauth/refresh-token", json={"client_id": DEFAULT_CLIENT_ID, "hard_expires_in": hard})
    assert r.status_code == 400 and "hard_expires_in" in r.json()["error"]


def test_the_control_route_answers_the_grants_hard_expiry(api):
    r = api.admin("POST", "/oauth/refresh-token", json={"client_id": DEFAULT_CLIENT_ID})
    assert r.json()["hard_expires_in"] == HARD_TTL and r.json()["refresh_token"]
    r = api.admin("POST", "/oauth/refresh-token", json={"client_id": DEFAULT_CLIENT_ID, "hard_expires_in": 600})
    assert r.json()["hard_expires_in"] == 600


def test_the_default_from_the_command_line():
    parser = argparse.ArgumentParser()
    add_arguments(parser)
    common = argparse.Namespace(state=None, seed="none", seed_value=42)
    twin = create_twin(parser.parse_args(["--refresh-hard-expires-in", "3600", "--refresh-token", "RT-cli"], common))
    assert twin.oauth.hard_expires_in == 3600
    doc = twin.oauth.refresh(DEFAULT_CLIENT_ID, "RT-cli", include_hard=True)  # the --refresh-token grant has it
    assert 3590 <= doc["x_refresh_token_hard_expires_in"] <= 3600
    with pytest.raises(SystemExit):
        create_twin(parser.parse_args(["--refresh-hard-expires-in", "0"], argparse.Namespace(
            state=None, seed="none", seed_value=42)))
