from decimal import Decimal

import pytest

from atera_qbo.matching.normalize import exact_key, fuzzy_key
from atera_qbo.money import cents, dumps, loads, to_decimal


def test_json_round_trip_keeps_decimals_exact():
    text = dumps({"a": Decimal("0.10"), "b": [Decimal("-1234567890.12345")], "s": "D:1"})
    assert text == '{"a":0.10,"b":[-1234567890.12345],"s":"D:1"}'
    assert loads(text)["a"] == Decimal("0.10")


def test_to_decimal_refuses_floats_and_garbage():
    assert to_decimal("12.50") == Decimal("12.50")
    assert to_decimal(None) is None
    with pytest.raises(TypeError):
        to_decimal(0.1)
    with pytest.raises(ValueError, match="'12,50' is not an amount"):
        to_decimal("12,50")
    with pytest.raises(ValueError, match="'NaN' is not a finite amount"):
        to_decimal("NaN")


def test_cents_rounds_half_up():
    assert cents(Decimal("2.345")) == Decimal("2.35")
    assert cents(Decimal("-2.345")) == Decimal("-2.35")


@pytest.mark.parametrize(("a", "b"), [("Northwind Traders ", "Northwind Traders"),
                                      ("BLUE RIDGE DENTAL", "Blue Ridge Dental"),
                                      ("Coastal  Forge", "coastal forge"), ("Cafe\u0301", "Café")])
def test_exact_key_equal_for_names_qbo_cannot_tell_apart(a, b):
    assert exact_key(a) == exact_key(b)


def test_exact_key_keeps_punctuation_apart():
    assert exact_key("Acme Inc") != exact_key("ACME, Inc.")


def test_fuzzy_key_folds_punctuation_suffixes_and_abbreviations():
    assert fuzzy_key("Acme Inc") == fuzzy_key("ACME, Inc.")
    assert fuzzy_key("Riverside Medical Center") == fuzzy_key("Riverside Medical Ctr")
    assert fuzzy_key("Smith and Sons") == fuzzy_key("Smith & Sons")
