"""Staging rows → the DataFrames the suites validate.

Each gated table has a ``TableSpec``: its key, the columns its suite reads, its money columns, its references.
``load_frames`` reads the current rows with SQLAlchemy Core (only those columns, never ``raw_json``) and the ids
of the tables they refer to; ``prepare`` is pure (rows in, frame out) and does what GX cannot express directly:

- ``gate_id``: the id a failure names (``source_id``; ``kind:source_id`` for products, like ``map_products``;
  ``entity:source_id`` for QBO names; ``invoice#line_idx`` for invoice lines);
- history and exclusions: rows with ``deleted_at`` set, invoice lines of a deleted invoice, and QBO items without
  a Name are dropped before validation and counted in ``excluded``;
- money columns parsed to ``Decimal`` with ``staging.db.money_in`` (an unparseable stored value becomes None and
  fails ``<col>_is_money`` where that check applies);
- boolean check columns the suites expect to be True: ``<col>_exists`` (referential), ``<col>_is_money`` (price
  is a valid money amount), ``total_consistent`` (subtotal + tax = total, exact Decimal).
"""
from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa

from ..staging.db import money_in, table

if TYPE_CHECKING:  # pandas is imported inside ``prepare``: importing this package stays cheap
    import pandas as pd

# A price is a valid money amount when it parses as a finite Decimal with at most MONEY_DECIMALS decimal places
# (trailing zeros do not count: 10.500000 is 10.5) and fits the staging type NUMERIC(18,5): |amount| < 10**13.
# Five places, not two: QBO keeps unit prices and rates to 5 decimals (per-GB and per-device rates need them),
# and staging stores exactly that; invoices round lines to the cent, prices need not be.
MONEY_DECIMALS = 5
MONEY_LIMIT = Decimal(10) ** 13
NOT_MONEY_FLAG = ":not_money"


@dataclass(frozen=True)
class Reference:
    """``column`` must hold a live ``parent.parent_column`` (deleted parents do not count)."""

    column: str
    parent: str
    parent_column: str = "source_id"
    nullable: bool = False  # True: a null reference is fine (e.g. an item without income account)

    @property
    def check(self) -> str:
        return f"{self.column}_exists"


@dataclass(frozen=True)
class TableSpec:
    key: tuple[str, ...] = ("source_id",)
    columns: tuple[str, ...] = ()          # other plain columns the suite reads
    money: tuple[str, ...] = ()            # parsed to Decimal
    references: tuple[Reference, ...] = ()
    soft_delete: bool = True               # the table has deleted_at
    history_of: Reference | None = None    # rows whose parent is deleted are history (invoice lines)
    price: str | None = None               # money column that must be a valid money amount
    exclude_without: str | None = None     # rows with this column null/blank are excluded, not failed
    totals: tuple[str, str, str] | None = None  # (subtotal, tax, total): subtotal + tax = total
    id_separator: str = ":"

    def load_columns(self) -> list[str]:
        cols: list[str] = []
        for col in (*self.key, *self.columns, *self.money, *(r.column for r in self.references)):
            if col not in cols:
                cols.append(col)
        if self.price and "quality_flags" not in cols:
            cols.append("quality_flags")
        if self.soft_delete:
            cols.append("deleted_at")
        return cols


_CUSTOMER = Reference("customer_id", "stg_atera_customers")

SPECS: dict[str, TableSpec] = {
    "stg_atera_customers": TableSpec(columns=("name",)),
    "stg_atera_contacts": TableSpec(references=(_CUSTOMER,)),
    "stg_atera_products": TableSpec(key=("kind", "source_id"), columns=("name",), money=("amount",),
                                    price="amount"),
    "stg_atera_contracts": TableSpec(references=(_CUSTOMER,)),
    "stg_atera_invoices": TableSpec(columns=("currency",), money=("subtotal", "tax", "total"),
                                    totals=("subtotal", "tax", "total")),
    "stg_atera_invoice_lines": TableSpec(
        key=("invoice_source_id", "line_idx"), soft_delete=False, id_separator="#",
        references=(Reference("invoice_source_id", "stg_atera_invoices"),),
        history_of=Reference("invoice_source_id", "stg_atera_invoices")),
    "stg_qbo_customers": TableSpec(columns=("display_name", "currency")),
    "stg_qbo_items": TableSpec(columns=("name",), money=("unit_price",), exclude_without="name",
                               references=(Reference("income_account_id", "stg_qbo_accounts", nullable=True),)),
    "stg_qbo_accounts": TableSpec(),
    "stg_qbo_tax_codes": TableSpec(),
    "stg_qbo_tax_rates": TableSpec(),
    "stg_qbo_terms": TableSpec(),
    "stg_qbo_names": TableSpec(key=("entity", "source_id")),  # vendor / employee display names
    "stg_qbo_preferences": TableSpec(columns=("home_currency",), soft_delete=False),
}


