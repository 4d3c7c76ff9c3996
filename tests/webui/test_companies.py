"""The web UI serving two companies (issue 21): each with its own staging database and review dir, each page,
download and form of one company showing and changing only its own records, ``?company=`` kept on every link,
form and redirect, the switcher and the Accounting page listing the companies a login may see, and a finance
login limited to one company (``atera_qbo.auth_manager.CompanyAuthManager``, the companies file's ``logins``)
refused — 403, never the data — on the other's pages, downloads and form posts."""
from __future__ import annotations

import html
import json
import re
from datetime import date
from html.parser import HTMLParser
from urllib.parse import parse_qs, urlsplit

import pytest
import sqlalchemy as sa

from atera_qbo.matching.match import for_review, load_catalogs, match_all
from atera_qbo.matching.review import rows_of
from atera_qbo.matching.review_csv import write_rows
from atera_qbo.staging.db import table, utcnow
from tests.webui.conftest import ORIGIN, FakeRuns, csrf_of

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")

USERS = "finance:user,auditor:viewer,admin:admin,finance_uk:user"
COMPANIES = {"companies": [
    {"id": "default", "name": "Contoso US", "route": {"country": ["United States"]}},
    {"id": "uk", "name": "Contoso UK", "route": {"country": ["United Kingdom"]}, "logins": ["finance_uk"]}]}
# What only one company's database and review dir hold: a page of the other must never show it.
MARK = {"default": {"customer": "Yankee Doodle Dental", "invoice": "US-1001", "author": "us_bookkeeper",
                    "recon": "US-RECON-7", "report": "US-REPORT-LINE", "unrouted": "Nowhere Plumbing"},
        "uk": {"customer": "Britannia Bakery", "invoice": "UK-2001", "author": "uk_bookkeeper",
               "recon": "UK-RECON-9", "report": "UK-REPORT-LINE", "unrouted": "Atlantis Ltd"}}
TODAY = date(2026, 10, 31)


def stage_company(engine: sa.Engine, review_dir, company_id: str) -> None:
    """The company's own rows and files, each carrying its marks."""
    from atera_qbo.webui import store

    mark, now = MARK[company_id], utcnow()
    with engine.begin() as conn:
        conn.execute(table("stg_atera_customers").insert(), [
            {"source_id": "1", "name": mark["customer"], "extracted_at": now}])
        conn.execute(table("stg_qbo_customers").insert(), [
            {"source_id": "10", "display_name": mark["customer"] + " Inc", "active": True, "is_job": False,
             "extracted_at": now}])
        conn.execute(table("stg_atera_invoices").insert(), [
            {"source_id": mark["invoice"], "invoice_date": "2026-10-15", "customer_name": mark["customer"],
             "total": "100.00", "currency": "USD", "extracted_at": now}])
        conn.execute(table("export_batches").insert(), [
            {"batch_id": f"b_{company_id}", "run_id": "manual__7", "started_at": now, "status": "success"}])
        conn.execute(table("recon_runs").insert(), [
            {"run_id": f"r_{company_id}", "started_at": now, "status": "success"}])
        conn.execute(table("atera_customer_routes").insert(), [
            {"source_id": "99", "routed_to": None, "name_key": "k", "name": mark["unrouted"], "country": "Narnia",
             "rule_value": "Narnia", "reason": "no company's route has country Narnia", "seen_at": now}])
    store.save(engine, user=mark["author"], decisions=1, csv_text=f"entity,atera_id\ncustomer,{mark['author']}\n")
    write_rows(review_dir / "match_review.csv", list(rows_of(for_review(match_all(load_catalogs(engine))))))
    (review_dir / "reconciliation_latest.html").write_text(f"<html><body>{mark['recon']}</body></html>")
    (review_dir / "exports").mkdir(exist_ok=True)
    (review_dir / "exports" / f"export_b_{company_id}.csv").write_text(
        f"atera_invoice_number,customer_name,status\n{mark['invoice']},{mark['report']},exported\n")
    (review_dir / "data_docs").mkdir(exist_ok=True)
    (review_dir / "data_docs" / "gates_summary.html").write_text(f"<html>{mark['report']} docs</html>")


