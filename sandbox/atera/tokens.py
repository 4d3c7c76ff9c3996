"""Atera's API tokens as the twin mints and checks them: ``Authorization: Bearer <JWT>``, the one security scheme of
Atera's OpenAPI document. Tokens expire (at most a year after they are made) and may be scoped per area with the
rights ``read``, ``write`` and ``delete``.

- A token is an HS256 JWT: header ``{"alg":"HS256","typ":"JWT"}``, claims ``iss``, ``account_id`` (the account's
  ``AccountID``), ``iat`` and ``exp`` (epoch seconds), ``jti``, and ``scopes`` when the token is scoped (absent: every
  area, every right).
- The signing key of an account is derived from its API key (``signing_key``): nothing secret is stored, and a twin
  restarted on its state file with the same ``--api-key`` still accepts the tokens it minted.
- Expiry follows the twin's clock: a token is expired once ``exp - iat`` vendor-seconds have passed since ``iat``
  (``Clock.elapsed``: time-scaled, and moved by a manual clock in tests).
- A request's area is the first path segment after ``/api/v3`` (``customers``, ``rates``, ``billing``, ...); its right
  is ``read`` for GET/HEAD, ``write`` for POST/PUT/PATCH, ``delete`` for DELETE.

No HTTP here: ``server.AteraTwin`` answers 401 (empty body) for a token ``verify`` refuses and 403 (empty body) for a
request ``permits`` refuses.
"""
from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

HEADER = {"alg": "HS256", "typ": "JWT"}
ISSUER = "sandbox-atera-twin"
MAX_LIFETIME = 365 * 86400  # "at most 1 year": 365 days
RIGHTS = ("read", "write", "delete")
# The top-level path segments of Atera's API v3 (its OpenAPI document): the areas a token is scoped by.
AREAS = frozenset({"account", "agents", "alerts", "billing", "contacts", "contracts", "customers", "customvalues",
                   "departments", "devices", "knowledgebases", "rates", "tickets", "workhours"})
_RIGHT_OF_METHOD = {"GET": "read", "HEAD": "read", "POST": "write", "PUT": "write", "PATCH": "write",
                    "DELETE": "delete"}
API_PREFIX = "/api/v3/"

Scopes = dict[str, list[str]]


class TokenRequestError(ValueError):
    """A mint request the twin refuses (answered 400 with the message)."""


@dataclass(frozen=True)
class Claims:
    account_id: str
    issued: int
    expires: int
    scopes: Scopes | None  # None: every area, every right


def signing_key(api_key: str) -> bytes:
    """The HMAC key of an account's tokens, derived from its API key (deterministic across restarts)."""
    return hashlib.sha256(b"sandbox-atera-jwt/v1\x00" + api_key.encode("utf-8")).digest()


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _json(obj: Any) -> bytes:
    return json.dumps(obj, separators=(",", ":")).encode("utf-8")


def _sign(key: bytes, signing_input: str) -> str:
    return _b64(hmac.new(key, signing_input.encode("ascii"), hashlib.sha256).digest())


def mint(api_key: str, account_id: str, issued: float, expires_in: int, scopes: Scopes | None) -> tuple[str, int]:
    """A signed token of the account: (the JWT, its ``exp``)."""
    iat = int(issued)
    claims: dict[str, Any] = {"iss": ISSUER, "account_id": account_id, "iat": iat, "exp": iat + expires_in,
                              "jti": uuid.uuid4().hex}
    if scopes is not None:
        claims["scopes"] = scopes
    signing_input = f"{_b64(_json(HEADER))}.{_b64(_json(claims))}"
    return f"{signing_input}.{_sign(signing_key(api_key), signing_input)}", iat + expires_in


