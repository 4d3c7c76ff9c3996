from types import SimpleNamespace

from atera_qbo.export.request_ids import request_id_for


def state(rid, payload_hash="h1", failures=0):
    return SimpleNamespace(request_id=rid, payload_hash=payload_hash, failures=failures)


def test_new_ledger_row_mints_a_fresh_key_each_time():
    a, b = request_id_for("1001", "h1", None), request_id_for("1001", "h1", None)
    assert a != b and a.startswith("1001-") and a.endswith("-0") and len(a) <= 50


def test_lost_answer_reuses_the_key_so_qbo_replays():
    rid = request_id_for("1001", "h1", None)
    assert request_id_for("1001", "h1", state(rid)) == rid


def test_answered_fault_or_changed_payload_gets_a_new_key():
    rid = request_id_for("1001", "h1", None)
    after_fault = request_id_for("1001", "h1", state(rid, failures=1))
    assert after_fault != rid and after_fault.rsplit("-", 1)[0] == rid.rsplit("-", 1)[0]
    assert request_id_for("1001", "h2", state(rid)).rsplit("-", 1)[0] != rid.rsplit("-", 1)[0]


def test_blocked_row_without_a_minted_key_gets_one():
    assert request_id_for("1001", "h1", state("1001")).count("-") == 2
