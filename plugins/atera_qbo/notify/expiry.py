"""Tokens near their end and a disconnected company (``tell_connections``), checked daily by the reconciliation
task before it talks to either API.

- QBO: the stored refresh token's rolling expiry (Intuit's 100 days, renewed by every rotation) and the grant's hard
  expiry (``qbo.auth.TokenStore.expiries``); a company disconnected on purpose (``qbo.connection.latest_event``);
- Atera: the API token's expiry (``atera.credentials.AteraCredential``, from its ``exp`` claim; a legacy key has none).

Each is told from ``WARN_DAYS`` before its end, again at 7 days, at 1 day and once it has passed (the state told is
its date and that stage, ``notify_items``), and forgotten once renewed. A disconnect is told once per disconnection
and forgotten at the reconnection.
"""
from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

import sqlalchemy as sa

from ..atera.credentials import AteraCredential
from ..config import AteraSettings, conn_info
from ..html import render
from ..qbo.auth import TokenExpiries
from ..qbo.connection import RECONNECT_HOW, latest_event
from .deliver import quietly, tell_new
from .memory import Ids, Item, close_all_but
from .message import Message, first_line, slack_text, subject
from .settings import channels, page

log = logging.getLogger(__name__)

KIND = "expiry"
WARN_DAYS = 30
STAGES = ((0, "expired"), (1, "1 day"), (7, "7 days"), (WARN_DAYS, f"{WARN_DAYS} days"))
QBO_FIX = f"reconnect QuickBooks before then (README 'Disconnecting and reconnecting QBO'): {RECONNECT_HOW}"
ATERA_FIX = ("create a new API token in Atera (Admin → API) and put it in the password of the {conn_id} "
             "connection")


@dataclass(frozen=True)
class Notice:
    key: str
    state: str
    text: str
    when: str
    fix: str

    @property
    def item(self) -> Item:
        return Item(self.key, self.state, self.text)


def stage(days_left: float) -> str | None:
    """Which warning stage ``days_left`` is in (None: more than ``WARN_DAYS`` away)."""
    return next((name for limit, name in STAGES if days_left <= limit), None)


def _expiring(key: str, what: str, at: datetime, moment: datetime, fix: str) -> Notice | None:
    days = (at - moment).total_seconds() / 86400
    reached = stage(days)
    if reached is None:
        return None
    state = f"expired on {at:%Y-%m-%d}" if days <= 0 else f"expires on {at:%Y-%m-%d} (in {days:.0f} day(s))"
    return Notice(key, f"{at:%Y-%m-%d}|{reached}", f"{what} {state}", f"{at:%Y-%m-%d %H:%M} UTC", fix)


def _qbo(engine: sa.Engine, realm_id: Callable[[], str], expiries: Callable[[], TokenExpiries],
         moment: datetime) -> list[Notice]:
    try:
        realm = realm_id()
        event = latest_event(engine, realm)
        if event is not None and event.event == "disconnected":
            return [Notice(f"expiry|qbo-disconnected|{realm}", f"{event.at:%Y-%m-%dT%H:%M:%S}",
                           f"QBO company {realm} was disconnected by {event.actor or 'unknown'}: nothing is exported",
                           f"{event.at:%Y-%m-%d %H:%M} UTC", RECONNECT_HOW)]
        found = expiries()
    except Exception as exc:  # noqa: BLE001 - no QBO connection or token store to check: nothing to tell about it
        log.info("expiry check: QBO skipped (%s)", first_line(exc))
        return []
    notices = [_expiring(f"expiry|qbo|{realm}|{what}", f"QBO realm {realm}: the refresh token's {what}", at, moment,
                         QBO_FIX) for what, at in found.named() if at is not None]
    return [n for n in notices if n is not None]


def atera_credential_from_connection(conn_id: str = "atera_default") -> AteraCredential:
    """The credential of an Atera connection (the company's), as the Atera client builds it."""
    s = AteraSettings.from_conn(conn_info(conn_id), conn_id)
    return AteraCredential.of(s.api_key, s.auth)


def _atera(credential: Callable[[], AteraCredential | None], moment: datetime, conn_id: str) -> list[Notice]:
    try:
        cred = credential()
    except Exception as exc:  # noqa: BLE001 - no Atera connection to check: nothing to tell about it
        log.info("expiry check: Atera skipped (%s)", first_line(exc))
        return []
    if cred is None or cred.expires_at is None:
        return []
    notice = _expiring(f"expiry|atera|{conn_id}", f"the Atera API token of connection {conn_id}", cred.expires_at,
                       moment, ATERA_FIX.format(conn_id=conn_id))
    return [notice] if notice else []


def build(notices: list[Notice], new_keys: set[str]) -> Message:
    first = next(n for n in notices if n.key in new_keys)
    title = f"Connections: {first.text}" + (f" (+{len(notices) - 1} more)" if len(notices) > 1 else "")
    rows = [{"text": n.text, "when": n.when, "fix": n.fix, "is_new": n.key in new_keys} for n in notices]
    context = {"subject": title, "title": title, "notices": rows, "wizard_url": page("/"),
               "lead": "The sync stops talking to QBO or Atera when these run out; each needs a person to act."}
    text = slack_text(title, [f"{n.text} — {n.fix}" for n in notices], [("Atera ↔ QBO in Airflow", page("/"))])
    return Message(KIND, subject(title), render("notify/expiry.html", **context), text, items=len(notices))


@quietly
def tell_connections(engine: sa.Engine, *, ids: Ids, realm_id: Callable[[], str],
                     qbo_expiries: Callable[[], TokenExpiries],
                     atera_credential: Callable[[], AteraCredential | None] | None = None,
                     atera_conn_id: str = "atera_default", now: datetime | None = None) -> str | None:
    """Check both connections of one company and tell what is new: a token entering a warning stage, a
    disconnect. The callables are asked lazily (a missing connection skips its check); the Atera credential is
    the company's connection's (``atera_conn_id``) unless given. Answers ``sent``, ``failed``, ``unchanged`` or None
    (no channel takes expiry messages). Never raises."""
    chans = channels()
    if not chans.reach(KIND):
        return None
    moment = now or datetime.now(UTC)
    moment = moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)
    naive = moment.replace(tzinfo=None)
    credential = atera_credential or (lambda: atera_credential_from_connection(atera_conn_id))
    notices = _qbo(engine, realm_id, qbo_expiries, moment) + _atera(credential, moment, atera_conn_id)
    close_all_but(engine, KIND, {n.key for n in notices}, naive)
    return tell_new(engine, KIND, [n.item for n in notices], chans, ids, naive,
                    lambda new_keys: build(notices, new_keys), record_unchanged=False)
