"""The pure half of the gates: money parsing, and expectations that staging's primary keys keep from ever failing
on a database (duplicate keys), exercised on prepared frames."""
from __future__ import annotations

from decimal import Decimal

import pytest

from atera_qbo.errors import DataQualityError
from atera_qbo.quality.frames import Parents, is_money, parse_money, prepare
from atera_qbo.quality.gates import validate

D = Decimal


@pytest.mark.parametrize(("stored", "amount", "parsed"), [
    (None, None, True), ("", None, True), ("10.50", D("10.50"), True), (D("95.00000"), D("95.00000"), True),
    ("12,50", None, False), ("NaN", None, False), ("Infinity", None, False), ("abc", None, False),
])
def test_parse_money(stored: object, amount: Decimal | None, parsed: bool) -> None:
    assert parse_money(stored) == (amount, parsed)


@pytest.mark.parametrize(("amount", "ok"), [
    (D("0"), True), (D("10.5"), True), (D("0.12345"), True), (D("10.500000"), True),  # trailing zeros aside
    (D("0.123456"), False), (D("1E+2"), True), (D("9999999999999.99999"), True), (D("10000000000000"), False),
    (D("-3.25"), True),  # money, though negative (the sign has its own expectation)
    (None, False), (D("NaN"), False),
])
def test_is_money(amount: Decimal | None, ok: bool) -> None:
    assert is_money(amount) is ok


def test_money_columns_stay_decimal() -> None:
    prep = prepare("stg_atera_invoices", [
        {"source_id": "1", "currency": "USD", "subtotal": "0.1", "tax": "0.2", "total": "0.3", "deleted_at": None}])
    assert prep.frame["subtotal"].tolist() == [D("0.1")]
    assert prep.frame["total_consistent"].tolist() == [True]  # 0.1 + 0.2 == 0.3 in Decimal, not in float


def test_duplicate_keys_fail_uniqueness() -> None:
    """Primary keys keep duplicates out of staging; the expectations still say what a duplicate would be."""
    accounts = prepare("stg_qbo_accounts", [{"source_id": s, "deleted_at": None} for s in ("1", "2", "2", "3", "3")])
    products = prepare("stg_atera_products", [
        {"kind": k, "source_id": s, "name": "x", "amount": "1", "quality_flags": None, "deleted_at": None}
        for k, s in (("product", "1"), ("rate", "1"), ("rate", "1"))])  # same source_id, other kind: fine
    lines = prepare("stg_atera_invoice_lines", [
        {"invoice_source_id": "A", "line_idx": 0}, {"invoice_source_id": "A", "line_idx": 0},
        {"invoice_source_id": "A", "line_idx": 1}], Parents(live={"stg_atera_invoices": {"A"}}))

    with pytest.raises(DataQualityError) as info:
        validate({p.table: p for p in (accounts, products, lines)})

    summary = info.value.summary
    assert summary["stg_qbo_accounts"]["failed"] == [
        {"expectation": "source_id is unique", "column": "source_id", "unexpected_count": 4, "examples": ["2", "3"]}]
    assert summary["stg_atera_products"]["failed"] == [
        {"expectation": "(kind, source_id) is unique", "column": "kind, source_id", "unexpected_count": 2,
         "examples": ["rate:1"]}]
    assert summary["stg_atera_invoice_lines"]["failed"] == [
        {"expectation": "(invoice_source_id, line_idx) is unique", "column": "invoice_source_id, line_idx",
         "unexpected_count": 2, "examples": ["A#0"]}]
    assert "  - source_id is unique: fails for 4 rows; ids: 2, 3\n" in str(info.value)
