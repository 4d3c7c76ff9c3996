"""The finance wizard's API through a test client, with Airflow's own auth manager (SimpleAuthManager, users from
the config) and JWTs it issued: no user → 401 (pages redirect to the login), a viewer reads but cannot press Done
or Export, CSRF and origin are checked, everything a user typed comes back escaped, and the overrides version
"Done" saves is the same file finance would write editing the review CSV by hand."""
from __future__ import annotations

import csv
import io
import json
import re
import threading
from pathlib import Path

import pytest
import sqlalchemy as sa

from atera_qbo.matching.match import apply_overrides, match_all
from atera_qbo.matching.review import COLUMNS
from atera_qbo.matching.review_csv import read_rows, write_rows
from atera_qbo.staging.db import table
from tests.webui.conftest import ORIGIN, csrf_of

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")

ROUTES = [("get", "/atera-qbo/"), ("get", "/atera-qbo/step/customers"),
          ("get", "/atera-qbo/api/search?entity=customer&q=a"),
          ("get", "/atera-qbo/api/suggestions?step=customers&min_score=0"), ("get", "/atera-qbo/versions"),
          ("get", "/atera-qbo/export"), ("get", "/atera-qbo/static/app.js"), ("post", "/atera-qbo/summary"),
          ("post", "/atera-qbo/done"), ("post", "/atera-qbo/export")]


@pytest.mark.parametrize(("method", "path"), ROUTES)
def test_every_route_needs_a_login(world, method, path):
    response = getattr(world["client"], method)(path, headers={"Accept": "application/json"})
    assert response.status_code == 401


def test_a_page_without_login_redirects_to_airflows_login(world):
    response = world["client"].get("/atera-qbo/step/customers", headers={"Accept": "text/html"},
                                   follow_redirects=False)
    assert response.status_code == 303
    assert response.headers["location"].startswith("/auth/login?next=")


def test_a_forged_token_is_refused(world):
    world["client"].cookies.set("_token", "not-a-jwt")
    assert world["client"].get("/atera-qbo/", headers={"Accept": "application/json"}).status_code == 403


def test_viewer_reads_but_cannot_press_done_or_export(world):
    client = world["client"]
    world["login"]("auditor", "viewer")
    page = client.get("/atera-qbo/step/customers")
    assert page.status_code == 200 and "Apex Dental" in page.text and "(read-only)" in page.text
    decisions = json.dumps({"customer|4": {"action": "create"}})
    done = client.post("/atera-qbo/done", data={"decisions": decisions, "csrf": csrf_of(page.text)},
                       headers={"Origin": ORIGIN, "Accept": "application/json"})
    assert done.status_code == 403 and "read-only" in done.json()["detail"]
    export = client.post("/atera-qbo/export", data={"date_from": "2026-10-01", "date_to": "2026-10-31",
                                                    "numbers": ["1"], "csrf": csrf_of(page.text)},
                         headers={"Origin": ORIGIN, "Accept": "application/json"})
    assert export.status_code == 403
    assert world["triggered"] == []
    with world["engine"].connect() as conn:
        assert conn.exec_driver_sql("SELECT count(*) FROM review_overrides").scalar() == 0


def test_posts_need_this_users_token_and_this_origin(world):
    client = world["client"]
    world["login"]("finance", "user")
    token = csrf_of(client.get("/atera-qbo/").text)
    body = {"decisions": json.dumps({"customer|4": {"action": "create"}})}
    cases = [({**body}, {"Origin": ORIGIN}, "form token"),
             ({**body, "csrf": token}, {"Origin": "https://evil.example"}, "cross-site"),
             ({**body, "csrf": token}, {"Origin": "null"}, "cross-site"),
             ({**body, "csrf": token}, {"Referer": "https://evil.example/page"}, "cross-site"),
             ({**body, "csrf": token + "x"}, {"Origin": ORIGIN}, "form token")]
    for data, headers, message in cases:
        response = client.post("/atera-qbo/done", data=data, headers={**headers, "Accept": "application/json"})
        assert response.status_code == 403 and message in response.json()["detail"]
    world["login"]("auditor", "viewer")  # a token minted for another user is refused too
    other = csrf_of(client.get("/atera-qbo/").text)
    world["login"]("finance", "user")
    response = client.post("/atera-qbo/done", data={**body, "csrf": other},
                           headers={"Origin": ORIGIN, "Accept": "application/json"})
    assert response.status_code == 403 and "another user" in response.json()["detail"]
    assert world["triggered"] == []


