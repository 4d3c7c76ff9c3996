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
from collections.abc import Iterable
from decimal import Decimal

from sandbox.core.store import Store
from sandbox.seed import Company, Product, build_world

from .models.backend import QboBackend
from .models.base import Record
from .models.company import CURRENCY_NAMES, INCOME_ACCOUNT_PRODUCTS, INCOME_ACCOUNT_SERVICES
from .times import COMPANY_TZ

TARGETS = {"large": (20_000, 100_000)}  # profile: (customers, items) at least
CATEGORIES = ("Hardware", "Software")
SEED_START = dt.datetime(2026, 7, 1, 8, 0, 0, tzinfo=COMPANY_TZ)
VENDORS = ["Ingram Micro", "Pax8", "TD SYNNEX", "Microsoft Corporation", "Amazon Web Services", "Verizon Wireless"]
EMPLOYEES = [("Jordan", "Smith"), ("Priya", "Patel"), ("Sam", "O'Connor")]


class _Stamps:
    """Deterministic MetaData times: one second apart from SEED_START."""

    def __init__(self) -> None:
        self.n = 0

    def next(self) -> dict[str, str]:
        moment = (SEED_START + dt.timedelta(seconds=self.n)).isoformat()
        self.n += 1
        return {"CreateTime": moment, "LastUpdatedTime": moment}


def seed_company(backend: QboBackend, profile: str, seed_value: int) -> Record:
    if profile == "none":
        return {"profile": profile, "seed": seed_value, "customers": 0, "items": 0}
    world = build_world(profile, seed_value)
    settings = backend.company_settings().copy()
    companies = world.qbo_companies()
    if any(c.currency != "USD" and c.currency != settings["home_currency"] for c in companies) \
            and not settings["multicurrency"]:
        settings["multicurrency"] = True
        backend.apply_settings(settings, as_setup=True)  # deterministic: as if the company was set up so
    target_customers, target_items = TARGETS.get(profile, (0, 0))
    seeder = _Seeder(backend.store, backend.realm_id, settings["home_currency"], settings["country"])
    customers = seeder.customers(companies, target_customers)
    seeder.vendors_and_employees()
    n_items = seeder.items(world.qbo_products(), target_items)
    backend.invalidate()
    return {"profile": profile, "seed": seed_value, "customers": customers,
            "items": n_items, "multicurrency": backend.company_settings()["multicurrency"]}


