"""End to end: both twins as real processes, the three DAGs with ``dag.test()``, then the QBO twin is asked
through its API whether every Atera demo invoice became exactly one QBO invoice with the right customer, lines
and pre-tax total — and a second pass adds nothing. Also: no secret in any log.

Every test starts from nothing: twins of its own (demo seed; the refresh token of the connection is new to them),
an empty Airflow database, its own staging file and review dir, the DAG files parsed afresh. The fixtures are
imported by the other e2e modules."""
from __future__ import annotations

import copy
import json
import logging
import os
import time
from collections import Counter
from decimal import Decimal
from pathlib import Path

import pytest
import requests

from sandbox.control import AteraControl, QboControl
from sandbox.launch import start_twin
from sandbox.seed import build_world
from scripts.airflow_env import DEMO, connections

pytestmark = pytest.mark.e2e
REPO = Path(__file__).resolve().parents[2]
D = Decimal


@pytest.fixture(autouse=True)
def loopback_only():
    """Nothing in the sync may reach beyond this machine: any connection to a non-loopback address fails."""
    import ipaddress
    import socket

    real_connect = socket.socket.connect
    attempts: list = []

    def guarded(sock, address):
        host = address[0] if isinstance(address, tuple) else None
        if host is not None and sock.family in (socket.AF_INET, socket.AF_INET6):
            try:
                loopback = ipaddress.ip_address(host).is_loopback
            except ValueError:
                loopback = host == "localhost"
            if not loopback:
                attempts.append(host)
                raise OSError(f"test forbids network access beyond loopback (to {host})")
        return real_connect(sock, address)

    socket.socket.connect = guarded
    yield attempts
    socket.socket.connect = real_connect
    assert not attempts, f"the sync tried to reach {attempts}"


@pytest.fixture
def twins(tmp_path):
    """Both twins, demo-seeded, as processes of this test's own (a second each to start: the DAG runs take far
    longer)."""
    state = tmp_path / "twins"
    atera = start_twin("atera", ["--seed", "demo", "--api-key", DEMO["atera_api_key"], "--state",
                                 str(state / "atera.db")], log_path=state / "atera.log")
    try:
        qbo = start_twin("qbo", ["--seed", "demo", "--realm-id", DEMO["realm_id"], "--client-id", DEMO["client_id"],
                                 "--client-secret", DEMO["client_secret"], "--refresh-token", DEMO["refresh_token"],
                                 "--state", str(state / "qbo.db")], log_path=state / "qbo.log")
    except BaseException:
        atera.stop()
        raise
    try:
        yield atera, qbo
    finally:
        atera.stop()
        qbo.stop()


@pytest.fixture
def airflow_env(twins, tmp_path, monkeypatch):
    """The connections to this test's twins, its own staging file and review dir, an empty Airflow database."""
    atera, qbo = twins
    work = tmp_path / "e2e"
    work.mkdir()
    env = connections(atera.url, qbo.url, staging={"conn_type": "sqlite", "host": str(work / "staging.db")})
    env["ATERA_QBO_REVIEW_DIR"] = str(work / "review")
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    from airflow.models import Pool
    from airflow.utils import db

    db.resetdb()
    Pool.create_or_update_pool("qbo_api", 10, "QBO concurrent requests", False)
    return work


@pytest.fixture
def dags(airflow_env):
    from airflow.dag_processing.dagbag import DagBag

    bag = DagBag(dag_folder=str(REPO / "dags"))
    assert not bag.import_errors
    _PARAMS.clear()  # the tasks of an earlier test's DagBag are gone (and their ids may be reused)
    for dag in bag.dags.values():  # a failure here must fail the test now, not after Airflow's retry delay
        for t in dag.tasks:
            t.retries = 0
            _PARAMS[id(t)] = copy.deepcopy(t.params)
    return bag.dags


_PARAMS: dict[int, object] = {}  # id(task) → its params as the DAG file declared them


