"""An Atera connection holds an API token (a JWT, sent as a bearer token) or a legacy key (X-API-KEY): which one is
told by its shape, or forced by the extra ``auth``; a token's expiry comes from its ``exp`` claim and is warned
about 30 days ahead; Atera's refusals say which credential failed and what to do."""
from __future__ import annotations

import base64
import json
from datetime import UTC, datetime, timedelta

import pytest

from atera_qbo.atera.credentials import AteraAuth, AteraCredential, jwt_claims
from atera_qbo.errors import ConfigError

NOW = datetime(2026, 12, 6, 12, 0, tzinfo=UTC)


def b64(doc: dict) -> str:
    return base64.urlsafe_b64encode(json.dumps(doc).encode()).decode().rstrip("=")


def token(exp: datetime | None = None, **claims) -> str:
    body = {"sub": "atera-api", **claims, **({"exp": int(exp.timestamp())} if exp else {})}
    return f"{b64({'alg': 'RS256', 'typ': 'JWT'})}.{b64(body)}.c2lnbmF0dXJl"


def test_a_jwt_is_sent_as_a_bearer_token_and_a_key_as_x_api_key():
    jwt = token(NOW + timedelta(days=200))
    assert AteraCredential.of(jwt).auth == AteraAuth.BEARER
    assert AteraCredential.of(jwt).headers() == {"Authorization": f"Bearer {jwt}"}
    assert AteraCredential.of("a1b2c3d4e5f60718293a4b5c6d7e8f90").headers() == {
        "X-API-KEY": "a1b2c3d4e5f60718293a4b5c6d7e8f90"}
    assert AteraCredential.of("a.b.c").auth == AteraAuth.API_KEY  # dotted, but no JWT header inside


def test_the_extra_auth_forces_either_and_a_bad_value_is_named():
    assert AteraCredential.of("legacy-key", "bearer").headers() == {"Authorization": "Bearer legacy-key"}
    assert AteraCredential.of(token(), "API_KEY").auth == AteraAuth.API_KEY
    with pytest.raises(ConfigError, match="extra auth='oauth' is not bearer or api_key"):
        AteraCredential.of("k", "oauth")
    with pytest.raises(ConfigError, match=r"password .* is empty"):
        AteraCredential.of("")


def test_a_tokens_expiry_is_read_and_warned_about_from_30_days_before(caplog):
    soon = AteraCredential.of(token(NOW + timedelta(days=12)))
    assert soon.expires_at == (NOW + timedelta(days=12)).replace(microsecond=0)
    with caplog.at_level("WARNING"):
        text = soon.warn_if_expiring(NOW)
    assert text is not None and "expires on 2026-12-18" in text and "in 12 day(s)" in text
    assert "create a new token" in caplog.text and soon.secret not in caplog.text  # never the secret
    assert AteraCredential.of(token(NOW + timedelta(days=45))).warn_if_expiring(NOW) is None
    assert AteraCredential.of(token()).warn_if_expiring(NOW) is None  # no exp: nothing to warn about
    gone = AteraCredential.of(token(NOW - timedelta(days=1)))
    assert "expired on 2026-12-05" in (gone.warn_if_expiring(NOW) or "")


def test_refusals_say_which_credential_failed_and_what_to_do():
    expired = AteraCredential.of(token(datetime.now(UTC) - timedelta(days=3)))
    assert "refused the API token (it expired on" in expired.refusal_hint(401)
    assert "create a new token" in expired.refusal_hint(401)
    assert "lacks the scope" in AteraCredential.of(token()).refusal_hint(403)
    assert "legacy API key (bad or revoked)" in AteraCredential.of("k").refusal_hint(401)
    assert "Atera admin" in AteraCredential.of("k").refusal_hint(403)


def test_claims_of_malformed_tokens_are_none_never_an_error():
    assert jwt_claims("not-a-token") is None
    assert jwt_claims("x.y.z") is None
    assert jwt_claims(f"{b64({'alg': 'none'})}.!!!.sig") is None
    assert jwt_claims(token(NOW))["exp"] == int(NOW.timestamp())
