"""What the ``atera_default`` connection's password is, and how Atera wants it sent.

Atera's OpenAPI document declares one security scheme, ``Authorization: Bearer <JWT>``: Atera is moving accounts
from legacy API keys (``X-API-KEY: <key>``) to expiring, scoped tokens (Read/Write/Delete per area, at most a
year). A JWT-shaped secret (three base64url parts whose first decodes to a JSON header with ``alg``) is sent as a
bearer token, anything else as a legacy key; the connection's extra ``auth`` (``bearer`` | ``api_key``) forces
either. A token's expiry is read from its ``exp`` claim (not verified: Atera verifies; we only want the date) and
warned about from ``EXPIRY_WARNING_DAYS`` before.
"""
from __future__ import annotations

import base64
import binascii
import json
import logging
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Any

from ..errors import ConfigError

log = logging.getLogger(__name__)

EXPIRY_WARNING_DAYS = 30


class AteraAuth(StrEnum):
    BEARER = "bearer"  # a token: Authorization: Bearer <jwt>
    API_KEY = "api_key"  # a legacy key: X-API-KEY: <key>


def _b64json(part: str) -> Any:
    padded = part + "=" * (-len(part) % 4)
    return json.loads(base64.urlsafe_b64decode(padded.encode("ascii")))


def jwt_claims(secret: str) -> dict[str, Any] | None:
    """The claims of a JWT-shaped secret (header with ``alg``, JSON payload), else None. Nothing is verified."""
    parts = secret.split(".")
    if len(parts) != 3 or not all(parts[:2]):
        return None
    try:
        header, claims = _b64json(parts[0]), _b64json(parts[1])
    except (ValueError, UnicodeError, binascii.Error):
        return None
    if not isinstance(header, dict) or "alg" not in header or not isinstance(claims, dict):
        return None
    return claims


@dataclass(frozen=True)
class AteraCredential:
    secret: str = field(repr=False)
    auth: AteraAuth
    expires_at: datetime | None = None  # UTC, from a token's exp claim

    @classmethod
    def of(cls, secret: str, forced: str | None = None, name: str = "atera_default") -> AteraCredential:
        """The credential a connection's password stands for; ``forced`` is the extra ``auth``."""
        if not secret:
            raise ConfigError(f"connection {name}: password (the Atera API token or key) is empty")
        claims = jwt_claims(secret)
        if forced:
            try:
                auth = AteraAuth(forced.strip().lower())
            except ValueError as exc:
                raise ConfigError(f"connection {name}: extra auth={forced!r} is not bearer or api_key") from exc
        else:
            auth = AteraAuth.BEARER if claims is not None else AteraAuth.API_KEY
        exp = (claims or {}).get("exp")
        expires = datetime.fromtimestamp(exp, UTC) if isinstance(exp, (int, float)) else None
        return cls(secret, auth, expires)

    @property
    def what(self) -> str:
        return "API token" if self.auth == AteraAuth.BEARER else "legacy API key"

    def headers(self) -> dict[str, str]:
        if self.auth == AteraAuth.BEARER:
            return {"Authorization": f"Bearer {self.secret}"}
        return {"X-API-KEY": self.secret}

    def days_left(self, now: datetime | None = None) -> float | None:
        if self.expires_at is None:
            return None
        return (self.expires_at - (now or datetime.now(UTC))) / timedelta(days=1)

    def warn_if_expiring(self, now: datetime | None = None) -> str | None:
        """A warning (logged, and answered) when a token expires within ``EXPIRY_WARNING_DAYS`` or has expired."""
        left = self.days_left(now)
        if left is None or left > EXPIRY_WARNING_DAYS or self.expires_at is None:
            return None
        when = f"{self.expires_at:%Y-%m-%d %H:%M} UTC"
        text = (f"the Atera API token expired on {when}" if left <= 0 else
                f"the Atera API token expires on {when} (in {left:.0f} day(s))") + \
            ": create a new token in Atera (Admin → API) and put it in the password of the atera_default connection"
        log.warning(text)
        return text

    def refusal_hint(self, status: int) -> str:
        """What to do about a 401/403 from Atera, for this kind of credential."""
        if status == 401 and self.auth == AteraAuth.BEARER:
            expired = self.days_left() is not None and (self.days_left() or 0) <= 0
            why = f"it expired on {self.expires_at:%Y-%m-%d}" if expired and self.expires_at else \
                "expired, revoked, or from another account"
            return (f"Atera refused the API token ({why}): create a new token in Atera (Admin → API) and put it in "
                    "the password of the atera_default connection")
        if status == 401:
            return ("Atera refused the legacy API key (bad or revoked): put a valid API token (Atera: Admin → API) "
                    "in the password of the atera_default connection")
        if self.auth == AteraAuth.BEARER:
            return ("the Atera API token lacks the scope for this: give it Read (and Write where the sync writes: "
                    "customers, rates) on the areas the sync uses, or create a token with them")
        return "the Atera API key may not do this: use a key of an Atera admin, or an API token with the scopes"
