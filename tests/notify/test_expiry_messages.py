"""Tokens near their end and a disconnected company: told from 30 days before, again at 7 days, 1 day and once
expired, never twice in a stage; forgotten once renewed; a disconnect told once. On SQLite and PostgreSQL."""
from __future__ import annotations

import base64
import json
from datetime import UTC, datetime, timedelta

import pytest
from markupsafe import escape

from atera_qbo.atera.credentials import AteraCredential
from atera_qbo.notify.expiry import stage, tell_connections
from atera_qbo.qbo.auth import TokenExpiries
from atera_qbo.qbo.connection import RECONNECT_HOW
from atera_qbo.staging.db import table

NOW = datetime(2026, 11, 27, 6, 0, tzinfo=UTC)
IDS = {"dag_id": "atera_qbo_reconciliation", "run_id": "scheduled__2026-11-27", "task_id": "reconcile"}
REALM = "9341453050298751"


def jwt(exp: datetime) -> str:
    def part(obj: dict) -> str:
        return base64.urlsafe_b64encode(json.dumps(obj).encode()).decode().rstrip("=")

    return f"{part({'alg': 'RS256', 'typ': 'JWT'})}.{part({'exp': int(exp.timestamp())})}.c2lnbmF0dXJl"


def check(engine, *, rolling: datetime | None = None, hard: datetime | None = None, atera: datetime | None = None,
          now: datetime = NOW) -> str | None:
    cred = AteraCredential.of(jwt(atera)) if atera else AteraCredential.of("legacy-api-key-1234")
    return tell_connections(engine, ids=IDS, realm_id=lambda: REALM,
                            qbo_expiries=lambda: TokenExpiries(rolling, hard), atera_credential=lambda: cred, now=now)


@pytest.mark.parametrize(("days", "expected"), [(45, None), (30, "30 days"), (8, "30 days"), (7, "7 days"),
                                                (0.5, "1 day"), (0, "expired"), (-3, "expired")])
def test_the_warning_stages(days, expected):
    assert stage(days) == expected


def test_a_token_is_told_once_per_stage_and_forgotten_once_renewed(engine, smtp_server, webhook, configure):
    configure(smtp=smtp_server, slack=webhook, to={"expiry": ["admin@example.com"]})
    hard = NOW + timedelta(days=20)
    assert check(engine, rolling=NOW + timedelta(days=90), hard=hard) == "sent"
    (mail,) = smtp_server.mails
    assert mail.recipients == ["admin@example.com"]
    assert mail.subject == (f"[Atera ↔ QBO] Connections: QBO realm {REALM}: the refresh token's hard expiry expires "
                            f"on {hard:%Y-%m-%d} (in 20 day(s))")
    assert "reconnect QuickBooks before then" in mail.html and str(escape(RECONNECT_HOW)) in mail.html
    for day in range(1, 13):  # still in the 30-day stage: nothing
        assert check(engine, rolling=NOW + timedelta(days=90), hard=hard, now=NOW + timedelta(days=day)) \
            == "unchanged"
    assert check(engine, hard=hard, now=NOW + timedelta(days=13)) == "sent"  # 7 days left
    assert check(engine, hard=hard, now=NOW + timedelta(days=20, hours=1)) == "sent"  # expired
    assert "expired on" in smtp_server.mails[-1].subject and len(smtp_server.mails) == 3
    # reconnected: a new grant, its hard end years away; then a new grant that nears its end is news again
    assert check(engine, hard=NOW + timedelta(days=1800), now=NOW + timedelta(days=21)) == "unchanged"
    assert check(engine, hard=NOW + timedelta(days=60), now=NOW + timedelta(days=21)) == "unchanged"
    assert check(engine, hard=NOW + timedelta(days=60), now=NOW + timedelta(days=31)) == "sent"
    assert len(webhook.posts) == 4


def test_the_atera_token_is_told_with_its_fix(engine, smtp_server, configure):
    configure(smtp=smtp_server, to="admin@example.com")
    assert check(engine, atera=NOW + timedelta(days=5)) == "sent"
    (mail,) = smtp_server.mails
    assert "the Atera API token of connection atera_default expires on" in mail.subject
    assert "Admin → API" in mail.html and "atera_default" in mail.html
    assert check(engine, atera=NOW + timedelta(days=5), now=NOW + timedelta(hours=20)) == "unchanged"


def test_a_disconnected_company_is_told_once(engine, smtp_server, configure):
    configure(smtp=smtp_server, to="admin@example.com")
    with engine.begin() as conn:
        conn.execute(table("qbo_connection_events").insert().values(
            event_id="e1", realm_id=REALM, event="disconnected", at=datetime(2026, 11, 26, 17, 5), actor="anna",
            seed_fingerprint=None, detail=""))
    assert check(engine, hard=NOW + timedelta(days=3)) == "sent"  # the stored token is gone: only the disconnect
    (mail,) = smtp_server.mails
    assert mail.subject == (f"[Atera ↔ QBO] Connections: QBO company {REALM} was disconnected by anna: nothing is "
                            "exported")
    assert str(escape(RECONNECT_HOW)) in mail.html and "2026-11-26 17:05 UTC" in mail.html
    assert check(engine, now=NOW + timedelta(days=1)) == "unchanged"


def test_a_connection_that_cannot_be_read_skips_its_check(engine, smtp_server, configure):
    from atera_qbo.errors import ConfigError

    def missing() -> str:
        raise ConfigError("Airflow connection 'quickbooks_default' is not defined")

    configure(smtp=smtp_server, to="admin@example.com")
    assert tell_connections(engine, ids=IDS, realm_id=missing, qbo_expiries=lambda: TokenExpiries(None, None),
                            atera_credential=lambda: None, now=NOW) == "unchanged"
    assert smtp_server.mails == []