@pytest.fixture
def two(airflow_db, tmp_path, monkeypatch):
    """Two companies fed by one Atera account (routed by country), each with its own SQLite staging database
    and review dir, the real dependencies (no engine or review dir override), CompanyAuthManager."""
    monkeypatch.setenv("AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS", USERS)
    monkeypatch.setenv("AIRFLOW__API_AUTH__JWT_SECRET", "test-jwt-secret-" + "x" * 64)
    monkeypatch.setenv("AIRFLOW__CORE__AUTH_MANAGER", "atera_qbo.auth_manager.CompanyAuthManager")
    (tmp_path / "companies.json").write_text(json.dumps(COMPANIES))
    monkeypatch.setenv("ATERA_QBO_COMPANIES_FILE", str(tmp_path / "companies.json"))
    monkeypatch.setenv("AIRFLOW_CONN_ATERA_QBO_STAGING",
                       json.dumps({"conn_type": "sqlite", "host": str(tmp_path / "atera_qbo_staging.db")}))
    monkeypatch.setenv("ATERA_QBO_REVIEW_DIR", str(tmp_path / "review"))
    from airflow.api_fastapi import app as airflow_app
    from airflow.api_fastapi.auth.managers.simple.user import SimpleAuthManagerUser
    from fastapi import FastAPI
    from fastapi.testclient import TestClient

    from atera_qbo.companies import load_companies
    from atera_qbo.staging import db
    from atera_qbo.webui import deps
    from atera_qbo.webui.app import create_app

    companies = load_companies()
    engines, dirs = {}, {}
    for company in companies:
        engines[company.id] = deps.Services().engine(company)
        dirs[company.id] = deps.company_review_dir(company)
        stage_company(engines[company.id], dirs[company.id], company.id)
    assert str(engines["uk"].url).endswith("atera_qbo_staging.uk.db") and dirs["uk"] == tmp_path / "review" / \
        "companies" / "uk"
    airflow_app.purge_cached_app()
    manager = airflow_app.init_auth_manager()
    from atera_qbo.webui.runs import RunOutcome

    runs = FakeRuns()
    runs.outcome = lambda dag_id, run_id: RunOutcome(dag_id, run_id, "success")  # every run has finished
    app = create_app()
    app.dependency_overrides.update({deps.today: lambda: TODAY, deps.dag_runs: lambda: runs})
    parent = FastAPI(lifespan=airflow_app.lifespan)
    parent.mount("/atera-qbo", app)
    roles = dict(u.split(":") for u in USERS.split(","))

    def login(name: str) -> None:
        client.cookies.set("_token", manager.generate_jwt(SimpleAuthManagerUser(username=name, role=roles[name])))

    with TestClient(parent, base_url=ORIGIN) as client:
        yield {"client": client, "login": login, "engines": engines, "dirs": dirs, "runs": runs, "app": app,
               "tmp": tmp_path}
    airflow_app.purge_cached_app()
    db.dispose_engines()


def pages(company: str) -> list[str]:
    q = f"company={company}"
    return [f"/atera-qbo/?{q}", f"/atera-qbo/step/customers?{q}", f"/atera-qbo/export?{q}&date_from=2026-10-01"
            f"&date_to=2026-10-31", f"/atera-qbo/versions?{q}", f"/atera-qbo/versions/1?{q}",
            f"/atera-qbo/versions/1/overrides.csv?{q}", f"/atera-qbo/reconciliation?{q}",
            f"/atera-qbo/export/runs/manual__7?{q}", f"/atera-qbo/accounting?{q}",
            f"/atera-qbo/files/review/match_review.csv?{q}", f"/atera-qbo/files/exports/export_b_{company}.csv?{q}",
            f"/atera-qbo/files/data_docs/gates_summary.html?{q}", f"/atera-qbo/api/search?{q}&entity=customer&q=",
            f"/atera-qbo/api/suggestions?{q}&step=customers&min_score=0"]


