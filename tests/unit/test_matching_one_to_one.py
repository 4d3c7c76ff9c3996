"""Issue 9 on hand-built catalogs: one-to-one on both sides, CompanyName and SKU as keys, name/SKU disagreement,
names QBO already holds (inactive, vendors, employees), and suggestions that keep the right candidate first."""
from __future__ import annotations

import pandas as pd
import pytest

from atera_qbo.errors import MatchingError
from atera_qbo.matching.catalogs import Catalogs
from atera_qbo.matching.match import apply_overrides, decisions, match_all
from atera_qbo.matching.review import Action, Decision, MatchStatus, ReviewRow


def cust(*rows):
    return pd.DataFrame([{"atera_id": i, "name": n} for i, n in rows])


def qcust(*rows):
    return pd.DataFrame([{"qbo_id": i, "name": n, "active": a, "is_job": False, "company_name": c}
                         for i, n, a, c in rows])


def prods(*rows):
    return pd.DataFrame([{"atera_id": i, "kind": i.split(":")[0], "source_id": i.split(":")[1], "name": n,
                          "amount": "10.00", "sku": s, "category": "Fees"} for i, n, s in rows])


def items(*rows):
    return pd.DataFrame([{"qbo_id": i, "name": n, "active": a, "item_type": "Service", "sku": s}
                         for i, n, a, s in rows])


NO_PRODUCTS = prods(("product:1", "Nothing Here", None)), items(("90", "Unrelated Thing", True, None))


def by_atera(review):
    return {r.atera_id: r for r in review.itertuples(index=False) if r.atera_id}


def qbo_only(review):
    return set(review.loc[review["status"] == MatchStatus.QBO_ONLY, "qbo_id"])


def test_an_exact_name_twice_in_atera_is_a_conflict_listing_all():
    cat = Catalogs(cust(("1", "litware inc"), ("2", "LITWARE  INC"), ("3", "Other")),
                   qcust(("10", "Litware Inc", True, None)), *NO_PRODUCTS)
    rows = by_atera(match_all(cat))
    for a in ("1", "2"):
        assert rows[a].status == MatchStatus.CONFLICT and rows[a].qbo_id == ""
        assert "Atera 1, 2" in rows[a].note and "10 'Litware Inc'" in rows[a].note
        assert rows[a].candidates == "10|Litware Inc|100"
    plan = decisions(match_all(cat), create_unmatched=True, import_unmatched=True)
    assert not (plan["decision"] == Decision.MAP).any()  # nothing maps two records to QBO 10
    assert "10" not in qbo_only(plan)  # and QBO 10 is not offered for import either


def test_an_exact_name_twice_in_qbo_is_a_conflict_and_inactive_says_reactivate():
    cat = Catalogs(cust(("1", "Acme"), ("2", "Old Mill")),
                   qcust(("10", "ACME", True, None), ("11", "acme ", True, None), ("12", "Old Mill", False, None)),
                   *NO_PRODUCTS)
    rows = by_atera(match_all(cat))
    assert rows["1"].status == MatchStatus.CONFLICT and {c.split("|")[0] for c in
                                                         rows["1"].candidates.split(";")} == {"10", "11"}
    assert "reactivate it in QBO" in rows["2"].note and "create" not in rows["2"].note.replace("created", "")


