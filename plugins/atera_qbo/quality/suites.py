"""One expectation-suite builder per staging table. Each answers a list of GX 1.x expectations over the frame
``frames.prepare`` builds for that table; every expectation carries a plain-words ``description`` (Data Docs shows
it, and the failure message quotes it).

Great Expectations is reached inside the builders (``_gx.expectations``): importing it costs seconds.
"""
from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ._gx import expectations
from .currencies import CURRENCY_CODES
from .frames import MONEY_DECIMALS, SPECS, Reference
from .mapping_checks import CHECKS as MAPPING_CHECKS
from .mapping_checks import TABLE as MAPPING_TABLE

Expectations = list[Any]


# ------------------------------------------------------------------------------------------------ helpers
def key(*columns: str) -> Expectations:
    """Every key column not null; the key (one column or a compound) unique."""
    gxe = expectations()
    out: Expectations = [gxe.ExpectColumnValuesToNotBeNull(column=c, description=f"{c} is not null")
                         for c in columns]
    if len(columns) == 1:
        out.append(gxe.ExpectColumnValuesToBeUnique(column=columns[0], description=f"{columns[0]} is unique"))
    else:
        out.append(gxe.ExpectCompoundColumnsToBeUnique(
            column_list=list(columns), description=f"({', '.join(columns)}) is unique"))
    return out


def present(column: str) -> Expectations:
    """A name is present: not null and not blank."""
    gxe = expectations()
    return [gxe.ExpectColumnValuesToNotBeNull(column=column, description=f"{column} is present"),
            gxe.ExpectColumnValuesToMatchRegex(column=column, regex=r"^\s*\S",
                                               description=f"{column} is not blank")]


def not_negative(column: str) -> Expectations:
    """Amount ≥ 0 (the column holds Decimal; empty amounts are left to other checks)."""
    return [expectations().ExpectColumnValuesToBeBetween(column=column, min_value=0,
                                                         description=f"{column} is not negative (≥ 0)")]


def currency(column: str) -> Expectations:
    """Where present, an ISO 4217 code in upper case (see ``currencies``)."""
    return [expectations().ExpectColumnValuesToBeInSet(
        column=column, value_set=sorted(CURRENCY_CODES),
        description=f"{column} is an ISO 4217 currency code (3 uppercase letters, e.g. USD) where present")]


def is_true(column: str, description: str, notes: str | None = None) -> Expectations:
    """A check computed in ``frames.prepare`` (GX cannot express it directly), still validated through GX."""
    return [expectations().ExpectColumnValuesToBeInSet(column=column, value_set=[True], description=description,
                                                       notes=notes)]


def exists(ref: Reference) -> Expectations:
    where = " when set" if ref.nullable else ""
    return is_true(ref.check, f"{ref.column} refers to a staged {ref.parent}.{ref.parent_column}{where}",
                   notes=f"Computed column: {ref.column} is among the {ref.parent_column}s of the rows of "
                         f"{ref.parent} that are not deleted.")


def _refs(table: str) -> Expectations:
    return [e for ref in SPECS[table].references for e in exists(ref)]


# ------------------------------------------------------------------------------------------------ Atera
def stg_atera_customers() -> Expectations:
    return [*key("source_id"), *present("name")]


def stg_atera_contacts() -> Expectations:
    return [*key("source_id"), *_refs("stg_atera_contacts")]


def stg_atera_products() -> Expectations:
    """Products, expenses and contract rates: key (kind, source_id), name, price ≥ 0 and a valid amount."""
    return [*key("kind", "source_id"), *present("name"), *not_negative("amount"),
            *is_true("amount_is_money",
                     f"amount is a valid money amount (a decimal number, at most {MONEY_DECIMALS} decimals)",
                     notes="Computed column: amount is present, parses as a finite Decimal with at most "
                           f"{MONEY_DECIMALS} decimal places (trailing zeros aside), fits NUMERIC(18,5), and the "
                           "extraction did not flag it amount:not_money.")]


def stg_atera_contracts() -> Expectations:
    return [*key("source_id"), *_refs("stg_atera_contracts")]


def stg_atera_invoices() -> Expectations:
    return [*key("source_id"), *currency("currency"),
            *is_true("total_consistent", "subtotal + tax = total (exact)",
                     notes="Computed column: subtotal, tax and total are present and subtotal + tax equals "
                           "total exactly, in Decimal.")]


def stg_atera_invoice_lines() -> Expectations:
    return [*key("invoice_source_id", "line_idx"), *_refs("stg_atera_invoice_lines")]


# ------------------------------------------------------------------------------------------------ QBO
def stg_qbo_customers() -> Expectations:
    return [*key("source_id"), *present("display_name"), *currency("currency")]


def stg_qbo_items() -> Expectations:
    """Items without a Name are excluded before validation (they do not show in Atera either)."""
    return [*key("source_id"), *present("name"), *not_negative("unit_price"), *_refs("stg_qbo_items")]


def stg_qbo_accounts() -> Expectations:
    return key("source_id")


def stg_qbo_tax_codes() -> Expectations:
    return key("source_id")


def stg_qbo_tax_rates() -> Expectations:
    return key("source_id")


def stg_qbo_terms() -> Expectations:
    return key("source_id")


def stg_qbo_names() -> Expectations:
    """Vendor and employee display names (for QBO's cross-entity DisplayName uniqueness): key (entity, source_id)."""
    return key("entity", "source_id")


def stg_qbo_preferences() -> Expectations:
    return [*key("source_id"), *currency("home_currency")]


def proposed_mapping() -> Expectations:
    """The commit's gate (not a staging table): each of its checks (``mapping_checks``) true; see ``mapping_gate``."""
    return [e for column, words in MAPPING_CHECKS.items() for e in is_true(column, words)]


BUILDERS: dict[str, Callable[[], Expectations]] = {
    name: globals()[name] for name in (*SPECS, MAPPING_TABLE)
}
