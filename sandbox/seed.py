"""The shared "world" both twins are seeded from, so that an Atera twin and a QBO twin seeded alike form a
realistic pair: most names match exactly, some differ by case, blanks, punctuation or abbreviation, some records
exist on one side only, some are ambiguous.

``build_world(profile, seed)`` is deterministic. Each twin takes the records that exist on its side
(``atera_name`` / ``qbo_name`` not None) in list order, and assigns ids in that order, so ids are stable too.

Snags (``snag`` field) — what a matcher meets in real books:
  exact        same name on both sides
  case         differs only by letter case                    "BLUE RIDGE DENTAL" / "Blue Ridge Dental"
  blank        differs only by surrounding/double blanks      "Northwind Traders " / "Northwind Traders"
  punct        punctuation and legal suffix                   "Acme Inc" / "ACME, Inc."
  abbrev       an abbreviation                                "Riverside Medical Center" / "Riverside Medical Ctr"
  accent       accents dropped on one side                    "Café Lumière" / "Cafe Lumiere"
  ambiguous    two QBO records resemble the Atera one         "Apex Dental" / "Apex Dental Group" + "Apex Dental Care"
  atera_only   exists only in Atera (to be created in QBO)
  qbo_only     exists only in QBO (to be imported into Atera)
  inactive     exists in QBO but inactive
  sub          a QBO sub-customer (Job) under a parent
  currency     a QBO customer in another currency
  apostrophe   exact, but with an apostrophe / ampersand (query escaping)
"""
from __future__ import annotations

import random
from dataclasses import dataclass, field, replace
from decimal import Decimal
from functools import lru_cache
from typing import Literal, TypedDict, TypeVar

# An anchor date, not today: seeds are deterministic. Demo invoices fall in the three months before it.
ANCHOR_DATE = "2026-11-01"


@dataclass(frozen=True)
class Company:
    key: int
    atera_name: str | None
    qbo_name: str | None
    snag: str
    city: str
    state: str
    country: str
    zip_code: str
    phone: str
    domain: str
    email: str
    qbo_active: bool = True
    qbo_parent_key: int | None = None
    currency: str = "USD"


@dataclass(frozen=True)
class Product:
    key: int
    kind: str  # product | expense | rate (rates live inside Atera contracts)
    atera_name: str | None
    qbo_name: str | None
    price: Decimal
    sku: str | None
    category: str
    snag: str
    qbo_type: str = "Service"  # Service | NonInventory
    qbo_active: bool = True
    taxable: bool = True


@dataclass(frozen=True)
class World:
    profile: str
    seed: int
    companies: tuple[Company, ...]
    products: tuple[Product, ...]
    invoice_count: int
    invoice_months: int = 3
    anchor_date: str = ANCHOR_DATE
    notes: dict[str, str] = field(default_factory=dict)

    def atera_companies(self) -> list[Company]:
        return [c for c in self.companies if c.atera_name is not None]

    def qbo_companies(self) -> list[Company]:
        return [c for c in self.companies if c.qbo_name is not None]

    def atera_products(self, kind: str | None = None) -> list[Product]:
        return [p for p in self.products if p.atera_name is not None and (kind is None or p.kind == kind)]

    def qbo_products(self) -> list[Product]:
        return [p for p in self.products if p.qbo_name is not None]


PROFILE_SIZES = {
    # profile: (companies, products, invoices)
    "none": (0, 0, 0),
    "demo": (30, 60, 150),
    "small": (300, 1_200, 1_500),
    "large": (20_000, 110_000, 50_000),
}

