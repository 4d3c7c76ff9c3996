"""Issue 9 as a careful finance user would check it: hand-built catalogs posted through both twins' APIs (empty
seeds), extracted into staging (SQLite and PostgreSQL), matched — conflicts on either side, CompanyName, SKU, a
name and a SKU that disagree, inactive names, vendors and employees holding a name, customers told apart by
their domain and phone — and committed."""
from __future__ import annotations

import pytest
import sqlalchemy as sa

from atera_qbo.errors import MatchingError
from atera_qbo.extract import extract_atera_catalog, extract_qbo_catalog
from atera_qbo.matching import commit
from atera_qbo.matching.match import apply_overrides, decisions, load_catalogs, match_all
from atera_qbo.matching.review import Action, Decision, MatchStatus, ReviewRow
from atera_qbo.staging.db import table
from sandbox.control import AteraControl, QboControl
from sandbox.launch import start_twin
from scripts.airflow_env import DEMO
from tests.twin_state import UNTHROTTLED_QBO, SharedTwin

from .pipeline import atera_client
from .test_extract_qbo import client as qbo_client

ATERA_CUSTOMERS = ["litware inc", "LITWARE  INC", "Fabrikam Inc", "Contoso Ltd", "Old Mill Bakery", "Globex",
                   "Hank Scorpio", "Apex Dental", "Northwind Traders"]
# Names written differently on each side, told apart (or not) by the contacts both sides keep: Atera's Domain and
# Phone; QBO's WebAddr, PrimaryEmailAddr and PrimaryPhone. (Atera name, Domain, Phone), then the QBO side.
ATERA_CONTACTS = [("Blue Heron Bistro", "blueheron.example.com", "(555) 301-4000"),  # domain and phone agree
                  ("Summit Dental", None, "555-777-1000"),  # the phone alone, written another way
                  ("Harbor Realty", "gmail.com", None),  # a public mail domain identifies nobody
                  ("Cedar Clinic", "cedarclinic.example.com", "(555) 410-2000"),  # domain and phone disagree
                  ("Lake Dental North", "lakedental.example.com", None),  # one domain, two Atera customers
                  ("Lake Dental South", "lakedental.example.com", None),
                  ("Quantum Ventures", None, "(555) 999-1234")]  # same phone, unrelated name
QBO_CONTACTS = [("Blue Heron Bistro, LLC", {"WebAddr": {"URI": "https://www.BlueHeron.example.com/"},
                                            "PrimaryPhone": {"FreeFormNumber": "555.301.4000"}}),
                ("Summit Dental Care", {"PrimaryPhone": {"FreeFormNumber": "+1 (555) 777-1000"},
                                        "PrimaryEmailAddr": {"Address": "summit.dental@gmail.com"}}),
                ("Harbor Realty Inc", {"PrimaryEmailAddr": {"Address": "harborrealty@gmail.com"}}),
                ("Cedar Clinic PC", {"WebAddr": {"URI": "cedarclinic.example.com"}}),
                ("Cedar Clinic Annex", {"PrimaryPhone": {"FreeFormNumber": "(555) 410-2000"}}),
                ("Lake Dental North Inc", {"PrimaryEmailAddr": {"Address": "billing@lakedental.example.com"}}),
                ("Old Town Garage", {"PrimaryPhone": {"FreeFormNumber": "555 999 1234"}}),
                ("Maple Accounting Group", {"WebAddr": {"URI": "http://maplecpa.example.com"}}),
                ("Pine Legal LLP", {"WebAddr": {"URI": "pinelegal.example.com"}})]
# Atera customers with no Domain, known by their contacts' e-mail addresses (Atera's Domain is often empty).
ATERA_PEOPLE = [("Maple Accounting", ["ann@MapleCPA.example.com", "bob.maple@gmail.com"]),  # one company domain
                ("Pine Legal", ["a@pinelegal.example.com", "b@pinelaw.example.com"])]  # two: identifies nobody
ATERA_PRODUCTS = [("Widget Pro", "W-1"), ("Laptop 14", "L-14"), ("Retired Widget", None), ("Cable", None)]
ATERA_EXPENSES = [("Parking", None), ("Tolls", None)]