def test_names_are_escaped(world):
    world["login"]("finance", "user")
    page = world["client"].get("/atera-qbo/step/customers?q=bakery")
    assert "<script>alert(1)</script>" not in page.text
    assert "&lt;script&gt;alert(1)&lt;/script&gt; Bakery" in page.text
    assert page.headers["content-security-policy"].startswith("default-src 'self'")
    assert page.headers["x-frame-options"] == "SAMEORIGIN"


def test_search_is_server_side_limited_and_binds_the_query(world):
    world["login"]("auditor", "viewer")
    client = world["client"]
    found = client.get("/atera-qbo/api/search", params={"entity": "customer", "q": "zeta"}).json()
    assert len(found) == 20 and all(f["name"].startswith("Zeta Holding") for f in found)
    assert client.get("/atera-qbo/api/search", params={"entity": "customer", "q": "dental c"}).json() == \
        [{"id": "14", "name": "Apex Dental Care"}]
    # LIKE wildcards and quotes are data, not syntax
    assert client.get("/atera-qbo/api/search", params={"entity": "customer", "q": "%"}).json() == []
    assert client.get("/atera-qbo/api/search", params={"entity": "customer", "q": "' OR 1=1 --"}).json() == []
    assert client.get("/atera-qbo/api/search", params={"entity": "product", "q": "remote"}).json() == \
        [{"id": "21", "name": "Remote Support Hours"}]


def test_bulk_accept_returns_every_suggestion_above_the_score(world):
    world["login"]("auditor", "viewer")
    rows = list(read_rows(world["review_dir"] / "match_review.csv"))
    expected = {f"customer|{r.atera_id}" for r in rows
                if r.entity == "customer" and r.status == "suggested" and float(r.score) >= 80}
    got = world["client"].get("/atera-qbo/api/suggestions", params={"step": "customers", "min_score": 80}).json()
    assert set(got) == expected and expected
    assert all(v["action"] == "match" and v["qbo_id"] for v in got.values())
    assert world["client"].get("/atera-qbo/api/suggestions",
                               params={"step": "customers", "min_score": 101}).status_code == 422


def finance_edit(review_csv, edits: dict[tuple[str, str], dict[str, str]]) -> str:
    """What finance does by hand: open the review CSV, fill in cells, save (Excel's CSV UTF-8)."""
    with review_csv.open(encoding="utf-8-sig", newline="") as fh:
        rows = list(csv.DictReader(fh))
    for row in rows:
        for cell, value in edits.get((row["entity"], row["atera_id"] or "qbo:" + row["qbo_id"]), {}).items():
            row[cell] = value
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=COLUMNS, lineterminator="\r\n")
    writer.writeheader()
    writer.writerows(rows)
    return out.getvalue()


