"""Every implemented operation, with every status the schema model lists for it, validates against the twin's
schema model (field names and types of Atera's OpenAPI document)."""
from __future__ import annotations

import jsonschema
import pytest
from atera_exercise import exercise

from sandbox.atera.schema import OPERATIONS, SCHEMAS, validate


def test_every_operation_and_status_validates(make_twin):
    _, url = make_twin(seed_profile="demo")
    results = exercise(url)
    seen = set()
    for method, template, status, body in results:
        schema = OPERATIONS[(method, template)][status]
        if schema is None:
            assert body is None, (method, template, status)
        else:
            validate(schema, body)
        seen.add((method, template, status))
    expected = {(m, t, s) for (m, t), statuses in OPERATIONS.items() for s in statuses}
    assert expected - seen == set(), "operations/statuses not exercised"


def test_the_schema_model_is_strict():
    good = {"RateID": 1, "Amount": 2.5, "Description": "x", "SKU": None, "Category": None}
    validate("RateDto", good)
    for bad in ({**good, "Extra": 1}, {k: v for k, v in good.items() if k != "SKU"}, {**good, "RateID": "1"},
                {**good, "RateID": 2 ** 31}, {**good, "Amount": None}):
        with pytest.raises(jsonschema.ValidationError):
            validate("RateDto", bad)
    contract = {"CustomerID": 1, "CustomerName": "c", "ContractID": 1, "ContractName": "n", "ContractType": "Hourly",
                "Active": True, "Default": True, "Taxable": False, "StartDate": None, "EndDate": None,
                "HourlyContract": {"PrimaryRate": good, "AdditionalRates": [], "BillingPeriod": "Monthly"}}
    validate("ContractDto", contract)
    with pytest.raises(jsonschema.ValidationError):  # the sub-object of another type
        validate("ContractDto", {**contract, "ContractType": "RetainerFlatFee"})
    with pytest.raises(jsonschema.ValidationError):
        validate("ContractDto", {**contract, "ProjectOneTimeFeeContract": {"TotalAmount": good}})


def test_schemas_are_valid_json_schema():
    for schema in SCHEMAS.values():
        jsonschema.Draft202012Validator.check_schema(schema)
