"""End to end, several companies in one deployment (issue 21): two companies fed by one Atera account, its
customers routed by country, and a third with an Atera account of its own, each with its own QBO company — five
twins as processes, every company's DAGs run with ``dag.test()``. Then each QBO twin is asked through its API
whether every Atera invoice of the company's customers became exactly one invoice in that company's realm and
none in another's; each company's review dir, export reports and staging database are read for the other
companies' records. A customer no route places (country Germany) is exported nowhere and reported.

Also the adoption, behaviourally: a single-company deployment of the previous version (no companies file, its
staging database at revision 0010) exports; a companies file naming ``default`` and a second company is written;
the same DAG ids export again and add nothing that was exported, only what was not."""
from __future__ import annotations

import copy
import csv
import json
import re
from collections import Counter
from collections.abc import Iterator
from contextlib import ExitStack
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path

import pytest
import requests
import sqlalchemy as sa
from test_demo_sync import _PARAMS, REPO, Qbo, expected_names, loopback_only, run  # noqa: F401

from sandbox.control import AteraControl, QboControl
from sandbox.launch import TwinProcess, start_twin
from scripts.airflow_env import DEMO, connections
from tests.twin_state import UNTHROTTLED_QBO

pytestmark = pytest.mark.e2e

WINDOW = {"invoice_date_from": DEMO["invoice_date_from"], "invoice_date_to": DEMO["invoice_date_to"]}
REALMS = {"default": DEMO["realm_id"], "ca": "4620816365200002", "fabrikam": "4620816365200003"}
REFRESH = {"default": DEMO["refresh_token"], "ca": "twin-ca-refresh-token-0002",
           "fabrikam": "twin-fabrikam-refresh-token-0003"}  # each twin knows only its own
FABRIKAM_KEY = "twin-fabrikam-atera-key"
CANADA = ("Tailspin Toys", "Coho Winery", "Fourth Coffee")  # account A's customers moved to Canada
GERMANY = "Trey Research"  # account A's customer no route places
FAMILIES = ("atera_qbo_catalog_sync", "atera_qbo_matching", "atera_qbo_invoice_export")
COMPANIES = {"companies": [
    {"id": "default", "name": "Contoso US", "route": {"country": ["United States"]}},
    {"id": "ca", "name": "Contoso Canada", "qbo_conn_id": "quickbooks_ca", "route": {"country": ["Canada"]}},
    {"id": "fabrikam", "name": "Fabrikam", "atera_conn_id": "atera_fabrikam",
     "qbo_conn_id": "quickbooks_fabrikam", "realm_id": REALMS["fabrikam"]},
]}

# Account B (Fabrikam's own Atera account): customers, products and invoices of its own, numbered apart from
# account A's (a seeded account numbers from 1001, so a second seeded account would reuse A's numbers and names).
B_CUSTOMERS = {"Northbeam Logistics": "United States", "Quillfeather Books": "United States",
               "Saltmarsh Dairy Cooperative": "Germany"}  # Germany: B has no routes, every customer is Fabrikam's
B_PRODUCTS = {"Kestrel Telemetry Subscription": Decimal("240.00"), "Ozelot Field Calibration": Decimal("95.50")}
B_INVOICES = [  # (number, date, customer, [(product, quantity)])
    (7001, "2026-08-12", "Northbeam Logistics", [("Kestrel Telemetry Subscription", 1)]),
    (7002, "2026-08-30", "Quillfeather Books",
     [("Ozelot Field Calibration", 3), ("Kestrel Telemetry Subscription", 1)]),
    (7003, "2026-09-15", "Saltmarsh Dairy Cooperative", [("Ozelot Field Calibration", 2)]),
    (7004, "2026-09-28", "Northbeam Logistics", [("Ozelot Field Calibration", 1)]),
    (7005, "2026-10-09", "Quillfeather Books", [("Kestrel Telemetry Subscription", 2)]),
    (7006, "2026-10-27", "Saltmarsh Dairy Cooperative", [("Kestrel Telemetry Subscription", 1)]),
]


def norm(name: str) -> str:
    return " ".join(str(name or "").split()).casefold()


