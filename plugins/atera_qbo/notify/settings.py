"""Where notifications go, from Airflow's stores (read through ``config``, the one reader), each time a message is
about to be sent — a changed connection or Variable counts from the next message on.

- Connection ``atera_qbo_smtp`` (conn type ``smtp``): host, port, login, password; extra ``from_email`` (the
  sender, required), and the SMTP provider's TLS choice: ``disable_ssl`` (true: no implicit TLS, e.g. port 587 or
  25) and ``disable_tls`` (true: no STARTTLS either), ``timeout``, ``retry_limit``, ``auth_type``.
- Connection ``atera_qbo_slack`` (conn type ``slackwebhook``): password = the incoming webhook's token
  (``T000/B000/XXX``) or its whole URL; host = the webhook base URL (default Slack's). Slack gets every kind.
- Variable ``atera_qbo_notify_to``: e-mail recipients, a comma-separated list for every kind, or a JSON object
  from kind (``reconciliation``, ``export``, ``failure``, ``expiry``) to a list (or a comma-separated string); a kind
  it does not name gets no e-mail.

Nothing configured: nothing is sent, and the log says so once per process. A configuration mistake is logged once,
naming the connection or Variable and the fix; it never fails a task.
"""
from __future__ import annotations

import json
import logging
import re
import threading
from dataclasses import dataclass, field
from urllib.parse import quote

from airflow.configuration import conf

from ..config import ConnInfo, conn_info, variable
from .message import company_query, first_line

log = logging.getLogger(__name__)

SMTP_CONN_ID = "atera_qbo_smtp"
SLACK_CONN_ID = "atera_qbo_slack"
RECIPIENTS_VARIABLE = "atera_qbo_notify_to"
KINDS = ("reconciliation", "export", "failure", "expiry")
PLUGIN_PREFIX = "/atera-qbo"  # where the API server mounts the plugin's pages (plugins/atera_qbo_webui.py)
DEFAULT_BASE_URL = "http://localhost:8080"  # Airflow's own fallback for [api] base_url (task log links)
_ADDRESS = re.compile(r"^[^@\s,;<>\"]+@[^@\s,;<>\"]+$")
RECIPIENTS_HOW = ('set it to a comma-separated list of addresses, or to a JSON object from kind (reconciliation, '
                  'export, failure, expiry) to a list, e.g. {"export": ["billing@example.com"]}')


class _Once:
    """Says each distinct configuration message once per process (a task's process, the API server's)."""

    def __init__(self) -> None:
        self._said: set[str] = set()
        self._lock = threading.Lock()

    def say(self, level: int, text: str) -> None:
        with self._lock:
            if text in self._said:
                return
            self._said.add(text)
        log.log(level, text)

    def forget(self) -> None:
        """Say everything again (a test that checks what is said)."""
        with self._lock:
            self._said.clear()


ONCE = _Once()


@dataclass(frozen=True)
class Email:
    conn_id: str
    from_email: str
    recipients: dict[str, list[str]]  # kind → addresses
    auth_type: str = "basic"


@dataclass(frozen=True)
class Channels:
    """The configured channels; ``secrets``: what a message or log line must never show (the channels' own)."""

    email: Email | None = None
    slack_conn_id: str | None = None
    secrets: tuple[str, ...] = field(default=(), repr=False)

    @property
    def off(self) -> bool:
        return self.email is None and self.slack_conn_id is None

    def recipients(self, kind: str) -> list[str]:
        return list(self.email.recipients.get(kind, [])) if self.email else []

    def targets(self, kind: str) -> list[str]:
        """The channels a message of ``kind`` goes to: ``email`` (when the Variable names recipients for it) and
        ``slack`` (every kind)."""
        return [name for name, on in (("email", bool(self.recipients(kind))), ("slack", bool(self.slack_conn_id)))
                if on]

    def reach(self, kind: str) -> bool:
        """Would a message of ``kind`` go anywhere?"""
        return bool(self.targets(kind))


def parse_recipients(raw: str | None) -> tuple[dict[str, list[str]], list[str]]:
    """The Variable's value → (kind → addresses, the problems found, each naming the fix)."""
    text = (raw or "").strip()
    if not text:
        return {}, []
    if not text.startswith("{"):
        addresses, problems = _addresses(text, "")
        return {kind: list(addresses) for kind in KINDS}, problems
    try:
        parsed = json.loads(text)
    except ValueError as exc:
        return {}, [f"Variable {RECIPIENTS_VARIABLE} starts with '{{' but is not valid JSON ({exc}): {RECIPIENTS_HOW}"]
    if not isinstance(parsed, dict):
        return {}, [f"Variable {RECIPIENTS_VARIABLE} is not a JSON object: {RECIPIENTS_HOW}"]
    out: dict[str, list[str]] = {}
    problems = []
    for kind, value in parsed.items():
        if kind not in KINDS:
            problems.append(f"Variable {RECIPIENTS_VARIABLE}: unknown kind {kind!r} (its addresses get nothing); "
                            f"use {', '.join(KINDS)}")
            continue
        listed = value if isinstance(value, list) else [value]
        out[kind], found = _addresses(",".join(str(v) for v in listed if v is not None), f" ({kind})")
        problems.extend(found)
    return out, problems


