"""The generated seeds over HTTP: sizes, consistency of the invoices with the account, credits, flat paging on
``large``, and concurrent writers."""
from __future__ import annotations

import random
import threading

import pytest
from test_atera_invoices import assert_consistent

from sandbox.atera.server import AteraTwin
from sandbox.core.http import TwinServer
from sandbox.seed import build_world


@pytest.fixture(scope="module")
def large():
    twin = AteraTwin(seed_profile="large", per_minute=0)
    server = TwinServer(twin.handle).start()
    yield twin, server.url
    server.stop()


def _check_invoices_against_account(twin: AteraTwin, invoices: list[dict]) -> None:
    account = twin.model.default
    names = account.product_names()
    for invoice in invoices:
        assert_consistent(invoice)
        customers = account.customers.by_name(invoice["To"]["CompanyName"])
        assert customers, invoice["To"]["CompanyName"]
        contracts = {c["ContractName"] for c in account.contracts.of_customer(customers[0]["CustomerID"])}
        assert invoice["ContractName"] in contracts
        assert all(line["Product"] in names for line in invoice["LineItems"])


def test_small_seed(make_twin, client_cls):
    twin, url = make_twin(seed_profile="small")
    client = client_cls(url)
    world = build_world("small", 42)
    assert client.get("/api/v3/customers")["totalItemCount"] == len(world.atera_companies())
    assert client.get("/api/v3/rates/products")["totalItemCount"] == len(world.atera_products("product"))
    invoices = client.all_items("/api/v3/billing/invoices")
    assert len(invoices) == 1500
    credits = [i for i in invoices if i["Total"] < 0]
    assert credits and all(line["Quantity"] < 0 for i in credits for line in i["LineItems"])
    assert any(i["Tax"] > 0 for i in invoices) and any(line["DiscountPercentage"] for i in invoices
                                                       for line in i["LineItems"])
    _check_invoices_against_account(twin, invoices)
    snags = {c.snag for c in world.atera_companies()}
    assert {"case", "blank", "punct", "atera_only"} <= snags


def test_large_seed_sizes_and_consistency(large, client_cls):
    twin, url = large
    client = client_cls(url)
    assert client.get("/api/v3/customers")["totalItemCount"] >= 5_000
    assert client.get("/api/v3/rates/products")["totalItemCount"] >= 100_000
    envelope = client.get("/api/v3/billing/invoices?itemsInPage=50")
    assert envelope["totalItemCount"] >= 50_000
    rng = random.Random(1)
    pages = rng.sample(range(1, envelope["totalPages"] + 1), 8)
    sample = [i for p in pages for i in client.get(f"/api/v3/billing/invoices?page={p}&itemsInPage=50")["items"]]
    _check_invoices_against_account(twin, sample)
    numbers = [i["InvoiceNumber"] for i in sample]
    assert len(set(numbers)) == len(numbers)


def test_large_last_pages_are_whole_and_end_the_list(large, client_cls):
    """Paging reaches the end of every large list (what late pages cost is measured by make bench, not here)."""
    _, url = large
    client = client_cls(url)
    for base in ("/api/v3/rates/products", "/api/v3/customers", "/api/v3/billing/invoices"):
        first = client.get(f"{base}?itemsInPage=50")
        pages, total = first["totalPages"], first["totalItemCount"]
        last = client.get(f"{base}?page={pages}&itemsInPage=50")
        assert len(last["items"]) == total - 50 * (pages - 1), base
        assert last["nextLink"] is None


def test_concurrent_creates_get_distinct_ids(make_twin, client_cls):
    _, url = make_twin(seed_profile="none")
    ids: list[int] = []
    lock = threading.Lock()

    def worker(n: int) -> None:
        client = client_cls(url)
        for i in range(15):
            new_id = int(client.post("/api/v3/rates/products", {"Description": f"P{n}-{i}",
                                                                "Amount": 1.1})["ActionID"])
            with lock:
                ids.append(new_id)

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(ids) == list(range(1, 91))
    assert client_cls(url).get("/api/v3/rates/products")["totalItemCount"] == 90
