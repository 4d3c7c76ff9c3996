"""Hand a message to Airflow's notifiers, and make sure notifying never changes what a task does.

E-mail goes through the SMTP provider's ``SmtpNotifier`` (connection ``atera_qbo_smtp``), Slack through the Slack
provider's ``SlackWebhookNotifier`` (connection ``atera_qbo_slack``). Both are called through ``notify()`` with the
subject and bodies already rendered — never through the notifier's ``__call__``, which renders its fields as Jinja
templates against the task context: a finding's detail or an error text must never be evaluated as a template.

A channel that fails (server down, refused login, webhook gone) is logged — the channel, the error's first line,
no secret — and the other channel still gets the message. ``tell_new`` is the no-spam rule every kind but
failures follows: per channel, only what that channel was not told yet (so a channel that was down is told what it
missed, and the other is not told twice). ``quietly`` keeps any error of a notifying step away from its task.
"""
from __future__ import annotations

import functools
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import ParamSpec, TypeVar, cast

import sqlalchemy as sa
from airflow.providers.slack.notifications.slack_webhook import SlackWebhookNotifier
from airflow.providers.smtp.notifications.smtp import SmtpNotifier
from airflow.sdk import Context

from .memory import Ids, Item, fresh, record_message, remember, told
from .message import Message, first_line
from .settings import SMTP_CONN_ID, Channels

log = logging.getLogger(__name__)
P = ParamSpec("P")
R = TypeVar("R")
SLACK_TIMEOUT = 30  # seconds


@dataclass
class Delivery:
    reached: list[str] = field(default_factory=list)  # the channels that took the message: "email", "slack"
    failed: list[str] = field(default_factory=list)  # "email: ConnectionRefusedError: ..."

    @property
    def status(self) -> str:
        return "sent" if self.reached else "failed"


def _no_context() -> Context:
    """The notifiers only read the context to render templates; ours arrive rendered."""
    return cast(Context, {})


def _email(channels: Channels, message: Message) -> None:
    email = channels.email
    if email is None:
        raise RuntimeError(f"connection {SMTP_CONN_ID} is not configured for e-mail")
    notifier = SmtpNotifier(to=channels.recipients(message.kind), from_email=email.from_email,
                            subject=message.subject, html_content=message.html, smtp_conn_id=email.conn_id,
                            auth_type=email.auth_type)
    notifier.notify(_no_context())


def _slack(channels: Channels, message: Message) -> None:
    notifier = SlackWebhookNotifier(slack_webhook_conn_id=channels.slack_conn_id or "", text=message.text,
                                    timeout=SLACK_TIMEOUT, unfurl_links=False)
    notifier.notify(_no_context())  # type: ignore[no-untyped-call]  # the provider's notify() has no annotations


SENDERS: dict[str, Callable[[Channels, Message], None]] = {"email": _email, "slack": _slack}


def send(channel: str, message: Message, channels: Channels) -> str | None:
    """Send ``message`` by one channel: None when it took it, else why not (logged, never raised)."""
    try:
        SENDERS[channel](channels, message)
    except Exception as exc:  # noqa: BLE001 - any failure of a channel (server down, refused, bad answer) is logged, not raised
        why = first_line(exc, channels.secrets)
        log.warning("notification %r (%s) could not be sent by %s: %s; the task goes on", message.subject,
                    message.kind, channel, why)
        return why
    log.info("notification %r (%s) sent by %s", message.subject, message.kind, channel)
    return None


def deliver(message: Message, channels: Channels) -> Delivery:
    """Send ``message`` by every channel its kind reaches."""
    out = Delivery()
    for channel in channels.targets(message.kind):
        why = send(channel, message, channels)
        if why is None:
            out.reached.append(channel)
        else:
            out.failed.append(f"{channel}: {why}")
    return out


def send_and_record(engine: sa.Engine, message: Message, channels: Channels, ids: Ids,
                    now: datetime) -> Delivery:
    """Deliver by every channel, and record the message per channel (``notify_messages``)."""
    delivery = deliver(message, channels)
    for channel in delivery.reached:
        record_message(engine, message.kind, ids, "sent", now, subject=message.subject, channel=channel,
                       items=message.items)
    for failure in delivery.failed:
        channel, _, why = failure.partition(": ")
        record_message(engine, message.kind, ids, "failed", now, subject=message.subject, channel=channel,
                       items=message.items, error=why)
    return delivery


def tell_new(engine: sa.Engine, kind: str, items: list[Item], channels: Channels, ids: Ids, now: datetime,
             build: Callable[[set[str]], Message], *, remind: Callable[[str], bool] | None = None,
             record_unchanged: bool = True) -> str:
    """Per channel of ``kind``: the items it was not told (or told in another state) — or, when ``remind`` says so,
    a reminder of them all — as one message ``build(new_keys)``; remembered on that channel once it took it.
    Answers ``sent`` (a channel took one), ``failed`` (every attempt failed) or ``unchanged`` (nothing to tell:
    recorded, unless ``record_unchanged`` is false, so a failure of the run is known to be explained)."""
    outcomes: list[str] = []
    for channel in channels.targets(kind):
        new_keys = {i.key for i in fresh(items, told(engine, kind, channel))}
        if not new_keys and not (items and remind is not None and remind(channel)):
            continue
        message = build(new_keys)
        why = send(channel, message, channels)
        record_message(engine, kind, ids, "failed" if why else "sent", now, subject=message.subject,
                       channel=channel, items=message.items, error=why)
        if why is None:
            remember(engine, kind, channel, [i for i in items if i.key in new_keys], now)
        outcomes.append("failed" if why else "sent")
    if not outcomes:
        if record_unchanged:
            record_message(engine, kind, ids, "unchanged", now, items=len(items))
        return "unchanged"
    return "sent" if "sent" in outcomes else "failed"


def quietly(fn: Callable[P, R]) -> Callable[P, R | None]:
    """A notifying step whose own failure (staging unreachable, a bug) is logged and swallowed: it answers None and
    the calling task ends as it would have without it."""

    @functools.wraps(fn)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R | None:
        try:
            return fn(*args, **kwargs)
        except Exception as exc:  # noqa: BLE001 - a notification must never change the outcome of what it reports on
            log.warning("notifications: %s failed (%s); nothing was sent for it, the task's outcome is unchanged",
                        fn.__name__, first_line(exc))
            return None

    return wrapper