# --- the demo: hand-written so a newcomer can read the sync's summary ---------------------------------------
_DEMO_COMPANIES: list[tuple[str | None, str | None, str]] = [
    ("Contoso Ltd", "Contoso Ltd", "exact"),
    ("Fabrikam Manufacturing", "Fabrikam Manufacturing", "exact"),
    ("O'Brien & Sons Plumbing", "O'Brien & Sons Plumbing", "apostrophe"),
    ("Tailspin Toys", "Tailspin Toys", "exact"),
    ("Wingtip Dental Care", "Wingtip Dental Care", "exact"),
    ("BLUE RIDGE DENTAL", "Blue Ridge Dental", "case"),
    ("Northwind Traders ", "Northwind Traders", "blank"),
    ("Acme Inc", "ACME, Inc.", "punct"),
    ("Riverside Medical Center", "Riverside Medical Ctr", "abbrev"),
    ("Café Lumière", "Café Lumière", "exact"),
    ("Litware Legal LLP", "Litware Legal LLP", "exact"),
    ("Adventure Works Cycles", "Adventure Works Cycles", "exact"),
    ("Proseware Accounting", "Proseware Accounting", "exact"),
    ("Lakeshore Family Practice", "Lakeshore Family Practice", "exact"),
    ("Margie's Travel", "Margie's Travel", "apostrophe"),
    ("Alpine Ski House", "Alpine Ski House", "exact"),
    ("Coho Winery", "Coho Winery", "exact"),
    ("Trey Research", "Trey Research", "exact"),
    ("Woodgrove Bank & Trust", "Woodgrove Bank & Trust", "apostrophe"),
    ("Fourth Coffee", "Fourth Coffee", "exact"),
    ("Graphic Design Institute", "Graphic Design Institute", "exact"),
    ("Humongous Insurance", "Humongous Insurance", "exact"),
    ("Lucerne Publishing", "Lucerne Publishing", "exact"),
    ("Apex Dental", "Apex Dental Group", "ambiguous"),
    (None, "Apex Dental Care", "ambiguous"),
    ("Greenfield Architects", None, "atera_only"),
    ("Harbor View Realty", None, "atera_only"),
    (None, "Pinecrest Veterinary Clinic", "qbo_only"),
    (None, "Summit Accounting Partners", "qbo_only"),
    (None, "Old Mill Bakery", "inactive"),
]
# Sub-customer of Contoso Ltd (key 1) in QBO only, and a customer in another currency: appended after the list.
_DEMO_EXTRA_QBO = [("Contoso Warehouse", "sub", 1, "USD"), ("Maple Leaf Outfitters", "currency", None, "CAD")]

