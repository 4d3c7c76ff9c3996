"""The Atera twin's state model, without HTTP: one ``AteraAccount`` per API key (tenant), each with its entity
models. ``AteraBackend`` owns the accounts (moto's BackendDict, keyed by API key)."""
from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sandbox.core.store import Store

from ..seed import COMPANY, build_catalog, company_party, invoice_generator
from .base import Record, Views, resolve_zone
from .contacts import Contacts
from .contracts import Contracts
from .customers import Customers
from .customvalues import DEFAULT_FIELDS, CustomValues
from .invoices import Invoices
from .rates import Rates
from .tickets import Tickets

DEFAULT_API_KEY = "twin-atera-key"
DEFAULT_TIMEZONE = "Eastern Standard Time"


def tenant_of(api_key: str) -> str:
    """The tenant id of an API key: a digest, so the key itself is never written to the state file."""
    return "acct-" + hashlib.sha256(api_key.encode("utf-8")).hexdigest()[:16]


@dataclass(frozen=True)
class AccountConfig:
    api_key: str
    timezone: str = DEFAULT_TIMEZONE


class AteraAccount:
    def __init__(self, store: Store, views: Views, config: AccountConfig,
                 clock: Callable[[], datetime]) -> None:
        self.store = store
        self.views = views
        self.config = config
        self.tenant = tenant_of(config.api_key)
        self.timezone_name, self.zone = resolve_zone(config.timezone)
        self.clock = clock
        self.currency = "USD"
        self.customers = Customers(self)
        self.contacts = Contacts(self)
        self.contracts = Contracts(self)
        self.products = Rates(self, "products")
        self.expenses = Rates(self, "expenses")
        self.services = Rates(self, "services")
        self.invoices = Invoices(self)
        self.tickets = Tickets(self)
        self.custom = CustomValues(self)

    def now(self) -> datetime:
        return self.clock()

    # -- lifecycle -------------------------------------------------------------------------------------------
    def ensure(self) -> None:
        """Create the account's fixed setup (account info, custom field definitions) when missing."""
        if self.store.get(self.tenant, "account", "info") is None:
            self.store.put(self.tenant, "account", "info", {"CreatedOn": "2023-01-02T09:00:00Z"})
            for definition in DEFAULT_FIELDS:
                self.custom.define(definition)

    def info(self) -> dict[str, Any]:
        stored = self.store.get(self.tenant, "account", "info") or {}
        return {"AccountID": self.tenant.removeprefix("acct-"), "Country": COMPANY["Country"],
                "CompanyName": COMPANY["CompanyName"], "CreatedOn": stored.get("CreatedOn"),
                "State": COMPANY["State"], "TimeZoneName": self.timezone_name, "City": COMPANY["City"],
                "Address": COMPANY["Address"], "PostalCode": COMPANY["PostalCode"], "Phone": COMPANY["Phone"],
                "IsITDepartment": False, "Plan": "Pro"}

    def company_party(self) -> Record:
        return company_party()

    def load_catalog(self, profile: str, seed: int) -> dict[str, int]:
        """Write the seeded records of (profile, seed) into this (empty) account; answers the counts."""
        cat = build_catalog(profile, seed)
        for record in cat.customers:
            self.customers.insert_seeded(dict(record))
        for record in cat.contacts:
            self.contacts.insert_seeded(dict(record))
        for rates, rows in ((self.services, cat.services), (self.products, cat.products),
                            (self.expenses, cat.expenses)):
            for description, amount, sku, category in rows:
                rates.insert(description, amount, sku, category)
        for header, terms in cat.contracts:
            self.contracts.insert(header, {k: (list(v) if isinstance(v, list) else v) for k, v in terms.items()})
        for record in cat.tickets:
            self.tickets.insert_seeded(dict(record))
        for record in cat.workhours:
            self.tickets.insert_workhour(dict(record))
        self.invoices.reset_meta(profile, seed)
        return {"customers": len(cat.customers), "contacts": len(cat.contacts), "services": len(cat.services),
                "products": len(cat.products), "expenses": len(cat.expenses), "contracts": len(cat.contracts),
                "tickets": len(cat.tickets), "workhours": len(cat.workhours),
                "invoices": invoice_generator(profile, seed).count}

    # -- cross-entity rules ----------------------------------------------------------------------------------
    def product_names(self) -> set[str]:
        """What an invoice line's ``Product`` may name: a product, an expense or a rate some contract carries."""
        return self.products.names() | self.expenses.names() | self.contracts.rate_names()

    def on_customer_renamed(self, customer: Record) -> None:
        self.contacts.customer_renamed(customer)

    def on_customer_deleted(self, customer_id: int) -> None:
        self.contacts.customer_deleted(customer_id)
        self.contracts.customer_deleted(customer_id)
        self.custom.customer_deleted(customer_id)


def utc_now() -> datetime:
    return datetime.now(UTC)


class AteraBackend:
    """Every configured account; the first is where seeds go by default."""

    def __init__(self, store: Store, configs: list[AccountConfig],
                 clock: Callable[[], datetime] = utc_now) -> None:
        if not configs:
            raise ValueError("the Atera twin needs at least one API key")
        self.store = store
        self.views = Views()
        self.accounts = [AteraAccount(store, self.views, c, clock) for c in configs]
        self._by_key = {c.api_key: a for c, a in zip(configs, self.accounts, strict=True)}
        self._by_id = {a.tenant.removeprefix("acct-"): a for a in self.accounts}

    def account_for_key(self, api_key: str | None) -> AteraAccount | None:
        return self._by_key.get(api_key) if api_key else None

    def account_for_id(self, account_id: str) -> AteraAccount | None:
        """The account whose ``AccountID`` (``GET /account``; a minted token's ``account_id``) this is."""
        return self._by_id.get(account_id)

    @property
    def default(self) -> AteraAccount:
        return self.accounts[0]

    def ensure(self) -> None:
        for account in self.accounts:
            account.ensure()

    def reset(self) -> None:
        self.store.clear()
        self.views.bump_all()
        self.ensure()

    def seed(self, profile: str, seed: int, account: AteraAccount | None = None) -> dict[str, Any]:
        target = account or self.default
        if profile == "none":
            return {"profile": "none", "seed": seed}
        counts = target.load_catalog(profile, seed)
        self.views.bump_all()
        return {"profile": profile, "seed": seed, **counts}


__all__ = [
    "DEFAULT_API_KEY",
    "DEFAULT_TIMEZONE",
    "AccountConfig",
    "AteraAccount",
    "AteraBackend",
    "resolve_zone",
    "tenant_of",
]
