"""Connect from the browser, against the QBO twin over real HTTP: Intuit's authorization-code flow with the
endpoints of the twin's discovery document, a state bound to the user and used once; every refusal (Cancel on the
consent page, a replayed callback, a wrong state, an expired or used code) ends on a page saying what happened,
with nothing stored; another company than the staged one only with the user's confirmation; then the Accounting
page shows the company, and Disconnect there (typing its name) makes every QBO call refuse, naming the page."""
from __future__ import annotations

import json
from urllib.parse import parse_qs, urlsplit

import pytest
import sqlalchemy as sa

from atera_qbo.errors import ConfigError
from atera_qbo.hooks import QuickBooksHook
from atera_qbo.staging.db import table
from sandbox.control import QboControl
from sandbox.launch import start_twin
from tests.webui.conftest import ORIGIN, csrf_of

REALM = "9130355674319187"
CLIENT = ("connect-client-id", "connect-client-secret")


@pytest.fixture
def qbo_twin(tmp_path):
    twin = start_twin("qbo", ["--seed", "demo", "--realm-id", REALM, "--client-id", CLIENT[0],
                              "--client-secret", CLIENT[1]], log_path=tmp_path / "qbo.log")
    yield twin
    twin.stop()


@pytest.fixture
def connectable(world, qbo_twin, monkeypatch):
    """A fresh deployment: the Intuit app's client id and secret in the connection, nothing else."""
    engine = world["engine"]
    if engine.dialect.name != "sqlite":
        pytest.skip("the connection names the SQLite file; the flow is the same on PostgreSQL")
    monkeypatch.setenv("AIRFLOW__API__BASE_URL", ORIGIN)
    monkeypatch.setenv("AIRFLOW_CONN_ATERA_QBO_STAGING",
                       json.dumps({"conn_type": "sqlite", "host": engine.url.database}))
    monkeypatch.setenv("AIRFLOW_CONN_QUICKBOOKS_DEFAULT", json.dumps({
        "conn_type": "http", "host": qbo_twin.url, "login": CLIENT[0], "password": CLIENT[1],
        "extra": {"discovery_url": f"{qbo_twin.url}/.well-known/openid_configuration",
                  "oauth_base_url": qbo_twin.url, "environment": "sandbox"}}))
    world["login"]("admin", "admin")
    return {**world, "twin": qbo_twin}


def to_intuit(client) -> str:
    """Press Connect: answers the URL of Intuit's (the twin's) consent page."""
    token = csrf_of(client.get("/atera-qbo/connect").text)
    start = client.post("/atera-qbo/connect/start", data={"csrf": token}, headers={"Origin": ORIGIN},
                        follow_redirects=False)
    assert start.status_code == 303
    return start.headers["location"]


def consent(url: str, *, approve: bool = True) -> str:
    """The user answers the consent page (Connect, or Cancel): the callback (path and query) Intuit redirects to."""
    location = QboControl.consent(url, approve=approve)
    assert location.startswith(f"{ORIGIN}/atera-qbo/connect/callback?")
    return location.removeprefix(ORIGIN)


def stored(engine) -> tuple[int, int]:
    with engine.connect() as conn:
        return (conn.execute(sa.select(sa.func.count()).select_from(table("oauth_tokens"))).scalar(),
                conn.execute(sa.select(sa.func.count()).select_from(table("qbo_connection_events"))).scalar())


def test_connect_on_a_fresh_deployment_stores_the_company_and_its_tokens(connectable):
    client, engine, twin = connectable["client"], connectable["engine"], connectable["twin"]
    page = client.get("/atera-qbo/connect")
    assert f"{ORIGIN}/atera-qbo/connect/callback" in page.text  # the redirect URI to register at Intuit
    url = to_intuit(client)
    query = parse_qs(urlsplit(url).query)
    assert url.startswith(f"{twin.url}/connect/oauth2?") and query["client_id"] == [CLIENT[0]]
    assert query["scope"] == ["com.intuit.quickbooks.accounting"] and query["state"][0]
    done = client.get(consent(url), follow_redirects=False)
    assert done.status_code == 303 and done.headers["location"] == f"/atera-qbo/?connected={REALM}"
    assert stored(engine) == (1, 1)
    with engine.connect() as conn:
        event = conn.execute(sa.select(table("qbo_connection_events"))).one()
    assert (event.realm_id, event.event, event.actor) == (REALM, "connected", "admin")
    with QuickBooksHook() as hook:  # the DAGs' hook now finds the company and its tokens: no realm id, no token
        assert hook.realm_id == REALM and hook.get_conn().company_info()["CompanyName"]
    accounting = client.get("/atera-qbo/accounting")
    assert accounting.status_code == 200 and REALM in accounting.text and "by admin" in accounting.text