_DEMO_PRODUCTS: list[tuple[str | None, str | None, str | None, str, str, str | None, str]] = [
    # kind (None: "product"), atera name, qbo name, price, category, sku, snag
    ("rate", "Remote Support (hourly)", "Remote Support (hourly)", "125.00", "Labor", None, "exact"),
    ("rate", "On-site Support (hourly)", "On-site Support (hourly)", "165.00", "Labor", None, "exact"),
    ("rate", "After-hours Support (hourly)", "After-hours Support (hourly)", "210.00", "Labor", None, "exact"),
    ("rate", "Project Engineering (hourly)", "Project Engineering (hourly)", "150.00", "Labor", None, "exact"),
    ("rate", "Managed Services - per device", "Managed Services - per device", "45.00", "Managed", "MSP-DEV", "exact"),
    ("rate", "Managed Services - per user", "Managed Services - per user", "65.00", "Managed", "MSP-USR", "exact"),
    ("rate", "Server Monitoring", "Server Monitoring", "95.00", "Managed", "MON-SRV", "exact"),
    ("rate", "Workstation Monitoring", "workstation monitoring", "12.50", "Managed", "MON-WKS", "case"),
    ("rate", "Cloud Backup per GB", "Cloud Backup per GB", "0.35", "Backup", "BKP-GB", "exact"),
    ("rate", "Block of 10 Hours", "Block of 10 Hours", "1150.00", "Labor", "BLK-10", "exact"),
    ("rate", "Monthly Retainer", "Monthly Retainer", "2500.00", "Managed", "RET-M", "exact"),
    ("rate", "Network Assessment Project", "Network Assessment Project", "3200.00", "Projects", "PRJ-NA", "exact"),
    ("product", "Microsoft 365 Business Basic", "Microsoft 365 Business Basic", "6.00", "Software", "M365-BB", "exact"),
    ("product", "Microsoft 365 Business Standard", "Microsoft 365 Business Standard", "12.50", "Software",
     "M365-BS", "exact"),
    ("product", "Microsoft 365 Business Premium", "Microsoft 365 Business Premium", "22.00", "Software",
     "M365-BP", "exact"),
    ("product", "Exchange Online Plan 1", "Exchange Online Plan 1", "4.00", "Software", "EXO-P1", "exact"),
    ("product", "Google Workspace Business Starter", "Google Workspace Business Starter", "7.20", "Software",
     None, "exact"),
    ("product", "Adobe Acrobat Pro", "Adobe Acrobat Pro", "19.99", "Software", "ADB-ACR", "exact"),
    ("product", "Antivirus Endpoint License", "ANTIVIRUS ENDPOINT LICENSE", "3.50", "Security", "AV-EP", "case"),
    ("product", "EDR Endpoint Protection", "EDR Endpoint Protection", "8.75", "Security", "EDR-EP", "exact"),
    ("product", "Email Security Gateway", "Email Security Gateway", "2.80", "Security", "ESG", "exact"),
    ("product", "Dark Web Monitoring", None, "99.00", "Security", "DWM", "atera_only"),
    ("product", "Security Awareness Training", "Security Awareness Training ", "4.25", "Security", "SAT",
     "blank"),
    ("product", "Password Manager Seat", "Password Manager Seat", "3.00", "Security", None, "exact"),
    ("product", "Firewall Appliance FG-60F", "Firewall Appliance FG-60F", "1295.00", "Hardware", "FG-60F",
     "exact"),
    ("product", "Firewall Subscription FG-60F (1yr)", "Firewall Subscription FG-60F (1yr)", "480.00", "Security",
     "FG-60F-SUB", "exact"),
    ("product", "Managed Switch 24-port PoE", "Managed Switch 24-port PoE", "649.00", "Hardware", "SW24P",
     "exact"),
    ("product", "Wireless Access Point AX", "Wireless Access Point AX", "289.00", "Hardware", "WAP-AX", "exact"),
    ("product", "Business Laptop 14\"", "Business Laptop 14\"", "1149.00", "Hardware", "LT-14", "exact"),
    ("product", "Business Desktop Tower", "Business Desktop Tower", "899.00", "Hardware", "DT-T", "exact"),
    ("product", "27\" Monitor", "27\" Monitor", "229.00", "Hardware", "MON-27", "exact"),
    ("product", "Docking Station USB-C", "Docking Station USB-C", "189.00", "Hardware", "DOCK-C", "exact"),
    ("product", "UPS 1500VA", "UPS 1500VA", "329.00", "Hardware", "UPS-15", "exact"),
    ("product", "NAS 4-bay", "NAS 4-bay", "749.00", "Hardware", "NAS-4", "exact"),
    ("product", "Cat6 Patch Cable 3ft", "Cat6 Patch Cable 3ft", "4.99", "Hardware", None, "exact"),
    ("product", "Domain Registration (1yr)", "Domain Registration (1yr)", "18.00", "Cloud", "DOM-1Y", "exact"),
    ("product", "SSL Certificate (1yr)", "SSL Certificate (1yr)", "79.00", "Cloud", "SSL-1Y", "exact"),
    ("product", "Website Hosting", "Website Hosting", "35.00", "Cloud", "WEB-H", "exact"),
    ("product", "Azure Consumption", "Azure Consumption", "1.00", "Cloud", "AZ-C", "exact"),
    ("product", "VoIP Seat", "VoIP Seat", "24.00", "Cloud", "VOIP", "exact"),
    ("product", "VoIP Phone Handset", "VoIP Phone Handset", "159.00", "Hardware", "VOIP-H", "exact"),
    ("product", "Backup Appliance Lease", "Backup Appliance Lease", "199.00", "Backup", "BKP-AL", "exact"),
    ("product", "Microsoft 365 Backup Seat", "Microsoft 365 Backup Seat", "2.50", "Backup", "M365-BKP", "exact"),
    ("product", "Veeam Server License", "Veeam Server License", "42.00", "Backup", "VEEAM-S", "exact"),
    ("product", "O'Reilly Learning Seat", "O'Reilly Learning Seat", "49.00", "Software", None, "apostrophe"),
    ("product", "Printer Toner Black & Color Set", "Printer Toner Black & Color Set", "215.00", "Hardware",
     "TNR-SET", "apostrophe"),
    ("product", "Tablet 11\" Wi-Fi", "Tablet 11 in. Wi-Fi", "499.00", "Hardware", "TAB-11", "abbrev"),
    ("product", "Conference Room Kit", None, "1899.00", "Hardware", "CRK", "atera_only"),
    ("expense", "Mileage", "Mileage", "0.67", "Travel", None, "exact"),
    ("expense", "Travel Time", "Travel Time", "75.00", "Travel", None, "exact"),
    ("expense", "Parking", "Parking", "15.00", "Travel", None, "exact"),
    ("expense", "Shipping & Handling", "Shipping & Handling", "25.00", "Fees", None, "apostrophe"),
    ("expense", "Hardware Recycling Fee", "Hardware Recycling Fee", "30.00", "Fees", None, "exact"),
    ("expense", "Emergency Call-out Fee", "Emergency Call-out Fee", "150.00", "Fees", None, "exact"),
    ("expense", "Same-day Courier", None, "45.00", "Fees", None, "atera_only"),
    ("expense", "Data Recovery Lab Fee", "Data Recovery Lab Fee", "650.00", "Fees", None, "exact"),
    (None, None, "Consulting (legacy)", "120.00", "Labor", None, "qbo_only"),
    (None, None, "Hardware Install", "95.00", "Labor", None, "qbo_only"),
    (None, None, "Old Antivirus Suite", "5.00", "Security", None, "inactive"),
    (None, None, "Gift Card", "50.00", "Fees", None, "qbo_only"),
]

