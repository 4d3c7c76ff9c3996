"""Atera's API tokens: JWTs minted by ``POST /_sandbox/tokens`` (expiring, scoped per area), checked on every request;
``--bearer-only`` accounts that take nothing else; tokens that survive a restart on the state file."""
from __future__ import annotations

import base64
import json
from datetime import UTC, datetime

import pytest
import requests

from sandbox.atera import tokens
from sandbox.atera.models import AccountConfig
from sandbox.control import AteraControl, ControlError
from sandbox.launch import twin_process

KEY = "twin-atera-key"
YEAR = 365 * 86400


def _part(token: str, index: int) -> dict:
    text = token.split(".")[index]
    return json.loads(base64.urlsafe_b64decode(text + "=" * (-len(text) % 4)))


def _b64(obj: dict) -> str:
    return base64.urlsafe_b64encode(json.dumps(obj).encode()).rstrip(b"=").decode()


def _get(url: str, token: str, path: str = "/api/v3/customers", method: str = "GET", **kw) -> requests.Response:
    return requests.request(method, url + path, headers={"Authorization": f"Bearer {token}"}, timeout=10, **kw)


def _refused(response: requests.Response, status: int = 401) -> None:
    assert response.status_code == status
    assert response.content == b""
    assert "WWW-Authenticate" not in response.headers