def test_cancel_on_the_consent_page_says_so_and_stores_nothing(connectable):
    client, engine = connectable["client"], connectable["engine"]
    refused = client.get(consent(to_intuit(client), approve=False), headers={"Accept": "text/html"})
    assert refused.status_code == 400 and "you pressed Cancel" in refused.text and "nothing was stored" in refused.text
    assert stored(engine) == (0, 0)


@pytest.mark.parametrize(("tamper", "said"), [
    (lambda q: {**q, "state": ["not-the-state"]}, "does not belong to a Connect started here"),
    (lambda q: {**q, "code": ["a-code-intuit-never-issued"]}, "the code expired"),
])
def test_every_refused_callback_says_what_happened_and_stores_nothing(connectable, tamper, said):
    client, engine = connectable["client"], connectable["engine"]
    callback = consent(to_intuit(client))
    path, _, raw = callback.partition("?")
    query = {k: v for k, v in tamper(parse_qs(raw)).items() if v}
    refused = client.get(path, params={k: v[0] for k, v in query.items()}, headers={"Accept": "text/html"})
    assert refused.status_code == 400 and said in refused.text and "nothing" in refused.text
    assert stored(engine) == (0, 0)


def test_a_replayed_callback_is_refused_and_stores_nothing_more(connectable):
    client, engine = connectable["client"], connectable["engine"]
    callback = consent(to_intuit(client))
    assert client.get(callback, follow_redirects=False).status_code == 303
    again = client.get(callback, headers={"Accept": "text/html"})
    assert again.status_code == 400 and "already used" in again.text
    assert stored(engine) == (1, 1)


def test_another_company_than_the_staged_one_needs_a_confirmation(connectable):
    client, engine = connectable["client"], connectable["engine"]
    with engine.begin() as conn:  # a company's mapping and ledger are staged here already
        conn.execute(sa.insert(table("qbo_connection_events")).values(
            event_id="e0", realm_id="111", event="connected", at=sa.func.current_timestamp(), actor="earlier"))
        conn.execute(sa.insert(table("map_customers")).values(atera_id="1", qbo_id="58", active=True, status="matched",
                                                              method="exact", updated_at=sa.func.current_timestamp()))
    page = client.get(consent(to_intuit(client)))
    assert page.status_code == 200 and "a new company" in page.text and "111" in page.text
    assert stored(engine) == (0, 1)  # nothing stored while waiting
    state = page.text.split('name="state" value="')[1].split('"')[0]
    token = csrf_of(page.text)
    no = client.post("/atera-qbo/connect/confirm", data={"csrf": token, "state": state},
                     headers={"Origin": ORIGIN, "Accept": "text/html"})
    assert no.status_code == 400 and "not confirmed" in no.text and stored(engine) == (0, 1)
    page = client.get(consent(to_intuit(client)))
    state = page.text.split('name="state" value="')[1].split('"')[0]
    yes = client.post("/atera-qbo/connect/confirm", data={"csrf": csrf_of(page.text), "state": state,
                                                          "new_company": "1"},
                      headers={"Origin": ORIGIN}, follow_redirects=False)
    assert yes.status_code == 303 and stored(engine) == (1, 2)


def test_disconnect_on_the_accounting_page_then_every_qbo_call_refuses_until_reconnect(connectable):
    client, engine = connectable["client"], connectable["engine"]
    client.get(consent(to_intuit(client)), follow_redirects=False)
    page = client.get("/atera-qbo/accounting")
    name = page.text.split('<label for="disconnect-confirm">Type the company\'s name to confirm: <strong>')[1]
    name = name.split("</strong>")[0]
    wrong = client.post("/atera-qbo/accounting/disconnect", data={"csrf": csrf_of(page.text), "confirm": "nope"},
                        headers={"Origin": ORIGIN, "Accept": "text/html"})
    assert wrong.status_code == 400 and "nothing was changed" in wrong.text
    gone = client.post("/atera-qbo/accounting/disconnect", data={"csrf": csrf_of(page.text), "confirm": name},
                       headers={"Origin": ORIGIN, "Accept": "text/html"})
    assert gone.status_code == 200 and "was disconnected" in gone.text
    with engine.connect() as conn:
        assert conn.execute(sa.select(sa.func.count()).select_from(table("oauth_tokens"))).scalar() == 0
    with pytest.raises(ConfigError, match="/atera-qbo/accounting"):  # the DAGs' QBO calls refuse, naming the page
        QuickBooksHook().get_conn()
    assert "disconnected" in client.get("/atera-qbo/accounting").text
    client.get(consent(to_intuit(client)), follow_redirects=False)  # Reconnect: the same company carries on
    with QuickBooksHook() as hook:
        assert hook.realm_id == REALM and hook.get_conn().company_info()