@pytest.fixture(scope="module")
def processes(tmp_path_factory):
    """Both twins, empty, as processes (one pair per module)."""
    atera = start_twin("atera", ["--seed", "none", "--api-key", DEMO["atera_api_key"]],
                       log_path=tmp_path_factory.mktemp("atera") / "twin.log")
    try:
        qbo = start_twin("qbo", ["--seed", "none", "--realm-id", DEMO["realm_id"], "--client-id", DEMO["client_id"],
                                 "--client-secret", DEMO["client_secret"], "--refresh-token", DEMO["refresh_token"]],
                         log_path=tmp_path_factory.mktemp("qbo") / "twin.log")
    except BaseException:
        atera.stop()
        raise
    try:
        QboControl(qbo.url).set_limits(**UNTHROTTLED_QBO)
        yield SharedTwin(atera, AteraControl(atera.url), profile="none"), SharedTwin(qbo, QboControl(qbo.url),
                                                                                       profile="none")
    finally:
        atera.stop()
        qbo.stop()


@pytest.fixture
def twins(processes, tmp_path):
    """Both twins with nothing in them but what this module posts through their APIs, posted afresh per test."""
    atera, qbo = (shared.restore() for shared in processes)
    _post_atera(atera_client(atera))
    _post_qbo(qbo, tmp_path / "scratch.db")
    return atera, qbo


def _post_atera(atera) -> None:
    for name in ATERA_CUSTOMERS:
        atera.create_customer({"CustomerName": name})
    for name, domain, phone in ATERA_CONTACTS:
        atera.create_customer({"CustomerName": name, "Domain": domain, "Phone": phone})
    for name, emails in ATERA_PEOPLE:
        customer = atera.create_customer({"CustomerName": name})
        for email in emails:
            atera.post("/contacts", {"CustomerID": customer, "Email": email, "Firstname": "A", "Lastname": "B"},
                       entity=f"contact {email}")
    for kind, rows in (("products", ATERA_PRODUCTS), ("expenses", ATERA_EXPENSES)):
        for name, sku in rows:
            atera.post(f"/rates/{kind}", {"Description": name, "Amount": 10, "SKU": sku, "Category": "Fees"},
                       entity=kind)


def _post_qbo(twin, scratch_db) -> None:
    from atera_qbo.staging.db import apply_schema, make_engine

    scratch = make_engine(f"sqlite:///{scratch_db}")  # the token store of the posting client only
    apply_schema(scratch)
    qbo = qbo_client(twin, scratch)
    # Accounts are company set-up: a reset keeps them, so an earlier test's account is still there.
    kept = list(qbo.query_all("Account", "Name = 'Matching Test Income'"))
    income = kept[0]["Id"] if kept else qbo.create("Account", {"Name": "Matching Test Income", "AccountType": "Income",
                                                               "AccountSubType": "ServiceFeeIncome"})["Id"]

    def item(name: str, sku: str | None = None) -> dict:
        body = {"Name": name, "Type": "Service", "IncomeAccountRef": {"value": income}}
        return qbo.create("Item", {**body, "Sku": sku} if sku else body)

    qbo.create("Customer", {"DisplayName": "Litware Inc"})
    qbo.create("Customer", {"DisplayName": "Fabrikam Inc"})
    qbo.create("Customer", {"DisplayName": "Fabrikam  Inc"})  # QBO keeps inner blanks apart; a reader cannot
    qbo.create("Customer", {"DisplayName": "Contoso HQ", "CompanyName": "Contoso Ltd"})
    old = qbo.create("Customer", {"DisplayName": "Old Mill Bakery"})
    qbo.create("Customer", {"Id": old["Id"], "SyncToken": old["SyncToken"], "sparse": True, "Active": False})
    qbo.create("Customer", {"DisplayName": "Apex Dental Group"})
    qbo.create("Customer", {"DisplayName": "Pinecrest Veterinary"})
    qbo.create("Customer", {"DisplayName": "northwind traders"})
    for name, contacts in QBO_CONTACTS:
        qbo.create("Customer", {"DisplayName": name, **contacts})
    qbo.create("Vendor", {"DisplayName": "GLOBEX"})
    qbo.create("Employee", {"DisplayName": "Hank Scorpio", "GivenName": "Hank", "FamilyName": "Scorpio"})
    item("Widget Professional", "W-1")
    item("Laptop 14", "X-9")
    item("Notebook 14", "L-14")
    retired = item("Retired Widget")
    qbo.create("Item", {"Id": retired["Id"], "SyncToken": retired["SyncToken"], "sparse": True, "Active": False,
                        "Name": "Retired Widget"})
    item("Cable")
    item("Travel Expenses")
    qbo.close()
    scratch.dispose()