_CITIES = [
    ("Seattle", "WA", "98101"), ("Portland", "OR", "97201"), ("Denver", "CO", "80202"), ("Austin", "TX", "73301"),
    ("Chicago", "IL", "60601"), ("Boston", "MA", "02108"), ("Atlanta", "GA", "30301"), ("Phoenix", "AZ", "85001"),
    ("Raleigh", "NC", "27601"), ("Columbus", "OH", "43004"), ("Nashville", "TN", "37201"),
    ("San Diego", "CA", "92101"), ("Tampa", "FL", "33601"), ("Madison", "WI", "53703"),
]

# --- generated profiles ---------------------------------------------------------------------------------------
_ADJ = ["Blue", "Red", "Green", "Silver", "Golden", "North", "South", "East", "West", "Summit", "Harbor", "River",
        "Lake", "Pine", "Oak", "Maple", "Cedar", "Stone", "Iron", "Bright", "Clear", "Swift", "Prime", "Union",
        "Pioneer", "Liberty", "Eagle", "Falcon", "Coastal", "Valley", "Mountain", "Prairie", "Metro", "Capital",
        "Heritage", "Keystone", "Crescent", "Beacon", "Redwood", "Willow"]
_NOUN = ["Ridge", "Creek", "Point", "Bridge", "Field", "Park", "Grove", "Hill", "Bay", "Gate", "Rock", "Brook",
         "Haven", "Crest", "Springs", "Meadow", "Shore", "Forge", "Peak", "Landing"]
_TRADE = ["Dental", "Medical", "Legal", "Accounting", "Realty", "Construction", "Plumbing", "Electric",
          "Logistics", "Manufacturing", "Veterinary", "Insurance", "Architects", "Engineering", "Consulting",
          "Bakery", "Winery", "Hotel", "Clinic", "Pharmacy", "Auto Repair", "Landscaping", "Marketing",
          "Printing", "Fitness", "Academy", "Church", "Credit Union", "Foods", "Outfitters"]
