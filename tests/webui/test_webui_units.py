"""The wizard's pieces without a server: candidates, paging and filters, decisions written into the review, and
the error a failed run's task logged (Airflow 3's JSON task log)."""
from __future__ import annotations

import json

import pytest

from atera_qbo.errors import MatchingError
from atera_qbo.matching.review import Action, Entity, MatchStatus, ReviewRow
from atera_qbo.webui import review as rv
from atera_qbo.webui import runs


def rows() -> list[ReviewRow]:
    return [
        ReviewRow(Entity.CUSTOMER, "1", "Apex Dental", "13", "Apex Dental Group", status=MatchStatus.SUGGESTED,
                  score="92", candidates="13|Apex Dental Group|92;14|Apex | Dental Care|90",
                  note="close candidates: check before accepting"),
        ReviewRow(Entity.CUSTOMER, "2", "Brand New LLC", status=MatchStatus.UNMATCHED),
        ReviewRow(Entity.CUSTOMER, "", "", "15", "Pinecrest Vet", status=MatchStatus.QBO_ONLY),
        ReviewRow(Entity.PRODUCT, "rate:1", "Remote Support", "20", "Remote Support", status=MatchStatus.MATCHED_EXACT,
                  score="100"),
    ]


def test_candidates_keep_names_with_bars_and_put_the_current_match_first():
    apex = rv.candidates(rows()[0])
    assert [(c.qbo_id, c.name, c.score) for c in apex] == [("13", "Apex Dental Group", "92"),
                                                          ("14", "Apex | Dental Care", "90")]
    exact = rv.candidates(rows()[3])
    assert [(c.qbo_id, c.name) for c in exact] == [("20", "Remote Support")]


def test_steps_filters_and_pages():
    review = rv.Review.__new__(rv.Review)
    review.rows = rows  # type: ignore[method-assign]
    assert [r.atera_id for r in review.step_rows("customers")] == ["1", "2"]
    assert [r.qbo_id for r in review.step_rows("import")] == ["15"]
    page = rv.page_of(review.step_rows("customers"), status="unmatched")
    assert [r.atera_id for r in page.rows] == ["2"] and page.status_counts == {"suggested": 1, "unmatched": 1}
    assert [r.atera_id for r in rv.page_of(rows(), query="dental care").rows] == []  # names, not candidates
    assert [r.atera_id for r in rv.page_of(rows(), query="GROUP").rows] == ["1"]
    paged = rv.page_of(rows(), size=3, page=9)
    assert (paged.page, paged.pages, len(paged.rows)) == (2, 2, 1)


def test_decisions_are_checked_against_the_review_naming_the_record():
    review = rows()
    with pytest.raises(MatchingError) as exc:
        rv.parse_decisions({"customer|2": {"action": "import"}, "customer|qbo:15": {"action": "create"},
                            "customer|1": {"action": "match"}, "customer|99": {"action": "skip"}}, review)
    message = str(exc.value)
    assert "customer|2 (Brand New LLC): action 'import' is not one of match, create, skip" in message
    assert "customer|qbo:15 (Pinecrest Vet): action 'create' is not one of import, skip" in message
    assert "customer|1 (Apex Dental): choose a QBO record to match" in message
    assert "customer|99: not in the latest review" in message
    ok = rv.parse_decisions({"customer|2": {"action": "CREATE "}, "customer|1": {"action": ""}}, review)
    assert ok == {"customer|2": rv.Choice(Action.CREATE)}


def test_decisions_written_into_the_review_as_finance_would():
    names = {("customer", "77"): "Someone Else Inc"}
    out = rv.apply_decisions(rows(), {
        "customer|1": rv.Choice(Action.MATCH, "14"),
        "customer|2": rv.Choice(Action.CREATE, note="new client"),
        "customer|qbo:15": rv.Choice(Action.IMPORT),
        "product|rate:1": rv.Choice(Action.MATCH, "77"),
    }, names)
    apex, new, pine, rate = out
    assert (apex.action, apex.qbo_id, apex.qbo_name, apex.note) == \
        (Action.MATCH, "14", "Apex | Dental Care", "close candidates: check before accepting")
    assert (new.action, new.note) == (Action.CREATE, "new client")
    assert (pine.action, pine.qbo_id) == (Action.IMPORT, "15")
    assert (rate.qbo_id, rate.qbo_name) == ("77", "")  # names are looked up per entity: no product 77 given
    assert rows()[0].action == Action.NONE  # the review itself is untouched
    plan = rv.plan(out)
    assert [len(plan[k]) for k in ("create_customer", "import_customer", "match", "undecided")] == [1, 1, 2, 0]


def test_suggestions_above_a_score():
    found = rv.suggestions_above(rows(), 92)
    assert found == {"customer|1": rv.Choice(Action.MATCH, "13")}
    assert rv.suggestions_above(rows(), 92.5) == {}


def test_a_failed_tasks_error_comes_from_its_json_log(tmp_path, monkeypatch):
    from airflow.configuration import conf

    monkeypatch.setattr(conf, "get", lambda section, key, **kw: str(tmp_path) if key == "base_log_folder" else "")
    log = tmp_path / "dag_id=d" / "run_id=r" / "task_id=t" / "attempt=2.log"
    log.parent.mkdir(parents=True)
    events = [{"event": "starting", "level": "info"}, "not json",
              {"event": "Task failed with exception", "level": "error", "error_detail": [
                  {"exc_type": "AirflowFailException", "exc_value": "overrides rejected, nothing applied: line 3",
                   "frames": []}]}]
    log.write_text("\n".join(e if isinstance(e, str) else json.dumps(e) for e in events))
    assert runs.task_errors("d", "r", "t", 2) == ["AirflowFailException: overrides rejected, nothing applied: line 3"]
    assert runs.task_errors("d", "r", "t", 1) == []  # no such attempt
