from datetime import date

import pytest

from atera_qbo.errors import FatalError, RetriableApiError
from atera_qbo.tasks import export_window, fail_fatal


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
