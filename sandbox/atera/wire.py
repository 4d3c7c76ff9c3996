"""How Atera writes instants, calendar dates and money on the wire.

Shared by the state models and the seed (both speak it), so it depends on neither.
"""
from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import ROUND_HALF_UP, Decimal

CENT = Decimal("0.01")


def money(value: Decimal) -> Decimal:
    return value.quantize(CENT, rounding=ROUND_HALF_UP)


def utc_text(moment: datetime) -> str:
    """A UTC instant as Atera writes it: ``2026-08-01T14:03:07Z``."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def local_midnight_text(day: date) -> str:
    """A calendar date of the account (invoice dates): ``2026-08-01T00:00:00``, no offset."""
    return day.strftime("%Y-%m-%dT00:00:00")