def test_each_companys_pages_and_downloads_show_only_its_records(two):
    client = two["client"]
    two["login"]("finance")
    for mine, other in (("default", "uk"), ("uk", "default")):
        seen = ""
        for path in pages(mine):
            response = client.get(path)
            assert response.status_code == 200, (path, response.text[:300])
            text = response.content.decode("utf-8-sig")
            for word in MARK[other].values():
                assert word not in text, f"{path} of {mine} shows {other}'s {word!r}"
            seen += text
        for what, word in MARK[mine].items():
            assert word in seen, f"{mine}'s {what} {word!r} is on none of its pages"
    # an export report names the batch of ITS company's run: the same run id finds the other company's batch
    # only in the other company's database
    assert "b_uk" in client.get("/atera-qbo/export/runs/manual__7?company=uk").text
    assert "b_uk" not in client.get("/atera-qbo/export/runs/manual__7?company=default").text


def test_a_page_without_company_opens_the_first_and_the_unrouted_are_listed_with_the_fix(two):
    two["login"]("finance")
    page = two["client"].get("/atera-qbo/")
    assert page.status_code == 200 and MARK["default"]["customer"] not in page.text  # the index has no names...
    assert MARK["default"]["unrouted"] in page.text and MARK["uk"]["unrouted"] not in page.text
    assert "never exported" in page.text and "Country" in page.text and "route" in page.text


class Links(HTMLParser):
    """Every link, form action and source of a page, and each GET form's hidden fields."""

    def __init__(self) -> None:
        super().__init__()
        self.urls: list[str] = []
        self.get_forms: list[dict] = []

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        for key in ("href", "action", "src"):
            if a.get(key):
                self.urls.append(a[key])
        if tag == "form" and (a.get("method") or "get").lower() == "get":
            self.get_forms.append({"action": a.get("action"), "fields": {}})
        if tag == "input" and a.get("type") == "hidden" and self.get_forms:
            self.get_forms[-1]["fields"][a.get("name")] = a.get("value")


def links_of(html: str) -> Links:
    parser = Links()
    parser.feed(html)
    return parser


def test_every_link_form_and_redirect_keeps_the_company(two):
    client = two["client"]
    two["login"]("admin")
    for path in ("/atera-qbo/?company=uk", "/atera-qbo/step/customers?company=uk", "/atera-qbo/versions?company=uk",
                 "/atera-qbo/export?company=uk", "/atera-qbo/accounting?company=uk", "/atera-qbo/versions/1?company=uk",
                 "/atera-qbo/export/runs/manual__7?company=uk", "/atera-qbo/connect?company=uk"):
        page = client.get(path)
        assert page.status_code == 200, path
        found = links_of(page.text)
        ours = [u for u in found.urls if u.startswith("/atera-qbo/")]
        assert ours, path
        switcher = {f"/atera-qbo{p}?company=default" for p in ("/", "/accounting", "/export", "/versions",
                                                               "/connect", "/step/customers")}
        for url in ours:
            if url in switcher:  # the switcher's link to the other company
                continue
            assert parse_qs(urlsplit(url).query).get("company") == ["uk"], f"{path}: {url} loses the company"
        for form in found.get_forms:
            if form["action"] and form["action"].startswith("/atera-qbo/"):
                assert form["fields"].get("company") == "uk", f"{path}: GET form {form['action']} loses the company"
    page = client.get("/atera-qbo/export?company=uk")
    assert 'data-company-param="uk"' in page.text  # the script's API calls carry it too
    token = csrf_of(page.text)
    export = client.post("/atera-qbo/export?company=uk", data={"date_from": "2026-10-01", "date_to": "2026-10-31",
                                                              "numbers": ["UK-2001"], "csrf": token},
                         headers={"Origin": ORIGIN}, follow_redirects=False)
    assert export.status_code == 303 and export.headers["location"] == "/atera-qbo/export/runs/manual__1?company=uk"
    done = client.post("/atera-qbo/done?company=uk", data={"decisions": json.dumps(
        {"customer|1": {"action": "create"}}), "csrf": token}, headers={"Origin": ORIGIN}, follow_redirects=False)
    assert done.status_code == 303 and done.headers["location"] == "/atera-qbo/versions/2?company=uk&saved=1"
    # each run is the company's own DAG's, and Done's version and file are the company's
    assert [t[0] for t in two["runs"].triggered] == ["atera_qbo_invoice_export__uk", "atera_qbo_matching__uk"]
    assert two["runs"].triggered[1][1]["overrides_path"].startswith(str(two["dirs"]["uk"]))
    with two["engines"]["default"].connect() as conn:
        assert conn.execute(sa.select(sa.func.count()).select_from(table("review_overrides"))).scalar() == 1
    with two["engines"]["uk"].connect() as conn:
        assert conn.execute(sa.select(sa.func.count()).select_from(table("review_overrides"))).scalar() == 2