@dataclass
class Prepared:
    """One table, ready for its suite: the rows to validate and what was left out (counts)."""

    table: str
    frame: pd.DataFrame
    excluded: dict[str, int] = field(default_factory=dict)

    @property
    def rows(self) -> int:
        return len(self.frame)


@dataclass
class Parents:
    """Ids of the referenced tables: ``live`` (deleted_at null) and ``deleted`` (history), per parent table."""

    live: dict[str, set[str]] = field(default_factory=dict)
    deleted: dict[str, set[str]] = field(default_factory=dict)


# ------------------------------------------------------------------------------------------------ loading
def _has_deleted_at(engine: sa.Engine, name: str) -> bool:
    return "deleted_at" in table(name).c


Scope = Callable[[sa.Table], Any]  # table → a WHERE clause: gate only this part of the table


def load_rows(conn: sa.Connection, engine: sa.Engine, name: str, scope: Scope | None = None) -> list[dict[str, Any]]:
    """The table's rows (within ``scope``), only the columns its suite needs (history included: ``prepare`` drops
    it)."""
    spec = SPECS[name]
    tbl = table(name)
    names = spec.load_columns()
    # Money columns raw (not through ``Money``): a value no valid write can produce (a hand-edited database) must
    # fail its check naming the row, not crash the gate; ``prepare`` parses them.
    query = sa.select(*(sa.type_coerce(tbl.c[c], sa.Text) if c in spec.money else tbl.c[c] for c in names))
    if scope is not None:
        query = query.where(scope(tbl))
    return [dict(zip(names, row, strict=True)) for row in conn.execute(query)]


def load_parents(conn: sa.Connection, engine: sa.Engine, names: Iterable[str], existing: set[str]) -> Parents:
    parents = Parents()
    wanted: set[tuple[str, str]] = set()
    for name in names:
        spec = SPECS[name]
        for ref in (*spec.references, *([spec.history_of] if spec.history_of else [])):
            wanted.add((ref.parent, ref.parent_column))
    for parent, column in sorted(wanted):
        parents.live.setdefault(parent, set())
        parents.deleted.setdefault(parent, set())
        if parent not in existing:  # no such table: every reference to it is dangling
            continue
        tbl = table(parent)
        if _has_deleted_at(engine, parent):
            for value, deleted_at in conn.execute(sa.select(tbl.c[column], tbl.c.deleted_at)):
                if value is not None:
                    (parents.live if deleted_at is None else parents.deleted)[parent].add(str(value))
        else:
            parents.live[parent].update(str(v) for (v,) in conn.execute(sa.select(tbl.c[column])) if v is not None)
    return parents


def load_frames(engine: sa.Engine, names: Iterable[str],
                scopes: Mapping[str, Scope] | None = None) -> dict[str, Prepared]:
    """Read and prepare each named table (they must exist and have a spec), in one read transaction; ``scopes``
    limits a table to part of its rows (e.g. the invoices of the window being exported)."""
    names = list(names)
    existing = set(sa.inspect(engine).get_table_names())
    with engine.connect() as conn:
        parents = load_parents(conn, engine, names, existing)
        raw = {name: load_rows(conn, engine, name, (scopes or {}).get(name)) for name in names}
    return {name: prepare(name, raw[name], parents) for name in names}


# ------------------------------------------------------------------------------------------------ deriving
def _missing(value: Any) -> bool:
    if value is None:
        return True
    try:
        return bool(value != value)  # NaN / pandas NA from a DataFrame round-trip
    except (TypeError, ValueError):
        return False


