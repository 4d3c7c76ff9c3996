"""Seeding a QBO company from the shared world (``sandbox.seed.build_world``).

- Customers: the world's companies with a ``qbo_name``, in list order, ids 1, 2, ... (sub-customers get
  ``Job``/``ParentRef``/``FullyQualifiedName``; inactive ones ``Active: false``; other currencies ``CurrencyRef``).
  A company in another currency than the home one needs multi-currency, which QBO can turn on but never off: the
  seed turns it on only when the profile has such a customer (``demo`` does: "Maple Leaf Outfitters", CAD).
- Items: the world's products with a ``qbo_name``, in list order, ids 1, 2, ...; then the Category items
  ("Hardware", "Software") that the products of those categories sit in (``ParentRef``/``SubItem``).
  Service items earn into account 1 "Services", NonInventory items into account 2 "Sales of Product Income".
- A few vendors and employees, so that DisplayName uniqueness across the three lists is real.
- ``large`` is topped up deterministically to at least 100,000 items and 20,000 customers.
Records are written straight into the store (the caller holds one transaction), with deterministic time stamps.
"""
from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

from sandbox.seed import build_world

from .models.base import COMPANY_TZ
from .models.company import CURRENCY_NAMES, INCOME_ACCOUNT_PRODUCTS, INCOME_ACCOUNT_SERVICES

TARGETS = {"large": (20_000, 100_000)}  # profile: (customers, items) at least
CATEGORIES = ("Hardware", "Software")
SEED_START = dt.datetime(2026, 7, 1, 8, 0, 0, tzinfo=COMPANY_TZ)
VENDORS = ["Ingram Micro", "Pax8", "TD SYNNEX", "Microsoft Corporation", "Amazon Web Services", "Verizon Wireless"]
EMPLOYEES = [("Jordan", "Smith"), ("Priya", "Patel"), ("Sam", "O'Connor")]


class _Stamps:
    """Deterministic MetaData times: one second apart from SEED_START."""

    def __init__(self) -> None:
        self.n = 0

    def next(self) -> dict:
        moment = (SEED_START + dt.timedelta(seconds=self.n)).isoformat()
        self.n += 1
        return {"CreateTime": moment, "LastUpdatedTime": moment}


