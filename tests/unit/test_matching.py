"""Matching on small catalogs: exact keys, conflicts, suggestions, overrides and what a commit would do."""
from __future__ import annotations

from decimal import Decimal

import pandas as pd
import pytest

from atera_qbo.errors import MatchingError
from atera_qbo.matching.match import Catalogs, apply_overrides, decisions, match_all
from atera_qbo.matching.review_csv import ReviewRow


def catalogs() -> Catalogs:
    atera_customers = pd.DataFrame([
        {"atera_id": "1", "name": "Northwind Traders "}, {"atera_id": "2", "name": "Acme Inc"},
        {"atera_id": "3", "name": "Old Mill Bakery"}, {"atera_id": "4", "name": "Brand New LLC"},
        {"atera_id": "5", "name": "Apex Dental"},
    ])
    qbo_customers = pd.DataFrame([
        {"qbo_id": "10", "name": "northwind traders", "active": True, "is_job": False},
        {"qbo_id": "11", "name": "ACME, Inc.", "active": True, "is_job": False},
        {"qbo_id": "12", "name": "Old Mill Bakery", "active": False, "is_job": False},
        {"qbo_id": "13", "name": "Apex Dental Group", "active": True, "is_job": False},
        {"qbo_id": "14", "name": "Apex Dental Care", "active": True, "is_job": False},
        {"qbo_id": "15", "name": "Pinecrest Vet", "active": True, "is_job": False},
        {"qbo_id": "16", "name": "Northwind Warehouse", "active": True, "is_job": True},
    ])
    atera_products = pd.DataFrame([
        {"atera_id": "product:1", "kind": "product", "source_id": "1", "name": "Laptop", "amount": "999.00",
         "sku": None, "category": "Hardware"},
        {"atera_id": "rate:1", "kind": "rate", "source_id": "1", "name": "Remote Support", "amount": "125.00",
         "sku": None, "category": "Labor"},
    ])
    qbo_items = pd.DataFrame([{"qbo_id": "20", "name": "LAPTOP", "active": True, "item_type": "NonInventory"}])
    return Catalogs(atera_customers, qbo_customers, atera_products, qbo_items)


def by_atera(review: pd.DataFrame) -> dict:
    return {(r.entity, r.atera_id): r for r in review.itertuples(index=False) if r.atera_id}


def test_exact_conflict_suggested_unmatched_and_qbo_only():
    review = match_all(catalogs())
    rows = by_atera(review)
    assert rows[("customer", "1")].status == "matched_exact" and rows[("customer", "1")].qbo_id == "10"
    assert rows[("customer", "2")].status == "suggested" and rows[("customer", "2")].qbo_id == "11"
    assert rows[("customer", "3")].status == "conflict" and "inactive" in rows[("customer", "3")].note
    assert rows[("customer", "4")].status == "unmatched"
    apex = rows[("customer", "5")]
    assert apex.status == "suggested" and {c.split("|")[0] for c in apex.candidates.split(";")} == {"13", "14"}
    assert "close candidates" in apex.note  # Group vs Care: a person must choose
    assert rows[("product", "product:1")].status == "matched_exact"
    assert rows[("product", "rate:1")].status == "unmatched"
    qbo_only = {r.qbo_id for r in review.itertuples(index=False) if r.status == "qbo_only"}
    # 11 is ACME's suggestion, 13/14 Apex's candidates, 16 a sub-customer: none of them is offered for import
    assert qbo_only == {"15"}


def test_suggestions_are_never_created_unless_decided():
    plan = decisions(match_all(catalogs()), create_unmatched=True, import_unmatched=False)
    by = {(r.entity, r.atera_id): r.decision for r in plan.itertuples(index=False) if r.atera_id}
    assert by[("customer", "4")] == "create_qbo"  # no candidate at all
    assert by[("customer", "2")] == "none"  # "Acme Inc" ~ "ACME, Inc.": waits for finance
    assert by[("customer", "1")] == "map"


def test_overrides_apply_and_bad_rows_reject_the_whole_file():
    cat = catalogs()
    review = match_all(cat)
    ok = [ReviewRow(entity="customer", atera_id="2", qbo_id="11", action="match", line=2),
          ReviewRow(entity="customer", atera_id="5", action="skip", line=3),
          ReviewRow(entity="customer", qbo_id="15", action="import", line=4)]
    applied = by_atera(apply_overrides(review, ok, cat))
    assert applied[("customer", "2")].status == "matched_override"
    assert applied[("customer", "5")].action == "skip"
    bad = [*ok, ReviewRow(entity="customer", atera_id="99", qbo_id="11", action="match", line=5),
           ReviewRow(entity="customer", atera_id="3", qbo_id="12", action="match", line=6),
           ReviewRow(entity="product", atera_id="product:1", qbo_id="20", action="frobnicate", line=7),
           ReviewRow(entity="customer", atera_id="2", action="skip", line=8)]
    with pytest.raises(MatchingError) as info:
        apply_overrides(review, bad, cat)
    text = str(info.value)
    assert "line 5" in text and "does not exist" in text
    assert "line 6" in text and "inactive" in text
    assert "line 7" in text and "frobnicate" in text
    assert "line 8" in text and "contradicts line 2" in text
    assert "nothing applied" in text