def staged(twins, engine):
    atera_twin, qbo_twin = twins
    atera, qbo = atera_client(atera_twin), qbo_client(qbo_twin, engine)
    extract_atera_catalog(atera, engine)
    extract_qbo_catalog(qbo, engine)
    return atera, qbo, load_catalogs(engine)


def by_name(review):
    return {r.atera_name: r for r in review.itertuples(index=False) if r.atera_id}


def ids(cands: str) -> list[str]:
    return [c.split("|")[1] for c in cands.split(";") if c]


def test_hand_built_catalogs_match_one_to_one(twins, engine):
    *_, cat = staged(twins, engine)
    review = match_all(cat)
    rows = by_name(review)
    for name in ("litware inc", "LITWARE  INC"):  # two Atera records, one QBO customer: no match for either
        assert rows[name].status == MatchStatus.CONFLICT and ids(rows[name].candidates) == ["Litware Inc"]
        assert "2 Atera customers share this name" in rows[name].note
    fabrikam = rows["Fabrikam Inc"]  # two QBO customers a reader cannot tell apart
    assert fabrikam.status == MatchStatus.CONFLICT and sorted(ids(fabrikam.candidates)) == ["Fabrikam  Inc",
                                                                                            "Fabrikam Inc"]
    assert rows["Contoso Ltd"].status == MatchStatus.MATCHED_EXACT and rows["Contoso Ltd"].qbo_name == "Contoso HQ"
    assert "reactivate it in QBO" in rows["Old Mill Bakery"].note
    assert rows["Northwind Traders"].status == MatchStatus.MATCHED_EXACT
    assert rows["Apex Dental"].status == MatchStatus.SUGGESTED and rows["Apex Dental"].qbo_name == "Apex Dental Group"
    offered = set(review.loc[review["status"] == MatchStatus.QBO_ONLY, "qbo_name"])
    # not Contoso HQ (matched), Litware (conflict), Apex (suggested), nor any candidate of the contact cases
    assert offered == {"Pinecrest Veterinary", "Old Town Garage"}
    assert rows["Widget Pro"].status == MatchStatus.MATCHED_EXACT and rows["Widget Pro"].qbo_name == \
        "Widget Professional" and "SKU" in rows["Widget Pro"].note
    laptop = rows["Laptop 14"]  # the name says "Laptop 14", the SKU says "Notebook 14"
    assert laptop.status == MatchStatus.CONFLICT and sorted(ids(laptop.candidates)) == ["Laptop 14", "Notebook 14"]
    assert rows["Retired Widget"].status == MatchStatus.CONFLICT and "reactivate" in rows["Retired Widget"].note
    plan = decisions(review, create_unmatched=True, import_unmatched=True)
    mapped = plan.loc[plan["decision"] == Decision.MAP, "qbo_id"]
    assert not mapped.duplicated().any()


def test_contacts_identify_customers_whose_names_are_written_differently(twins, engine):
    *_, cat = staged(twins, engine)
    rows = by_name(match_all(cat))
    for atera_name, qbo_name, said in (("Blue Heron Bistro", "Blue Heron Bistro, LLC",
                                        "domain blueheron.example.com and phone"),
                                       ("Summit Dental", "Summit Dental Care", "phone number"),
                                       ("Maple Accounting", "Maple Accounting Group",
                                        "domain maplecpa.example.com (its contacts' e-mail)")):
        row = rows[atera_name]
        assert (row.status, row.qbo_name) == (MatchStatus.MATCHED_EXACT, qbo_name)
        assert f"matched on the shared {said}" in row.note and "the names differ" in row.note
    # what contacts cannot confirm stays a suggestion for finance (or unmatched), never a match
    for name, best in (("Harbor Realty", "Harbor Realty Inc"), ("Lake Dental North", "Lake Dental North Inc")):
        assert (rows[name].status, rows[name].qbo_name) == (MatchStatus.SUGGESTED, best)
    assert rows["Cedar Clinic"].status == MatchStatus.SUGGESTED
    assert (rows["Pine Legal"].status, rows["Pine Legal"].qbo_name) == (MatchStatus.SUGGESTED, "Pine Legal LLP")
    assert sorted(ids(rows["Cedar Clinic"].candidates)) == ["Cedar Clinic Annex", "Cedar Clinic PC"]
    assert rows["Quantum Ventures"].status == MatchStatus.UNMATCHED and rows["Quantum Ventures"].qbo_id == ""
    plan = decisions(match_all(cat), create_unmatched=True, import_unmatched=True)
    planned = dict(zip(plan["atera_name"], plan["decision"], strict=True))
    assert planned["Blue Heron Bistro"] == planned["Summit Dental"] == planned["Maple Accounting"] == Decision.MAP
    assert planned["Harbor Realty"] == planned["Cedar Clinic"] == Decision.NONE  # waits for finance


