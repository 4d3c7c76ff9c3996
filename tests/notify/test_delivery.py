"""Messages reach a real SMTP server and a webhook receiver through Airflow's notifiers: recipients per kind, the
sender from the connection, subject and content; a channel that is down is logged (no secret) and never raised."""
from __future__ import annotations

import logging

import pytest

from atera_qbo.notify.deliver import deliver, quietly
from atera_qbo.notify.message import Message
from atera_qbo.notify.settings import channels

from .conftest import SLACK_TOKEN, SMTP_LOGIN, SMTP_PASSWORD, free_port


def message(kind: str = "export", subject: str = "[Atera ↔ QBO] Export: invoice 1042 blocked") -> Message:
    return Message(kind, subject, "<p>invoice <b>1042</b>: customer 7 has no QBO customer</p>",
                   "*Export*\n• invoice 1042 blocked", items=1)


def test_one_message_goes_by_email_to_the_variables_recipients_and_to_slack(smtp_server, webhook, configure):
    configure(smtp=smtp_server, slack=webhook, to="billing@example.com, ops@example.com")
    delivery = deliver(message(), channels())
    assert delivery.status == "sent" and delivery.failed == []
    (mail,) = smtp_server.mails
    assert mail.sender == "atera-qbo@example.com"
    assert mail.recipients == ["billing@example.com", "ops@example.com"]
    assert mail.subject == "[Atera ↔ QBO] Export: invoice 1042 blocked"
    assert "<b>1042</b>" in mail.html
    assert smtp_server.logins == [SMTP_LOGIN]  # the connection's login, over the connection's plain-text choice
    assert webhook.texts == ["*Export*\n• invoice 1042 blocked"]
    assert webhook.paths == ["/" + SLACK_TOKEN]


def test_each_kind_goes_to_its_own_recipients(smtp_server, configure):
    configure(smtp=smtp_server, to={"export": ["billing@example.com"], "failure": "ops@example.com;dev@example.com"})
    chans = channels()
    deliver(message("export"), chans)
    deliver(message("failure", "[Atera ↔ QBO] atera_qbo_catalog_sync failed"), chans)
    assert deliver(message("reconciliation"), chans).reached == []  # nobody asked for these, and no Slack
    assert [(m.recipients, m.subject) for m in smtp_server.mails] == [
        (["billing@example.com"], "[Atera ↔ QBO] Export: invoice 1042 blocked"),
        (["ops@example.com", "dev@example.com"], "[Atera ↔ QBO] atera_qbo_catalog_sync failed")]


def test_a_mail_server_that_is_down_is_logged_without_secrets_and_slack_still_gets_it(webhook, configure, caplog):
    configure(smtp=free_port(), slack=webhook, to="billing@example.com")  # nothing listens there
    with caplog.at_level(logging.WARNING):
        delivery = deliver(message(), channels())
    assert delivery.status == "sent" and delivery.reached == ["slack"]
    assert len(delivery.failed) == 1 and "ConnectionRefusedError" in delivery.failed[0]
    logged = "\n".join(r.getMessage() for r in caplog.records)
    assert "could not be sent by email: ConnectionRefusedError" in logged
    assert SMTP_PASSWORD not in logged and SLACK_TOKEN not in logged
    assert len(webhook.posts) == 1


def test_every_channel_down_is_a_failed_delivery_not_an_error(configure, webhook, caplog):
    webhook.status = 500
    configure(smtp=free_port(), slack=webhook, to="billing@example.com")
    with caplog.at_level(logging.WARNING):
        delivery = deliver(message(), channels())
    assert delivery.status == "failed" and delivery.reached == []
    assert [f.split(":")[0] for f in delivery.failed] == ["email", "slack"]
    assert SLACK_TOKEN not in "\n".join(r.getMessage() for r in caplog.records)


def test_a_notifying_step_that_breaks_never_reaches_its_task(caplog):
    @quietly
    def broken() -> str:
        raise RuntimeError("staging unreachable: postgresql://sync:hunter22@db/staging")

    with caplog.at_level(logging.WARNING):
        assert broken() is None
    (record,) = [r for r in caplog.records if "broken failed" in r.getMessage()]
    assert "hunter22" not in record.getMessage() and "sync:***@db" in record.getMessage()


@pytest.mark.parametrize("body", ["{{ 7 * 7 }}", "{% if true %}x{% endif %}"])
def test_a_message_is_sent_as_given_never_rendered_as_a_template(smtp_server, configure, body):
    """Data in a message (a finding's detail, an error) must never be evaluated: the notifier's __call__ would."""
    configure(smtp=smtp_server, to="billing@example.com")
    deliver(Message("export", f"[Atera ↔ QBO] {body}", f"<p>{body}</p>", body), channels())
    (mail,) = smtp_server.mails
    assert mail.subject == f"[Atera ↔ QBO] {body}" and body in mail.html