# ------------------------------------------------------------------------------------------------ the twins
class Realm(Qbo):
    """``Qbo`` of test_demo_sync for one realm of one QBO twin."""

    def __init__(self, url: str, realm: str) -> None:
        self.realm = realm
        super().__init__(url)

    def request(self, method: str, path: str, **kwargs) -> requests.Response:
        import time

        for _ in range(61):
            r = requests.request(method, f"{self.url}/v3/company/{self.realm}{path}", headers=self.headers,
                                 timeout=30, **kwargs)
            if r.status_code != 429:
                break
            time.sleep(1)
        return r

    def invoices(self) -> list[tuple[str, str]]:
        """(DocNumber, customer DisplayName) of every invoice of the realm."""
        names = {c["Id"]: c["DisplayName"] for c in self.query("Customer", "WHERE Active IN (true, false)")}
        return [(str(i.get("DocNumber")), names[i["CustomerRef"]["value"]]) for i in self.query("Invoice")]


@dataclass
class Twins:
    atera_a: TwinProcess
    atera_b: TwinProcess
    qbo: dict[str, TwinProcess] = field(default_factory=dict)  # company id → its QBO twin


def atera_call(url: str, key: str, method: str, path: str, body=None, **params):
    r = requests.request(method, f"{url}/api/v3{path}", headers={"X-API-KEY": key}, json=body, params=params,
                         timeout=30)
    assert r.status_code in (200, 201), f"{method} {path}: {r.status_code} {r.text}"
    return json.loads(r.text, parse_float=Decimal) if r.content else None


def atera_customers(url: str, key: str) -> dict[str, dict]:
    out, page = {}, 1
    while True:
        body = atera_call(url, key, "GET", "/customers", page=page, itemsInPage=50)
        out.update({c["CustomerName"]: c for c in body["items"]})
        if not body.get("nextLink"):
            return out
        page += 1


def atera_invoices(url: str, key: str) -> list[dict]:
    out, page = [], 1
    while True:
        body = atera_call(url, key, "GET", "/billing/invoices", invoiceDateFrom=WINDOW["invoice_date_from"],
                          invoiceDateTo=WINDOW["invoice_date_to"], page=page, itemsInPage=50)
        out += body["items"]
        if not body.get("nextLink"):
            return out
        page += 1


def seed_account_b(url: str) -> None:
    for name, country in B_CUSTOMERS.items():
        atera_call(url, FABRIKAM_KEY, "POST", "/customers", {"CustomerName": name, "Country": country,
                                                             "City": "Springfield"})
    for name, price in B_PRODUCTS.items():
        atera_call(url, FABRIKAM_KEY, "POST", "/rates/products", {"Description": name, "Amount": float(price),
                                                                  "SKU": name[:3].upper(), "Category": "Services"})
    AteraControl(url, api_key=FABRIKAM_KEY).add_invoices([{
        "InvoiceNumber": number, "IsAdhoc": True, "InvoiceDate": f"{day}T00:00:00", "Currency": "USD",
        "To": {"CompanyName": customer}, "TaxPercentage": 0,
        "LineItems": [{"Product": p, "Description": p, "Quantity": q, "Rate": float(B_PRODUCTS[p]),
                       "TaxPercentage": 0, "LineIdx": i} for i, (p, q) in enumerate(lines)],
    } for number, day, customer, lines in B_INVOICES])


def move_customers(url: str, countries: dict[str, str]) -> None:
    """Account A's customers ``name → country`` (the demo's are all in the United States)."""
    customers = atera_customers(url, DEMO["atera_api_key"])
    for name, country in countries.items():
        atera_call(url, DEMO["atera_api_key"], "PUT", f"/customers/{customers[name]['CustomerID']}",
                   {"Country": country})


def _qbo_twin(state: Path, company: str) -> TwinProcess:
    return start_twin("qbo", ["--seed", "demo", "--realm-id", REALMS[company], "--client-id", DEMO["client_id"],
                              "--client-secret", DEMO["client_secret"], "--refresh-token", REFRESH[company],
                              "--state", str(state / f"qbo_{company}.db")], log_path=state / f"qbo_{company}.log")