def test_commit_plan_refuses_names_qbo_would_reject(engine):
    from atera_qbo.matching.commit import build_steps

    cat = catalogs()
    cat.atera_customers.loc[3, "name"] = "Brand:New"
    review = decisions(match_all(cat), create_unmatched=True, import_unmatched=False)
    with pytest.raises(MatchingError) as info:
        build_steps(review, cat, engine)  # staging has no QBO accounts yet
    assert "Atera customer 4 'Brand:New' contains the colon ':'" in str(info.value)
    assert "no active Income account" in str(info.value) and "nothing written" in str(info.value)


def test_an_override_match_removes_the_qbo_only_row():
    cat = catalogs()
    review = apply_overrides(match_all(cat), [ReviewRow(entity="customer", atera_id="4", qbo_id="15",
                                                        action="match", line=2)], cat)
    assert "15" not in set(review.loc[review["status"] == "qbo_only", "qbo_id"])


def test_item_payload_carries_the_atera_price_as_decimal():
    from atera_qbo.qbo.rules import item_payload

    rec = catalogs().atera_products.set_index("atera_id", drop=False).loc["rate:1"]
    payload = item_payload(rec, "1")
    assert payload == {"Name": "Remote Support", "Type": "Service", "IncomeAccountRef": {"value": "1"},
                       "UnitPrice": Decimal("125.00")}


def test_review_lists_what_needs_a_decision_first():
    from atera_qbo.matching.match import for_review

    ordered = for_review(match_all(catalogs()))
    customers = ordered[ordered["entity"] == "customer"]["status"].tolist()
    assert customers[0] == "conflict" and customers[-1] == "matched_exact"
    assert customers.index("suggested") < customers.index("unmatched") < customers.index("qbo_only")
    assert ordered["entity"].tolist() == sorted(ordered["entity"].tolist())  # customers, then products


@pytest.mark.parametrize(("value", "key"), [
    ("acme.example.com", "acme.example.com"), ("https://www.Acme.example.com/contact?x=1", "acme.example.com"),
    ("billing@ACME.example.com", "acme.example.com"), ("http://acme.example.com:8080", "acme.example.com"),
    ("someone@gmail.com", ""), ("www.outlook.com", ""), ("localhost", ""), ("", ""), (None, ""),
])
def test_domain_key_is_the_host_and_public_mail_identifies_nobody(value, key):
    from atera_qbo.matching.contacts import domain_key

    assert domain_key(value) == key


@pytest.mark.parametrize(("value", "key"), [
    ("(555) 301-4000", "5553014000"), ("+1 555.301.4000", "5553014000"), ("1-555-301-4000", "5553014000"),
    ("+44 20 7946 0958", "442079460958"), ("ext 12", ""), ("555-12", ""), (None, ""),
])
def test_phone_key_is_the_digits_without_the_us_country_code(value, key):
    from atera_qbo.matching.contacts import phone_key

    assert phone_key(value) == key


def test_contacts_settle_a_name_written_differently_and_the_ambiguous_one():
    cat = catalogs()
    cat.atera_customers["domain"] = [None, "acme.example.com", None, None, "apexdental.example.com"]
    cat.atera_customers["phone"] = [None, "(555) 201-3000", None, None, None]
    cat.qbo_customers["email"] = [None, "ar@acme.example.com", None, "billing@apexdental.example.com",
                                  "office@apexcare.example.com", None, None]
    cat.qbo_customers["phone"] = [None, "+1 555 201 3000", None, None, None, None, None]
    review = match_all(cat)
    rows = by_atera(review)
    acme, apex = rows[("customer", "2")], rows[("customer", "5")]
    assert (acme.status, acme.qbo_id) == ("matched_exact", "11") and "domain acme.example.com and phone" in acme.note
    assert (apex.status, apex.qbo_id) == ("matched_exact", "13")  # the domain decides Group over Care
    assert "14" in apex.candidates  # still listed, so Apex Dental Care is not offered for import unseen
    assert set(review.loc[review["status"] == "qbo_only", "qbo_id"]) == {"15"}


def test_a_contact_needs_a_resembling_name_and_both_sides_unique():
    cat = catalogs()
    cat.atera_customers["phone"] = [None, None, None, "555-201-3000", None]  # "Brand New LLC"
    cat.qbo_customers["phone"] = [None, None, None, None, None, "555 201 3000", None]  # "Pinecrest Vet"
    cat.atera_customers["domain"] = [None, "acme.example.com", None, None, "acme.example.com"]  # shared
    cat.qbo_customers["email"] = [None, "ar@acme.example.com", None, None, None, None, None]
    rows = by_atera(match_all(cat))
    assert rows[("customer", "4")].status == "unmatched"  # same phone, unrelated name
    assert rows[("customer", "2")].status == "suggested"  # the domain belongs to two Atera customers
