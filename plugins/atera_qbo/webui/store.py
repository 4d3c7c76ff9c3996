"""Overrides versions saved by the wizard's "Done" (table ``review_overrides``, Alembic revision
0006_review_overrides): the overrides CSV itself, who saved it and when, and the matching run it triggered. One row
per "Done"; nothing is written before it."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from ..staging.db import utcnow
from ..staging.tables import review_overrides as REVIEW_OVERRIDES


@dataclass
class Version:
    version: int
    created_at: datetime
    created_by: str
    decisions: int
    csv_text: str
    file_path: str | None
    dag_run_id: str | None


def save(engine: sa.Engine, *, user: str, decisions: int, csv_text: str, file_path: str | None = None) -> int:
    with engine.begin() as conn:
        result = conn.execute(REVIEW_OVERRIDES.insert().values(
            created_at=utcnow(), created_by=user, decisions=decisions, csv_text=csv_text, file_path=file_path))
        key = result.inserted_primary_key
        if key is None:  # every insert of this table has a key: SQLAlchemy answers None only without one
            raise RuntimeError("review_overrides: the database gave the new version no id")
        return int(key[0])


def attach(engine: sa.Engine, version: int, **values: Any) -> None:
    with engine.begin() as conn:
        conn.execute(REVIEW_OVERRIDES.update().where(REVIEW_OVERRIDES.c.version == version).values(**values))


def get(engine: sa.Engine, version: int) -> Version | None:
    with engine.connect() as conn:
        row = conn.execute(sa.select(REVIEW_OVERRIDES).where(REVIEW_OVERRIDES.c.version == version)).first()
    return Version(**row._mapping) if row else None


def latest(engine: sa.Engine, limit: int = 20) -> list[Version]:
    with engine.connect() as conn:
        rows = conn.execute(sa.select(REVIEW_OVERRIDES).order_by(REVIEW_OVERRIDES.c.version.desc()).limit(limit))
        return [Version(**r._mapping) for r in rows]


def current(engine: sa.Engine) -> Version | None:
    """The newest overrides version (the one a page's decisions start from), or None before the first Done."""
    found = latest(engine, 1)
    return found[0] if found else None
