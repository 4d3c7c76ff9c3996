"""A notification as it leaves: one subject, an HTML body for e-mail (rendered from ``templates/notify/`` by the
package's one autoescaping Jinja environment, ``html.render``) and a plain text for Slack (its mrkdwn, escaped
here). And the text safety every message and log line goes through: ``scrub`` blanks secrets, ``first_line`` is
what an error may say."""
from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from urllib.parse import quote

from ..companies import at_work

SUBJECT_PREFIX = "[Atera ↔ QBO] "

def company_query() -> str:
    """``?company=<id>`` for a link to the plugin's pages while a task works for one of several companies
    (``companies.working_for``), else nothing."""
    now = at_work()
    return f"?company={quote(now.company.id, safe='')}" if now and now.several else ""
FIRST_LINE_LIMIT = 300  # characters of an error shown in a message

_SECRET_SHAPES: list[tuple[re.Pattern[str], str]] = [
    (re.compile(r"(?i)\b(bearer)\s+[A-Za-z0-9._~+/=-]{6,}"), r"\1 ***"),
    (re.compile(r"(?i)\b(password|passwd|secret|client_secret|token|refresh_token|access_token|api[_-]?key|"
                r"x-api-key|authorization)(\"?\s*[=:]\s*\"?)([^\s\"',;&]+)"), r"\1\2***"),
    (re.compile(r"://([^/\s:@]+):([^/\s@]+)@"), r"://\1:***@"),  # credentials in a URL
    (re.compile(r"\beyJ[A-Za-z0-9_-]{6,}\.[A-Za-z0-9_-]{6,}\.[A-Za-z0-9_-]*"), "***"),  # a JWT
    (re.compile(r"hooks\.slack\.com/services/[^\s\"'>]+"), "hooks.slack.com/services/***"),
]


def scrub(text: str, secrets: Iterable[str] = ()) -> str:
    """``text`` with the given secrets and anything shaped like a credential replaced by ``***``."""
    for secret in sorted({s for s in secrets if s and len(s) >= 4}, key=len, reverse=True):
        text = text.replace(secret, "***")
    for pattern, replacement in _SECRET_SHAPES:
        text = pattern.sub(replacement, text)
    return text


def first_line(error: BaseException | str | None, secrets: Iterable[str] = ()) -> str:
    """What a message may say about an error: its type (the cause's, under Airflow's wrapper) and the first line of
    its message, scrubbed and cut to ``FIRST_LINE_LIMIT`` characters."""
    if error is None:
        return "(no error was given)"
    if isinstance(error, str):
        kind, text = "", error
    else:
        shown = error.__cause__ if error.__cause__ is not None and str(error.__cause__) == str(error) else error
        kind, text = f"{type(shown).__name__}: ", str(error)
    line = next((part.strip() for part in text.splitlines() if part.strip()), "(no message)")
    line = scrub(kind + line, secrets)
    return line if len(line) <= FIRST_LINE_LIMIT else line[:FIRST_LINE_LIMIT - 1] + "…"


@dataclass(frozen=True)
class Message:
    kind: str  # reconciliation | export | failure | expiry: whom it goes to (Variable atera_qbo_notify_to)
    subject: str
    html: str  # the e-mail body
    text: str  # the Slack text (mrkdwn)
    items: int = 0  # how many things it tells about


def subject(text: str) -> str:
    """A subject line: the prefix, one line, no longer than a mail client shows."""
    one = " ".join(text.split())
    now = at_work()
    prefix = f"[Atera ↔ QBO · {now.company.name}] " if now and now.several else SUBJECT_PREFIX
    return prefix + (one if len(one) <= 150 else one[:149] + "…")


def slack_escape(text: str) -> str:
    """Slack's three control characters in mrkdwn (its formatting rules)."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def slack_text(title: str, lines: Sequence[str], links: Sequence[tuple[str, str]], *, more: int = 0) -> str:
    """A Slack message: the title in bold, one bullet per line, ``… and N more``, then the links."""
    out = [f"*{slack_escape(title)}*"]
    out += [f"• {slack_escape(line)}" for line in lines]
    if more > 0:
        out.append(f"… and {more} more")
    if links:
        out.append("  ".join(f"<{url.replace('|', '%7C').replace('>', '%3E')}|{slack_escape(label)}>"
                             for label, url in links))
    return "\n".join(out)