def test_the_switcher_and_the_management_page_list_the_companies(two):
    client = two["client"]
    two["login"]("finance")
    page = client.get("/atera-qbo/step/customers?company=uk")
    switcher = re.search(r'<nav aria-label="Company"[^>]*id="company-switcher">(.*?)</nav>', page.text, re.S).group(1)
    assert re.findall(r'data-company="(\w+)"', switcher) == ["default", "uk"]
    assert re.search(r'data-company="uk" aria-current="true"', switcher)
    assert 'href="/atera-qbo/step/customers?company=default"' in switcher  # the same page, the other company
    accounting = client.get("/atera-qbo/accounting?company=uk").text
    listed = re.search(r'<table class="grid" id="company-list">(.*?)</table>', accounting, re.S).group(1)
    assert re.findall(r'<tr data-company="(\w+)"', listed) == ["default", "uk"]
    assert "Contoso US" in listed and "Contoso UK" in listed
    assert 'href="/atera-qbo/accounting?company=default"' in listed
    rows = re.findall(r'<tr data-company="\w+".*?</tr>', listed, re.S)
    assert all("not connected" in r and "none yet" not in r for r in rows)  # each its own batch and reconciliation


def test_a_login_limited_to_one_company_never_reaches_the_other(two):
    client, runs = two["client"], two["runs"]
    two["login"]("finance_uk")
    home = client.get("/atera-qbo/")  # no company named: its own
    assert home.status_code == 200 and MARK["uk"]["unrouted"] in home.text
    assert "Contoso US" not in home.text and 'data-company="default"' not in home.text  # not in the switcher
    accounting = client.get("/atera-qbo/accounting")
    assert accounting.status_code == 200 and "Contoso US" not in accounting.text
    for path in pages("default"):
        response = client.get(path, headers={"Accept": "application/json"})
        assert response.status_code == 403, path
        for word in MARK["default"].values():
            assert word not in response.text
    token = csrf_of(home.text)
    posts = [("/atera-qbo/export?company=default", {"date_from": "2026-10-01", "date_to": "2026-10-31",
                                                    "numbers": ["US-1001"]}),
             ("/atera-qbo/done?company=default", {"decisions": json.dumps({"customer|1": {"action": "create"}})}),
             ("/atera-qbo/summary?company=default", {"decisions": "{}"}),
             ("/atera-qbo/accounting/reconcile?company=default", {}),
             ("/atera-qbo/accounting/disconnect?company=default", {"confirm": "x"}),
             ("/atera-qbo/connect/start?company=default", {})]
    for path, data in posts:
        response = client.post(path, data={**data, "csrf": token},
                               headers={"Origin": ORIGIN, "Accept": "application/json"}, follow_redirects=False)
        assert response.status_code == 403, path
    assert runs.triggered == []
    with two["engines"]["default"].connect() as conn:
        assert conn.execute(sa.select(sa.func.count()).select_from(table("review_overrides"))).scalar() == 1
    # its own company works: the export runs its company's DAG
    ok = client.post("/atera-qbo/export?company=uk", data={"date_from": "2026-10-01", "date_to": "2026-10-31",
                                                          "numbers": ["UK-2001"], "csrf": token},
                     headers={"Origin": ORIGIN}, follow_redirects=False)
    assert ok.status_code == 303 and runs.triggered[0][0] == "atera_qbo_invoice_export__uk"