def test_done_saves_an_overrides_version_equal_to_the_csv_path(world, tmp_path):
    client, engine = world["client"], world["engine"]
    world["login"]("finance", "user")
    token = csrf_of(client.get("/atera-qbo/step/customers").text)
    apex = next(r for r in read_rows(world["review_dir"] / "match_review.csv") if r.atera_id == "5")
    other = next(c for c in apex.candidates.split(";") if not c.startswith(apex.qbo_id + "|")).split("|")
    decisions = {
        "customer|2": {"action": "match", "qbo_id": "11"},  # accept the suggestion
        "customer|5": {"action": "match", "qbo_id": other[0], "note": "the other practice, checked"},
        "customer|4": {"action": "create", "note": "new client"},
        "product|rate:1": {"action": "match", "qbo_id": "21"},  # found by search, not a candidate
        "customer|qbo:15": {"action": "import"},
    }
    summary = client.post("/atera-qbo/summary", data={"decisions": json.dumps(decisions), "csrf": token},
                          headers={"Origin": ORIGIN})
    assert summary.status_code == 200
    assert re.search(r"Create in QBO</th><td>1 customer\(s\), 0 product\(s\)", summary.text)
    assert re.search(r"Import into Atera</th><td>1 customer", summary.text)
    assert world["triggered"] == []  # the summary saves nothing
    done = client.post("/atera-qbo/done", data={"decisions": csrf_free(summary.text), "csrf": token},
                       headers={"Origin": ORIGIN}, follow_redirects=False)
    assert done.status_code == 303 and done.headers["location"] == "/atera-qbo/versions/1?saved=1"

    ((dag_id, conf, user),) = world["triggered"]
    assert (dag_id, conf["commit"], user) == ("atera_qbo_matching", True, "finance")
    assert conf["replace_atera_catalog"] is False  # the box was not ticked
    with engine.connect() as conn:
        saved = conn.execute(sa.text("SELECT created_by, decisions, csv_text, file_path, dag_run_id "
                                     "FROM review_overrides")).one()
    assert (saved.created_by, saved.decisions, saved.dag_run_id) == ("finance", 5, "manual__1")
    assert saved.file_path == conf["overrides_path"]
    download = client.get("/atera-qbo/versions/1/overrides.csv")
    assert download.headers["content-disposition"] == 'attachment; filename="overrides_v1.csv"'
    assert download.content.decode("utf-8-sig") == saved.csv_text

    by_hand = tmp_path / "by_hand.csv"
    by_hand.write_bytes(finance_edit(world["review_dir"] / "match_review.csv", {
        ("customer", "2"): {"action": "match"},
        ("customer", "5"): {"action": "match", "qbo_id": other[0], "qbo_name": other[1],
                            "note": "the other practice, checked"},
        ("customer", "4"): {"action": "create", "note": "new client"},
        ("product", "rate:1"): {"action": "match", "qbo_id": "21", "qbo_name": "Remote Support Hours"},
        ("customer", "qbo:15"): {"action": "import"},
    }).encode("utf-8-sig"))
    ui_rows = [r.as_list() for r in read_rows(Path(saved.file_path))]
    edited = {("customer", "2"), ("customer", "5"), ("customer", "4"), ("product", "rate:1"), ("customer", "qbo:15")}
    # the version holds exactly the rows finance changed, as finance would have written them by hand
    assert ui_rows == [r.as_list() for r in read_rows(by_hand)
                       if (r.entity, r.atera_id or f"qbo:{r.qbo_id}") in edited]
    assert len(ui_rows) == 5
    cat = world["catalogs"]
    base = match_all(cat)
    from_ui = apply_overrides(base, list(read_rows(Path(saved.file_path))), cat)
    from_csv = apply_overrides(base, list(read_rows(by_hand)), cat)
    assert from_ui.equals(from_csv)
    decided = {(r.entity, r.atera_id or r.qbo_id): (r.action, r.qbo_id) for r in from_ui.itertuples() if r.action}
    assert decided[("customer", "5")] == ("match", other[0]) and decided[("customer", "15")] == ("import", "15")


def test_done_with_the_box_ticked_hands_the_product_catalog_to_qbo(world):
    client = world["client"]
    world["login"]("finance", "user")
    token, summary = accept_acme(client)
    assert 'name="replace_atera_catalog"' in summary.text and "restorable" in summary.text
    done = client.post("/atera-qbo/done", data={"decisions": csrf_free(summary.text), "csrf": token,
                                                "replace_atera_catalog": "1"},
                       headers={"Origin": ORIGIN}, follow_redirects=False)
    assert done.status_code == 303
    ((dag_id, conf, _),) = world["triggered"]
    assert dag_id == "atera_qbo_matching" and conf["commit"] is True and conf["replace_atera_catalog"] is True