@pytest.fixture
def twins(tmp_path) -> Iterator[Twins]:
    state = tmp_path / "twins"
    with ExitStack() as stack:
        def started(twin: TwinProcess) -> TwinProcess:
            stack.callback(twin.stop)
            return twin

        atera_a = started(start_twin("atera", ["--seed", "demo", "--api-key", DEMO["atera_api_key"], "--state",
                                               str(state / "atera_a.db")], log_path=state / "atera_a.log"))
        atera_b = started(start_twin("atera", ["--seed", "none", "--api-key", FABRIKAM_KEY, "--state",
                                               str(state / "atera_b.db")], log_path=state / "atera_b.log"))
        out = Twins(atera_a, atera_b)
        for company in REALMS:
            out.qbo[company] = started(_qbo_twin(state, company))
            # QBO's per-minute ceilings lifted (throttling is tested in tests/integration/test_pacing.py): three
            # companies' syncs and this test's reads within a minute would otherwise wait out 429s
            QboControl(out.qbo[company].url).set_limits(**UNTHROTTLED_QBO)
        yield out


# ------------------------------------------------------------------------------------------------ Airflow
def _env(twins: Twins, work: Path) -> dict[str, str]:
    """The default connections of test_demo_sync, plus the other companies' own."""
    env = connections(twins.atera_a.url, twins.qbo["default"].url,
                      staging={"conn_type": "sqlite", "host": str(work / "atera_qbo_staging.db")})
    for company in ("ca", "fabrikam"):
        own = connections(twins.atera_b.url, twins.qbo[company].url,
                          qbo_extra={"realm_id": REALMS[company], "refresh_token": REFRESH[company]})
        env[f"AIRFLOW_CONN_QUICKBOOKS_{company.upper()}"] = own["AIRFLOW_CONN_QUICKBOOKS_DEFAULT"]
    atera_b = json.loads(env["AIRFLOW_CONN_ATERA_DEFAULT"])
    env["AIRFLOW_CONN_ATERA_FABRIKAM"] = json.dumps({**atera_b, "host": twins.atera_b.url,
                                                     "password": FABRIKAM_KEY})
    env["ATERA_QBO_REVIEW_DIR"] = str(work / "review")
    env["ATERA_QBO_COMPANIES_FILE"] = str(work / "companies.json")
    return env


@pytest.fixture
def deployment(twins, tmp_path, monkeypatch) -> Path:
    """This test's connections, staging file, review dir and companies file path (not written yet); an empty
    Airflow database."""
    work = tmp_path / "e2e"
    work.mkdir()
    for key, value in _env(twins, work).items():
        monkeypatch.setenv(key, value)
    from airflow.models import Pool
    from airflow.utils import db

    db.resetdb()
    Pool.create_or_update_pool("qbo_api", 10, "QBO concurrent requests", False)
    return work


def parse_dags() -> dict:
    """The DAG files parsed afresh (the companies file as it is now), retries off as in test_demo_sync."""
    from airflow.dag_processing.dagbag import DagBag

    bag = DagBag(dag_folder=str(REPO / "dags"))
    assert not bag.import_errors, bag.import_errors
    _PARAMS.clear()
    for dag in bag.dags.values():
        for t in dag.tasks:
            t.retries = 0
            _PARAMS[id(t)] = copy.deepcopy(t.params)
    return bag.dags


def dag_id(family: str, company: str) -> str:
    return family if company == "default" else f"{family}__{company}"


def sync(dags: dict, company: str, overrides: str | None, **export_conf) -> None:
    run(dags[dag_id("atera_qbo_catalog_sync", company)])
    conf = {"commit": True, "create_unmatched_in_qbo": True}
    if overrides:
        conf["overrides_path"] = overrides
    run(dags[dag_id("atera_qbo_matching", company)], conf)
    run(dags[dag_id("atera_qbo_invoice_export", company)], {**WINDOW, **export_conf})


def staging_engine(work: Path, company: str) -> sa.Engine:
    from atera_qbo.staging.db import make_engine

    name = "atera_qbo_staging.db" if company == "default" else f"atera_qbo_staging.{company}.db"
    path = work / name
    assert path.exists(), f"no staging database {name} for company {company}"
    return make_engine(f"sqlite:///{path}")


