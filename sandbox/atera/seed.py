"""The Atera side of the shared seed world (``sandbox.seed.build_world``): customers, contacts, contracts carrying
the ``rate`` products, products, expenses, tickets, work hours, and the invoices of the three months before
``ANCHOR_DATE``.

Everything is a pure function of (profile, seed) and cached, so the invoices, which are generated when read, name
exactly the customers, contracts and products the account was seeded with. Ids are assigned in list order from 1
per collection (customers, contacts, contracts, products, expenses, services, tickets, work hours). This module only
builds the data; the account writes it (``AteraAccount.load_catalog``) and reads its invoices (``Invoices``).
"""
from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from functools import lru_cache
from math import gcd
from typing import Any

from sandbox.seed import ANCHOR_DATE, World, build_world

from .billing import (
    FIRST_INVOICE_NUMBER,
    day_index,
    invoice_totals,
    invoice_uuid,
    make_line,
    month_bounds,
    zip_code_int,
)
from .wire import local_midnight_text, utc_text

Record = dict[str, Any]  # a seeded record, as the account stores it
RateRow = tuple[str, Decimal, str | None, str]  # a rate of the catalog: (Description, Amount, SKU, Category)
# An invoice line before pricing: (product, description, quantity, rate, taxable).
_Pending = tuple[str, str, Decimal, Decimal, bool]

# The MSP that owns the account: the ``From`` of its invoices and what ``GET /account`` shows.
COMPANY = {"CompanyName": "Twin MSP Services", "Address": "500 Harbor Blvd, Suite 210", "City": "Seattle",
           "State": "WA", "Country": "United States", "PostalCode": "98101", "Phone": "(555) 010-2000",
           "ContactFirstName": "Jordan", "ContactLastName": "Avery", "Email": "billing@twinmsp.example.com"}
TAX_PERCENTAGE = Decimal("8.25")
_FIRST = ["Alex", "Sam", "Jordan", "Taylor", "Morgan", "Casey", "Riley", "Jamie", "Avery", "Quinn", "Drew", "Robin",
          "Kim", "Lee", "Pat", "Chris", "Dana", "Sean", "Megan", "Priya", "Luis", "Ana", "Omar", "Sofia"]
_LAST = ["Smith", "Johnson", "Lee", "Garcia", "Brown", "Nguyen", "Patel", "O'Connor", "Miller", "Davis", "Lopez",
         "Wilson", "Clark", "Young", "King", "Wright", "Scott", "Green", "Baker", "Hall"]
_STREETS = ["Main Street", "Oak Avenue", "Pine Road", "Maple Drive", "Cedar Lane", "Elm Street", "Lakeview Blvd",
            "Market Street", "Park Avenue", "River Road"]
_TICKET_TITLES = ["Printer offline", "Cannot connect to VPN", "Outlook keeps crashing", "New user onboarding",
                  "Laptop running slow", "Backup job failed", "Firewall firmware update", "Password reset",
                  "Wi-Fi drops in conference room", "Install Adobe Acrobat", "Server disk space low",
                  "Phishing email reported"]
_TECHS = [(101, "Jordan Avery", "jordan@twinmsp.example.com"), (102, "Kai Morgan", "kai@twinmsp.example.com"),
          (103, "Rae Lindqvist", "rae@twinmsp.example.com")]


def company_party() -> Record:
    """The MSP as an invoice's ``From`` (an InvoiceContactDetailsDto): a new dict each time."""
    return {"CompanyName": COMPANY["CompanyName"], "ContactFirstName": COMPANY["ContactFirstName"],
            "ContactLastName": COMPANY["ContactLastName"],
            "ContactFullName": f"{COMPANY['ContactFirstName']} {COMPANY['ContactLastName']}",
            "Address": COMPANY["Address"], "State": COMPANY["State"], "Country": COMPANY["Country"],
            "ZipCode": zip_code_int(COMPANY["PostalCode"]), "City": COMPANY["City"], "Phone": COMPANY["Phone"],
            "Email": COMPANY["Email"]}


