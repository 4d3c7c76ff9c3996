import json
from datetime import date, datetime

import pytest

from atera_qbo.config import export_window
from atera_qbo.errors import FatalError, RetriableApiError
from atera_qbo.tasks.runtime import fail_fatal, run_day


def test_fatal_errors_fail_the_task_without_retries_and_keep_the_message():
    from airflow.sdk.exceptions import AirflowFailException

    @fail_fatal
    def broken():
        raise FatalError("invoice 1042: Atera customer 7 has no QBO customer")

    with pytest.raises(AirflowFailException, match="invoice 1042"):
        broken()


def test_retriable_errors_are_left_to_airflow_retries():
    @fail_fatal
    def flaky():
        raise RetriableApiError("QBO: HTTP 503")

    with pytest.raises(RetriableApiError):
        flaky()


def test_export_window_defaults_and_validation():
    assert export_window(None, None, date(2026, 11, 26)) == (date(2026, 8, 28), date(2026, 11, 26))
    assert export_window("2026-08-01", "2026-10-31", date(2026, 11, 26)) == (date(2026, 8, 1), date(2026, 10, 31))
    with pytest.raises(FatalError, match="not a date"):
        export_window("31/10/2026", None, date(2026, 11, 26))
    with pytest.raises(FatalError, match="after"):
        export_window("2026-11-01", "2026-10-01", date(2026, 11, 26))


def test_fatal_errors_keep_their_cause():
    from airflow.sdk.exceptions import AirflowFailException

    from atera_qbo.errors import ConfigError

    @fail_fatal
    def broken():
        raise ConfigError("param invoice_date_from='x' is not a date")

    with pytest.raises(AirflowFailException) as raised:
        broken()
    assert isinstance(raised.value.__cause__, ConfigError)
    with pytest.raises(FatalError) as bad_date:
        export_window("31/10/2026", None, date(2026, 11, 26))
    assert isinstance(bad_date.value.__cause__, ValueError)


def test_no_raise_in_the_sync_drops_its_cause():
    """Every error the DAG tasks can raise keeps its cause (the web UI turns its errors into HTTP answers: not
    part of this contract)."""
    from pathlib import Path

    package = Path(__file__).resolve().parents[2] / "plugins" / "atera_qbo"
    dropped = [f"{p.relative_to(package)}:{n}" for p in package.rglob("*.py") if "webui" not in p.parts
               for n, line in enumerate(p.read_text().splitlines(), 1) if line.rstrip().endswith("from None")]
    assert dropped == [], f"raise ... from None hides the cause: {dropped}"


def test_a_task_makes_one_staging_engine_and_closes_its_clients(tmp_path, monkeypatch):
    """The task's composition root: the staging engine is the process's one for the connection's URL (made and
    migrated once, then reused by the next task of the process); the clients a task opened are closed after it."""
    from atera_qbo.staging import db
    from atera_qbo.tasks import matching
    from atera_qbo.tasks.runtime import wiring

    staging = tmp_path / "staging.db"
    monkeypatch.setenv("AIRFLOW_CONN_ATERA_QBO_STAGING", json.dumps({"conn_type": "sqlite", "host": str(staging)}))
    monkeypatch.setenv("AIRFLOW_CONN_ATERA_DEFAULT", json.dumps({"conn_type": "http", "host": "http://127.0.0.1:9",
                                                                 "password": "secret-api-key"}))
    monkeypatch.setenv("ATERA_QBO_REVIEW_DIR", str(tmp_path / "review"))
    db.dispose_engines()
    made: list[str] = []
    real = db.make_engine
    monkeypatch.setattr(db, "make_engine", lambda url: made.append(url) or real(url))

    summary = matching.match(overrides_path=None, commit=False, create_unmatched_in_qbo=False,
                             import_unmatched_qbo_customers=False, run_id="engines")
    assert (tmp_path / "review" / "match_review.csv").exists() and summary["decisions"] == {}
    matching.match(overrides_path=None, commit=False, create_unmatched_in_qbo=False,
                   import_unmatched_qbo_customers=False, run_id="engines-again")
    assert made == [f"sqlite:///{staging}"]

    with wiring() as w:
        atera = w.atera
        closed: list[object] = []
        monkeypatch.setattr(atera, "close", lambda: closed.append(atera))
        assert w.atera is atera and w.engine is db.engine_for(f"sqlite:///{staging}")
    assert closed == [atera]
    db.dispose_engines()


def test_the_run_day_is_the_logical_date_else_run_after_never_the_clock():
    assert run_day(datetime(2026, 10, 31, 23, 0), None) == date(2026, 10, 31)
    assert run_day(None, date(2026, 11, 1)) == date(2026, 11, 1)
    assert run_day(None, "2026-11-02T08:00:00+00:00") == date(2026, 11, 2)
    with pytest.raises(FatalError, match="neither a logical date nor run_after"):
        run_day(None, None)


@pytest.mark.parametrize("path", ["/proc/self/environ", "../../etc/passwd"])
def test_the_matching_task_refuses_a_file_outside_the_review_dirs_and_quotes_none_of_it(tmp_path, monkeypatch,
                                                                                      caplog, path):
    from airflow.sdk.exceptions import AirflowFailException

    from atera_qbo.tasks import matching

    monkeypatch.setenv("AIRFLOW_CONN_ATERA_QBO_STAGING", json.dumps({"conn_type": "sqlite",
                                                                     "host": str(tmp_path / "s.db")}))
    monkeypatch.setenv("ATERA_QBO_REVIEW_DIR", str(tmp_path / "review"))
    monkeypatch.setenv("A_SECRET_OF_THE_WORKER", "postgres://user:hunter2@db")
    with caplog.at_level("DEBUG"), pytest.raises(AirflowFailException) as refused:
        matching.match(overrides_path=path, commit=True, create_unmatched_in_qbo=False,
                       import_unmatched_qbo_customers=False, run_id="hostile")
    assert "outside the directories overrides are read from" in str(refused.value)
    for text in (str(refused.value), caplog.text):
        assert "hunter2" not in text and "root:" not in text
