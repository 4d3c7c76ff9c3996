"""What the notification tests talk to, all on loopback and started by the tests: a real SMTP server (aiosmtpd,
in-process, with AUTH LOGIN/PLAIN) and a Slack incoming-webhook receiver (the twins' ``TwinServer``); and the
Airflow connections and Variable that point the sync at them (``AIRFLOW_CONN_*`` / ``AIRFLOW_VAR_*``)."""
from __future__ import annotations

import email
import email.policy
import json
import socket
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from email.message import EmailMessage
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword

from sandbox.core.http import Request, Response, TwinServer

SMTP_LOGIN, SMTP_PASSWORD = "sync-mailer", "smtp-pass-7f3a9"
SLACK_TOKEN = "T0001/B0001/webhook-secret-8c2d"
BASE_URL = "https://airflow.example.com"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Mail:
    sender: str
    recipients: list[str]
    message: EmailMessage

    @property
    def subject(self) -> str:
        return str(self.message["Subject"])

    @property
    def html(self) -> str:
        part = self.message.get_body(("html",))
        assert part is not None, "the message has no HTML part"
        return str(part.get_content())


@dataclass
class SmtpServer:
    port: int
    mails: list[Mail] = field(default_factory=list)
    logins: list[str] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # aiosmtpd's hook name
        parsed = email.message_from_bytes(envelope.original_content or envelope.content, policy=email.policy.default)
        with self.lock:
            self.mails.append(Mail(envelope.mail_from, list(envelope.rcpt_tos), parsed))  # type: ignore[arg-type]
        return "250 Message accepted for delivery"

    def authenticate(self, server: Any, session: Any, envelope: Any, mechanism: str, auth_data: Any) -> AuthResult:
        ok = isinstance(auth_data, LoginPassword) and auth_data.login.decode() == SMTP_LOGIN \
            and auth_data.password.decode() == SMTP_PASSWORD
        if ok:
            self.logins.append(auth_data.login.decode())
        return AuthResult(success=ok, handled=False)


@pytest.fixture
def smtp_server() -> Iterator[SmtpServer]:
    """A real SMTP server on 127.0.0.1 (a free port), requiring the login of the test connection."""
    server = SmtpServer(free_port())
    controller = Controller(server, hostname="127.0.0.1", port=server.port, authenticator=server.authenticate,
                            auth_required=True, auth_require_tls=False)
    controller.start()
    try:
        yield server
    finally:
        controller.stop()


@dataclass
class Webhook:
    posts: list[dict[str, Any]] = field(default_factory=list)
    paths: list[str] = field(default_factory=list)
    status: int = 200
    server: TwinServer | None = None

    def handle(self, request: Request) -> Response:
        self.paths.append(request.path)
        self.posts.append(json.loads(request.body or b"{}"))
        return Response.text("ok" if self.status == 200 else "invalid_token", self.status)

    @property
    def url(self) -> str:
        assert self.server is not None
        return str(self.server.url)

    @property
    def texts(self) -> list[str]:
        return [str(p.get("text", "")) for p in self.posts]


@pytest.fixture
def webhook() -> Iterator[Webhook]:
    """A Slack incoming-webhook receiver on loopback: records each POSTed body, answers 200 ``ok``."""
    hook = Webhook()
    hook.server = TwinServer(hook.handle).start()
    try:
        yield hook
    finally:
        hook.server.stop()


def smtp_conn(port: int, **extra: Any) -> str:
    return json.dumps({"conn_type": "smtp", "host": "127.0.0.1", "port": port, "login": SMTP_LOGIN,
                       "password": SMTP_PASSWORD,
                       "extra": {"from_email": "atera-qbo@example.com", "disable_ssl": True, "disable_tls": True,
                                 "timeout": 5, "retry_limit": 0, **extra}})


@pytest.fixture(autouse=True)
def quiet_slate(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """No notification configuration unless a test sets it, links on a known base URL, and every configuration
    message said again (they are said once per process)."""
    from atera_qbo.notify.settings import ONCE

    for name in ("AIRFLOW_CONN_ATERA_QBO_SMTP", "AIRFLOW_CONN_ATERA_QBO_SLACK", "AIRFLOW_VAR_ATERA_QBO_NOTIFY_TO"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AIRFLOW__API__BASE_URL", BASE_URL)
    ONCE.forget()
    yield
    ONCE.forget()


@pytest.fixture
def configure(monkeypatch: pytest.MonkeyPatch):
    """``configure(smtp=server or port, slack=webhook, to="a@x.com" or {"export": [...]})``: the connections and the
    Variable, as Airflow reads them from the environment."""

    def apply(*, smtp: SmtpServer | int | None = None, slack: Webhook | None = None,
              to: str | dict[str, Any] | None = None, **smtp_extra: Any) -> None:
        if smtp is not None:
            port = smtp.port if isinstance(smtp, SmtpServer) else smtp
            monkeypatch.setenv("AIRFLOW_CONN_ATERA_QBO_SMTP", smtp_conn(port, **smtp_extra))
        if slack is not None:
            monkeypatch.setenv("AIRFLOW_CONN_ATERA_QBO_SLACK", json.dumps(
                {"conn_type": "slackwebhook", "host": slack.url, "password": SLACK_TOKEN}))
        if to is not None:
            monkeypatch.setenv("AIRFLOW_VAR_ATERA_QBO_NOTIFY_TO", to if isinstance(to, str) else json.dumps(to))

    return apply


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """The test SMTP server takes AUTH without TLS on loopback (the connection's plain-text choice): aiosmtpd warns."""
    for item in items:
        if "tests/notify/" in str(item.path).replace("\\", "/"):
            item.add_marker(pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS:UserWarning"))
