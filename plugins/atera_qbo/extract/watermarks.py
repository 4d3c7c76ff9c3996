"""Watermarks: where an incremental pull resumes (``sync_watermarks``: entity → ISO instant).

``<entity>`` is the newest modification time staged, ``<entity>@full`` when the last full pull ran (incremental
pulls cannot see deletions, so a full pull is due at least every ``FULL_EVERY``), ``<entity>@synced`` when the
entity was last pulled at all.
"""
from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime, timedelta

import sqlalchemy as sa

from ..staging.db import table, upsert, utcnow

FULL_EVERY = timedelta(hours=24)  # incremental pulls cannot see deletions: a full pull at least this often


def get_watermark(engine: sa.Engine, entity: str) -> str | None:
    tbl = table("sync_watermarks")
    with engine.connect() as conn:
        return conn.execute(sa.select(tbl.c.watermark).where(tbl.c.entity == entity)).scalar()


def save_watermark(conn: sa.Connection, engine: sa.Engine, entity: str, value: str) -> None:
    upsert(conn, table("sync_watermarks"), [{"entity": entity, "watermark": value, "updated_at": utcnow()}],
           ["entity"])


def parse_instant(text: str | None) -> datetime | None:
    """An API timestamp as an aware UTC datetime ('Z', offsets, or naive = UTC)."""
    if not text:
        return None
    try:
        moment = datetime.fromisoformat(str(text).replace("Z", "+00:00"))
    except ValueError:
        return None
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def resume_from(watermark: str | None, overlap: timedelta) -> datetime:
    """Where an incremental pull resumes: the watermark less ``overlap``. Watermarks are written by ``iso``: one that
    is missing or not an instant is an error here (the caller pulls in full when there is none)."""
    moment = parse_instant(watermark)
    if moment is None:
        raise ValueError(f"watermark {watermark!r} is not an ISO instant: an incremental pull cannot resume from it")
    return moment - overlap


def iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="seconds")


def full_due(engine: sa.Engine, entity: str, now: datetime, full_refresh: bool) -> bool:
    last_full = parse_instant(get_watermark(engine, f"{entity}@full"))
    return full_refresh or last_full is None or now - last_full >= FULL_EVERY


def marks_after(key: str, previous: str | None, seen: Iterable[str | None], started: datetime, *, full: bool,
                synced: bool = False) -> dict[str, str | None]:
    """The watermarks a load writes once every row went by: ``key`` = the newest modification seen
    (``next_mark``); ``key@synced`` = the sync's start (with ``synced``); ``key@full`` = the same, after a full
    read."""
    out = {key: next_mark(previous, seen, started)}
    if synced:
        out[f"{key}@synced"] = iso(started)
    if full:
        out[f"{key}@full"] = iso(started)
    return out


def next_mark(previous: str | None, seen: Iterable[str | None], started: datetime) -> str | None:
    """The newest modification time seen, never past the sync's start (late writers are not skipped)."""
    moments = [m for m in (parse_instant(v) for v in seen) if m is not None]
    prev = parse_instant(previous)
    if prev is not None:
        moments.append(prev)
    return iso(min(max(moments), started)) if moments else previous