_SUFFIX = ["", "", "", " LLC", " Inc", " Group", " Partners", " Co", " Ltd", " Associates"]
_ABBREV = [(" and ", " & "), (" Company", " Co."), (" Center", " Ctr"), (" Associates", " Assoc."),
           (" Group", " Grp"), (" Street", " St."), (" Medical", " Med.")]
_BRANDS = ["Dell", "HP", "Lenovo", "Cisco", "Ubiquiti", "Fortinet", "SonicWall", "Microsoft", "Adobe", "Synology",
           "APC", "Logitech", "Samsung", "Brother", "Epson", "Veeam", "Acronis", "Datto", "Sophos", "Meraki",
           "Aruba", "Netgear", "Yealink", "Poly", "Jabra", "Kingston", "Seagate", "WD", "Intel", "AMD"]
_LINES = ["Laptop", "Desktop", "Monitor", "Switch", "Router", "Firewall", "Access Point", "License", "Subscription",
          "Backup Agent", "Server", "Storage", "UPS", "Printer", "Headset", "Webcam", "Dock", "SSD", "RAM Kit",
          "Phone", "Antivirus Seat", "Cloud Seat", "Support Plan", "Warranty Extension", "Cable"]
_CATEGORIES = ["Hardware", "Software", "Security", "Backup", "Cloud", "Networking", "Labor", "Managed", "Fees"]
_RATE_NAMES = ["Remote Support", "On-site Support", "After-hours Support", "Project Engineering", "Consulting",
               "Emergency Support", "Network Engineering", "Helpdesk", "Training", "Cabling"]
_EXPENSE_NAMES = ["Mileage", "Travel Time", "Parking", "Courier", "Shipping", "Recycling Fee", "Lodging", "Meals",
                  "Permit Fee", "Rush Fee"]

_COMPANY_SNAGS = [("exact", 66), ("apostrophe", 3), ("case", 5), ("blank", 3), ("punct", 4), ("abbrev", 3),
                  ("accent", 1), ("ambiguous", 2), ("atera_only", 5), ("qbo_only", 6), ("inactive", 1),
                  ("sub", 1)]
_PRODUCT_SNAGS = [("exact", 78), ("case", 4), ("blank", 3), ("punct", 2), ("abbrev", 2), ("apostrophe", 2),
                  ("atera_only", 4), ("qbo_only", 4), ("inactive", 1)]


class _Place(TypedDict):
    """Where a company is and how to reach it (the address and contact fields of ``Company``)."""

    city: str
    state: str
    country: str
    zip_code: str
    phone: str
    domain: str
    email: str


class _Pricing(TypedDict):
    """The fields of a generated ``Product`` that do not depend on its snag."""

    price: Decimal
    sku: str | None
    category: str
    qbo_type: str


class _Names(TypedDict, total=False):
    """Renamed sides of a record (``dataclasses.replace`` arguments)."""

    atera_name: str
    qbo_name: str


_Named = TypeVar("_Named", Company, Product)
_SIDES: tuple[Literal["atera_name", "qbo_name"], ...] = ("atera_name", "qbo_name")


def _weighted(rng: random.Random, table: list[tuple[str, int]]) -> str:
    return rng.choices([n for n, _ in table], weights=[w for _, w in table])[0]


def _place(rng: random.Random, key: int, name: str) -> _Place:
    city, state, zip_code = _CITIES[key % len(_CITIES)]
    slug = "".join(ch for ch in name.lower() if ch.isalnum())[:20] or f"c{key}"
    return {"city": city, "state": state, "country": "United States", "zip_code": zip_code,
            "phone": f"(555) {rng.randint(200, 999)}-{rng.randint(1000, 9999)}",
            "domain": f"{slug}.example.com", "email": f"billing@{slug}.example.com"}