def test_done_waiting_on_airflow_does_not_stall_the_other_pages(world):
    """Done writes to the staging and Airflow databases, which may wait on a lock (a catalog sync writing, the
    scheduler): meanwhile the API server, one process serving the UI and the task execution API, keeps answering."""
    entered, release, outcome = threading.Event(), threading.Event(), {}

    def slow_trigger():
        entered.set()
        outcome["released"] = release.wait(5)  # False: nothing else was served while Done waited

    world["runs"].before_trigger = slow_trigger
    world["login"]("finance", "user")
    client = world["client"]  # one event loop for every request, as in the API server
    token, summary = accept_acme(client)
    done = threading.Thread(target=lambda: outcome.update(done=client.post(
        "/atera-qbo/done", data={"decisions": csrf_free(summary.text), "csrf": token},
        headers={"Origin": ORIGIN}, follow_redirects=False)))
    done.start()
    assert entered.wait(10)
    assert client.get("/atera-qbo/versions").status_code == 200
    release.set()
    done.join(10)
    assert outcome["released"] is True, "the versions page waited for Done"
    assert outcome["done"].status_code == 303


def test_done_on_a_database_that_cannot_take_it_saves_nothing_and_says_so(world, monkeypatch):
    from atera_qbo.webui import store

    def locked(*args, **kwargs):
        raise sa.exc.OperationalError("INSERT INTO review_overrides", {}, Exception("database is locked"))

    monkeypatch.setattr(store, "save", locked)
    client = world["client"]
    world["login"]("finance", "user")
    token, summary = accept_acme(client)
    done = client.post("/atera-qbo/done", data={"decisions": csrf_free(summary.text), "csrf": token},
                       headers={"Origin": ORIGIN, "Accept": "text/html"}, follow_redirects=False)
    assert done.status_code == 503
    assert "database is locked" in done.text and "nothing was saved and no run was started" in done.text
    assert world["triggered"] == []
    assert list((world["review_dir"] / "overrides").glob("*.csv")) == []  # no file without its version row


def accept_acme(client) -> tuple[str, object]:
    """Finance accepts Acme's suggestion and opens the summary: (form token, summary page)."""
    token = csrf_of(client.get("/atera-qbo/step/customers").text)
    decisions = json.dumps({"customer|2": {"action": "match", "qbo_id": "11"}})
    return token, client.post("/atera-qbo/summary", data={"decisions": decisions, "csrf": token},
                              headers={"Origin": ORIGIN})


def csrf_free(summary_html: str) -> str:
    """The decisions the summary page carries to Done (as the browser posts them back)."""
    import html

    return html.unescape(re.search(r'name="decisions" value="([^"]*)"', summary_html.split("done-form")[1]).group(1))


def test_done_refuses_unknown_rows_and_records_naming_them(world):
    client = world["client"]
    world["login"]("finance", "user")
    token = csrf_of(client.get("/atera-qbo/").text)
    bad = {"customer|999": {"action": "create"}, "customer|4": {"action": "import"},
           "customer|2": {"action": "match", "qbo_id": "77777"}}
    for key, value in bad.items():
        response = client.post("/atera-qbo/done", data={"decisions": json.dumps({key: value}), "csrf": token},
                               headers={"Origin": ORIGIN})
        assert response.status_code == 400 and "nothing saved" in response.text
        assert key.split("|")[1] in response.text
    assert world["triggered"] == []


def test_export_triggers_the_export_dag_with_the_selected_numbers(world):
    client = world["client"]
    world["login"]("finance", "user")
    page = client.get("/atera-qbo/export?date_from=2026-10-01&date_to=2026-10-31")
    assert page.status_code == 200 and "No Atera invoice of this window is staged yet" in page.text
    response = client.post("/atera-qbo/export", data={"date_from": "2026-10-01", "date_to": "2026-10-31",
                                                      "numbers": ["1042", "1043"], "csrf": csrf_of(page.text)},
                           headers={"Origin": ORIGIN}, follow_redirects=False)
    assert response.status_code == 303 and response.headers["location"] == "/atera-qbo/export/runs/manual__1"
    assert world["triggered"] == [("atera_qbo_invoice_export", {
        "invoice_date_from": "2026-10-01", "invoice_date_to": "2026-10-31", "invoice_numbers": ["1042", "1043"],
        "dry_run": False}, "finance")]
    bad = client.get("/atera-qbo/export?date_from=2026-11-01&date_to=2026-10-01")
    assert bad.status_code == 400 and "is after" in bad.text


