"""What the notifications remember, in the staging database: the things told about, per channel (``notify_items``:
told again on a channel only when their state changes, or after they were closed and came back — and a channel
that was down is told what it missed), and every message decided on (``notify_messages``: sent, failed, unchanged,
throttled — the audit trail, the failure storm limit, and which runs a message already explained)."""
from __future__ import annotations

import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite

from ..staging.db import chunked, table, upsert

Ids = Mapping[str, str | None]  # dag_id, run_id, task_id (``tasks.runtime.task_ids()``; None outside Airflow)
EXPLAINING_KINDS = ("reconciliation", "export")  # their message tells why the run's last task fails
ANY_CHANNEL = "*"  # a row about every channel at once (a DAG's failure window)


@dataclass(frozen=True)
class Item:
    """One thing to tell about: ``key`` is its identity across runs, ``state`` what is told about it now."""
    key: str
    state: str
    label: str = ""


def told(engine: sa.Engine, kind: str, channel: str) -> dict[str, str]:
    """The open things of ``kind`` already told on ``channel``: key → the state told."""
    tbl = table("notify_items")
    with engine.connect() as conn:
        rows = conn.execute(sa.select(tbl.c.item_key, tbl.c.state).where(
            tbl.c.kind == kind, tbl.c.channel == channel, tbl.c.closed_at.is_(None)))
        return {r.item_key: r.state for r in rows}


def open_keys(engine: sa.Engine, kind: str) -> set[str]:
    """The open things of ``kind`` told on any channel."""
    tbl = table("notify_items")
    with engine.connect() as conn:
        return set(conn.execute(sa.select(tbl.c.item_key).where(tbl.c.kind == kind, tbl.c.closed_at.is_(None)))
                   .scalars())


def fresh(items: Iterable[Item], known: Mapping[str, str]) -> list[Item]:
    """The items never told, or told with another state."""
    return [i for i in items if known.get(i.key) != i.state]


def remember(engine: sa.Engine, kind: str, channel: str, items: list[Item], now: datetime) -> None:
    """These items were told on ``channel`` now (each keeps when it was first told while it stays open)."""
    if not items:
        return
    tbl = table("notify_items")
    with engine.begin() as conn:
        first: dict[str, datetime] = {}
        for part in chunked([i.key for i in items]):
            first.update({r.item_key: r.first_told_at for r in conn.execute(sa.select(
                tbl.c.item_key, tbl.c.first_told_at).where(tbl.c.item_key.in_(part), tbl.c.channel == channel,
                                                           tbl.c.closed_at.is_(None)))})
        upsert(conn, tbl, [{"item_key": i.key, "channel": channel, "kind": kind, "state": i.state,
                            "label": i.label[:500], "first_told_at": first.get(i.key, now), "last_told_at": now,
                            "closed_at": None} for i in items], ["item_key", "channel"])


def close(engine: sa.Engine, keys: Iterable[str], now: datetime) -> None:
    """These things are over (resolved, renewed, exported), on every channel: should they come back, they are news."""
    tbl = table("notify_items")
    with engine.begin() as conn:
        for part in chunked(sorted(set(keys))):
            conn.execute(sa.update(tbl).where(tbl.c.item_key.in_(part), tbl.c.closed_at.is_(None))
                         .values(closed_at=now))


def close_all_but(engine: sa.Engine, kind: str, current: set[str], now: datetime) -> None:
    """Close every open thing of ``kind`` that is not among ``current`` (what a full check found)."""
    close(engine, open_keys(engine, kind) - current, now)


def record_message(engine: sa.Engine, kind: str, ids: Ids, status: str, now: datetime, *, subject: str = "",
                   channel: str = "", items: int = 0, error: str | None = None) -> None:
    with engine.begin() as conn:
        conn.execute(sa.insert(table("notify_messages")).values(
            message_id=uuid.uuid4().hex, kind=kind, dag_id=ids.get("dag_id"), run_id=ids.get("run_id"),
            task_id=ids.get("task_id"), status=status, subject=subject[:300], channel=channel, items=items,
            error_text=error[:2000] if error else None, created_at=now))


def explained(engine: sa.Engine, dag_id: str | None, run_id: str | None) -> bool:
    """Did a reconciliation or export step of this run tell its problems (sent, or found them all told before)?"""
    if not dag_id or not run_id:
        return False
    tbl = table("notify_messages")
    with engine.connect() as conn:
        return conn.execute(sa.select(tbl.c.message_id).where(
            tbl.c.dag_id == dag_id, tbl.c.run_id == run_id, tbl.c.kind.in_(EXPLAINING_KINDS),
            tbl.c.status.in_(("sent", "unchanged"))).limit(1)).first() is not None


def last_sent(engine: sa.Engine, kind: str, channel: str) -> datetime | None:
    tbl = table("notify_messages")
    with engine.connect() as conn:
        return conn.execute(sa.select(sa.func.max(tbl.c.created_at)).where(
            tbl.c.kind == kind, tbl.c.channel == channel, tbl.c.status == "sent")).scalar()


def claim(engine: sa.Engine, key: str, kind: str, now: datetime, every: timedelta) -> tuple[bool, datetime | None]:
    """Take the right to send the message ``key`` stands for (a DAG's failure message) if none was sent in the
    last ``every``: (taken, when the previous one was sent). Safe between workers: the row is taken by one
    conditional UPDATE (or INSERT), which only one of two concurrent callers can win."""
    tbl = table("notify_items")
    where = (tbl.c.item_key == key, tbl.c.channel == ANY_CHANNEL)
    with engine.begin() as conn:
        previous = conn.execute(sa.select(tbl.c.last_told_at).where(*where)).scalar()
        if previous is None:
            insert = postgresql.insert if conn.dialect.name == "postgresql" else sqlite.insert
            done = conn.execute(insert(tbl).values(item_key=key, channel=ANY_CHANNEL, kind=kind, state="sent",
                                                   label=key, first_told_at=now, last_told_at=now, closed_at=None)
                                .on_conflict_do_nothing(index_elements=["item_key", "channel"]))
            return done.rowcount == 1, None
        done = conn.execute(sa.update(tbl).where(*where, tbl.c.last_told_at <= now - every).values(last_told_at=now))
        return done.rowcount == 1, previous


def throttled_since(engine: sa.Engine, kind: str, dag_id: str, since: datetime | None) -> int:
    """Messages of ``kind`` for ``dag_id`` held back since ``since`` (the failures a storm limit swallowed)."""
    tbl = table("notify_messages")
    cond = [tbl.c.kind == kind, tbl.c.dag_id == dag_id, tbl.c.status == "throttled"]
    if since is not None:
        cond.append(tbl.c.created_at > since)
    with engine.connect() as conn:
        return int(conn.execute(sa.select(sa.func.count()).select_from(tbl).where(*cond)).scalar() or 0)
