"""Decisions as the review file carries them (issue 14, Deliver 2): skip on a QBO-only row, notes kept on every
action, status and action never contradicting each other, and the review after a commit."""
from __future__ import annotations

import pytest
from test_matching import catalogs

from atera_qbo.errors import MatchingError
from atera_qbo.matching.commit import Step
from atera_qbo.matching.match import after_commit, apply_overrides, decisions, match_all
from atera_qbo.matching.review import Action, Decision, MatchStatus, ReviewRow


def rows(review):
    return {(r.entity, r.atera_id or r.qbo_id, r.status): r for r in review.itertuples(index=False)}


def test_skip_on_a_qbo_only_row_keeps_it_out_of_imports():
    cat = catalogs()
    review = apply_overrides(match_all(cat), [ReviewRow(entity="customer", qbo_id="15", action="skip", line=2,
                                                        note="closed account")], cat)
    plan = decisions(review, create_unmatched=False, import_unmatched=True)
    row = plan[(plan["qbo_id"] == "15") & (plan["status"] == MatchStatus.QBO_ONLY)].iloc[0]
    assert row["action"] == Action.SKIP and row["note"] == "closed account" and row["decision"] == Decision.NONE
    with pytest.raises(MatchingError, match=r"line 3 .*contradicts line 2"):
        apply_overrides(match_all(cat), [ReviewRow(entity="customer", qbo_id="15", action="skip", line=2),
                                         ReviewRow(entity="customer", qbo_id="15", action="import", line=3)], cat)


def test_notes_survive_on_every_action():
    cat = catalogs()
    lines = [ReviewRow(entity="customer", atera_id="2", qbo_id="11", action="match", line=2, note="n-match"),
             ReviewRow(entity="customer", atera_id="4", action="create", line=3, note="n-create"),
             ReviewRow(entity="customer", atera_id="5", action="skip", line=4, note="n-skip"),
             ReviewRow(entity="customer", qbo_id="15", action="import", line=5, note="n-import")]
    review = apply_overrides(match_all(cat), lines, cat)
    notes = {r.note for r in review.itertuples(index=False)}
    assert {"n-match", "n-create", "n-skip", "n-import"} <= notes


def test_skip_and_create_on_matched_rows_keep_notes_and_decide_right():
    cat = catalogs()
    lines = [ReviewRow(entity="customer", atera_id="1", action="skip", line=2),  # was matched_exact
             ReviewRow(entity="customer", atera_id="5", action="create", line=3),  # was suggested
             ReviewRow(entity="product", atera_id="product:1", action="skip", line=4, note="not sold any more")]
    review = apply_overrides(match_all(cat), lines, cat)
    by = {(r.entity, r.atera_id): r for r in review.itertuples(index=False) if r.atera_id}
    northwind, apex, laptop = by[("customer", "1")], by[("customer", "5")], by[("product", "product:1")]
    assert (northwind.action, northwind.qbo_id, northwind.status) == (Action.SKIP, "", MatchStatus.UNMATCHED)
    assert "matching had found matched_exact QBO 10 'northwind traders'" in northwind.note
    assert apex.action == Action.CREATE and apex.status == MatchStatus.SUGGESTED  # only a skip unmatches
    assert laptop.note == "not sold any more"
    plan = decisions(review, create_unmatched=False, import_unmatched=False)
    decided = {(r.entity, r.atera_id): r.decision for r in plan.itertuples(index=False) if r.atera_id}
    assert decided[("customer", "1")] == Decision.NONE and decided[("customer", "5")] == Decision.CREATE_QBO


def test_the_review_after_a_commit_shows_created_and_imported_ids():
    cat = catalogs()
    lines = [ReviewRow(entity="customer", atera_id="4", action="create", line=2),
             ReviewRow(entity="customer", qbo_id="15", action="import", line=3, note="new client")]
    plan = decisions(apply_overrides(match_all(cat), lines, cat), create_unmatched=False, import_unmatched=False)
    steps = [Step(1, "customer", "create_qbo", "4", "77", {"DisplayName": "Brand New LLC"}, "r1", "done", "77"),
             Step(2, "customer", "import_atera", "901", "15", {"CustomerName": "Pinecrest Vet"}, "r2", "done", "901")]
    after = after_commit(plan, steps)
    created = after[after["atera_id"] == "4"].iloc[0]
    assert (created["qbo_id"], created["qbo_name"], created["status"]) == ("77", "Brand New LLC",
                                                                          MatchStatus.MATCHED_OVERRIDE)
    assert created["note"] == "created in QBO by this commit"
    imported = after[after["qbo_id"] == "15"].iloc[0]
    assert (imported["atera_id"], imported["status"]) == ("901", MatchStatus.MATCHED_OVERRIDE)
    assert imported["note"] == "new client; imported into Atera by this commit"