class _Seeder:
    """Writes the seed records of one realm straight into the store, ids and time stamps in a fixed order."""

    def __init__(self, store: Store, realm: str, home: str, country: str) -> None:
        self.store, self.realm, self.home, self.country = store, realm, home, country
        self.stamps = _Stamps()
        # The income account of each item type (one reference object per seed, shared by its items).
        self.income = {"Service": {"value": INCOME_ACCOUNT_SERVICES, "name": "Services"},
                       "NonInventory": {"value": INCOME_ACCOUNT_PRODUCTS, "name": "Sales of Product Income"}}

    def put(self, entity: str, record: Record) -> None:
        self.store.put(self.realm, entity, record["Id"], record)

    def next_id(self, entity: str) -> str:
        return str(self.store.next_id(self.realm, entity))

    def _home_currency(self) -> dict[str, str]:
        return {"value": self.home, "name": CURRENCY_NAMES[self.home]}

    # -- customers ---------------------------------------------------------------------------------------------
    def customers(self, companies: list[Company], target: int) -> int:
        """The world's QBO companies (sub-customers under their parents), topped up to ``target``; answers how
        many there are."""
        ids_by_key: dict[int, str] = {}
        records_by_id: dict[str, Record] = {}
        for company in companies:
            cid = self.next_id("Customer")
            ids_by_key[company.key] = cid
            parent = None
            if company.qbo_parent_key is not None and company.qbo_parent_key in ids_by_key:
                parent = records_by_id[ids_by_key[company.qbo_parent_key]]
            records_by_id[cid] = self._customer(cid, company, parent)
        n = 0
        while len(records_by_id) < target:
            n += 1
            cid = self.next_id("Customer")
            name = f"Topup Client {n:05d}"
            records_by_id[cid] = {"Id": cid, "SyncToken": "0", "domain": "QBO", "sparse": False, "DisplayName": name,
                                  "FullyQualifiedName": name, "CompanyName": name, "PrintOnCheckName": name,
                                  "Active": True, "Taxable": True, "Job": False, "BillWithParent": False,
                                  "Balance": Decimal("0"), "BalanceWithJobs": Decimal("0"),
                                  "CurrencyRef": self._home_currency(), "MetaData": self.stamps.next()}
        for record in records_by_id.values():
            self.put("Customer", record)
        return len(records_by_id)

    def _customer(self, cid: str, company: Company, parent: Record | None) -> Record:
        name = company.qbo_name
        assert name is not None  # World.qbo_companies() answers the companies with a QBO name
        currency = self.home if company.currency == "USD" else company.currency
        record: Record = {"Id": cid, "SyncToken": "0", "domain": "QBO", "sparse": False,
                          "DisplayName": name, "FullyQualifiedName": name,
                          "CompanyName": name.strip(), "PrintOnCheckName": name.strip(),
                          "Active": company.qbo_active, "Taxable": True, "Job": False, "BillWithParent": False,
                          "Balance": Decimal("0"), "BalanceWithJobs": Decimal("0"),
                          "CurrencyRef": {"value": currency, "name": CURRENCY_NAMES.get(currency, currency)},
                          "PreferredDeliveryMethod": "Email",
                          "PrimaryEmailAddr": {"Address": company.email},
                          "PrimaryPhone": {"FreeFormNumber": company.phone},
                          "WebAddr": {"URI": f"https://{company.domain}"},
                          "BillAddr": {"City": company.city, "CountrySubDivisionCode": company.state,
                                       "PostalCode": company.zip_code, "Country": company.country}}
        if parent is not None:
            record.update(Job=True, BillWithParent=True, Level=parent.get("Level", 0) + 1,
                          ParentRef={"value": parent["Id"]},
                          FullyQualifiedName=f"{parent['FullyQualifiedName']}:{name}")
        if self.country != "US":
            record["DefaultTaxCodeRef"] = {"value": "2"}
        record["MetaData"] = self.stamps.next()
        return record

    # -- vendors and employees ------------------------------------------------------------------------------
    def vendors_and_employees(self) -> None:
        """A few of each, so that DisplayName uniqueness across the three name lists is real."""
        for name in VENDORS:
            vid = self.next_id("Vendor")
            self.put("Vendor", {"Id": vid, "SyncToken": "0", "domain": "QBO", "sparse": False, "DisplayName": name,
                                "CompanyName": name, "PrintOnCheckName": name, "Active": True, "Vendor1099": False,
                                "Balance": Decimal("0"), "CurrencyRef": self._home_currency(),
                                "MetaData": self.stamps.next()})
        for given, family in EMPLOYEES:
            eid = self.next_id("Employee")
            name = f"{given} {family}"
            self.put("Employee", {"Id": eid, "SyncToken": "0", "domain": "QBO", "sparse": False,
                                  "DisplayName": name, "GivenName": given, "FamilyName": family,
                                  "PrintOnCheckName": name, "Active": True, "BillableTime": False,
                                  "MetaData": self.stamps.next()})

    # -- items ------------------------------------------------------------------------------------------------
    def items(self, products: Iterable[Product], target: int) -> int:
        """The world's QBO products, topped up to ``target`` items, then the categories they sit in (ids after
        theirs); answers how many items there are."""
        products = list(products)
        total_products = max(len(products), target - len(CATEGORIES)) if target else len(products)
        first_category_id = total_products + 1
        category_ids = {name: str(first_category_id + i) for i, name in enumerate(CATEGORIES)}
        n_items = 0
        for product in products:
            name = product.qbo_name
            assert name is not None  # World.qbo_products() answers the products with a QBO name
            self.put("Item", self._item(name, product.qbo_type, product.price, product.sku, product.category,
                                        product.qbo_active, product.taxable, category_ids))
            n_items += 1
        n = 0
        while n_items < total_products:
            n += 1
            kind = "NonInventory" if n % 3 == 0 else "Service"
            price = Decimal(1000 + (n * 7919) % 250000) / 100
            self.put("Item", self._item(f"Catalog Part {n:06d}", kind, price, None if n % 7 == 0 else f"CP-{n:06d}",
                                        "Hardware" if kind == "NonInventory" else "Labor", n % 97 != 0, n % 2 == 0,
                                        category_ids))
            n_items += 1
        for name, iid in category_ids.items():
            assert self.next_id("Item") == iid
            self.put("Item", {"Id": iid, "SyncToken": "0", "domain": "QBO", "sparse": False, "Name": name,
                              "FullyQualifiedName": name, "Active": True, "Type": "Category", "SubItem": False,
                              "MetaData": self.stamps.next()})
        return n_items + len(CATEGORIES)

    def _item(self, name: str, kind: str, price: Decimal, sku: str | None, category: str, active: bool,
              taxable: bool, category_ids: dict[str, str]) -> Record:
        iid = self.next_id("Item")
        record: Record = {"Id": iid, "SyncToken": "0", "domain": "QBO", "sparse": False, "Name": name,
                          "FullyQualifiedName": name, "Active": active, "Type": kind, "SubItem": False,
                          "UnitPrice": price, "Taxable": taxable if self.country == "US" else None,
                          "IncomeAccountRef": self.income[kind], "TrackQtyOnHand": False, "Description": name.strip()}
        if sku:
            record["Sku"] = sku
        if self.country != "US":
            record["SalesTaxCodeRef"] = {"value": "2" if taxable else "5"}
        if category in category_ids:
            record.update(SubItem=True, Level=1, ParentRef={"value": category_ids[category], "name": category},
                          FullyQualifiedName=f"{category}:{name}")
        record["MetaData"] = self.stamps.next()
        return {k: v for k, v in record.items() if v is not None}