def test_company_name_is_a_key_after_display_name():
    cat = Catalogs(cust(("1", "Contoso Ltd"), ("2", "Fabrikam Holdings"), ("3", "Tailspin")),
                   qcust(("10", "Contoso", True, "Contoso Ltd"),
                         ("20", "Fabrikam East", True, "Fabrikam Holdings"),
                         ("21", "Fabrikam West", True, "Fabrikam Holdings"),
                         ("30", "Tailspin", True, "Tailspin Toys"), ("31", "TT Corp", True, "tailspin")),
                   *NO_PRODUCTS)
    review = match_all(cat)
    rows = by_atera(review)
    assert rows["1"].status == MatchStatus.MATCHED_EXACT and rows["1"].qbo_id == "10"
    assert "CompanyName" in rows["1"].note
    assert rows["2"].status == MatchStatus.CONFLICT and "Atera" not in rows["2"].candidates
    assert {c.split("|")[0] for c in rows["2"].candidates.split(";")} == {"20", "21"}
    # DisplayName first: "Tailspin" is QBO 30's DisplayName, although it is QBO 31's CompanyName
    assert rows["3"].status == MatchStatus.MATCHED_EXACT and rows["3"].qbo_id == "30"
    assert "10" not in qbo_only(review) and "31" in qbo_only(review)


def test_sku_is_exact_when_unique_on_both_sides_and_disagreement_is_a_conflict():
    cat = Catalogs(cust(("1", "X"),), qcust(("10", "Y", True, None)),
                   prods(("product:1", "Widget Pro", "W-1"), ("product:2", "Laptop", "L-1"),
                         ("product:3", "Cable", "C-1"), ("product:4", "Dock", "D-1"), ("product:5", "Mouse", "D-1"),
                         ("product:6", "Router", "R-1")),
                   items(("20", "Widget Professional", True, "w-1"), ("21", "Laptop", True, "X-9"),
                         ("22", "Notebook", True, "L-1"), ("23", "Cable", True, None),
                         ("24", "Docking Station", True, "D-1"), ("25", "Router Old", True, "R-1"),
                         ("26", "Router New", True, "R-1")))
    rows = by_atera(match_all(cat))
    assert rows["product:1"].status == MatchStatus.MATCHED_EXACT and rows["product:1"].qbo_id == "20"
    assert "SKU" in rows["product:1"].note
    laptop = rows["product:2"]  # the name says 21, the SKU says 22
    assert laptop.status == MatchStatus.CONFLICT and laptop.qbo_id == ""
    assert {c.split("|")[0] for c in laptop.candidates.split(";")} == {"21", "22"}
    assert "SKU" in laptop.note
    assert rows["product:3"].status == MatchStatus.MATCHED_EXACT and rows["product:3"].qbo_id == "23"
    for dup in ("product:4", "product:5"):  # one SKU on two Atera products: not a key for either
        assert rows[dup].status == MatchStatus.CONFLICT and "product:4, product:5" in rows[dup].note
    router = rows["product:6"]  # one SKU on two QBO items
    assert router.status == MatchStatus.CONFLICT and {c.split("|")[0] for c in
                                                      router.candidates.split(";")} == {"25", "26"}


def test_one_qbo_item_claimed_by_name_and_by_sku_of_two_products_is_a_conflict():
    cat = Catalogs(cust(("1", "X"),), qcust(("10", "Y", True, None)),
                   prods(("product:1", "Alpha", None), ("product:2", "Beta", "S-1")),
                   items(("30", "Alpha", True, "S-1")))
    rows = by_atera(match_all(cat))
    assert rows["product:1"].status == rows["product:2"].status == MatchStatus.CONFLICT
    assert "product:1, product:2" in rows["product:1"].note


def customers_cat() -> Catalogs:
    return Catalogs(cust(("1", "Acme"), ("2", "Acme Holdings"), ("3", "Beta"), ("4", "Gamma Dental")),
                    qcust(("10", "Acme", True, None), ("11", "Beta", True, None), ("12", "Delta", True, None),
                          ("13", "Gamma Dental Group", True, None)), *NO_PRODUCTS)


def test_two_lines_mapping_one_qbo_customer_are_refused_by_line():
    cat = customers_cat()
    lines = [ReviewRow(entity="customer", atera_id="2", qbo_id="12", action="match", line=2),
             ReviewRow(entity="customer", atera_id="3", qbo_id="12", action="match", line=3),
             ReviewRow(entity="customer", qbo_id="12", action="import", line=4)]
    with pytest.raises(MatchingError) as info:
        apply_overrides(match_all(cat), lines, cat)
    text = str(info.value)
    assert "line 3" in text and "already taken by line 2" in text and "QBO customer 12" in text
    assert "line 4" in text and "nothing applied" in text


