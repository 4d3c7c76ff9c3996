"""Each row the proposed-mapping gate refuses carries its own reason, in the message and in the Data Docs: for
names which rule (the forbidden character, the length against QBO's limit, the QBO record holding the name,
inactive or not); for mappings, the QBO record's state, the other Atera customer holding a QBO customer, the
invoices that need a product. One test per reason, on the demo catalogs staged from both twins."""
from __future__ import annotations

import pytest

from atera_qbo.errors import DataQualityError
from atera_qbo.matching.review import Decision, Entity
from atera_qbo.quality import mapping_gate

from .test_mapping_gate import AS_OF, _staged_review


def refusal(review, catalogs, engine, tmp_path=None) -> str:
    with pytest.raises(DataQualityError) as refused:
        mapping_gate.check(review, catalogs, engine, as_of=AS_OF, docs_dir=tmp_path)
    return str(refused.value)


def a_create(review, entity: Entity) -> int:
    return review.index[(review["entity"] == entity) & (review["decision"] == Decision.CREATE_QBO)][0]


def test_a_colon_in_a_planned_name_says_the_colon_is_not_allowed(atera_twin, qbo_twin, engine, tmp_path):
    review, catalogs = _staged_review(atera_twin, qbo_twin, engine)
    review.loc[a_create(review, Entity.CUSTOMER), "atera_name"] = "A:B"
    message = refusal(review, catalogs, engine, tmp_path)
    assert "'A:B' — the name contains the colon ':', which is not allowed in QBO names" in message
    docs = "".join(p.read_text(errors="replace") for p in tmp_path.rglob("*.html"))
    assert "not allowed in QBO names" in docs  # the Data Docs show the same reason


def test_a_120_character_product_name_says_120_over_100(atera_twin, qbo_twin, engine):
    review, catalogs = _staged_review(atera_twin, qbo_twin, engine)
    long_name = "Managed Detection and Response " + "x" * 89
    assert len(long_name) == 120
    products = review.index[review["entity"] == Entity.PRODUCT]
    review.loc[products[0], ["atera_name", "decision", "action"]] = [long_name, Decision.CREATE_QBO, "create"]
    assert "is 120 characters long: 120 > 100, QBO's limit for item names" in refusal(review, catalogs, engine)


def test_a_name_a_qbo_record_holds_names_the_record_and_whether_it_is_inactive(atera_twin, qbo_twin, engine):
    review, catalogs = _staged_review(atera_twin, qbo_twin, engine)
    vendor = catalogs.qbo_names.loc[catalogs.qbo_names["entity"] == "Vendor"].iloc[0]
    review.loc[a_create(review, Entity.CUSTOMER), "atera_name"] = vendor["name"]
    assert f"is already used in QBO by Vendor {vendor['qbo_id']} '{vendor['name']}'" in \
        refusal(review, catalogs, engine)
    inactive = catalogs.qbo_customers.loc[~catalogs.qbo_customers["active"]].iloc[0]
    review, catalogs = _staged_review(atera_twin, qbo_twin, engine)
    review.loc[a_create(review, Entity.CUSTOMER), "atera_name"] = inactive["name"]
    message = refusal(review, catalogs, engine)
    assert f"Customer {inactive['qbo_id']} '{inactive['name']}' (inactive)" in message and "reactivate it" in message


def test_a_match_to_an_inactive_or_unknown_qbo_record_says_which(atera_twin, qbo_twin, engine):
    review, catalogs = _staged_review(atera_twin, qbo_twin, engine)
    maps = review.index[(review["entity"] == Entity.CUSTOMER) & (review["decision"] == Decision.MAP)]
    inactive = catalogs.qbo_customers.loc[~catalogs.qbo_customers["active"]].iloc[0]
    review.loc[maps[0], "qbo_id"] = str(inactive["qbo_id"])
    review.loc[maps[1], "qbo_id"] = "999999"
    message = refusal(review, catalogs, engine)
    assert f"QBO customer {inactive['qbo_id']} '{inactive['name']}' is inactive in QBO" in message
    assert "QBO customer 999999 is not in the staged QBO catalog" in message


def test_two_atera_customers_on_one_qbo_customer_name_each_other(atera_twin, qbo_twin, engine):
    review, catalogs = _staged_review(atera_twin, qbo_twin, engine)
    maps = review.index[(review["entity"] == Entity.CUSTOMER) & (review["decision"] == Decision.MAP)]
    first, second = maps[:2]
    review.loc[second, "qbo_id"] = review.loc[first, "qbo_id"]
    message = refusal(review, catalogs, engine)
    qbo_id, a, b = review.loc[first, "qbo_id"], review.loc[first, "atera_id"], review.loc[second, "atera_id"]
    assert f"QBO customer {qbo_id} is also matched to Atera customer(s) {b}" in message
    assert f"QBO customer {qbo_id} is also matched to Atera customer(s) {a}" in message


def test_a_skipped_product_recent_invoices_use_names_those_invoices(atera_twin, qbo_twin, engine):
    review, catalogs = _staged_review(atera_twin, qbo_twin, engine)
    used = review.index[review["atera_id"] == "product:35"][0]  # Tablet 11" Wi-Fi: on recent invoices
    review.loc[used, ["decision", "action"]] = [Decision.NONE, "skip"]
    message = refusal(review, catalogs, engine)
    line = next(x for x in message.splitlines() if "product:35" in x)
    assert "of the last 90 days need this product, and it is action=skip" in line and "invoice(s) " in line