def review_root(work: Path, company: str) -> Path:
    return work / "review" if company == "default" else work / "review" / "companies" / company


def demo_overrides_without_customers(dest: Path, keep_customers: set[str]) -> None:
    """The demo's overrides file with only the customer lines of ``keep_customers`` (the others are another
    company's customers, which this company's staging does not hold: an override naming one is refused)."""
    src = REPO / "include" / "demo" / "overrides.csv"
    with src.open(encoding="utf-8-sig", newline="") as fh:
        rows = list(csv.DictReader(fh))
    kept = [r for r in rows if r["entity"] != "customer" or norm(r["atera_name"]) in keep_customers]
    dest.parent.mkdir(parents=True, exist_ok=True)
    with dest.open("w", encoding="utf-8", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(kept)


# ------------------------------------------------------------------------------------------------ what to expect
@dataclass
class Expected:
    own: dict[str, set[str]]  # company → its Atera customers (normalised names)
    invoices: dict[str, dict[str, str]]  # company → {Atera invoice number: its QBO customer (normalised)}
    unrouted: set[str]  # invoice numbers of the customer no route places


def expected(twins: Twins) -> Expected:
    want_customer, _, _ = expected_names()  # account A (the demo): Atera name → the QBO customer it maps to
    a_names = {norm(n) for n in atera_customers(twins.atera_a.url, DEMO["atera_api_key"])}
    own = {"ca": {norm(n) for n in CANADA}, "fabrikam": {norm(n) for n in B_CUSTOMERS}}
    own["default"] = a_names - own["ca"] - {norm(GERMANY)}
    out = Expected(own, {c: {} for c in REALMS}, set())
    for inv in atera_invoices(twins.atera_a.url, DEMO["atera_api_key"]):
        name, number = norm(inv["To"]["CompanyName"]), str(inv["InvoiceNumber"])
        if name == norm(GERMANY):
            out.unrouted.add(number)
            continue
        company = "ca" if name in own["ca"] else "default"
        out.invoices[company][number] = norm(want_customer[name])
    for inv in atera_invoices(twins.atera_b.url, FABRIKAM_KEY):
        out.invoices["fabrikam"][str(inv["InvoiceNumber"])] = norm(inv["To"]["CompanyName"])
    # not vacuous: every company has invoices, the unrouted customer too, and the numbers never collide
    assert len(out.invoices["default"]) >= 50 and len(out.invoices["ca"]) >= 6 and out.unrouted
    assert len(out.invoices["fabrikam"]) == len(B_INVOICES)
    assert sum(map(len, out.invoices.values())) == len(set().union(*out.invoices.values()))
    return out


def assert_each_invoice_in_its_own_realm_once(twins: Twins, want: Expected) -> dict[str, int]:
    counts = {}
    for company, realm in REALMS.items():
        got = Realm(twins.qbo[company].url, realm).invoices()
        docs = Counter(doc for doc, _ in got)
        assert not {d: n for d, n in docs.items() if n > 1}, f"{company}: DocNumbers in QBO more than once"
        missing = set(want.invoices[company]) - set(docs)
        stray = set(docs) - set(want.invoices[company])
        others = {c for c, numbers in want.invoices.items() if c != company and stray & set(numbers)}
        assert not missing, f"{company}: invoices not in its realm: {sorted(missing)[:10]}"
        assert not stray, f"{company}: realm {realm} holds invoices of {others or 'nobody'}: {sorted(stray)[:10]}"
        assert not want.unrouted & set(docs), f"{company}: an unrouted customer's invoice was exported"
        wrong = [(doc, cust) for doc, cust in got if norm(cust) != want.invoices[company][doc]]
        assert not wrong, f"{company}: invoices with another customer than Atera's: {wrong[:5]}"
        counts[company] = len(got)
    return counts


def read_csv(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8-sig", newline="") as fh:
        return list(csv.DictReader(fh))


def assert_review_and_reports_are_the_companys(work: Path, want: Expected) -> None:
    for company in REALMS:
        root = review_root(work, company)
        review = read_csv(root / "match_review.csv")
        atera_side = {norm(r["atera_name"]) for r in review if r["entity"] == "customer" and r["atera_id"]}
        assert atera_side == want.own[company], f"{company}: its review lists {atera_side ^ want.own[company]}"
        reports = sorted((root / "exports").glob("export_*.csv"))
        assert reports, f"{company}: no export report in {root / 'exports'}"
        rows = [r for report in reports for r in read_csv(report)]
        assert {r["atera_invoice_number"] for r in rows} == set(want.invoices[company]), company
        assert {norm(r["customer_name"]) for r in rows} <= want.own[company], company
    nested = {p.relative_to(work / "review").parts[:3] for p in (work / "review" / "companies").rglob("*")}
    assert {p[1] for p in nested} == {"ca", "fabrikam"}  # nothing of the default company under companies/


def staged(work: Path, company: str, sql: str) -> list[tuple]:
    engine = staging_engine(work, company)
    try:
        with engine.connect() as conn:
            return [tuple(r) for r in conn.execute(sa.text(sql))]
    finally:
        engine.dispose()


def assert_staging_is_the_companys(work: Path, want: Expected) -> None:
    for company in REALMS:
        assert staged(work, company, "SELECT company_id FROM company_identity") == [(company,)]
        customers = staged(work, company, "SELECT name, deleted_at FROM stg_atera_customers")
        assert {norm(n) for n, _ in customers} == want.own[company], company
        assert all(gone is None for _, gone in customers), company
        invoices = staged(work, company, "SELECT source_id, customer_name FROM stg_atera_invoices")
        assert {str(n) for n, _ in invoices} == set(want.invoices[company]), company
        ledger = staged(work, company, "SELECT atera_invoice_number, status, qbo_id FROM export_invoices")
        assert {n for n, _, _ in ledger} == set(want.invoices[company]), company
        assert {s for _, s, _ in ledger} == {"exported"} and all(q for _, _, q in ledger), company
        tokens = staged(work, company, "SELECT realm_id FROM oauth_tokens")
        assert tokens == [(REALMS[company],)], f"{company}: token chains {tokens}"


def assert_unrouted_reported(work: Path) -> None:
    """Both companies of account A know the customer no route places, by name and why; of each other's
    customers they keep no name."""
    for company, other in (("default", "ca"), ("ca", "default")):
        unrouted = staged(work, company, "SELECT name, country, reason FROM atera_customer_routes "
                                         "WHERE routed_to IS NULL")
        assert [(n, c) for n, c, _ in unrouted] == [(GERMANY, "Germany")], company
        assert "Germany" in unrouted[0][2], unrouted[0][2]
        theirs = staged(work, company, "SELECT name, country FROM atera_customer_routes "
                                       f"WHERE routed_to = '{other}'")
        assert theirs and all(row == (None, None) for row in theirs), f"{company} keeps {other}'s customers"


def assert_reconciliation_reports_unrouted_and_only_its_own(dags: dict, work: Path, want: Expected) -> None:
    """The reconciliation of ``ca`` reports the customer no route places (``unrouted_customer``), and no record of
    another company in any finding; its report lands in ca's review dir only."""
    run(dags["atera_qbo_reconciliation__ca"], {"date_from": WINDOW["invoice_date_from"],
                                               "date_to": WINDOW["invoice_date_to"]})
    (folder,) = (review_root(work, "ca") / "reconciliation").iterdir()
    unrouted = read_csv(folder / "unrouted_customer.csv")
    assert [norm(r["atera_name"]) for r in unrouted] == [norm(GERMANY)]
    assert "Germany" in unrouted[0]["detail"] and "Canada" in unrouted[0]["action"], unrouted[0]
    others = set(want.invoices["default"]) | set(want.invoices["fabrikam"]) | want.unrouted
    other_names = want.own["default"] | want.own["fabrikam"]
    for path in folder.glob("*.csv"):
        for row in read_csv(path):
            assert row["atera_id"] not in others, f"{path.name}: another company's invoice in ca's findings: {row}"
            if path.name != "unrouted_customer.csv" and row.get("atera_name"):
                assert norm(row["atera_name"]) not in other_names, f"{path.name}: {row}"
    assert not (work / "review" / "reconciliation").exists()  # nothing in the default company's review dir


def test_three_companies_each_invoice_lands_once_in_its_own_company(twins, deployment):
    work = deployment
    (work / "companies.json").write_text(json.dumps(COMPANIES), encoding="utf-8")
    move_customers(twins.atera_a.url, {**dict.fromkeys(CANADA, "Canada"), GERMANY: "Germany"})
    seed_account_b(twins.atera_b.url)
    dags = parse_dags()
    assert {dag_id(f, c) for f in FAMILIES for c in REALMS} <= set(dags)
    want = expected(twins)

    default_overrides = str(REPO / "include" / "demo" / "overrides.csv")  # its customer lines are all US ones
    demo_overrides_without_customers(review_root(work, "ca") / "overrides" / "ca.csv", want.own["ca"])
    overrides = {"default": default_overrides, "ca": "overrides/ca.csv", "fabrikam": None}  # ca: in its review dir
    for company in REALMS:
        sync(dags, company, overrides[company])

    counts = assert_each_invoice_in_its_own_realm_once(twins, want)
    assert_review_and_reports_are_the_companys(work, want)
    assert_staging_is_the_companys(work, want)
    assert_unrouted_reported(work)

    assert_reconciliation_reports_unrouted_and_only_its_own(dags, work, want)

    for company in REALMS:  # a second pass adds nothing anywhere
        run(dags[dag_id("atera_qbo_invoice_export", company)], WINDOW)
    assert assert_each_invoice_in_its_own_realm_once(twins, want) == counts


# ------------------------------------------------------------------------------------------------ adoption
def test_a_single_company_deployment_is_adopted_and_exports_on_without_duplicates(twins, deployment):
    """Today's deployment (no companies file) exports part of the window; its staging database is taken back to
    the previous version's revision (0010: no company_identity); then a companies file names ``default`` and a
    second company, and the same DAG ids export the whole window: what was exported is not sent again."""
    from atera_qbo.staging import identity, migrate
    from atera_qbo.staging.db import dispose_engines

    work = deployment
    assert not (work / "companies.json").exists()
    dags = parse_dags()
    assert not [d for d in dags if "__" in d]  # one company: the DAG ids of before
    source = sorted(str(i["InvoiceNumber"]) for i in atera_invoices(twins.atera_a.url, DEMO["atera_api_key"]))
    first = source[: len(source) // 2]
    sync(dags, "default", str(REPO / "include" / "demo" / "overrides.csv"), invoice_numbers=first)
    realm = Realm(twins.qbo["default"].url, REALMS["default"])
    assert sorted(doc for doc, _ in realm.invoices()) == first
    ledger_before = dict(staged(work, "default", "SELECT atera_invoice_number, qbo_id FROM export_invoices"))

    engine = staging_engine(work, "default")  # as the previous version left it
    migrate.downgrade(engine, "0010_oauth_states")
    engine.dispose()
    dispose_engines()  # the next task migrates it again, as the new version's first task would
    identity.forget_checks()  # and checks whose it is afresh

    (work / "companies.json").write_text(json.dumps({"companies": [
        {"id": "default", "name": "Contoso US", "route": {"country": ["United States"]}},
        {"id": "uk", "name": "Contoso UK", "qbo_conn_id": "quickbooks_uk", "route": {"country": ["United Kingdom"]}},
    ]}), encoding="utf-8")
    dags = parse_dags()
    assert {dag_id(f, c) for f in FAMILIES for c in ("default", "uk")} <= set(dags)
    run(dags["atera_qbo_catalog_sync"])
    run(dags["atera_qbo_invoice_export"], WINDOW)

    ((company, how),) = staged(work, "default", "SELECT company_id, how FROM company_identity")
    assert company == "default" and re.search(r"adopted by migration 0011", how), how
    docs = Counter(doc for doc, _ in realm.invoices())
    assert sorted(docs) == source and set(docs.values()) == {1}  # the rest exported, nothing twice
    ledger_after = dict(staged(work, "default", "SELECT atera_invoice_number, qbo_id FROM export_invoices"))
    assert {n: ledger_after[n] for n in ledger_before} == ledger_before  # the adopted rows kept their QBO ids
    assert not (work / "atera_qbo_staging.uk.db").exists()  # uk never ran: no database made for it
