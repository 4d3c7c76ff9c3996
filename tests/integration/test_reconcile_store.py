"""What reconciliation keeps in staging, on SQLite and PostgreSQL: findings across runs, the QBO records export must
not use, the disconnect guard (reconciliation's pure parts: tests/unit/test_reconcile.py)."""
from __future__ import annotations

from datetime import datetime, timedelta

import pytest

from atera_qbo.errors import ConfigError
from atera_qbo.export.load import blocked_by_reconciliation
from atera_qbo.qbo import connection
from atera_qbo.reconcile import store
from atera_qbo.reconcile.findings import Finding
from atera_qbo.staging.ledger import unusable_targets


def _f(kind="txn_voided", atera="1001", qbo="77", sev="critical", detail="x") -> Finding:
    return Finding(kind, sev, "invoice", atera_id=atera, qbo_id=qbo, detail=detail)


def test_findings_persist_resolve_and_reopen(engine):
    t0 = datetime(2026, 11, 24, 6, 0)
    first = store.record(engine, "r1", [_f(), _f("payment_status", "1002", "78", "warning")], ["txn_voided",
                                                                                                 "payment_status"], t0)
    assert len(first.new) == 2 and not first.resolved
    # next day: the void persists (its detail changed), the payment finding is gone
    t1 = t0 + timedelta(days=1)
    again = _f(detail="now with more words")
    second = store.record(engine, "r2", [again], ["txn_voided", "payment_status"], t1)
    assert [f.key for f in second.persisting] == [again.key] and not second.new
    assert again.first_seen == "2026-11-24 06:00 UTC"
    assert [r["type"] for r in second.resolved] == ["payment_status"]
    # a run that did not check a type leaves its findings alone
    third = store.record(engine, "r3", [], ["payment_status"], t1 + timedelta(days=1))
    assert not third.resolved
    assert set(store.open_since(engine)) == {again.key}
    # a resolved finding that comes back is new again
    fourth = store.record(engine, "r4", [_f("payment_status", "1002", "78", "warning")], ["payment_status"],
                          t1 + timedelta(days=2))
    assert len(fourth.new) == 1 and fourth.new[0].first_seen == "2026-11-27 06:00 UTC"


def test_export_reads_what_reconciliation_found_unusable(engine):
    dead = Finding("mapping_target_deleted", "critical", "customer", atera_id="5", qbo_id="12", detail="merged")
    sleepy = Finding("mapping_target_inactive", "warning", "item", atera_id="product:3", qbo_id="40",
                     detail="inactive")
    store.record(engine, "r1", [dead, sleepy, _f()], ["mapping_target_deleted", "mapping_target_inactive"],
                 datetime(2026, 11, 27))
    unusable = unusable_targets(engine)
    assert set(unusable) == {("customer", "12"), ("item", "40")}
    payload = {"CustomerRef": {"value": "12"}, "Line": [
        {"SalesItemLineDetail": {"ItemRef": {"value": "40"}}}, {"SalesItemLineDetail": {"ItemRef": {"value": "41"}}},
        {"DetailType": "SubTotalLineDetail"}]}
    reasons = blocked_by_reconciliation(payload, unusable)
    assert len(reasons) == 2 and reasons[0].startswith("QBO customer 12: merged") and "QBO item 40" in reasons[1]
    assert blocked_by_reconciliation({"CustomerRef": {"value": "13"}, "Line": []}, unusable) == []


def test_disconnect_needs_the_realm_id_then_refuses_until_a_new_token(engine):
    calls = []

    def disconnect(confirm):
        return connection.disconnect(engine, realm_id="42", confirm=confirm, actor="alice",
                                     seed_refresh_token="RT-seed", stored_refresh_token=lambda: "RT-now",
                                     revoke=calls.append, forget=lambda: calls.append("forget"))

    with pytest.raises(ConfigError, match=r"confirm must be the realm id 42 .* nothing was changed"):
        disconnect("4 2")
    assert calls == [] and connection.latest_event(engine, "42") is None
    connection.require_connected(engine, "42", "RT-seed")  # connected: no-op
    result = disconnect("42")
    assert calls == ["RT-now", "RT-seed", "forget"] and result["revoked"] == 2
    assert disconnect("42")["already_disconnected"] and len(calls) == 3
    for seed in ("RT-seed", None):
        with pytest.raises(connection.DisconnectedError, match=r"disconnected .* by alice: .*NEW refresh token"):
            connection.require_connected(engine, "42", seed)
    connection.require_connected(engine, "42", "RT-new")  # reconnects
    assert connection.latest_event(engine, "42").event == "reconnected"
    connection.require_connected(engine, "42", "RT-new")
    connection.require_connected(engine, "7", None)  # another realm was never disconnected