def _addresses(text: str, where: str) -> tuple[list[str], list[str]]:
    wanted = [a.strip() for a in re.split(r"[,;]", text) if a.strip()]
    bad = [a for a in wanted if not _ADDRESS.match(a)]
    problems = [f"Variable {RECIPIENTS_VARIABLE}{where}: {a!r} is not an e-mail address; fix or remove it" for a in bad]
    return list(dict.fromkeys(a for a in wanted if a not in bad)), problems


def _connection(conn_id: str) -> ConnInfo | None:
    try:
        return conn_info(conn_id, required=False)
    except Exception as exc:  # noqa: BLE001 - a bad connection must not stop the task: notifications are optional
        ONCE.say(logging.WARNING, f"notifications: connection {conn_id} cannot be read ({first_line(exc)}); fix it "
                                  "in Airflow's connections: nothing is sent through it until then")
        return None


def _email(conn: ConnInfo | None, recipients: dict[str, list[str]]) -> Email | None:
    if conn is None:
        if any(recipients.values()):
            ONCE.say(logging.WARNING, f"e-mail notifications are off: Variable {RECIPIENTS_VARIABLE} names recipients "
                                      f"but the connection {SMTP_CONN_ID} is not defined; add it (conn type smtp: "
                                      "host, port, login, password, extra from_email)")
        return None
    if conn.conn_type.lower() not in ("smtp", "email"):
        ONCE.say(logging.WARNING, f"e-mail notifications are off: connection {SMTP_CONN_ID} has conn type "
                                  f"{conn.conn_type!r}; make it an smtp connection")
        return None
    sender = str(conn.extra.get("from_email") or "").strip()
    if not sender or not _ADDRESS.match(sender):
        ONCE.say(logging.WARNING, f"e-mail notifications are off: connection {SMTP_CONN_ID} has no valid extra "
                                  "from_email; set it to the sender's address, e.g. {\"from_email\": "
                                  "\"atera-qbo@example.com\"}")
        return None
    if not any(recipients.values()):
        ONCE.say(logging.WARNING, f"e-mail notifications are off: the connection {SMTP_CONN_ID} is defined but the "
                                  f"Variable {RECIPIENTS_VARIABLE} names no recipient; {RECIPIENTS_HOW}")
        return None
    return Email(SMTP_CONN_ID, sender, recipients, str(conn.extra.get("auth_type") or "basic"))


def _slack(conn: ConnInfo | None) -> str | None:
    if conn is None:
        return None
    if conn.conn_type.lower() != "slackwebhook":
        ONCE.say(logging.WARNING, f"Slack notifications are off: connection {SLACK_CONN_ID} has conn type "
                                  f"{conn.conn_type!r}; make it a 'slackwebhook' connection (Slack Incoming Webhook)")
        return None
    if not (conn.password or "").strip():
        ONCE.say(logging.WARNING, f"Slack notifications are off: connection {SLACK_CONN_ID} has no password; put the "
                                  "incoming webhook's token (T000/B000/XXX) or its whole URL there")
        return None
    return SLACK_CONN_ID


def channels() -> Channels:
    """The channels as configured now. Says (once per process) when notifications are off, and why."""
    smtp, slack = _connection(SMTP_CONN_ID), _connection(SLACK_CONN_ID)
    recipients, problems = parse_recipients(variable(RECIPIENTS_VARIABLE))
    for problem in problems:
        ONCE.say(logging.WARNING, problem)
    out = Channels(_email(smtp, recipients), _slack(slack),
                   tuple(s for c in (smtp, slack) if c for s in _secrets_of(c)))
    if out.off:
        ONCE.say(logging.INFO, f"notifications are off: no connection {SMTP_CONN_ID} (with recipients in the Variable "
                               f"{RECIPIENTS_VARIABLE}) and no connection {SLACK_CONN_ID}; define one to be told "
                               "about findings, blocked invoices, failures and expiring tokens (README "
                               "'Notifications')")
    return out


def _secrets_of(conn: ConnInfo) -> list[str]:
    """The connection's password, and for a webhook its last path segment (the part that is the secret)."""
    password = (conn.password or "").strip()
    secrets = [password, password.rstrip("/").rsplit("/", 1)[-1]]
    return [s for s in dict.fromkeys(secrets) if len(s) >= 4]


def announce() -> None:
    """Read the configuration once to say, once per process, whether notifications are on (every task does)."""
    try:
        channels()
    except Exception as exc:  # noqa: BLE001 - saying whether notifications are on must never fail a task
        log.debug("notifications: could not read their configuration: %s", type(exc).__name__)


def base_url() -> str:
    """The API server's public base URL (Airflow config ``[api] base_url``), where links in messages point."""
    value = conf.get("api", "base_url", fallback=None) or ""
    if not value.strip():
        ONCE.say(logging.WARNING, f"[api] base_url is not set: links in notifications point at {DEFAULT_BASE_URL}; "
                                  "set AIRFLOW__API__BASE_URL to the API server's public URL")
        return DEFAULT_BASE_URL
    return value.strip().rstrip("/")


def page(path: str) -> str:
    """A page of the plugin (``/`` the wizard, ``/export``, ``/reconciliation``) as a full URL — the company's
    page while a message is about one (``companies.working_for``)."""
    return f"{base_url()}{PLUGIN_PREFIX}{path}{company_query()}"


def task_log(dag_id: str, run_id: str, task_id: str) -> str:
    """The task's page (its log) in Airflow's UI."""
    return f"{base_url()}/dags/{quote(dag_id, safe='')}/runs/{quote(run_id, safe='')}/tasks/{quote(task_id, safe='')}"