def test_done_makes_at_most_one_engine_in_the_process(world, monkeypatch):
    """The app's staging engine is the process's one for the connection's URL: the lifespan builds nothing that
    connects, the first request makes the engine (and checks the schema once), Done and every later page reuse it."""
    engine = world["engine"]
    if engine.dialect.name != "sqlite":
        pytest.skip("the connection names the SQLite file; the engine cache is the same code on PostgreSQL")
    from atera_qbo.staging import db
    from atera_qbo.webui import deps

    monkeypatch.setenv("AIRFLOW_CONN_ATERA_QBO_STAGING",
                       json.dumps({"conn_type": "sqlite", "host": engine.url.database}))
    db.dispose_engines()
    made: list[str] = []
    real = db.make_engine
    monkeypatch.setattr(db, "make_engine", lambda url: made.append(url) or real(url))
    del world["app"].dependency_overrides[deps.staging_engine]  # the real dependency, from the connection
    client = world["client"]
    world["login"]("finance", "user")
    token, summary = accept_acme(client)
    done = client.post("/atera-qbo/done", data={"decisions": csrf_free(summary.text), "csrf": token},
                       headers={"Origin": ORIGIN}, follow_redirects=False)
    assert done.status_code == 303
    assert client.get(done.headers["location"]).status_code == 200
    assert made == [f"sqlite:///{engine.url.database}"]  # one engine, for every request of the process
    with engine.connect() as conn:  # and Done's version went into the connection's database
        assert conn.execute(sa.select(sa.func.count()).select_from(table("review_overrides"))).scalar() == 1
    db.dispose_engines()


def test_two_dones_from_the_same_version_the_second_is_refused_and_saves_nothing(world):
    """Two people press Done having started from the same overrides version: the first is saved, the second is
    refused (409) naming who saved what and when, saves nothing, and clears its draft."""
    client = world["client"]
    world["login"]("finance", "user")
    step = client.get("/atera-qbo/step/customers").text
    assert 'data-version="0"' in step  # the version a draft starts from
    token, summary = accept_acme(client)
    first = client.post("/atera-qbo/done", data={"decisions": csrf_free(summary.text), "csrf": token,
                                                 "base_version": "0"}, headers={"Origin": ORIGIN},
                        follow_redirects=False)
    assert first.status_code == 303
    second = client.post("/atera-qbo/done", data={"decisions": json.dumps({"customer|4": {"action": "create"}}),
                                                  "csrf": token, "base_version": "0"},
                         headers={"Origin": ORIGIN, "Accept": "text/html"}, follow_redirects=False)
    assert second.status_code == 409
    assert "overrides version 1 was saved by finance" in second.text and "nothing was saved" in second.text
    assert "data-clear-draft" in second.text
    with world["engine"].connect() as conn:
        assert conn.execute(sa.select(sa.func.count()).select_from(table("review_overrides"))).scalar() == 1
    assert len(world["triggered"]) == 1
    assert 'data-version="1"' in client.get("/atera-qbo/step/customers").text  # a new draft starts from 1


