"""Bad records never crash a load: odd values are staged as they are and flagged; a record that cannot be staged
at all is reported by id."""
from __future__ import annotations

from decimal import Decimal

import sqlalchemy as sa

from atera_qbo.extract import extract_atera_catalog
from atera_qbo.staging.db import table


class FakeAtera:
    def customers(self, since=None):
        return iter([
            {"CustomerID": 1, "CustomerName": "Fine Co", "ZipCodeStr": "02108"},
            {"CustomerID": 2, "CustomerName": "  Padded:Name\t", "ZipCodeStr": 12345},  # odd, still staged
            {"CustomerID": 3, "CustomerName": None},
            {"CustomerName": "No id at all"},  # cannot be staged: reported
        ])

    def contacts(self, since=None):
        return iter([])

    def products(self):
        return iter([{"RateID": 1, "Description": "x" * 150, "Amount": Decimal("-5")},
                     {"RateID": 2, "Description": "Float price", "Amount": 1.1},
                     {"RateID": 3, "Description": "Text price", "Amount": "abc"}])

    def expenses(self):
        return iter([])

    def contracts(self):
        return iter([{"ContractID": 9, "CustomerID": 1, "ContractName": "C", "ContractType": "Hourly",
                      "HourlyContract": {"PrimaryRate": {"RateID": 4, "Description": "Hourly", "Amount": Decimal(90)},
                                         "AdditionalRates": None}}])


def test_odd_records_are_staged_and_flagged_unstageable_ones_reported(engine):
    results = extract_atera_catalog(FakeAtera(), engine)
    assert results["customers"].rows == 3
    (rejected,) = results["customers"].rejected
    assert "'No id at all'" in rejected and "CustomerID missing" in rejected
    customers, products = table("stg_atera_customers"), table("stg_atera_products")
    with engine.connect() as conn:
        flags = dict(conn.execute(sa.select(customers.c.source_id, customers.c.quality_flags)).all())
        zips = dict(conn.execute(sa.select(customers.c.source_id, customers.c.zip_code)).all())
        pflags = dict(conn.execute(sa.select(products.c.source_id, products.c.quality_flags)
                                   .where(products.c.kind == "product")).all())
        rates = conn.execute(sa.select(products.c.name).where(products.c.kind == "rate")).scalars().all()
    assert flags["1"] is None
    assert "surrounding_blanks" in flags["2"] and "forbidden_char" in flags["2"]
    assert "name:missing" in flags["3"]
    assert zips["2"] == "12345"  # an int where Atera documents a string: kept, as text
    assert "name:over_100" in pflags["1"] and "amount:negative" in pflags["1"]
    assert "amount:not_money" in pflags["2"] and "amount:not_money" in pflags["3"]
    assert rates == ["Hourly"]