@dataclass
class Catalog:
    """The seeded records of one account, ids implied by position (index + 1)."""

    customers: list[Record] = field(default_factory=list)
    contacts: list[Record] = field(default_factory=list)
    services: list[RateRow] = field(default_factory=list)
    products: list[RateRow] = field(default_factory=list)
    expenses: list[RateRow] = field(default_factory=list)
    contracts: list[tuple[Record, Record]] = field(default_factory=list)  # (header, terms with rate ids)
    contracts_of: dict[int, list[int]] = field(default_factory=dict)  # customer index -> contract indexes
    primary_contact: dict[int, int] = field(default_factory=dict)  # customer index -> contact index
    tickets: list[Record] = field(default_factory=list)
    workhours: list[Record] = field(default_factory=list)


def _anchor() -> date:
    return date.fromisoformat(ANCHOR_DATE)


def _months_back(day: date, months: int) -> date:
    month = day.month - months
    year = day.year
    while month <= 0:
        month += 12
        year -= 1
    return date(year, month, 1)


@lru_cache(maxsize=4)
def build_catalog(profile: str, seed: int) -> Catalog:
    world = build_world(profile, seed)
    rng = random.Random(f"atera:{profile}:{seed}")
    cat = Catalog(services=_rate_rows(world, "rate"), products=_rate_rows(world, "product"),
                  expenses=_rate_rows(world, "expense"))
    _customers(world, rng, cat)
    if cat.services:
        _contracts(rng, cat)
    _tickets(world, rng, cat)
    return cat


def _rate_rows(world: World, kind: str) -> list[RateRow]:
    return [(p.atera_name, p.price, p.sku, p.category) for p in world.atera_products(kind)
            if p.atera_name is not None]  # (atera_products answers named products only)


def _customers(world: World, rng: random.Random, cat: Catalog) -> None:
    base = datetime(2023, 1, 9, 14, 0, tzinfo=UTC)
    anchor = datetime.combine(_anchor(), datetime.min.time(), tzinfo=UTC)
    companies = world.atera_companies()
    span_minutes = (anchor - timedelta(days=120) - base).total_seconds() / 60
    step = span_minutes / max(len(companies), 1)
    emails: set[str] = set()
    for k, company in enumerate(companies):
        created = base + timedelta(minutes=int(k * step))
        modified = min(created + timedelta(days=rng.randint(0, 400), minutes=rng.randint(0, 1440)),
                       anchor - timedelta(days=rng.randint(1, 100)))
        modified = max(modified, created)
        cat.customers.append({
            "CustomerName": company.atera_name, "CreatedOn": utc_text(created), "LastModified": utc_text(modified),
            "BusinessNumber": f"BN-{company.key:06d}" if k % 3 == 0 else None, "Domain": company.domain,
            "Address": f"{100 + (company.key * 37) % 900} {_STREETS[company.key % len(_STREETS)]}",
            "City": company.city, "State": company.state, "Country": company.country, "Phone": company.phone,
            "Fax": None, "Notes": None, "Logo": None, "Links": None, "Longitude": None, "Latitude": None,
            "ZipCodeStr": company.zip_code,
        })
        people = 2 if k % 3 == 0 else 1
        for n in range(people):
            first, last = rng.choice(_FIRST), rng.choice(_LAST)
            if n == 0:
                email = company.email
            else:
                local = "".join(ch for ch in f"{first}.{last}".lower() if ch.isalnum() or ch == ".")
                email = f"{local}@{company.domain}"
            if email.casefold() in emails:
                user, _, host = email.partition("@")
                email = f"{user}+{k + 1}@{host}"
            emails.add(email.casefold())
            if n == 0:
                cat.primary_contact[k] = len(cat.contacts)
            cat.contacts.append({
                "CustomerID": k + 1, "CustomerName": company.atera_name, "Firstname": first, "Lastname": last,
                "JobTitle": "Office Manager" if n == 0 else "IT Contact", "Email": email, "Phone": company.phone,
                "MobilePhone": None, "IsContactPerson": n == 0, "InIgnoreMode": False,
                "CreatedOn": utc_text(created), "LastModified": utc_text(modified), "Archived": False,
                "DepartmentID": None, "DepartmentName": None, "DefaultAgentId": None,
            })


