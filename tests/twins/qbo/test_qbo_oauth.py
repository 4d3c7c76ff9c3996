"""OAuth 2.0 and the API gateway: discovery, refresh rotation, invalid_grant/invalid_client, expiry, revoke, 403."""
from __future__ import annotations

import base64

from qbo_twin_helpers import DEFAULT_REALM_ID


def test_discovery_points_back_at_the_twin(api):
    doc = api.http.get(f"{api.url}/.well-known/openid_configuration", timeout=10).json()
    assert doc["token_endpoint"] == f"{api.url}/oauth2/v1/tokens/bearer"
    assert doc["revocation_endpoint"] == f"{api.url}/v2/oauth2/tokens/revoke"
    for key in ("authorization_endpoint", "issuer", "jwks_uri", "userinfo_endpoint"):
        assert doc[key]


def test_refresh_answers_tokens_and_rotates_the_refresh_token(api):
    first = api.mint_refresh_token()
    r = api.refresh(first)
    assert r.status_code == 200
    doc = r.json()
    assert set(doc) == {"access_token", "refresh_token", "expires_in", "x_refresh_token_expires_in", "token_type"}
    assert doc["expires_in"] == 3600 and doc["x_refresh_token_expires_in"] == 8726400
    assert doc["token_type"] == "bearer"
    assert doc["refresh_token"] != first
    # The used token is spent; the new one works once.
    again = api.refresh(first)
    assert again.status_code == 400 and again.json() == {"error": "invalid_grant"}
    second = api.refresh(doc["refresh_token"])
    assert second.status_code == 200
    assert api.refresh(doc["refresh_token"]).json() == {"error": "invalid_grant"}
    assert api.get("/customer/1", token=second.json()["access_token"]).status_code == 200


def test_unknown_refresh_token_is_invalid_grant(api):
    r = api.refresh("RT1-never-issued")
    assert r.status_code == 400 and r.json()["error"] == "invalid_grant"


def test_wrong_client_credentials_are_invalid_client(api):
    token = api.mint_refresh_token()
    r = api.refresh(token, client_secret="wrong")
    assert r.status_code == 401 and r.json()["error"] == "invalid_client"
    r = api.http.post(f"{api.url}/oauth2/v1/tokens/bearer", data={"grant_type": "refresh_token",
                                                                  "refresh_token": token}, timeout=10)
    assert r.status_code == 401 and r.json()["error"] == "invalid_client"
    # the failed attempts did not spend the token
    assert api.refresh(token).status_code == 200


def test_refresh_token_of_another_client_is_invalid_grant(make_api):
    api = make_api()
    api.twin.oauth.register_client("other-app", "other-secret")
    token = api.mint_refresh_token("other-app")
    assert api.refresh(token).json() == {"error": "invalid_grant"}
    assert api.refresh(token, "other-app", "other-secret").status_code == 200


def test_grants_are_independent(api):
    a, b = api.mint_refresh_token(), api.mint_refresh_token()
    assert api.refresh(a).status_code == 200
    assert api.refresh(b).status_code == 200


def test_unsupported_grant_type(api):
    r = api.http.post(f"{api.url}/oauth2/v1/tokens/bearer", auth=("twin-client-id", "twin-client-secret"),
                      data={"grant_type": "password"}, timeout=10)
    assert r.status_code == 400 and r.json()["error"] == "unsupported_grant_type"


def test_configured_first_refresh_token(make_api):
    api = make_api(refresh_token="RT-from-the-command-line", client_id="cid", client_secret="secret")
    r = api.refresh("RT-from-the-command-line", "cid", "secret")
    assert r.status_code == 200
    assert api.refresh("RT-from-the-command-line", "cid", "secret").json() == {"error": "invalid_grant"}


def _gateway_error(r):
    doc = r.json()
    assert "fault" in doc and "Fault" not in doc  # the gateway's lower-case body
    return doc["fault"]["error"][0]


def test_missing_or_unknown_access_token_is_401_3200(api):
    r = api.http.get(f"{api.base}/customer/1", timeout=10)
    assert r.status_code == 401
    assert _gateway_error(r)["code"] == "3200"
    r = api.get("/customer/1", token="not-a-token")
    assert r.status_code == 401
    error = _gateway_error(r)
    assert error["code"] == "3200"
    assert error["message"] == "message=AuthenticationFailed; errorCode=003200; statusCode=401"
    assert r.json()["fault"]["type"] == "AUTHENTICATION"


