"""Engine, schema migration and portable upserts (SQLAlchemy Core).

The schema is ``tables.metadata``; ``apply_schema`` migrates a database to it with Alembic. ``engine_for`` is the
process's one engine per URL (the ``StagingHook`` hands it out): made and migrated once, disposed at exit.
"""
from __future__ import annotations

import atexit
import os
import threading
from collections.abc import Iterable, Iterator, Sequence
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any, TypeVar

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite

from .engine import make_engine
from .migrate import upgrade
from .tables import metadata

__all__ = ["apply_schema", "chunked", "dispose_engines", "engine_for", "make_engine", "money_in", "table",
           "upsert", "utcnow"]  # make_engine re-exported: tests and tools make throw-away engines from here


def apply_schema(engine: sa.Engine) -> None:
    """Migrate the database to the current schema (``alembic upgrade head``): creates it on an empty database,
    adopts one made by the old ``schema.sql`` (see the baseline revision). Safe to run any number of times."""
    upgrade(engine)


_ENGINES: dict[str, sa.Engine] = {}
_ENGINES_LOCK = threading.Lock()


def engine_for(url: str) -> sa.Engine:
    """The process's one engine for ``url``: made, and migrated to the current schema (the Alembic head check),
    the first time this process asks; the same engine after that. Disposed when the process exits; a forked
    child (a Celery or task-runner fork) starts with none, so it never shares its parent's connections."""
    with _ENGINES_LOCK:
        engine = _ENGINES.get(url)
        if engine is None:
            engine = make_engine(url)
            apply_schema(engine)
            _ENGINES[url] = engine
        return engine


def dispose_engines() -> None:
    """Close every cached engine's pool (at exit; tests that change a database behind the cache)."""
    with _ENGINES_LOCK:
        for engine in _ENGINES.values():
            engine.dispose()
        _ENGINES.clear()


def _forget_after_fork() -> None:
    # the parent's pooled connections belong to the parent: drop them without closing them under its feet
    for engine in _ENGINES.values():
        engine.dispose(close=False)
    _ENGINES.clear()


atexit.register(dispose_engines)
os.register_at_fork(after_in_child=_forget_after_fork)


def table(name: str) -> sa.Table:
    """The Core table ``name`` of the staging schema."""
    return metadata.tables[name]


IN_LIST_CHUNK = 500  # ids per ``IN (...)`` list: well under SQLite's 999 bound parameters, cheap on PostgreSQL

T = TypeVar("T")


def chunked(items: Sequence[T], size: int = IN_LIST_CHUNK) -> Iterator[Sequence[T]]:
    """``items`` in consecutive slices of at most ``size`` (an ``IN`` list, a QBO batch, a page of work)."""
    if size < 1:
        raise ValueError(f"chunk size must be at least 1, got {size}")
    for start in range(0, len(items), size):
        yield items[start:start + size]


def utcnow() -> datetime:
    """Now in UTC, naive: how every staging timestamp is stored (the one clock helper of the package)."""
    return datetime.now(UTC).replace(tzinfo=None)


def money_in(value: Any) -> Decimal | None:
    """A stored (or legacy text) amount → Decimal; Money columns already answer Decimal."""
    if value is None or value == "":
        return None
    return value if isinstance(value, Decimal) else Decimal(str(value))


def upsert(conn: sa.Connection, tbl: sa.Table, rows: Sequence[dict[str, Any]], keys: Iterable[str],
           *, chunk: int = 5000) -> int:
    """INSERT ... ON CONFLICT (keys) DO UPDATE SET every other given column. Answers the row count."""
    if not rows:
        return 0
    keys = list(keys)
    insert_fn = postgresql.insert if conn.dialect.name == "postgresql" else sqlite.insert
    cols = list(rows[0].keys())
    stmt = insert_fn(tbl)
    update = {c: stmt.excluded[c] for c in cols if c not in keys}
    stmt = stmt.on_conflict_do_update(index_elements=keys, set_=update) if update else \
        stmt.on_conflict_do_nothing(index_elements=keys)
    # executemany: SQLAlchemy batches it ("insertmanyvalues"), far cheaper than compiling a VALUES list per chunk
    for start in range(0, len(rows), chunk):
        conn.execute(stmt, list(rows[start:start + chunk]))
    return len(rows)