def test_a_minted_token_is_a_jwt_that_works_as_bearer(make_twin, client_cls):
    _, url = make_twin(seed_profile="demo")
    minted = AteraControl(url).mint_token(3600)
    token = minted["token"]
    assert _part(token, 0) == {"alg": "HS256", "typ": "JWT"}
    claims = _part(token, 1)
    assert claims["exp"] - claims["iat"] == 3600
    assert minted["expires_at"] == datetime.fromtimestamp(claims["exp"], UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    client = client_cls(url, token, bearer=True)  # validates every answer against the schema model
    assert client.get("/api/v3/customers")["totalItemCount"] == 26
    assert claims["account_id"] == client.get("/api/v3/account")["AccountID"]
    assert client.post("/api/v3/customers", {"CustomerName": "Token Made Ltd"})["ActionID"]
    assert "scopes" not in claims  # unscoped: every area, every right
    client.delete("/api/v3/customers/1")


def test_keys_still_work_beside_tokens_by_default(make_twin):
    _, url = make_twin(seed_profile="demo")
    token = AteraControl(url).mint_token(60)["token"]
    assert _get(url, token).status_code == 200
    assert _get(url, KEY).status_code == 200  # a raw key as bearer
    assert requests.get(url + "/api/v3/customers", headers={"X-API-KEY": KEY}, timeout=10).status_code == 200


def test_the_token_names_the_account_it_was_minted_for(make_twin):
    _, url = make_twin(accounts=[AccountConfig("k1"), AccountConfig("k2")])
    control = AteraControl(url)
    for key in ("k1", "k2"):
        token = control.mint_token(600, api_key=key)["token"]
        mine = requests.get(url + "/api/v3/account", headers={"X-API-KEY": key}, timeout=10).json()
        assert _get(url, token, "/api/v3/account").json()["AccountID"] == mine["AccountID"]
    # the control's own key picks the account when the body names none
    token = AteraControl(url, api_key="k2").mint_token(600)["token"]
    assert _part(token, 1)["account_id"] == _part(control.mint_token(600, api_key="k2")["token"], 1)["account_id"]


def test_an_expired_token_is_401_with_an_empty_body(make_twin, manual_clock):
    twin, url = make_twin(seed_profile="none")
    clock = manual_clock(twin)
    token = AteraControl(url).mint_token(60)["token"]
    clock.advance(58.5)
    assert _get(url, token, "/api/v3/account").status_code == 200
    clock.advance(1.6)
    _refused(_get(url, token, "/api/v3/account"))


def test_token_lifetimes_follow_the_time_scale(make_twin, manual_clock):
    twin, url = make_twin(seed_profile="none")
    clock = manual_clock(twin)
    control = AteraControl(url)
    control.set_limits(time_scale=3600)  # an hour of Atera's time passes in a second
    token = control.mint_token(3600)["token"]
    # the lifetime counts from iat, a whole second: measure from there
    since_iat = twin.clock.wall() - _part(token, 1)["iat"]
    clock.advance(0.95 - since_iat)
    assert _get(url, token, "/api/v3/account").status_code == 200
    clock.advance(0.1)
    _refused(_get(url, token, "/api/v3/account"))


def test_a_forged_token_is_401(make_twin):
    _, url = make_twin(seed_profile="none")
    token = AteraControl(url).mint_token(3600)["token"]
    header, claims, signature = token.split(".")
    tampered = signature[:-2] + ("AA" if signature[-2:] != "AA" else "BB")
    longer = _b64({**_part(token, 1), "exp": _part(token, 1)["exp"] + YEAR})  # claims changed, signature kept
    account_id = _part(token, 1)["account_id"]
    other_key, _ = tokens.mint("not-the-twins-key", account_id, datetime.now(UTC).timestamp(), 3600, None)
    unsigned = f"{_b64({'alg': 'none', 'typ': 'JWT'})}.{claims}."
    for forged in (f"{header}.{claims}.{tampered}", f"{header}.{longer}.{signature}", other_key, unsigned,
                   "not.a.jwt", f"{header}.{claims}"):
        _refused(_get(url, forged, "/api/v3/account"))
    assert _get(url, token, "/api/v3/account").status_code == 200


def test_a_token_outside_its_scopes_is_403(make_twin):
    _, url = make_twin(seed_profile="demo")
    control = AteraControl(url)
    reader = control.mint_token(3600, {"customers": ["read"]})["token"]
    assert _part(reader, 1)["scopes"] == {"customers": ["read"]}
    assert _get(url, reader).status_code == 200
    assert _get(url, reader, "/api/v3/customers/1").status_code == 200
    _refused(_get(url, reader, method="POST", json={"CustomerName": "Nope"}), 403)
    _refused(_get(url, reader, "/api/v3/customers/1", method="PUT", json={"City": "Nope"}), 403)
    _refused(_get(url, reader, "/api/v3/customers/1", method="DELETE"), 403)
    _refused(_get(url, reader, "/api/v3/contacts"), 403)  # another area
    _refused(_get(url, reader, "/API/V3/Rates/Products"), 403)  # paths are case-insensitive, areas too
    assert _get(url, reader, "/api/v3/nothing-here").status_code == 404  # no area, no endpoint
    writer = control.mint_token(3600, {"Customers": ["READ", "write", "delete"], "rates": ["read"]})["token"]
    assert _get(url, writer, method="POST", json={"CustomerName": "Scoped Ltd"}).status_code == 201
    assert _get(url, writer, "/api/v3/customers/2", method="DELETE").status_code == 204
    assert _get(url, writer, "/api/v3/rates/products").status_code == 200
    _refused(_get(url, writer, "/api/v3/rates/products", method="POST", json={"Description": "x", "Amount": 1}), 403)
    nothing = control.mint_token(3600, {})["token"]  # scoped to no area at all
    _refused(_get(url, nothing, "/api/v3/account"), 403)


@pytest.mark.parametrize("body", [{}, {"expires_in": 0}, {"expires_in": -5}, {"expires_in": "3600"},
                                  {"expires_in": True}, {"expires_in": YEAR + 1},
                                  {"expires_in": 60, "scopes": {"planets": ["read"]}},
                                  {"expires_in": 60, "scopes": {"customers": ["admin"]}},
                                  {"expires_in": 60, "scopes": {"customers": "read"}},
                                  {"expires_in": 60, "scopes": ["customers"]},
                                  {"expires_in": 60, "api_key": "nobody"}, {"expires_in": 60, "ttl": 5}])
def test_mint_refuses_bad_requests(make_twin, client_cls, body):
    _, url = make_twin(seed_profile="none")
    # the subject is the control route's own answer (400): raw HTTP, not the control client
    response = client_cls(url).admin("POST", "/_sandbox/tokens", body)
    assert response.status_code == 400 and response.json()["error"]


def test_a_year_is_the_longest_lifetime(make_twin):
    _, url = make_twin(seed_profile="none")
    control = AteraControl(url)
    claims = _part(control.mint_token(YEAR)["token"], 1)
    assert claims["exp"] - claims["iat"] == YEAR
    with pytest.raises(ControlError, match="at most one year"):
        control.mint_token(YEAR + 1)


def test_bearer_only_takes_minted_tokens_only(make_twin):
    _, url = make_twin(seed_profile="demo", bearer_only=True)
    _refused(requests.get(url + "/api/v3/customers", headers={"X-API-KEY": KEY}, timeout=10))
    _refused(_get(url, KEY))  # the raw key as a bearer token
    token = AteraControl(url).mint_token(600)["token"]
    assert _get(url, token).json()["totalItemCount"] == 26
    # a valid token next to a key: the key is not looked at
    both = requests.get(url + "/api/v3/customers", headers={"X-API-KEY": KEY, "Authorization": f"Bearer {token}"},
                        timeout=10)
    assert both.status_code == 200


def test_a_restart_on_the_state_file_keeps_minted_tokens_valid(tmp_path):
    state = tmp_path / "atera.db"
    args = ["--seed", "demo", "--state", str(state), "--api-key", "key-a", "--api-key", "key-b"]
    with twin_process("atera", args, log_path=tmp_path / "first.log") as twin:
        control = AteraControl(twin.url)
        full = control.mint_token(3600, api_key="key-b")["token"]
        reader = control.mint_token(3600, {"customers": ["read"]})["token"]  # key-a: the first account
        assert _get(twin.url, full, "/api/v3/account").status_code == 200
        created = _get(twin.url, full, method="POST", json={"CustomerName": "Made With A Token"})
        assert created.status_code == 201
    assert b"key-a" not in state.read_bytes() and full.encode() not in state.read_bytes()

    with twin_process("atera", [*args, "--bearer-only"], log_path=tmp_path / "second.log") as twin:
        customer = _get(twin.url, full, f"/api/v3/customers/{created.json()['ActionID']}")
        assert customer.status_code == 200 and customer.json()["CustomerName"] == "Made With A Token"
        assert _get(twin.url, reader).json()["totalItemCount"] == 26
        _refused(_get(twin.url, reader, "/api/v3/contacts"), 403)
        _refused(requests.get(twin.url + "/api/v3/customers", headers={"X-API-KEY": "key-a"}, timeout=10))
