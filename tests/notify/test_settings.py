"""Where notifications go: the Variable's two forms, configuration mistakes named with their fix (once per process),
"off" said once, links on Airflow's [api] base_url; and the text safety of every message (no secret leaves)."""
from __future__ import annotations

import json
import logging

import pytest

from atera_qbo.notify.message import first_line, scrub
from atera_qbo.notify.settings import KINDS, channels, page, parse_recipients, task_log

from .conftest import BASE_URL, SMTP_PASSWORD, smtp_conn


def said(caplog) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.name == "atera_qbo.notify.settings"]


def test_a_list_is_for_every_kind_and_an_object_per_kind():
    everyone, problems = parse_recipients(" finance@example.com ; ops@example.com,finance@example.com ")
    assert problems == [] and everyone == {kind: ["finance@example.com", "ops@example.com"] for kind in KINDS}
    by_kind, problems = parse_recipients(json.dumps({"export": ["billing@example.com"], "failure": "a@x.io, b@x.io"}))
    assert problems == [] and by_kind == {"export": ["billing@example.com"], "failure": ["a@x.io", "b@x.io"]}


@pytest.mark.parametrize(("raw", "named"), [
    ('{"exports": ["a@example.com"]}', "unknown kind 'exports' (its addresses get nothing); use reconciliation"),
    ('{"export": ["a@example.com"', "is not valid JSON"),
    ("finance-at-example.com, ops@example.com", "'finance-at-example.com' is not an e-mail address; fix or remove it"),
])
def test_a_wrong_variable_is_named_with_its_fix(raw, named):
    recipients, problems = parse_recipients(raw)
    assert len(problems) == 1 and named in problems[0] and "atera_qbo_notify_to" in problems[0]
    if raw.startswith("finance"):
        assert recipients["export"] == ["ops@example.com"]  # the good address still gets its messages


def test_nothing_configured_is_said_once_per_process(caplog):
    with caplog.at_level(logging.INFO):
        assert channels().off and channels().off
    (line,) = said(caplog)
    assert line.startswith("notifications are off: no connection atera_qbo_smtp")
    assert "atera_qbo_slack" in line and "README 'Notifications'" in line


@pytest.mark.parametrize(("conn", "to", "named"), [
    (None, "a@example.com", "names recipients but the connection atera_qbo_smtp is not defined"),
    ({"conn_type": "http", "host": "smtp.example.com"}, "a@example.com", "has conn type 'http'; make it an smtp"),
    (json.loads(smtp_conn(25, from_email="")), "a@example.com", "no valid extra from_email; set it to the sender"),
    (json.loads(smtp_conn(25)), "", "names no recipient; set it to a comma-separated list"),
])
def test_half_configured_email_is_off_naming_what_to_fix(monkeypatch, caplog, conn, to, named):
    if conn is not None:
        monkeypatch.setenv("AIRFLOW_CONN_ATERA_QBO_SMTP", json.dumps(conn))
    monkeypatch.setenv("AIRFLOW_VAR_ATERA_QBO_NOTIFY_TO", to)
    with caplog.at_level(logging.INFO):
        chans = channels()
        channels()
    assert chans.email is None
    assert [line for line in said(caplog) if named in line] == [next(line for line in said(caplog) if named in line)]
    assert all(SMTP_PASSWORD not in line for line in said(caplog))


def test_a_slack_connection_without_its_token_is_named(monkeypatch, caplog):
    monkeypatch.setenv("AIRFLOW_CONN_ATERA_QBO_SLACK", json.dumps({"conn_type": "slackwebhook"}))
    with caplog.at_level(logging.INFO):
        assert channels().off
    assert any("atera_qbo_slack has no password; put the incoming webhook's token" in line for line in said(caplog))


def test_links_use_the_api_servers_public_base_url(monkeypatch, caplog):
    assert page("/export") == f"{BASE_URL}/atera-qbo/export"
    assert task_log("d", "manual__2026-11-27T09:00:00+00:00", "t") == \
        f"{BASE_URL}/dags/d/runs/manual__2026-11-27T09%3A00%3A00%2B00%3A00/tasks/t"
    monkeypatch.setenv("AIRFLOW__API__BASE_URL", "https://airflow.example.com/base/")
    assert page("/") == "https://airflow.example.com/base/atera-qbo/"
    monkeypatch.setenv("AIRFLOW__API__BASE_URL", "")
    with caplog.at_level(logging.WARNING):
        assert page("/") == "http://localhost:8080/atera-qbo/"
    assert any("set AIRFLOW__API__BASE_URL" in line for line in said(caplog))


@pytest.mark.parametrize(("text", "hidden"), [
    ("refused: Authorization: Bearer eyJhbGciOi.eyJleHAiOjE3.c2ln", "eyJhbGciOi"),
    ("postgresql://sync:hunter22@db:5432/staging unreachable", "hunter22"),
    ("token=abc123def456 was refused", "abc123def456"),
    ('{"refresh_token": "AB11700000000xyz"} rejected', "AB11700000000xyz"),
    ("posting to https://hooks.slack.com/services/T1/B2/zzzSECRETzzz failed", "zzzSECRETzzz"),
])
def test_secrets_never_leave_in_a_message(text, hidden):
    assert hidden not in scrub(text) and "***" in scrub(text)


def test_the_errors_first_line_names_its_cause_and_is_short():
    cause = ValueError("invoice 1042 has no QBO customer: map it in the wizard\nline two")
    wrapper = RuntimeError(str(cause))
    wrapper.__cause__ = cause
    assert first_line(wrapper) == "ValueError: invoice 1042 has no QBO customer: map it in the wizard"
    assert first_line(RuntimeError("x" * 500)).endswith("…") and len(first_line(RuntimeError("x" * 500))) == 300
    assert first_line(RuntimeError("the key s3cr3t-key-99 was refused"), ["s3cr3t-key-99"]) == \
        "RuntimeError: the key *** was refused"
