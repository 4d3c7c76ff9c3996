"""Which company each Atera customer belongs to when several companies share one Atera account (issue 21).

A ``Router`` is built from the company being extracted and every company fed by the same Atera account
(``Companies.sharing_atera``). Each customer record is *mine*, *another company's* or *unrouted* (no rule places it,
or two companies' rules do): only mine are staged, with their contacts, contracts and invoices. A company alone on
its Atera account without a route has an inactive router: every customer is its own, exactly as before companies.

Every customer a routed extraction sees gets a row in ``atera_customer_routes``: ``routed_to`` (a company id, or
NULL when unrouted) and ``name_key`` (a digest of its normalised name, what invoices are told apart by). Only this
company's and unrouted customers keep their name, country, rule value and reason there: of another company's
customers this database holds nothing readable (isolation by database).

Routes by custom field read ``GET /customvalues/customerfield/{customerId}/{fieldName}`` for each customer being
extracted. Atera does not say whether setting a custom value changes the customer's ``LastModified``: an incremental
pull may not see such a change; the daily full pull does.
"""
from __future__ import annotations

import hashlib
import logging
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

import sqlalchemy as sa

from ..atera.api import AteraApi
from ..companies import Company, Route, load_companies, norm
from ..errors import ApiError, ConfigError
from ..staging.db import chunked, table, upsert, utcnow
from ..staging.identity import database_company

log = logging.getLogger(__name__)
COUNTRY = "Country"