def run_dag_test(dag, conf=None):
    """``dag.test`` with ``conf`` on top of the declared params. Airflow's in-process ``dag.test`` writes a run's
    conf into the task objects' params, so a second run of the same DAG object would inherit the first run's conf
    (``create_unmatched_in_qbo`` from an earlier run, say): every run starts from the declared params here, as a
    scheduler's fresh task process does."""
    for t in dag.tasks:
        t.params = copy.deepcopy(_PARAMS.setdefault(id(t), copy.deepcopy(t.params)))
    return dag.test(run_conf=conf or {})


def run(dag, conf=None):
    from airflow.utils.state import DagRunState

    dr = run_dag_test(dag, conf)
    assert dr.state == DagRunState.SUCCESS, f"{dag.dag_id} ended {dr.state}"
    return dr


def run_all(dags):
    run(dags["atera_qbo_catalog_sync"])
    run(dags["atera_qbo_matching"], {"commit": True, "create_unmatched_in_qbo": True,
                                     "overrides_path": str(REPO / "include" / "demo" / "overrides.csv")})
    run(dags["atera_qbo_invoice_export"], {"invoice_date_from": DEMO["invoice_date_from"],
                                           "invoice_date_to": DEMO["invoice_date_to"]})


class Qbo:
    """Read the QBO twin like a client would (own refresh grant from the consent stand-in), within its limits: a
    429 (QBO's 10 requests a second per realm, which the sync may just have used up) is waited out."""

    def __init__(self, url: str) -> None:
        self.url = url
        grant = QboControl(url).mint_refresh_token(DEMO["client_id"])
        token = requests.post(f"{url}/oauth2/v1/tokens/bearer", auth=(DEMO["client_id"], DEMO["client_secret"]),
                              data={"grant_type": "refresh_token", "refresh_token": grant}, timeout=10).json()
        self.headers = {"Authorization": f"Bearer {token['access_token']}", "Accept": "application/json"}

    def request(self, method: str, path: str, **kwargs) -> requests.Response:
        """``method`` on ``/v3/company/{realm}`` + ``path``; QBO says no Retry-After: a throttled call is tried again
        a second later, for as long as a per-minute window lasts."""
        for _ in range(61):
            r = requests.request(method, f"{self.url}/v3/company/{DEMO['realm_id']}{path}", headers=self.headers,
                                 timeout=30, **kwargs)
            if r.status_code != 429:
                break
            time.sleep(1)
        return r

    def query(self, entity: str, where: str = "") -> list[dict]:
        rows, start = [], 1
        while True:
            q = f"SELECT * FROM {entity} {where} STARTPOSITION {start} MAXRESULTS 1000"
            r = self.request("GET", "/query", params={"query": q})
            r.raise_for_status()
            page = json.loads(r.text, parse_float=Decimal)["QueryResponse"].get(entity, [])
            rows += page
            if len(page) < 1000:
                return rows
            start += 1000


def atera_invoices(url: str) -> list[dict]:
    out, page = [], 1
    while True:
        r = requests.get(f"{url}/api/v3/billing/invoices", headers={"X-API-KEY": DEMO["atera_api_key"]},
                         params={"invoiceDateFrom": DEMO["invoice_date_from"], "invoiceDateTo": DEMO["invoice_date_to"],
                                 "page": page, "itemsInPage": 50}, timeout=30)
        r.raise_for_status()
        body = json.loads(r.text, parse_float=Decimal)
        out += body["items"]
        if not body.get("nextLink"):
            return out
        page += 1


def expected_names():
    world = build_world("demo", 42)
    norm = lambda s: " ".join(s.split()).casefold()  # noqa: E731
    customers = {norm(c.atera_name): (c.qbo_name or c.atera_name).strip() for c in world.atera_companies()}
    products = {norm(p.atera_name): (p.qbo_name or p.atera_name).strip() for p in world.atera_products()}
    return customers, products, norm