def test_access_token_expires_after_an_hour_time_scaled(api):
    token = api.token
    assert api.get("/customer/1").status_code == 200
    api.twin.clock.time_scale = 3600 * 1000  # an hour passes in a millisecond
    import time
    time.sleep(0.01)
    r = api.get("/customer/1", token=token)
    assert r.status_code == 401
    assert _gateway_error(r)["detail"] == "Token expired"


def test_admin_can_expire_access_tokens(api):
    token = api.token
    assert api.control.expire_access_tokens() >= 1
    assert api.get("/customer/1", token=token).status_code == 401


def test_revoke_ends_the_grant(api):
    first = api.mint_refresh_token()
    doc = api.refresh(first).json()
    auth = "Basic " + base64.b64encode(b"twin-client-id:twin-client-secret").decode()
    r = api.http.post(f"{api.url}/v2/oauth2/tokens/revoke", json={"token": doc["refresh_token"]},
                      headers={"Authorization": auth}, timeout=10)
    assert r.status_code == 200
    assert api.refresh(doc["refresh_token"]).json() == {"error": "invalid_grant"}
    assert api.get("/customer/1", token=doc["access_token"]).status_code == 401


def test_other_realm_is_403_3100(api):
    r = api.http.get(f"{api.url}/v3/company/1234/customer/1", headers=api.headers(), timeout=10)
    assert r.status_code == 403
    error = _gateway_error(r)
    assert error["code"] == "3100"
    assert error["message"] == "message=AuthorizationFailed; errorCode=003100; statusCode=403"
    assert api.realm == DEFAULT_REALM_ID


def test_authorization_code_flow(api):
    from urllib.parse import parse_qs, urlencode, urlsplit

    from sandbox.control import QboControl
    authorize = f"{api.url}/connect/oauth2?" + urlencode({
        "client_id": "twin-client-id", "redirect_uri": "http://127.0.0.1/cb", "response_type": "code",
        "scope": "com.intuit.quickbooks.accounting", "state": "xyz"})
    page = api.http.get(authorize, timeout=10)  # the consent page: a browser's user answers it
    assert page.status_code == 200 and 'id="approve"' in page.text and 'id="cancel"' in page.text
    cancelled = parse_qs(urlsplit(QboControl.consent(authorize, approve=False)).query)
    assert cancelled == {"error": ["access_denied"], "state": ["xyz"]}  # Cancel: no code, the state
    query = parse_qs(urlsplit(QboControl.consent(authorize)).query)
    assert query["state"] == ["xyz"] and query["realmId"] == [DEFAULT_REALM_ID]
    code = query["code"][0]
    form = {"grant_type": "authorization_code", "code": code, "redirect_uri": "http://127.0.0.1/other"}
    auth = ("twin-client-id", "twin-client-secret")
    url = f"{api.url}/oauth2/v1/tokens/bearer"
    assert api.http.post(url, data=form, auth=auth, timeout=10).json() == {"error": "invalid_grant"}
    form["redirect_uri"] = "http://127.0.0.1/cb"
    doc = api.http.post(url, data=form, auth=auth, timeout=10).json()
    assert doc["access_token"] and doc["refresh_token"]
    assert api.http.post(url, data=form, auth=auth, timeout=10).json() == {"error": "invalid_grant"}  # single use
    assert api.get("/customer/1", token=doc["access_token"]).status_code == 200


def test_custom_realm_id(make_api):
    api = make_api(realm_id="4620816365212345678")
    assert api.get("/customer/1").status_code == 200
    r = api.http.get(f"{api.url}/v3/company/{DEFAULT_REALM_ID}/customer/1", headers=api.headers(), timeout=10)
    assert r.status_code == 403
    # the grant's answer names its realm: the route's own body is the subject, so raw HTTP
    doc = api.admin("POST", "/oauth/refresh-token", json={"client_id": "twin-client-id"}).json()
    assert doc["realm_id"] == "4620816365212345678"