def _contracts(rng: random.Random, cat: Catalog) -> None:
    n = len(cat.services)
    start = local_midnight_text(date(2024, 1, 1))
    end = local_midnight_text(date(2027, 12, 31))

    def rate(role: int, k: int) -> int:
        """A service id for a role (index into the demo's 12 rates), spread over bigger catalogs."""
        spread = max(n // 12, 1)
        return ((role + 12 * (k % spread)) % n) + 1

    for k, customer in enumerate(cat.customers):
        name = customer["CustomerName"].strip()
        prefix = "" if k % 6 == 5 else f"{name} - "  # some MSPs name contracts without the customer
        specs: list[tuple[str, str, dict[str, Any]]] = [
            ("Hourly", "Hourly Support", {"PrimaryRate": rate(0, k), "AdditionalRates": [rate(1, k), rate(2, k)],
                                          "BillingPeriod": "Monthly"}),
        ]
        second = k % 4
        if second == 0:
            specs.append(("RetainerFlatFee", "Managed Services",
                          {"BillingPeriod": "Monthly", "Quantity": Decimal(rng.randint(5, 40)),
                           "Rate": rate(5 if k % 8 else 4, k)}))
        elif second == 1:
            specs.append(("RemoteMonitoring", "Monitoring",
                          {"RatePerDevice": rate(6 if k % 8 == 1 else 7, k), "CountBy": "AgentsOnly",
                           "BillingPeriod": "Monthly"}))
        elif second == 2:
            specs.append(("BlockHours", "Block Hours",
                          {"HoursIncluded": Decimal(10), "PricePerHour": rate(3, k), "OverageRate": rate(2, k),
                           "CommitRollover": bool(k % 2), "BillingPeriod": "Monthly"}))
        else:
            specs.append(("OnlineBackup", "Cloud Backup",
                          {"RatePerGB": rate(8, k), "CountBy": "TotalGB", "BillingPeriod": "Monthly"}))
        third = k % 5
        if third == 0:
            specs.append(("BlockMoney", "Prepaid Block",
                          {"ContractAmount": rate(9, k), "PrimaryRate": rate(0, k), "AdditionalRates": [],
                           "CommitRollover": False, "BillingPeriod": "Quarterly"}))
        elif third == 1:
            specs.append(("ProjectOneTimeFee", "Network Assessment", {"TotalAmount": rate(11, k)}))
        elif third == 2:
            specs.append(("ProjectHourlyRate", "Migration Project",
                          {"PrimaryRate": rate(3, k), "AdditionalRates": [rate(2, k)]}))
        elif third == 3:
            specs.append(("RetainerFlatFee", "Monthly Retainer",
                          {"BillingPeriod": "Monthly", "Quantity": Decimal(1), "Rate": rate(10, k)}))
        for j, (ctype, label, terms) in enumerate(specs):
            if ctype == "BlockMoney":
                terms["Amount"] = cat.services[terms["ContractAmount"] - 1][1]
            header = {"CustomerID": k + 1, "ContractName": prefix + label, "ContractType": ctype, "Active": True,
                      "Default": j == 0, "Taxable": ctype in ("RetainerFlatFee", "RemoteMonitoring"),
                      "StartDate": start, "EndDate": end}
            cat.contracts_of.setdefault(k, []).append(len(cat.contracts))
            cat.contracts.append((header, terms))


def _tickets(world: World, rng: random.Random, cat: Catalog) -> None:
    anchor = datetime.combine(_anchor(), datetime.min.time(), tzinfo=UTC)
    per_customer = {"demo": 3, "small": 1}.get(world.profile, 0)
    limit = len(cat.customers) * per_customer if per_customer else min(len(cat.customers), 5000)
    for t in range(limit):
        _ticket(rng, cat, t % len(cat.customers), anchor)


def _ticket(rng: random.Random, cat: Catalog, k: int, anchor: datetime) -> None:
    """A ticket of customer ``k``, raised by its primary contact, with one or two entries of work hours."""
    customer = cat.customers[k]
    contact = cat.contacts[cat.primary_contact[k]]
    created = anchor - timedelta(days=rng.randint(1, 90), minutes=rng.randint(0, 1440))
    status = rng.choice(["Open", "Pending", "Resolved", "Closed", "Closed"])
    resolved = created + timedelta(hours=rng.randint(1, 72)) if status in ("Resolved", "Closed") else None
    modified = resolved or created + timedelta(hours=rng.randint(0, 48))
    tech = rng.choice(_TECHS)
    contract_ids = cat.contracts_of.get(k, [])
    hourly = contract_ids[0] if contract_ids else None
    ticket_id = len(cat.tickets) + 1
    seconds, onsite_seconds = _work_hours(rng, cat, k, ticket_id, created, tech, hourly)
    first_comment = rng.choice(_TICKET_TITLES)
    cat.tickets.append({
        "TicketID": ticket_id, "TicketTitle": first_comment, "TicketNumber": str(ticket_id),
        "TicketPriority": rng.choice(["Low", "Medium", "Medium", "High", "Critical"]),
        "TicketImpact": rng.choice(["NoImpact", "Minor", "Major", "ServerIssue"]), "TicketStatus": status,
        "TicketSource": rng.choice(["Email", "Portal", "Phone"]),
        "TicketType": rng.choice(["Incident", "Problem", "Request", "Change"]),
        "EndUserID": cat.primary_contact[k] + 1, "EndUserEmail": contact["Email"],
        "EndUserFirstName": contact["Firstname"], "EndUserLastName": contact["Lastname"],
        "EndUserPhone": contact["Phone"], "TicketResolvedDate": utc_text(resolved) if resolved else None,
        "TicketCreatedDate": utc_text(created), "TechnicianFirstCommentDate": utc_text(created + timedelta(
            minutes=30)), "FirstResponseDueDate": utc_text(created + timedelta(hours=4)),
        "ClosedTicketDueDate": utc_text(created + timedelta(days=3)), "FirstComment": first_comment,
        "LastEndUserComment": None, "LastEndUserCommentTimestamp": None,
        "LastTechnicianComment": "Looking into it.", "LastTechnicianCommentTimestamp": utc_text(modified),
        "OnSiteDurationSeconds": onsite_seconds, "OnSiteDurationMinutes": onsite_seconds // 60,
        "OffSiteDurationSeconds": seconds - onsite_seconds,
        "OffSiteDurationMinutes": (seconds - onsite_seconds) // 60,
        "OnSLADurationSeconds": seconds, "OnSLADurationMinutes": seconds // 60, "OffSLADurationSeconds": 0,
        "OffSLADurationMinutes": 0, "TotalDurationSeconds": seconds, "TotalDurationMinutes": seconds // 60,
        "CustomerID": k + 1, "CustomerName": customer["CustomerName"],
        "CustomerBusinessNumber": customer["BusinessNumber"], "TechnicianContactID": tech[0],
        "TechnicianFullName": tech[1], "TechnicianEmail": tech[2],
        "ContractID": (hourly + 1) if hourly is not None else None, "RelationType": "None",
        "RelatedTicketId": None, "_modified": utc_text(modified),
    })


def _work_hours(rng: random.Random, cat: Catalog, k: int, ticket_id: int, created: datetime,
                tech: tuple[int, str, str], hourly: int | None) -> tuple[int, int]:
    """The work-hour entries of a ticket, at the rates of the customer's hourly contract (if any); answers the
    (total, on-site) seconds worked."""
    customer = cat.customers[k]
    seconds = 0
    onsite_seconds = 0
    for _ in range(rng.randint(1, 2)):
        start = created + timedelta(hours=rng.randint(0, 24))
        minutes = rng.choice([15, 30, 45, 60, 90, 120])
        on_site = rng.random() < 0.25
        rate_id = None
        rate_amount = None
        if hourly is not None:
            terms = cat.contracts[hourly][1]
            rate_id = terms["PrimaryRate"] if not on_site else (terms["AdditionalRates"] or
                                                                 [terms["PrimaryRate"]])[0]
            rate_amount = cat.services[rate_id - 1][1]
        seconds += minutes * 60
        onsite_seconds += minutes * 60 if on_site else 0
        cat.workhours.append({
            "WorkHoursID": len(cat.workhours) + 1, "TicketID": ticket_id, "CustomerID": k + 1,
            "EndUserID": cat.primary_contact[k] + 1, "StartWorkHour": utc_text(start),
            "EndWorkHour": utc_text(start + timedelta(minutes=minutes)), "TechnicianContactID": tech[0],
            "Billiable": rng.random() < 0.85, "OnCustomerSite": on_site,
            "Description": f"Work on: {customer['CustomerName'].strip()} ticket #{ticket_id}",
            "TechnicianFullName": tech[1], "TechnicianEmail": tech[2], "RateID": rate_id,
            "RateAmount": rate_amount,
        })
    return seconds, onsite_seconds


# -- invoices ------------------------------------------------------------------------------------------------------
class InvoiceGenerator:
    """Invoice ``i`` (number 1001 + i) of a seeded account, built on demand; dates rise with ``i``."""

    def __init__(self, profile: str, seed: int) -> None:
        world = build_world(profile, seed)
        self.profile, self.seed = profile, seed
        self.catalog = build_catalog(profile, seed)
        self.count = world.invoice_count if self.catalog.customers and self.catalog.contracts else 0
        anchor = _anchor()
        self.start = _months_back(anchor, world.invoice_months)
        ndays = (anchor - self.start).days
        self.days = [(self.start + timedelta(days=(i * ndays) // self.count)).toordinal()
                     for i in range(self.count)] if self.count else []
        n = len(self.catalog.customers) or 1
        self.step = next(s for s in (7, 11, 13, 17, 19, 23, 29, 31, 1) if gcd(s, n) == 1)
        self.credits = profile != "demo"
        self.from_party = company_party()

    def index_range(self, lo_day: date | None, hi_day: date | None) -> tuple[int, int]:
        return day_index(self.days, lo_day, upper=False), day_index(self.days, hi_day, upper=True)

    def invoice(self, i: int) -> Record:
        cat = self.catalog
        rng = random.Random(f"inv:{self.profile}:{self.seed}:{i}")
        k = (i * self.step) % len(cat.customers)
        customer = cat.customers[k]
        contact = cat.contacts[cat.primary_contact[k]]
        header, terms = cat.contracts[rng.choice(cat.contracts_of[k])]
        day = date.fromordinal(self.days[i])
        period_start, period_end = month_bounds(day)
        taxed = rng.random() < 0.12
        credit = self.credits and rng.random() < 0.03
        pending = self._contract_lines(rng, header, terms, day.strftime("%B %Y"))
        pending += self._catalog_lines(rng, taxed)
        lines = _priced_lines(rng, pending, credit, taxed)
        subtotal, tax, total = invoice_totals(lines)
        number = FIRST_INVOICE_NUMBER + i
        return {
            "IsAdhoc": False, "InvoiceId": invoice_uuid(f"{self.profile}:{self.seed}:{number}"),
            "InvoiceNumber": number, "InvoiceNumberAsString": str(number), "Total": total, "Subtotal": subtotal,
            "Tax": tax, "TaxPercentage": TAX_PERCENTAGE if taxed else Decimal(0),
            "InvoiceDate": local_midnight_text(day), "ContractName": header["ContractName"],
            "PeriodStartDate": local_midnight_text(period_start), "PeriodEndDate": local_midnight_text(period_end),
            "Currency": "USD", "LineItems": lines, "From": dict(self.from_party), "To": _to_party(customer, contact),
        }

    def _contract_lines(self, rng: random.Random, header: Record, terms: Record, month: str) -> list[_Pending]:
        """What the contract bills for the month, at its rates."""
        pending: list[_Pending] = []

        def service(rate_id: int, qty: Decimal, what: str) -> None:
            name, amount, _, _ = self.catalog.services[rate_id - 1]
            pending.append((name, what, qty, amount, False))

        ctype = header["ContractType"]
        if ctype == "Hourly" or ctype == "ProjectHourlyRate":
            service(terms["PrimaryRate"], Decimal(rng.randint(2, 32)) / 4, f"Labor - {month}")
            if terms.get("AdditionalRates") and rng.random() < 0.3:
                service(rng.choice(terms["AdditionalRates"]), Decimal(rng.randint(1, 12)) / 4, "Additional labor")
        elif ctype == "RetainerFlatFee":
            service(terms["Rate"], terms["Quantity"], f"{header['ContractName']} - {month}")
        elif ctype == "RemoteMonitoring":
            service(terms["RatePerDevice"], Decimal(rng.randint(3, 60)), f"Monitored devices - {month}")
        elif ctype == "OnlineBackup":
            service(terms["RatePerGB"], Decimal(rng.randint(50, 2500)), f"Backup storage (GB) - {month}")
        elif ctype == "BlockHours":
            service(terms["PricePerHour"], terms["HoursIncluded"], "Block of hours")
            if terms.get("OverageRate") and rng.random() < 0.3:
                service(terms["OverageRate"], Decimal(rng.randint(1, 8)) / 2, "Overage hours")
        elif ctype == "BlockMoney":
            service(terms["ContractAmount"], Decimal(1), "Prepaid block")
        else:  # ProjectOneTimeFee
            service(terms["TotalAmount"], Decimal(1), "Project fee")
        return pending

    def _catalog_lines(self, rng: random.Random, taxed: bool) -> list[_Pending]:
        """Products (always when the invoice is taxed) and expenses sold besides the contract."""
        cat = self.catalog
        pending: list[_Pending] = []
        if cat.products and (rng.random() < 0.5 or taxed):
            for _ in range(rng.randint(1, 3)):
                name, amount, _, _ = rng.choice(cat.products)
                pending.append((name, name, Decimal(rng.randint(1, 10)), amount, True))
        if cat.expenses and rng.random() < 0.25:
            name, amount, _, _ = rng.choice(cat.expenses)
            pending.append((name, name, Decimal(rng.randint(1, 60)) if amount < 5 else Decimal(1), amount, False))
        return pending


def _priced_lines(rng: random.Random, pending: list[_Pending], credit: bool, taxed: bool) -> list[Record]:
    """The invoice lines: some discounted, taxable ones taxed on a taxed invoice, negated on a credit."""
    sign = Decimal(-1) if credit else Decimal(1)
    lines = []
    for idx, (name, description, qty, amount, taxable) in enumerate(pending):
        discount = rng.choice([Decimal(5), Decimal(10), Decimal("12.5"), Decimal(15)]) \
            if rng.random() < 0.07 else None
        tax_pct = TAX_PERCENTAGE if taxed and taxable else Decimal(0)
        lines.append(make_line(idx, name, ("Credit: " if credit else "") + description, qty * sign, amount,
                               tax_pct, discount))
    return lines


def _to_party(customer: Record, contact: Record) -> Record:
    return {
        "CompanyName": customer["CustomerName"], "ContactFirstName": contact["Firstname"],
        "ContactLastName": contact["Lastname"], "ContactFullName": f"{contact['Firstname']} {contact['Lastname']}",
        "Address": customer["Address"], "State": customer["State"], "Country": customer["Country"],
        "ZipCode": zip_code_int(customer["ZipCodeStr"]), "City": customer["City"], "Phone": customer["Phone"],
        "Email": contact["Email"]}


@lru_cache(maxsize=4)
def invoice_generator(profile: str, seed: int) -> InvoiceGenerator:
    return InvoiceGenerator(profile, seed)