def name_key(name: object) -> str:
    """What another company's customer is known by here: the sha256 (hex) of its normalised name."""
    return hashlib.sha256(norm(name).encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class Placement:
    routed_to: str | None  # a company id; None: unrouted
    rule_value: str | None  # the customer's value(s) the rules compare
    reason: str | None  # why it is unrouted (None when placed)


class Router:
    """The routing rules of one Atera account, seen from ``company``."""

    def __init__(self, company: Company, sharing: Sequence[Company] = ()) -> None:
        group = list(sharing) if any(c.id == company.id for c in sharing) else [company, *sharing]
        self.company = company
        self.rules: tuple[tuple[str, Route], ...] = tuple((c.id, c.route) for c in group if c.route is not None)
        self.active = company.route is not None or len(group) > 1
        self.fields = tuple(sorted({r.field for _, r in self.rules if r.kind == "custom_field" and r.field}))
        self.uses_country = any(r.kind == "country" for _, r in self.rules)

    @property
    def labels(self) -> list[str]:
        return ([COUNTRY] if self.uses_country else []) + list(self.fields)

    def values(self, country: str | None, custom: Mapping[str, str | None]) -> dict[str, str | None]:
        out = {COUNTRY: country} if self.uses_country else {}
        return {**out, **{f: custom.get(f) for f in self.fields}}

    def rule_value(self, country: str | None, custom: Mapping[str, str | None]) -> str | None:
        values = self.values(country, custom)
        if len(values) == 1:
            return next(iter(values.values())) or None
        return "; ".join(f"{k}: {v or '(empty)'}" for k, v in values.items()) or None

    def place(self, country: str | None, custom: Mapping[str, str | None] | None = None,
              unreadable: str | None = None) -> Placement:
        """Where a customer goes. Inactive router: always this company."""
        if not self.active:
            return Placement(self.company.id, None, None)
        custom = custom or {}
        placed = [(cid, route) for cid, route in self.rules
                  if route.places(country, custom.get(route.field) if route.field else None)]
        value = self.rule_value(country, custom)
        if len(placed) == 1:
            return Placement(placed[0][0], value, None)
        if placed:
            both = " and ".join(f"{cid} ({route.describe()})" for cid, route in placed)
            return Placement(None, value, f"placed by several companies: {both}; a customer must belong to one "
                                          "company")
        shown = ", ".join(f"{k} {v!r}" if v else f"{k} empty" for k, v in self.values(country, custom).items())
        reason = f"no route places it ({shown}); routes: {self.choices()}"
        return Placement(None, value, f"{reason}; {unreadable}" if unreadable else reason)

    def choices(self) -> str:
        """The account's rules: ``default: country in (United States); uk: country in (Canada)``."""
        return "; ".join(f"{cid}: {route.describe()}" for cid, route in self.rules) or "none"

    def accepted_values(self) -> list[str]:
        """Every value some rule places (as written in the companies file), for messages."""
        return [v for _, route in self.rules for v in route.shown]

    def check_fields(self, client: AteraApi) -> None:
        """Every custom field a rule names exists for Atera customers (else a ConfigError naming it)."""
        if not self.fields:
            return
        defined = client.get("/customvalues/customfields", entity="Atera custom field definitions") or []
        names = {norm(d.get("Name")) for d in defined
                 if isinstance(d, dict) and str(d.get("Target") or "Customer") == "Customer"}
        for name in self.fields:
            if norm(name) not in names:
                owners = ", ".join(cid for cid, r in self.rules if r.field == name)
                raise ConfigError(f"the route of company {owners} uses the Atera custom field {name!r}, which the "
                                  "Atera account does not define for customers: create it in Atera (Admin > Custom "
                                  "fields, target Customer) or fix the route in the companies file")


def custom_values(client: AteraApi, customer_id: str, fields: Iterable[str]) -> tuple[dict[str, str | None],
                                                                                      str | None]:
    """A customer's values of ``fields`` (``CustomValueDto[]``: its ``ValueAsString``; none set → None), and a note
    when one could not be read (the customer then routes without it)."""
    out: dict[str, str | None] = {}
    notes: list[str] = []
    for name in fields:
        path = f"/customvalues/customerfield/{quote(customer_id, safe='')}/{quote(name, safe='')}"
        try:
            answer = client.get(path, entity=f"Atera customer {customer_id} custom field {name!r}")
        except ApiError as exc:
            notes.append(f"custom field {name!r} could not be read: {exc}")
            out[name] = None
            continue
        first = answer[0] if isinstance(answer, list) and answer and isinstance(answer[0], dict) else {}
        value = first.get("ValueAsString")
        out[name] = str(value).strip() or None if value is not None else None
    return out, "; ".join(notes) or None


def router_for_database(engine: sa.Engine) -> Router:
    """The router of the company whose database ``engine`` is (``company_identity``; an unstamped database: the
    first company of the companies file), for callers not handed one (reconciliation's refresh)."""
    companies = load_companies()
    company = companies.get(database_company(engine))
    return Router(company, companies.sharing_atera(company))


# ------------------------------------------------------------------------------------------- staging the routes
@dataclass
class CustomerRouting:
    """One customers pull through a router: each staged-to-be row is routed as it passes (only this company's go
    on); ``save`` then records every route and takes out of staging the customers that left this company."""

    router: Router
    client: AteraApi
    routes: list[dict[str, Any]] = field(default_factory=list)
    left: list[str] = field(default_factory=list)  # seen, and not this company's (another's or unrouted)
    unrouted: list[str] = field(default_factory=list)  # "name (id): reason"
    other_company: int = 0

    def keep(self, rows: Iterable[dict[str, Any]]) -> Iterator[dict[str, Any]]:
        """The customer rows (``atera_customer_row``) that are this company's."""
        if not self.router.active:
            yield from rows
            return
        self.router.check_fields(self.client)
        mine = self.router.company.id
        for row in rows:
            custom, note = custom_values(self.client, row["source_id"], self.router.fields) \
                if self.router.fields else ({}, None)
            placement = self.router.place(row.get("country"), custom, note)
            self.routes.append(self._route_row(row, placement))
            if placement.routed_to == mine:
                yield row
                continue
            self.left.append(row["source_id"])
            if placement.routed_to is None:
                self.unrouted.append(f"{row.get('name')!r} ({row['source_id']}): {placement.reason}")
            else:
                self.other_company += 1

    def _route_row(self, row: dict[str, Any], placement: Placement) -> dict[str, Any]:
        out: dict[str, Any] = {"source_id": row["source_id"], "routed_to": placement.routed_to,
                               "name_key": name_key(row.get("name")), "name": None, "country": None,
                               "rule_value": None, "reason": None}
        if placement.routed_to in (None, self.router.company.id):  # never another company's customer data
            out.update(name=row.get("name"), country=row.get("country"), rule_value=placement.rule_value,
                       reason=placement.reason)
        return out

    def save(self, engine: sa.Engine, *, full: bool) -> list[str]:
        """Record the routes (a full pull forgets the customers Atera no longer has); customers that left this
        company are flagged deleted in staging, with their contacts. Answers the customers that moved IN (routed
        elsewhere before): their contacts predate the incremental window."""
        if not self.router.active:
            return []
        now = utcnow()
        routes, customers, contacts = (table(n) for n in ("atera_customer_routes", "stg_atera_customers",
                                                          "stg_atera_contacts"))
        mine = self.router.company.id
        ids = [r["source_id"] for r in self.routes if r["routed_to"] == mine]
        with engine.begin() as conn:
            moved_in = [sid for part in chunked(ids) for sid in conn.execute(
                sa.select(routes.c.source_id).where(routes.c.source_id.in_(part),
                                                    sa.or_(routes.c.routed_to.is_(None),
                                                           routes.c.routed_to != mine))).scalars()]
            upsert(conn, routes, [dict(r, seen_at=now) for r in self.routes], ["source_id"])
            if full:
                conn.execute(sa.delete(routes).where(routes.c.seen_at < now))
            for part in chunked(self.left):
                for tbl, col in ((customers, customers.c.source_id), (contacts, contacts.c.customer_id)):
                    conn.execute(sa.update(tbl).where(col.in_(part), tbl.c.deleted_at.is_(None))
                                 .values(deleted_at=now))
        for line in self.unrouted:
            log.warning("unrouted Atera customer %s: never exported until a route places it", line)
        return moved_in


def staged_customer_ids(engine: sa.Engine) -> set[str]:
    """This company's customers: the staged ones not flagged deleted."""
    customers = table("stg_atera_customers")
    with engine.connect() as conn:
        return set(conn.execute(sa.select(customers.c.source_id).where(customers.c.deleted_at.is_(None))).scalars())


def keep_own(rows: Iterable[dict[str, Any]], own: set[str] | None) -> Iterator[dict[str, Any]]:
    """Contact/contract rows of this company's customers (``own`` None: no routing, every row)."""
    for row in rows:
        if own is None or row.get("customer_id") in own:
            yield row


# ------------------------------------------------------------------------------------------------- invoices
class InvoiceRouting:
    """Tells which invoices are another company's or of an unrouted customer, by ``To.CompanyName``'s name key
    (invoices name their customer, not its id)."""

    def __init__(self, engine: sa.Engine, router: Router) -> None:
        self.by_key: dict[str, set[str | None]] = {}
        self.mine = router.company.id
        if not router.active:
            return
        routes = table("atera_customer_routes")
        with engine.connect() as conn:
            for key, routed_to in conn.execute(sa.select(routes.c.name_key, routes.c.routed_to)):
                self.by_key.setdefault(key, set()).add(routed_to)

    def elsewhere(self, customer_name: str | None) -> str | None:
        """``other_company`` / ``unrouted`` for an invoice not resolved to this company's customers; None: unknown
        (today's behaviour: staged, flagged ``customer:unresolved``)."""
        targets = self.by_key.get(name_key(customer_name)) if customer_name else None
        if not targets or self.mine in targets:
            return None
        return "unrouted" if None in targets else "other_company"


def unrouted_customers(engine: sa.Engine) -> list[dict[str, Any]]:
    """The account's customers no rule places (for the wizard and the reconciliation), by name."""
    routes = table("atera_customer_routes")
    cols = [routes.c[n] for n in ("source_id", "name", "country", "rule_value", "reason", "seen_at")]
    with engine.connect() as conn:
        rows = conn.execute(sa.select(*cols).where(routes.c.routed_to.is_(None))
                            .order_by(routes.c.name, routes.c.source_id)).mappings().all()
    return [dict(r) for r in rows]