def _variant(rng: random.Random, name: str, snag: str) -> str:
    """The QBO-side spelling of an Atera name for a given snag."""
    if snag == "case":
        return name.upper() if rng.random() < 0.5 else name.lower()
    if snag == "blank":
        return name + " " if rng.random() < 0.5 else name.replace(" ", "  ", 1)
    if snag == "punct":
        for plain, fancy in ((" Inc", ", Inc."), (" LLC", ", LLC"), (" Co", " Co."), (" Ltd", " Ltd.")):
            if name.endswith(plain):
                return name[: -len(plain)] + fancy
        return name + ", Inc."
    if snag == "abbrev":
        for long, short in _ABBREV:
            if long in name + " ":
                return (name + " ").replace(long, short, 1).rstrip()
        return name.replace(" ", " & ", 1) if " " in name else name + " Co."
    if snag == "accent":
        return name.replace("e", "é", 1)
    return name


def _generated_companies(rng: random.Random, count: int) -> list[Company]:
    companies: list[Company] = []
    seen: set[str] = set()
    key = 0
    while len(companies) < count:
        base = f"{rng.choice(_ADJ)} {rng.choice(_NOUN)} {rng.choice(_TRADE)}{rng.choice(_SUFFIX)}"
        if rng.random() < 0.04:
            base = f"{rng.choice(['Miller', 'Murphy', 'Kelly', 'Reilly'])}'s {rng.choice(_TRADE)}"
        norm = base.casefold()
        if norm in seen:
            base = f"{base} {len(companies)}"
            norm = base.casefold()
        seen.add(norm)
        snag = _weighted(rng, _COMPANY_SNAGS)
        key += 1
        place = _place(rng, key, base)
        if snag in ("exact", "apostrophe"):
            companies.append(Company(key, base, base, snag, **place))
        elif snag in ("case", "blank", "punct", "abbrev", "accent"):
            companies.append(Company(key, base, _variant(rng, base, snag), snag, **place))
        elif snag == "ambiguous":
            companies.append(Company(key, base, base + " Group", snag, **place))
            key += 1
            companies.append(Company(key, None, base + " Services", snag, **_place(rng, key, base)))
        elif snag == "atera_only":
            companies.append(Company(key, base, None, snag, **place))
        elif snag == "qbo_only":
            companies.append(Company(key, None, base, snag, **place))
        elif snag == "inactive":
            companies.append(Company(key, None, base, snag, qbo_active=False, **place))
        elif snag == "sub" and companies:
            parent = next((c for c in reversed(companies) if c.qbo_name and c.qbo_parent_key is None
                           and c.qbo_active), None)
            if parent is not None:
                companies.append(Company(key, None, f"{rng.choice(_NOUN)} Site", snag,
                                         qbo_parent_key=parent.key, **place))
            else:
                companies.append(Company(key, base, base, "exact", **place))
    return companies[:count]