def test_every_demo_invoice_lands_once_with_customer_lines_and_pre_tax_total(twins, dags, caplog, capfd):
    atera, qbo_twin = twins
    caplog.set_level(logging.DEBUG)
    run_all(dags)

    qbo = Qbo(qbo_twin.url)
    source = atera_invoices(atera.url)
    assert len(source) >= 100
    invoices = qbo.query("Invoice")
    by_doc = Counter(i.get("DocNumber") for i in invoices)
    customers = {c["Id"]: c for c in qbo.query("Customer", "WHERE Active IN (true, false)")}
    items = {i["Id"]: i for i in qbo.query("Item", "WHERE Active IN (true, false)")}
    want_customer, want_item, norm = expected_names()

    for inv in source:
        number = str(inv["InvoiceNumber"])
        assert by_doc[number] == 1, f"Atera invoice {number} is in QBO {by_doc[number]} times"
        (got,) = [i for i in invoices if i.get("DocNumber") == number]
        cust = customers[got["CustomerRef"]["value"]]
        assert cust["DisplayName"].strip() == want_customer[norm(inv["To"]["CompanyName"])], number
        sales = [ln for ln in got["Line"] if ln.get("DetailType") == "SalesItemLineDetail"]
        assert len(sales) == len(inv["LineItems"]), number
        for src, dst in zip(sorted(inv["LineItems"], key=lambda ln: ln["LineIdx"]), sales, strict=True):
            item = items[dst["SalesItemLineDetail"]["ItemRef"]["value"]]
            assert item["Name"].strip() == want_item[norm(src["Product"])], (number, src["Product"])
            assert D(str(dst["Amount"])) == D(str(src["Subtotal"])), (number, src)
        pre_tax = sum(D(str(ln["Amount"])) for ln in sales)
        assert pre_tax == D(str(inv["Subtotal"])), number  # Atera's tax is not exported: QBO adds its own

    # Second pass over the same data: nothing new in QBO.
    count = len(invoices)
    run_all(dags)
    assert len(Qbo(qbo_twin.url).query("Invoice")) == count

    secrets = [DEMO["atera_api_key"], DEMO["client_secret"], DEMO["refresh_token"]]
    from atera_qbo.hooks import QuickBooksHook

    store = QuickBooksHook().token_store()
    access, _ = store.access_token()
    secrets.append(access)
    out, err = capfd.readouterr()
    logs = caplog.text + out + err
    home = Path(os.environ["AIRFLOW_HOME"])
    for path in [*(home / "logs").rglob("*"), qbo_twin.log_path, atera.log_path]:
        if path.is_file():
            logs += path.read_text(errors="replace")
    leaked = [s[:6] + "…" for s in secrets if s and s in logs]
    assert not leaked, f"secrets found in logs: {leaked}"


def mapping_events() -> int:
    import sqlalchemy as sa
    from airflow.models.asset import AssetEvent, AssetModel
    from airflow.utils.session import create_session

    with create_session() as session:
        return session.scalar(sa.select(sa.func.count()).select_from(AssetEvent).join(
            AssetModel, AssetEvent.asset_id == AssetModel.id).where(AssetModel.uri == "atera_qbo://staging/mapping"))


def task_states(dr) -> dict:
    return {ti.task_id: ti.state for ti in dr.get_task_instances()}


def test_mapping_asset_only_from_commits_that_changed_it(twins, dags, airflow_env):
    """A preview takes no QBO slot and emits nothing; a commit that changes nothing emits nothing; a commit that
    changes the mapping emits the Asset once. The overrides path is relative: resolved against the review dir."""
    import shutil

    atera, _ = twins
    run(dags["atera_qbo_catalog_sync"])
    review = Path(os.environ["ATERA_QBO_REVIEW_DIR"])
    (review / "overrides").mkdir(parents=True, exist_ok=True)
    shutil.copy(REPO / "include" / "demo" / "overrides.csv", review / "overrides" / "demo.csv")
    conf = {"create_unmatched_in_qbo": True, "overrides_path": "overrides/demo.csv"}
    matching = dags["atera_qbo_matching"]
    run(matching, {**conf, "commit": True})  # the mapping is in force
    before = mapping_events()
    preview = run(matching, {**conf, "commit": False})  # explicit: dag.test() keeps an earlier run's params
    assert task_states(preview) == {"preview": "success", "commit": "skipped"}
    same = run(matching, {**conf, "commit": True})
    assert task_states(same) == {"preview": "skipped", "commit": "success"}
    assert mapping_events() == before  # neither the preview nor an unchanged commit
    posted = requests.post(f"{atera.url}/api/v3/customers", json={"CustomerName": "Quarry Lane Vets"},
                           headers={"X-API-KEY": DEMO["atera_api_key"]}, timeout=10)
    assert posted.status_code in (200, 201), posted.text
    run(dags["atera_qbo_catalog_sync"])
    run(matching, {**conf, "commit": True})  # creates the new customer in QBO: the mapping changed
    assert mapping_events() == before + 1