def test_an_unknown_company_is_a_404_naming_only_the_companies_the_user_may_see(two):
    client = two["client"]
    two["login"]("finance_uk")
    response = client.get("/atera-qbo/?company=acme", headers={"Accept": "application/json"})
    assert response.status_code == 404 and "uk" in response.json()["detail"]
    assert "default" not in response.json()["detail"]
    two["login"]("finance")
    detail = client.get("/atera-qbo/?company=acme", headers={"Accept": "application/json"}).json()["detail"]
    assert "default, uk" in detail


@pytest.mark.parametrize("path", [
    "/atera-qbo/files/data_docs/../match_review.csv",
    "/atera-qbo/files/data_docs/..%2F..%2Fcompanies%2Fuk%2Fmatch_review.csv",
    "/atera-qbo/files/data_docs/%2E%2E/%2E%2E/companies/uk/match_review.csv",
    "/atera-qbo/files/data_docs/%2Fetc%2Fpasswd", "/atera-qbo/files/review/..%2Fcompanies%2Fuk%2Fmatch_review.csv",
    "/atera-qbo/files/exports/..%2F..%2Fcompanies%2Fuk%2Fexports%2Fexport_b_uk.csv",
    "/atera-qbo/files/data_docs/link.html", "/atera-qbo/files/exports/export_b_uk.csv"])
def test_a_path_in_a_url_never_leaves_the_companys_review_dir(two, path):
    """The default company's review dir is the deployment's, which holds uk's under companies/uk: never served."""
    (two["dirs"]["default"] / "data_docs" / "link.html").symlink_to(two["dirs"]["uk"] / "match_review.csv")
    two["login"]("admin")
    response = two["client"].get(path, params={"company": "default"}, headers={"Accept": "application/json"})
    assert response.status_code == 404
    assert MARK["uk"]["customer"] not in response.text


def test_connect_keeps_its_state_in_the_companys_database_and_refuses_a_realm_of_another(two, monkeypatch):
    from atera_qbo.qbo.connect import ConnectFlow, Discovery
    from atera_qbo.qbo.connection import record_connected
    from atera_qbo.webui import connect

    made = []

    def flow(engine, company):
        found = ConnectFlow(engine, Discovery("https://intuit.example/authorize", "https://intuit.example/token"),
                            client_id="cid", client_secret="secret", redirect_uri="x", state_prefix=f"{company.id}.")
        found.exchange = lambda code: {"access_token": "a", "refresh_token": "r"}  # Intuit said yes
        made.append(company.id)
        return found

    monkeypatch.setattr(connect, "flow", flow)
    monkeypatch.setattr(connect, "authorization_origin", lambda company: "https://intuit.example")
    record_connected(two["engines"]["default"], "111", "earlier", "connected")  # realm 111 is Contoso US's
    client = two["client"]
    two["login"]("admin")
    token = csrf_of(client.get("/atera-qbo/connect?company=uk").text)
    start = client.post("/atera-qbo/connect/start?company=uk", data={"csrf": token}, headers={"Origin": ORIGIN},
                        follow_redirects=False)
    state = parse_qs(urlsplit(start.headers["location"]).query)["state"][0]
    assert state.startswith("uk.")
    count = "SELECT count(*) FROM oauth_states"
    with two["engines"]["uk"].connect() as uk, two["engines"]["default"].connect() as us:
        assert (uk.exec_driver_sql(count).scalar(), us.exec_driver_sql(count).scalar()) == (1, 0)
    # Intuit's callback is one URL for every company: the state names the company (uk's database holds it)
    refused = client.get("/atera-qbo/connect/callback", params={"state": state, "code": "c", "realmId": "111"},
                         headers={"Accept": "text/html"})
    assert refused.status_code == 409 and "company default (Contoso US)" in refused.text
    assert "Nothing was stored" in refused.text and made[-1] == "uk"
    with two["engines"]["uk"].connect() as uk:
        assert uk.exec_driver_sql("SELECT count(*) FROM oauth_tokens").scalar() == 0
        assert uk.exec_driver_sql("SELECT count(*) FROM qbo_connection_events").scalar() == 0