def _generated_products(rng: random.Random, count: int) -> list[Product]:
    products: list[Product] = []
    n_rates = max(count // 50, 4)
    n_expenses = max(count // 100, 3)
    for i in range(count):
        if i < n_rates:
            kind, name = "rate", f"{_RATE_NAMES[i % len(_RATE_NAMES)]} (hourly)" + ("" if i < len(_RATE_NAMES)
                                                                                    else f" T{i}")
            price, category = Decimal(rng.randrange(75, 250)).quantize(Decimal("0.01")), "Labor"
        elif i < n_rates + n_expenses:
            j = i - n_rates
            kind = "expense"
            name = _EXPENSE_NAMES[j % len(_EXPENSE_NAMES)] + ("" if j < len(_EXPENSE_NAMES) else f" {j}")
            price, category = Decimal(rng.randrange(500, 20000)) / 100, "Fees"
        else:
            kind = "product"
            name = f"{rng.choice(_BRANDS)} {rng.choice(_LINES)} {100 + i}"
            if rng.random() < 0.02:
                name += " & Accessories"
            price, category = Decimal(rng.randrange(199, 250000)) / 100, rng.choice(_CATEGORIES)
        sku = None if rng.random() < 0.15 else f"SKU-{i:06d}"
        snag = _weighted(rng, _PRODUCT_SNAGS)
        qbo_type = "NonInventory" if category == "Hardware" else "Service"
        common = _Pricing(price=price, sku=sku, category=category, qbo_type=qbo_type)
        if snag in ("exact", "apostrophe"):
            products.append(Product(i + 1, kind, name, name, snag=snag, **common))
        elif snag in ("case", "blank", "punct", "abbrev"):
            products.append(Product(i + 1, kind, name, _variant(rng, name, snag)[:100], snag=snag, **common))
        elif snag == "atera_only":
            products.append(Product(i + 1, kind, name, None, snag=snag, **common))
        elif snag == "qbo_only":
            products.append(Product(i + 1, kind, None, name, snag=snag, **common))
        else:  # inactive in QBO
            products.append(Product(i + 1, kind, None, name, snag=snag, qbo_active=False, **common))
    return products


def _demo_world(seed: int) -> World:
    rng = random.Random(seed)
    companies: list[Company] = []
    for key, (atera, qbo, snag) in enumerate(_DEMO_COMPANIES, start=1):
        place = _place(rng, key, atera or qbo or "")
        companies.append(Company(key, atera, qbo, snag, qbo_active=snag != "inactive", **place))
    for name, snag, parent, currency in _DEMO_EXTRA_QBO:
        key = len(companies) + 1
        place = _place(rng, key, name)
        if currency != "USD":
            place.update({"country": "Canada", "state": "ON", "city": "Toronto", "zip_code": "M5H 2N2"})
        companies.append(Company(key, None, name, snag, qbo_parent_key=parent, currency=currency, **place))
    products: list[Product] = []
    for key, (kind, atera, qbo, price, category, sku, snag) in enumerate(_DEMO_PRODUCTS, start=1):
        products.append(Product(
            key, kind or "product", atera, qbo, Decimal(price), sku, category, snag,
            qbo_type="NonInventory" if category == "Hardware" else "Service",
            qbo_active=snag != "inactive", taxable=category not in ("Labor", "Travel", "Fees"),
        ))
    return World("demo", seed, tuple(companies), tuple(products), PROFILE_SIZES["demo"][2])


@lru_cache(maxsize=8)
def build_world(profile: str, seed: int = 42) -> World:
    """The deterministic world for a profile (``none``, ``demo``, ``small``, ``large``)."""
    if profile not in PROFILE_SIZES:
        raise ValueError(f"unknown profile {profile!r}; choose one of {', '.join(PROFILE_SIZES)}")
    if profile == "none":
        return World("none", seed, (), (), 0)
    if profile == "demo":
        return _demo_world(seed)
    n_companies, n_products, n_invoices = PROFILE_SIZES[profile]
    rng = random.Random(f"{profile}:{seed}")
    return World(profile, seed, tuple(_unique_names(_generated_companies(rng, n_companies))),
                 tuple(_unique_names(_generated_products(rng, n_products))), n_invoices)


def _norm(name: str) -> str:
    return " ".join(name.split()).casefold()


def _unique_names(records: list[_Named]) -> list[_Named]:
    """Make names unique per side the way the vendors compare them (case- and blank-insensitive)."""
    seen: dict[str, set[str]] = {"atera_name": set(), "qbo_name": set()}
    out: list[_Named] = []
    for rec in records:
        changes: _Names = {}
        for side in _SIDES:
            name = getattr(rec, side)
            if name is None:
                continue
            if _norm(name) in seen[side]:
                name = f"{name.rstrip()} #{rec.key}"
                changes[side] = name
            seen[side].add(_norm(name))
        out.append(replace(rec, **changes) if changes else rec)
    return out