def seed_company(backend: Any, profile: str, seed_value: int) -> dict:
    if profile == "none":
        return {"profile": profile, "seed": seed_value, "customers": 0, "items": 0}
    world = build_world(profile, seed_value)
    store, realm = backend.store, backend.realm_id
    settings = dict(backend.company_settings())
    home = settings["home_currency"]
    country = settings["country"]
    companies = world.qbo_companies()
    if any(c.currency != "USD" and c.currency != home for c in companies) and not settings["multicurrency"]:
        settings["multicurrency"] = True
        backend.apply_settings(settings, as_setup=True)  # deterministic: as if the company was set up so
    stamps = _Stamps()

    def put(entity: str, record: dict) -> None:
        store.put(realm, entity, record["Id"], record)

    # -- customers ---------------------------------------------------------------------------------------------
    ids_by_key: dict[int, str] = {}
    records_by_id: dict[str, dict] = {}
    n_customers = 0
    for company in companies:
        n_customers += 1
        cid = str(store.next_id(realm, "Customer"))
        ids_by_key[company.key] = cid
        currency = home if company.currency == "USD" else company.currency
        record: dict = {"Id": cid, "SyncToken": "0", "domain": "QBO", "sparse": False,
                        "DisplayName": company.qbo_name, "FullyQualifiedName": company.qbo_name,
                        "CompanyName": company.qbo_name.strip(), "PrintOnCheckName": company.qbo_name.strip(),
                        "Active": company.qbo_active, "Taxable": True, "Job": False, "BillWithParent": False,
                        "Balance": Decimal("0"), "BalanceWithJobs": Decimal("0"),
                        "CurrencyRef": {"value": currency, "name": CURRENCY_NAMES.get(currency, currency)},
                        "PreferredDeliveryMethod": "Email",
                        "PrimaryEmailAddr": {"Address": company.email},
                        "PrimaryPhone": {"FreeFormNumber": company.phone},
                        "WebAddr": {"URI": f"https://{company.domain}"},
                        "BillAddr": {"City": company.city, "CountrySubDivisionCode": company.state,
                                     "PostalCode": company.zip_code, "Country": company.country}}
        if company.qbo_parent_key is not None and company.qbo_parent_key in ids_by_key:
            parent = records_by_id[ids_by_key[company.qbo_parent_key]]
            record.update(Job=True, BillWithParent=True, Level=parent.get("Level", 0) + 1,
                          ParentRef={"value": parent["Id"]},
                          FullyQualifiedName=f"{parent['FullyQualifiedName']}:{company.qbo_name}")
        if country != "US":
            record["DefaultTaxCodeRef"] = {"value": "2"}
        record["MetaData"] = stamps.next()
        records_by_id[cid] = record
    target_customers, target_items = TARGETS.get(profile, (0, 0))
    n = 0
    while len(records_by_id) < target_customers:
        n += 1
        cid = str(store.next_id(realm, "Customer"))
        name = f"Topup Client {n:05d}"
        records_by_id[cid] = {"Id": cid, "SyncToken": "0", "domain": "QBO", "sparse": False, "DisplayName": name,
                              "FullyQualifiedName": name, "CompanyName": name, "PrintOnCheckName": name,
                              "Active": True, "Taxable": True, "Job": False, "BillWithParent": False,
                              "Balance": Decimal("0"), "BalanceWithJobs": Decimal("0"),
                              "CurrencyRef": {"value": home, "name": CURRENCY_NAMES[home]},
                              "MetaData": stamps.next()}
    for record in records_by_id.values():
        put("Customer", record)

    # -- vendors and employees ------------------------------------------------------------------------------
    for name in VENDORS:
        vid = str(store.next_id(realm, "Vendor"))
        put("Vendor", {"Id": vid, "SyncToken": "0", "domain": "QBO", "sparse": False, "DisplayName": name,
                       "CompanyName": name, "PrintOnCheckName": name, "Active": True, "Vendor1099": False,
                       "Balance": Decimal("0"),
                       "CurrencyRef": {"value": home, "name": CURRENCY_NAMES[home]}, "MetaData": stamps.next()})
    for given, family in EMPLOYEES:
        eid = str(store.next_id(realm, "Employee"))
        name = f"{given} {family}"
        put("Employee", {"Id": eid, "SyncToken": "0", "domain": "QBO", "sparse": False, "DisplayName": name,
                         "GivenName": given, "FamilyName": family, "PrintOnCheckName": name, "Active": True,
                         "BillableTime": False, "MetaData": stamps.next()})

    # -- items ------------------------------------------------------------------------------------------------
    products = world.qbo_products()
    total_products = max(len(products), target_items - len(CATEGORIES)) if target_items else len(products)
    first_category_id = total_products + 1
    category_ids = {name: str(first_category_id + i) for i, name in enumerate(CATEGORIES)}
    income = {"Service": {"value": INCOME_ACCOUNT_SERVICES, "name": "Services"},
              "NonInventory": {"value": INCOME_ACCOUNT_PRODUCTS, "name": "Sales of Product Income"}}
    n_items = 0

    def item_record(name: str, kind: str, price: Decimal, sku: str | None, category: str, active: bool,
                    taxable: bool) -> dict:
        iid = str(store.next_id(realm, "Item"))
        record = {"Id": iid, "SyncToken": "0", "domain": "QBO", "sparse": False, "Name": name,
                  "FullyQualifiedName": name, "Active": active, "Type": kind, "SubItem": False,
                  "UnitPrice": price, "Taxable": taxable if country == "US" else None,
                  "IncomeAccountRef": income[kind], "TrackQtyOnHand": False, "Description": name.strip()}
        if sku:
            record["Sku"] = sku
        if country != "US":
            record["SalesTaxCodeRef"] = {"value": "2" if taxable else "5"}
        if category in category_ids:
            record.update(SubItem=True, Level=1, ParentRef={"value": category_ids[category], "name": category},
                          FullyQualifiedName=f"{category}:{name}")
        record["MetaData"] = stamps.next()
        return {k: v for k, v in record.items() if v is not None}

    for product in products:
        put("Item", item_record(product.qbo_name, product.qbo_type, product.price, product.sku, product.category,
                                product.qbo_active, product.taxable))
        n_items += 1
    n = 0
    while n_items < total_products:
        n += 1
        kind = "NonInventory" if n % 3 == 0 else "Service"
        price = Decimal(1000 + (n * 7919) % 250000) / 100
        put("Item", item_record(f"Catalog Part {n:06d}", kind, price, None if n % 7 == 0 else f"CP-{n:06d}",
                                "Hardware" if kind == "NonInventory" else "Labor", n % 97 != 0, n % 2 == 0))
        n_items += 1
    for name, iid in category_ids.items():
        assert str(store.next_id(realm, "Item")) == iid
        put("Item", {"Id": iid, "SyncToken": "0", "domain": "QBO", "sparse": False, "Name": name,
                     "FullyQualifiedName": name, "Active": True, "Type": "Category", "SubItem": False,
                     "MetaData": stamps.next()})
    backend.invalidate()
    return {"profile": profile, "seed": seed_value, "customers": len(records_by_id),
            "items": n_items + len(CATEGORIES), "multicurrency": backend.company_settings()["multicurrency"]}