def test_add_a_company_writes_it_and_starts_connect_for_it(two, monkeypatch):
    from atera_qbo.companies import load_companies
    from atera_qbo.qbo.connect import ConnectFlow, Discovery
    from atera_qbo.webui import connect

    monkeypatch.setattr(connect, "flow", lambda engine, company: ConnectFlow(
        engine, Discovery("https://intuit.example/authorize", "https://intuit.example/token"),
        client_id="cid", client_secret="secret", redirect_uri="x", state_prefix=f"{company.id}."))
    monkeypatch.setattr(connect, "authorization_origin", lambda company: "https://intuit.example")
    client = two["client"]
    two["login"]("admin")
    token = csrf_of(client.get("/atera-qbo/connect?company=uk").text)
    form = {"csrf": token, "company_id": "fr", "name": "Contoso FR", "atera_conn": "atera_default",
            "route_kind": "country", "route_values": "United Kingdom, France"}
    overlap = client.post("/atera-qbo/connect/add?company=uk", data=form, headers={"Origin": ORIGIN})
    assert overlap.status_code == 400
    assert "'uk' and 'fr' both route country 'united kingdom'" in html.unescape(overlap.text)
    no_route = client.post("/atera-qbo/connect/add?company=uk", data={**form, "route_kind": ""},
                           headers={"Origin": ORIGIN})
    assert no_route.status_code == 400 and "need(s) a route" in no_route.text
    assert load_companies().ids == ["default", "uk"]  # nothing written
    added = client.post("/atera-qbo/connect/add?company=uk", data={**form, "route_values": "France\nFR"},
                        headers={"Origin": ORIGIN}, follow_redirects=False)
    assert added.status_code == 303 and added.headers["location"].startswith("https://intuit.example/authorize?")
    assert parse_qs(urlsplit(added.headers["location"]).query)["state"][0].startswith("fr.")
    fr = load_companies().get("fr")
    assert (fr.name, fr.route.describe()) == ("Contoso FR", "country in (France, FR)")
    assert (two["tmp"] / "atera_qbo_staging.fr.db").exists()  # its own database, holding the state
    two["login"]("finance_uk")
    refused = client.post("/atera-qbo/connect/add", data={**form, "company_id": "de", "route_values": "Germany"},
                          headers={"Origin": ORIGIN, "Accept": "application/json"})
    assert refused.status_code == 403 and load_companies().ids == ["default", "uk", "fr"]


def test_what_a_page_tells_to_run_is_the_companys_own_dag(two):
    """A page that says "run the reconciliation" names the company's own DAG, not default's."""
    client = two["client"]
    two["login"]("finance")
    for company, dag in (("uk", "atera_qbo_reconciliation__uk"), ("default", "atera_qbo_reconciliation")):
        (two["dirs"][company] / "reconciliation_latest.html").unlink()
        answer = client.get(f"/atera-qbo/reconciliation?company={company}")
        assert answer.status_code == 404 and f"run {dag}" in answer.text, answer.text[:300]
        assert company == "uk" or "__uk" not in answer.text