def test_a_version_never_reasserts_a_decision_its_author_did_not_make(world):
    """B's Done, started after A's, carries only B's own change: when the review B saw still showed the mapping
    A changed (A's run had not rewritten it yet), B's version does not set it back."""
    client, review_dir = world["client"], world["review_dir"]
    world["login"]("finance", "user")
    token = csrf_of(client.get("/atera-qbo/step/customers").text)
    rows = list(read_rows(review_dir / "match_review.csv"))
    northwind = next(r for r in rows if r.atera_id == "1")
    for r in rows:  # the review as a committed run wrote it: Northwind mapped by an earlier decision
        if r.atera_id == "1":
            r.action = "match"
    write_rows(review_dir / "match_review.csv", rows)
    a = client.post("/atera-qbo/done", data={"decisions": json.dumps({"customer|1": {"action": "skip"}}),
                                             "csrf": token, "base_version": "0"}, headers={"Origin": ORIGIN},
                    follow_redirects=False)
    assert a.status_code == 303
    b = client.post("/atera-qbo/done", data={"decisions": json.dumps({"customer|4": {"action": "create"}}),
                                             "csrf": token, "base_version": "1"}, headers={"Origin": ORIGIN},
                    follow_redirects=False)
    assert b.status_code == 303
    (_, conf_a, _), (_, conf_b, _) = world["triggered"]
    in_a = {(r.entity, r.atera_id): r.action for r in read_rows(Path(conf_a["overrides_path"]))}
    in_b = {(r.entity, r.atera_id): r.action for r in read_rows(Path(conf_b["overrides_path"]))}
    assert in_a == {("customer", "1"): "skip"}
    assert in_b == {("customer", "4"): "create"}  # Northwind's old "match" is not in B's version
    assert northwind.qbo_id  # (the row B's review still showed as matched)


@pytest.fixture
def restricted(world, monkeypatch):
    """Airflow's auth manager, with the auditor's login narrowed as an admin would: no task logs, and no read on
    the reconciliation DAG (the SimpleAuthManager's roles are coarser than FAB's or Keycloak's)."""
    from airflow.api_fastapi.app import get_auth_manager
    from airflow.api_fastapi.auth.managers.models.resource_details import DagAccessEntity

    manager = get_auth_manager()
    allowed = manager.is_authorized_dag

    def is_authorized_dag(*, method, user, access_entity=None, details=None):
        if user.get_name() == "auditor" and (access_entity == DagAccessEntity.TASK_LOGS
                                             or (details and details.id == "atera_qbo_reconciliation")):
            return False
        return allowed(method=method, user=user, access_entity=access_entity, details=details)

    monkeypatch.setattr(manager, "is_authorized_dag", is_authorized_dag)
    return world


def test_error_text_from_task_logs_is_shown_only_to_who_may_read_them(restricted, monkeypatch):
    from atera_qbo.webui.runs import RunOutcome

    failed = RunOutcome("atera_qbo_invoice_export", "manual__9", "failed", None,
                        ["AirflowFailException: invoice 1042 blocked: customer 7 has no QBO customer"])
    monkeypatch.setattr(restricted["runs"], "outcome", lambda dag_id, run_id: failed)
    client = restricted["client"]
    restricted["login"]("finance", "user")
    assert "invoice 1042 blocked" in client.get("/atera-qbo/export/runs/manual__9").text
    restricted["login"]("auditor", "viewer")
    page = client.get("/atera-qbo/export/runs/manual__9")
    assert page.status_code == 200 and "failed" in page.text
    assert "invoice 1042" not in page.text and "task logs, which your login may not read" in page.text


def test_the_reconciliation_report_needs_read_on_the_reconciliation_dag(restricted):
    client, review_dir = restricted["client"], restricted["review_dir"]
    (review_dir / "reconciliation_latest.html").write_text("<html><body>3 critical findings</body></html>")
    restricted["login"]("finance", "user")
    assert "3 critical findings" in client.get("/atera-qbo/reconciliation").text
    assert 'href="/atera-qbo/reconciliation"' in client.get("/atera-qbo/").text
    restricted["login"]("auditor", "viewer")
    refused = client.get("/atera-qbo/reconciliation", headers={"Accept": "application/json"})
    assert refused.status_code == 403 and "atera_qbo_reconciliation" in refused.json()["detail"]
    assert 'href="/atera-qbo/reconciliation"' not in client.get("/atera-qbo/").text  # no link to a refused page
