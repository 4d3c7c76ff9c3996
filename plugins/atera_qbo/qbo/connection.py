"""Disconnect and reconnect a QBO company (realm) without losing history.

Disconnect revokes the refresh token at Intuit (which ends its access tokens too), deletes the stored tokens and
records who disconnected and when in ``qbo_connection_events``; mappings, the export ledger and the reports stay.
While disconnected every QBO call refuses with how to reconnect. Reconnecting is putting a NEW refresh token in
the connection: the next run sees a token other than the one in force at the disconnect (compared by
fingerprint, never stored in clear), records the reconnection and seeds the token store from it.
"""
from __future__ import annotations

import hashlib
import logging
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa

from ..config import page_url
from ..errors import ApiError, ConfigError
from ..staging.db import table, utcnow

log = logging.getLogger(__name__)

RECONNECT_HOW = (f"to reconnect, press Reconnect on the Accounting page ({page_url('/accounting')}), or for a "
                 "headless deployment put a NEW refresh token in the quickbooks_default connection "
                 "(extra.refresh_token); the next run resumes where it left off (nothing already exported is sent "
                 "again)")
NOT_CONNECTED = (f"QuickBooks Online is not connected: connect it on the Connect page ({page_url('/connect')}), or "
                 "for a headless deployment put extra.realm_id and extra.refresh_token in the quickbooks_default "
                 "connection")


class DisconnectedError(ConfigError):
    """The realm was disconnected on purpose."""


def fingerprint(token: str | None) -> str | None:
    return hashlib.sha256(token.encode()).hexdigest()[:24] if token else None


@dataclass
class Event:
    event: str
    at: Any
    actor: str | None
    seed_fingerprint: str | None


def latest_event(engine: sa.Engine, realm_id: str) -> Event | None:
    tbl = table("qbo_connection_events")
    with engine.connect() as conn:
        row = conn.execute(sa.select(tbl).where(tbl.c.realm_id == realm_id)
                           .order_by(tbl.c.at.desc(), tbl.c.event_id.desc()).limit(1)).first()
    return Event(row.event, row.at, row.actor, row.seed_fingerprint) if row else None


def current_realm(engine: sa.Engine) -> str | None:
    """The company the sync works for when the connection names none: the realm of the latest connection event
    (Connect, reconnect, disconnect: a disconnected one is still the company, and refuses), else of a stored
    token chain (a headless seed)."""
    events, tokens = table("qbo_connection_events"), table("oauth_tokens")
    with engine.connect() as conn:
        realm = conn.execute(sa.select(events.c.realm_id).order_by(events.c.at.desc(), events.c.event_id.desc())
                             .limit(1)).scalar()
        if realm is None:
            realm = conn.execute(sa.select(tokens.c.realm_id).order_by(tokens.c.updated_at.desc()).limit(1)).scalar()
    return str(realm) if realm is not None else None


def record_connected(engine: sa.Engine, realm_id: str, actor: str | None, detail: str) -> None:
    """A Connect (or Reconnect) from the browser: the company is connected from now on, by ``actor``."""
    with engine.begin() as conn:
        _record(conn, engine, realm_id, "connected", actor, None, detail)
    log.info("QBO company %s connected by %s (%s)", realm_id, actor, detail)


def connected_since(engine: sa.Engine, realm_id: str) -> Event | None:
    """The event that connected the realm as it is now (None when disconnected or never connected here)."""
    tbl = table("qbo_connection_events")
    with engine.connect() as conn:
        rows = conn.execute(sa.select(tbl).where(tbl.c.realm_id == realm_id)
                            .order_by(tbl.c.at.desc(), tbl.c.event_id.desc())).all()
    if not rows or rows[0].event == "disconnected":
        return None
    first = rows[0]
    return Event(first.event, first.at, first.actor, first.seed_fingerprint)


def _record(conn: sa.Connection, engine: sa.Engine, realm_id: str, event: str, actor: str | None,
            seed: str | None, detail: str) -> None:
    conn.execute(sa.insert(table("qbo_connection_events")).values(
        event_id=uuid.uuid4().hex, realm_id=realm_id, event=event, at=utcnow(), actor=actor,
        seed_fingerprint=fingerprint(seed), detail=detail))


def require_connected(engine: sa.Engine, realm_id: str, seed_refresh_token: str | None) -> None:
    """Refuse while the realm is disconnected; a new refresh token in the connection reconnects it."""
    last = latest_event(engine, realm_id)
    if last is None or last.event != "disconnected":
        return
    if not seed_refresh_token or fingerprint(seed_refresh_token) == last.seed_fingerprint:
        raise DisconnectedError(f"QBO company {realm_id} was disconnected on {last.at:%Y-%m-%d %H:%M} UTC by "
                                f"{last.actor or 'unknown'}: {RECONNECT_HOW}")
    with engine.begin() as conn:
        _record(conn, engine, realm_id, "reconnected", None, seed_refresh_token,
                "a new refresh token was found in the connection")
    log.info("QBO company %s reconnected with a new refresh token", realm_id)


def disconnect(engine: sa.Engine, *, realm_id: str, confirm: str | None, actor: str | None,
               seed_refresh_token: str | None, stored_refresh_token: Callable[[], str | None],
               revoke: Callable[[str], None], forget: Callable[[], None]) -> dict[str, Any]:
    """Revoke, forget the tokens, record. ``confirm`` must be the realm id, else nothing changes. A revoke Intuit
    refuses (or cannot be reached for) does not stop the rest: the tokens are deleted and the disconnect recorded
    all the same, and the answer says which revokes failed (the app can also be disconnected in Intuit's app
    management, which revokes every token)."""
    if (confirm or "").strip() != realm_id:
        raise ConfigError(f"refused: param confirm must be the realm id {realm_id} of the company to disconnect "
                          f"(got {confirm!r}); nothing was changed")
    last = latest_event(engine, realm_id)
    if last is not None and last.event == "disconnected":
        return {"realm_id": realm_id, "already_disconnected": True, "at": str(last.at)}
    revoked, refused = [], []
    for token in dict.fromkeys(t for t in (stored_refresh_token(), seed_refresh_token) if t):
        try:
            revoke(token)
            revoked.append(fingerprint(token))
        except (ApiError, ConfigError) as exc:  # the rest of the disconnect must happen all the same
            refused.append(str(exc))
            log.warning("QBO company %s: revoking a refresh token failed (%s); the disconnect goes on", realm_id,
                        exc)
    forget()
    detail = f"revoked {len(revoked)} refresh token(s); stored tokens deleted"
    if refused:
        detail += f"; {len(refused)} revoke(s) refused: {'; '.join(refused)[:500]}"
    with engine.begin() as conn:
        _record(conn, engine, realm_id, "disconnected", actor, seed_refresh_token, detail)
    log.info("QBO company %s disconnected by %s (%d token(s) revoked, %d refused)", realm_id, actor, len(revoked),
             len(refused))
    out: dict[str, Any] = {"realm_id": realm_id, "revoked": len(revoked), "by": actor,
                           "how_to_reconnect": RECONNECT_HOW}
    if refused:
        out["revoke_refused"] = refused
        out["note"] = ("Intuit did not revoke every token: the stored tokens were deleted and the disconnect "
                       "recorded anyway; to be sure, disconnect the app in Intuit's app management too")
    return out