def test_creates_qbo_would_refuse_are_stopped_before_any_request(twins, engine):
    *_, cat = staged(twins, engine)
    lines = [ReviewRow(entity="customer", atera_id=_atera_id(cat, n), action=Action.CREATE, line=i + 2)
             for i, n in enumerate(("Globex", "Hank Scorpio", "Old Mill Bakery"))]
    lines.append(ReviewRow(entity="product", atera_id=_atera_id(cat, "Retired Widget", products=True),
                           action=Action.CREATE, line=9))
    plan = decisions(apply_overrides(match_all(cat), lines, cat), create_unmatched=False, import_unmatched=False)
    control = QboControl(twins[1].url)
    before = _writes(control)
    with pytest.raises(MatchingError) as info:
        commit.build_steps(plan, cat, engine)
    text = str(info.value)
    assert "'Globex' is already used in QBO by Vendor" in text
    assert "'Hank Scorpio' is already used in QBO by Employee" in text
    assert "'Old Mill Bakery' is the name of Customer" in text and "(inactive)" in text
    assert "'Retired Widget' is the name of Item" in text and "reactivate it in QBO and match it" in text
    assert _writes(control) == before  # nothing was sent


def test_overrides_one_qbo_customer_twice_refused_products_may_share_an_item(twins, engine):
    _, qbo, cat = staged(twins, engine)
    review = match_all(cat)
    pinecrest = _qbo_id(cat, "Pinecrest Veterinary")
    twice = [ReviewRow(entity="customer", atera_id=_atera_id(cat, "Globex"), qbo_id=pinecrest, action=Action.MATCH,
                       line=2),
             ReviewRow(entity="customer", atera_id=_atera_id(cat, "Hank Scorpio"), qbo_id=pinecrest,
                       action=Action.MATCH, line=3)]
    with pytest.raises(MatchingError, match=f"line 3 .*QBO customer {pinecrest} is already taken by line 2"):
        apply_overrides(review, twice, cat)
    travel = _qbo_id(cat, "Travel Expenses", items=True)
    shared = [ReviewRow(entity="product", atera_id=_atera_id(cat, n, products=True), qbo_id=travel,
                        action=Action.MATCH, line=i + 2, note="all travel costs on one item")
              for i, n in enumerate(("Parking", "Tolls"))]
    plan = decisions(apply_overrides(review, shared, cat), create_unmatched=False, import_unmatched=False)
    commit.execute(engine, plan, commit.build_steps(plan, cat, engine), qbo=qbo, atera=None)
    mp = table("map_products")
    with engine.connect() as conn:
        mapped = dict(conn.execute(sa.select(mp.c.atera_name, mp.c.qbo_id).where(mp.c.active)).all())
    assert mapped["Parking"] == mapped["Tolls"] == travel
    mc = table("map_customers")
    with engine.connect() as conn:
        qbo_ids = conn.execute(sa.select(mc.c.qbo_id).where(mc.c.active)).scalars().all()
    assert len(qbo_ids) == len(set(qbo_ids)) >= 2  # Contoso (CompanyName) and Northwind, each once


def _writes(control: QboControl) -> int:
    return sum(e["method"] == "POST" and "/query" not in e["path"] for e in control.requests())


def _atera_id(cat, name: str, *, products: bool = False) -> str:
    frame = cat.atera_products if products else cat.atera_customers
    return str(frame.loc[frame["name"] == name, "atera_id"].iloc[0])


def _qbo_id(cat, name: str, *, items: bool = False) -> str:
    frame = cat.qbo_items if items else cat.qbo_customers
    return str(frame.loc[frame["name"] == name, "qbo_id"].iloc[0])
