"""Disconnect when Intuit refuses a revoke: the stored tokens are deleted and the event recorded all the same, and
the answer says which revoke failed; every QBO call then refuses until a new token reconnects."""
from __future__ import annotations

import pytest

from atera_qbo.errors import AuthError, RetriableApiError
from atera_qbo.qbo import connection


@pytest.mark.parametrize("failure", [AuthError("QBO token revoke refused (HTTP 400)", status=400),
                                     RetriableApiError("QBO token revoke: ConnectionError")])
def test_a_refused_revoke_still_forgets_the_tokens_and_records_the_disconnect(engine, failure):
    forgotten: list[str] = []

    def revoke(token: str) -> None:
        if token == "RT-now":
            raise failure

    result = connection.disconnect(engine, realm_id="42", confirm="42", actor="alice", seed_refresh_token="RT-seed",
                                   stored_refresh_token=lambda: "RT-now", revoke=revoke,
                                   forget=lambda: forgotten.append("forget"))
    assert forgotten == ["forget"]
    assert result["revoked"] == 1 and len(result["revoke_refused"]) == 1
    assert str(failure) in result["revoke_refused"][0] and "disconnect the app in Intuit" in result["note"]
    event = connection.latest_event(engine, "42")
    assert event is not None and event.event == "disconnected" and event.actor == "alice"
    with pytest.raises(connection.DisconnectedError, match="disconnected"):
        connection.require_connected(engine, "42", "RT-seed")