def test_an_override_taking_an_exact_match_turns_that_row_into_a_conflict():
    cat = customers_cat()
    review = apply_overrides(match_all(cat), [ReviewRow(entity="customer", atera_id="2", qbo_id="10",
                                                        action="match", line=2)], cat)
    rows = by_atera(review)
    assert rows["2"].status == MatchStatus.MATCHED_OVERRIDE and rows["2"].qbo_id == "10"
    assert rows["1"].status == MatchStatus.CONFLICT and rows["1"].qbo_id == ""
    assert "mapped to Atera customer 2 by line 2" in rows["1"].note
    plan = decisions(review, create_unmatched=False, import_unmatched=False)
    assert list(plan.loc[plan["decision"] == Decision.MAP, "qbo_id"]).count("10") == 1


def test_products_may_share_an_item_by_decision():
    cat = Catalogs(cust(("1", "X"),), qcust(("10", "Y", True, None)),
                   prods(("expense:1", "Parking", None), ("expense:2", "Tolls", None), ("expense:3", "Fees", None)),
                   items(("40", "Travel Expenses", True, None), ("41", "Fees", True, None)))
    lines = [ReviewRow(entity="product", atera_id="expense:1", qbo_id="40", action="match", line=2),
             ReviewRow(entity="product", atera_id="expense:2", qbo_id="40", action="match", line=3),
             ReviewRow(entity="product", atera_id="expense:3", qbo_id="40", action="match", line=4)]
    rows = by_atera(apply_overrides(match_all(cat), lines, cat))
    assert {rows[a].qbo_id for a in ("expense:1", "expense:2", "expense:3")} == {"40"}
    assert {rows[a].status for a in ("expense:1", "expense:2", "expense:3")} == {MatchStatus.MATCHED_OVERRIDE}


def test_a_held_back_qbo_customer_is_imported_only_with_its_counterpart_named():
    cat = customers_cat()
    review = match_all(cat)
    gamma = by_atera(review)["4"]
    assert gamma.status == MatchStatus.SUGGESTED and gamma.qbo_id == "13"
    assert "13" not in qbo_only(review)
    applied = apply_overrides(review, [ReviewRow(entity="customer", qbo_id="13", action="import", line=2)], cat)
    row = applied[applied["qbo_id"].eq("13") & applied["status"].eq(MatchStatus.QBO_ONLY)].iloc[0]
    assert row["action"] == Action.IMPORT and "Atera customer 4 'Gamma Dental'" in row["note"]