def parse_money(value: Any) -> tuple[Decimal | None, bool]:
    """(amount, parsed): ``(None, True)`` for an empty value, ``(None, False)`` for one that is not an amount."""
    if _missing(value):
        return None, True
    if isinstance(value, float):  # never trust a float with money: go through its shortest repr
        value = repr(value)
    try:
        amount = money_in(value)
    except (InvalidOperation, ValueError, TypeError):
        return None, False
    if amount is not None and not amount.is_finite():
        return None, False
    return amount, True


def is_money(amount: Decimal | None) -> bool:
    """A present, finite amount with at most MONEY_DECIMALS decimals that fits NUMERIC(18,5)."""
    if amount is None or not amount.is_finite() or abs(amount) >= MONEY_LIMIT:
        return False
    exponent = amount.normalize().as_tuple().exponent
    return isinstance(exponent, int) and -exponent <= MONEY_DECIMALS


def flags_of(value: Any) -> set[str]:
    if _missing(value) or not str(value).strip():
        return set()
    return {f.strip() for f in str(value).split(",") if f.strip()}


def _blank(value: Any) -> bool:
    return _missing(value) or not str(value).strip()


def gate_id(spec: TableSpec, row: Mapping[str, Any]) -> str:
    parts = ["NULL" if _missing(row.get(k)) else str(row[k]) for k in spec.key]
    ident = spec.id_separator.join(parts)
    if "NULL" in parts:
        label = next((row.get(c) for c in ("name", "display_name") if not _blank(row.get(c))), None)
        if label is not None:
            ident += f" (name {str(label)!r})"
    return ident


def prepare(name: str, rows: Iterable[Mapping[str, Any]], parents: Parents | None = None) -> Prepared:
    """Rows of one staging table (dicts, as read) → the frame its suite validates. Pure: no database."""
    import pandas as pd  # lazy: importing ``atera_qbo.quality`` must not import pandas (it costs a second)

    spec = SPECS[name]
    parents = parents or Parents()
    excluded: dict[str, int] = {}
    kept: list[dict[str, Any]] = []
    deleted = nameless = 0
    history = parents.deleted.get(spec.history_of.parent, set()) if spec.history_of else set()
    for src in rows:
        row = dict(src)
        if spec.soft_delete and not _missing(row.get("deleted_at")):
            deleted += 1
            continue
        if spec.history_of and str(row.get(spec.history_of.column)) in history:
            deleted += 1
            continue
        if spec.exclude_without and _blank(row.get(spec.exclude_without)):
            nameless += 1
            continue
        kept.append(row)
    excluded["deleted"] = deleted
    if spec.exclude_without:
        excluded[f"no_{spec.exclude_without}"] = nameless

    out: dict[str, list[Any]] = {"gate_id": [gate_id(spec, r) for r in kept]}
    for col in spec.load_columns():
        if col == "deleted_at" or col in spec.money:
            continue
        out[col] = [None if _missing(r.get(col)) else r.get(col) for r in kept]
    parsed: dict[str, list[tuple[Decimal | None, bool]]] = {}
    for col in spec.money:
        parsed[col] = [parse_money(r.get(col)) for r in kept]
        out[col] = [amount for amount, _ in parsed[col]]
    if spec.price:
        flag = spec.price + NOT_MONEY_FLAG
        out[f"{spec.price}_is_money"] = [
            ok and is_money(amount) and flag not in flags_of(r.get("quality_flags"))
            for (amount, ok), r in zip(parsed[spec.price], kept, strict=True)]
    for ref in spec.references:
        live = parents.live.get(ref.parent, set())
        out[ref.check] = [(ref.nullable if _missing(r.get(ref.column)) else str(r.get(ref.column)) in live)
                          for r in kept]
    if spec.totals:
        sub, tax, tot = (out[c] for c in spec.totals)
        out["total_consistent"] = [s is not None and t is not None and g is not None and s + t == g
                                   for s, t, g in zip(sub, tax, tot, strict=True)]
    frame = pd.DataFrame({col: pd.Series(values, dtype=_dtype(col, spec)) for col, values in out.items()})
    return Prepared(name, frame, excluded)


def _dtype(col: str, spec: TableSpec) -> Any:
    if col in spec.money:
        return object  # Decimal stays Decimal: never float
    if col.endswith(("_exists", "_is_money")) or col == "total_consistent":
        return bool
    return object
