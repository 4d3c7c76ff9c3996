"""The company's clock: QBO's time stamps (sandbox companies answer in Pacific time) and reading them back.

Shared by the state model and the query language, so it depends on neither.
"""
from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

COMPANY_TZ = ZoneInfo("America/Los_Angeles")  # sandbox companies answer in Pacific time


def now() -> dt.datetime:
    return dt.datetime.now(COMPANY_TZ)


def stamp(moment: dt.datetime | None = None) -> str:
    """QBO's MetaData time: ``2015-07-23T10:58:12-07:00``."""
    return (moment or now()).replace(microsecond=0).isoformat()


def response_time() -> str:
    """The ``time`` of a response: ``2015-07-23T10:58:12.099-07:00``."""
    return now().isoformat(timespec="milliseconds")


def today() -> str:
    return now().date().isoformat()


def parse_time(value: str) -> dt.datetime:
    """A QBO date or date-time; a date, or a time without offset, is read in the company's time zone."""
    text = value.strip()
    if text.endswith("Z"):
        text = text[:-1] + "+00:00"
    moment = dt.datetime.fromisoformat(text)
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=COMPANY_TZ)
    return moment