def test_create_is_refused_for_names_qbo_holds(engine):
    from atera_qbo.matching.commit import build_steps

    cat = Catalogs(cust(("1", "Globex"), ("2", "Hank Scorpio"), ("3", "Old Mill"), ("4", "Fresh Start")),
                   qcust(("10", "Other Co", True, None)),
                   prods(("product:1", "Retired Widget", None), ("product:2", "Accessories", None)),
                   items(("50", "Unrelated", True, None)),
                   pd.DataFrame([
                       {"namespace": "name", "entity": "Vendor", "qbo_id": "56", "name": "GLOBEX", "active": True},
                       {"namespace": "name", "entity": "Employee", "qbo_id": "57", "name": "Hank Scorpio",
                        "active": True},
                       {"namespace": "name", "entity": "Customer", "qbo_id": "58", "name": "old mill",
                        "active": False},
                       {"namespace": "item", "entity": "Item", "qbo_id": "59", "name": "Retired Widget",
                        "active": False},
                       {"namespace": "item", "entity": "Item", "qbo_id": "60", "name": "Accessories",
                        "active": True}]))
    review = [ReviewRow(entity="customer", atera_id=a, action="create", line=i + 2) for i, a in
              enumerate(("1", "2", "3"))]
    review += [ReviewRow(entity="product", atera_id=a, action="create", line=9) for a in ("product:1", "product:2")]
    plan = decisions(apply_overrides(match_all(cat), review, cat), create_unmatched=False, import_unmatched=False)
    with pytest.raises(MatchingError) as info:
        build_steps(plan, cat, engine)
    text = str(info.value)
    assert "Atera customer 1 'Globex' is already used in QBO by Vendor 56 'GLOBEX'" in text
    assert "Atera customer 2 'Hank Scorpio' is already used in QBO by Employee 57" in text
    assert "Atera customer 3 'Old Mill' is the name of Customer 58 'old mill' (inactive)" in text
    assert "reactivate it in QBO and match it" in text
    assert "Atera product product:1 'Retired Widget' is the name of Item 59" in text
    assert "Atera product product:2 'Accessories' is already used in QBO by Item 60" in text
    assert "Fresh Start" not in text and "nothing written" in text


TRICKY = {  # query → the candidate a careful person picks
    "Acme Inc": "ACME, Inc.",
    "Riverside Medical Center": "Riverside Medical Ctr",
    "Cafe Lumiere": "Café Lumière",
    "Apex Dental Grp": "Apex Dental Group",  # not "Apex Dental Care"
    "Acmee Dental Lab": "Acme Dental Lab",  # a typo in the rarest word: blocking alone misses it
    "Contoso": "Contoso Ltd",  # one word
    "Blue Ridge Group Partnrs": "Blue Ridge Group Partners",  # a typo, and every other word in 2,000 names
    "O'Reilly's Plumbing & Heating": "OReillys Plumbing and Heating",
}


def test_blocked_suggestions_keep_the_right_candidate_first():
    import numpy as np

    from atera_qbo.matching.normalize import suggest_key
    from atera_qbo.matching.suggest import MAX_BLOCK, name_scores, top_candidates

    distractors = [f"Blue Ridge Group {i}" for i in range(MAX_BLOCK + 50)]  # "blue ridge group" blocks say nothing
    distractors += ["Apex Dental Care", "Acme Dental Supply", "Riverside Medical Partners", "Contoso Warehouse",
                    "Lumiere Bistro", "Acme Industrial", "Reilly Plumbing"]
    choices = distractors + list(TRICKY.values())
    keys = [suggest_key(c) for c in choices]
    queries = [suggest_key(q) for q in TRICKY]
    best = top_candidates(queries, keys)
    full = name_scores(queries, keys)
    for qi, (query, right) in enumerate(TRICKY.items()):
        got = best[best["q"] == qi]
        assert choices[got["c"].iat[0]] == right, query
        assert len(got) <= 3 and got["score"].is_monotonic_decreasing
        # the same first candidate and score as scoring every pair
        assert got["c"].iat[0] == int(np.argmax(full[qi])) and got["score"].iat[0] == pytest.approx(full[qi].max())


def test_suggestion_cells_describe_their_own_candidates():
    """Many rows, candidates in another order than the rows: every candidates cell names its own QBO records."""
    atera = cust(*[(str(i), f"Harbor Point Dental {i}") for i in range(40)])
    qbo = qcust(*[(str(100 + i), f"Harbor Point Dental {39 - i}, Inc.", True, None) for i in range(40)])
    rows = by_atera(match_all(Catalogs(atera, qbo, *NO_PRODUCTS)))
    for i in range(40):
        row = rows[str(i)]
        assert row.status == MatchStatus.SUGGESTED and row.qbo_id == str(139 - i)
        first = row.candidates.split(";")[0].split("|")
        assert first[:2] == [row.qbo_id, row.qbo_name] and row.qbo_name == f"Harbor Point Dental {i}, Inc."