def expires_at(exp: int) -> str:
    """``exp`` as the mint route answers it: ISO 8601, UTC, ``Z``."""
    return datetime.fromtimestamp(exp, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def looks_like_jwt(token: str) -> bool:
    return token.count(".") == 2


def _read(token: str) -> Claims | None:
    """The claims of a well-formed HS256 JWT (signature NOT checked), or None."""
    if not looks_like_jwt(token):
        return None
    header_b64, claims_b64, _ = token.split(".")
    try:
        header = json.loads(_unb64(header_b64))
        claims = json.loads(_unb64(claims_b64))
    except (ValueError, binascii.Error, UnicodeDecodeError):
        return None
    if not isinstance(header, dict) or header.get("alg") != "HS256" or not isinstance(claims, dict):
        return None
    account_id, iat, exp, scopes = (claims.get(k) for k in ("account_id", "iat", "exp", "scopes"))
    if not isinstance(account_id, str) or not isinstance(iat, int) or not isinstance(exp, int) \
            or isinstance(iat, bool) or isinstance(exp, bool):
        return None
    if scopes is not None and not isinstance(scopes, dict):
        return None
    return Claims(account_id, iat, exp, scopes)


def verify(token: str, api_key_of: Callable[[str], str | None],
           elapsed: Callable[[float], float]) -> Claims | None:
    """The claims of a token this twin minted, unexpired; None for anything else (forged, expired, malformed, an
    account the twin does not have). ``api_key_of`` maps an AccountID to its key; ``elapsed`` is ``Clock.elapsed``."""
    claims = _read(token)
    if claims is None:
        return None
    api_key = api_key_of(claims.account_id)
    if api_key is None:
        return None
    signing_input, _, signature = token.rpartition(".")
    if not hmac.compare_digest(_sign(signing_key(api_key), signing_input), signature):
        return None
    if claims.expires <= claims.issued or elapsed(claims.issued) >= claims.expires - claims.issued:
        return None
    return claims


def area_of(path: str) -> str | None:
    """The area of an API path (``/api/v3/rates/products`` → ``rates``); None outside Atera's areas."""
    lowered = path.lower()
    if not lowered.startswith(API_PREFIX):
        return None
    area = lowered[len(API_PREFIX):].split("/", 1)[0]
    return area if area in AREAS else None


def permits(scopes: Scopes | None, method: str, path: str) -> bool:
    """Whether a token with ``scopes`` may make this request (paths outside the areas are not scope-checked: they
    have no endpoint, and are answered 404)."""
    area = area_of(path)
    if scopes is None or area is None:
        return True
    return _RIGHT_OF_METHOD.get(method.upper(), "read") in scopes.get(area, [])


def parse_scopes(doc: Any) -> Scopes | None:
    """``{"customers": ["read", "write"], ...}`` → normalised scopes (lower case); absent/null → None (all)."""
    if doc is None:
        return None
    if not isinstance(doc, dict):
        raise TokenRequestError('scopes must be an object like {"customers": ["read", "write"]}')
    scopes: Scopes = {}
    for area, rights in doc.items():
        name = str(area).lower()
        if name not in AREAS:
            raise TokenRequestError(f"unknown scope area {area!r}; areas: {', '.join(sorted(AREAS))}")
        if not isinstance(rights, list) or not all(isinstance(r, str) and r.lower() in RIGHTS for r in rights):
            raise TokenRequestError(f"scopes[{area!r}] must be a list of {', '.join(RIGHTS)}")
        scopes[name] = sorted({r.lower() for r in rights}, key=RIGHTS.index)
    return scopes


def parse_expires_in(value: Any) -> int:
    if value is None:
        raise TokenRequestError('expires_in (seconds) is required: {"expires_in": 3600}')
    if not isinstance(value, int) or isinstance(value, bool) or value <= 0:
        raise TokenRequestError("expires_in must be a positive integer (seconds)")
    if value > MAX_LIFETIME:
        raise TokenRequestError(f"expires_in must be at most one year ({MAX_LIFETIME} seconds): Atera's tokens "
                                f"expire within a year")
    return value