def test_a_qbo_outage_across_two_attempts_is_ridden_out_by_airflow_retries(twins, dags, airflow_env, monkeypatch):
    """The export task fails retriably twice while QBO answers 503, Airflow retries it, and the third attempt
    (QBO back) exports the new invoice once; each attempt is its own export_batches row, none left running."""
    from datetime import timedelta

    import sqlalchemy as sa

    from atera_qbo.staging.db import make_engine, table

    atera, qbo_twin = twins
    qbo_control = QboControl(qbo_twin.url)
    run(dags["atera_qbo_catalog_sync"])  # the customer and the item of the new invoice mapped
    run(dags["atera_qbo_matching"], {"commit": True, "create_unmatched_in_qbo": True,
                                     "overrides_path": str(REPO / "include" / "demo" / "overrides.csv")})
    line = {"Product": "Parking", "Description": "Parking", "Quantity": 3, "Rate": 15, "TaxPercentage": 0,
            "DiscountPercentage": None, "Subtotal": 45, "Tax": 0, "Total": 45, "LineIdx": 0}
    (posted,) = AteraControl(atera.url).add_invoices([{
        "IsAdhoc": True, "InvoiceDate": "2026-10-21T00:00:00", "ContractName": None, "Currency": "USD",
        "LineItems": [line], "Subtotal": 45, "Tax": 0, "Total": 45, "TaxPercentage": 0,
        "To": {"CompanyName": "Contoso Ltd"}}])
    number = str(posted["InvoiceNumber"])

    export_dag = dags["atera_qbo_invoice_export"]
    task = export_dag.task_dict["export"]
    attempts: list[int] = []

    def outage_ends_after_two_attempts(context):
        attempts.append(context["ti"].try_number)
        if len(attempts) == 2:
            qbo_control.clear_faults()

    conn = "AIRFLOW_CONN_QUICKBOOKS_DEFAULT"
    doc = json.loads(os.environ[conn])
    doc["extra"] = {**doc["extra"], "retry_initial_wait": 0.01, "retry_max_wait": 0.05, "error_deadline": 0.5}
    monkeypatch.setenv(conn, json.dumps(doc))
    task.retries, task.retry_delay, task.on_retry_callback = 3, timedelta(0), [outage_ends_after_two_attempts]
    with qbo_control.faults(error_rate=1.0, error_status=503):
        dr = run(export_dag, {"invoice_date_from": DEMO["invoice_date_from"],
                              "invoice_date_to": DEMO["invoice_date_to"], "invoice_numbers": [number]})
    assert attempts == [1, 2]
    (ti,) = [t for t in dr.get_task_instances() if t.task_id == "export"]
    assert ti.try_number == 3
    engine = make_engine(f"sqlite:///{airflow_env / 'staging.db'}")
    batches = table("export_batches")
    with engine.connect() as c:
        rows = c.execute(sa.select(batches.c.try_number, batches.c.status, batches.c.error_text)
                         .where(batches.c.run_id == dr.run_id).order_by(batches.c.try_number)).all()
        running = c.execute(sa.select(sa.func.count()).select_from(batches).where(batches.c.status == "running"))
        assert running.scalar() == 0
    engine.dispose()
    assert [(r.try_number, r.status) for r in rows] == [(1, "failed"), (2, "failed"), (3, "done")]
    assert all("503" in r.error_text for r in rows[:2])
    docs = Qbo(qbo_twin.url).query("Invoice", f"WHERE DocNumber = '{number}'")
    assert len(docs) == 1
