"""Engine, schema migration and portable upserts (SQLAlchemy Core).

The schema is ``tables.metadata``; ``apply_schema`` migrates a database to it with Alembic. A ``Staging`` object
owns one engine for one URL (the ``StagingHook`` holds one); nothing here caches per process.
"""
from __future__ import annotations

import threading
from collections.abc import Iterable, Iterator, Sequence
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any, TypeVar

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite

from .tables import metadata


def make_engine(url: str) -> sa.Engine:
    if url.startswith("sqlite"):
        engine = sa.create_engine(url, connect_args={"timeout": 30})

        @sa.event.listens_for(engine, "connect")
        def _pragmas(dbapi_conn: Any, _record: Any) -> None:
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA busy_timeout=30000")
            cur.close()

        return engine
    return sa.create_engine(url, pool_pre_ping=True)


def apply_schema(engine: sa.Engine) -> None:
    """Migrate the database to the current schema (``alembic upgrade head``): creates it on an empty database,
    adopts one made by the old ``schema.sql`` (see the baseline revision). Safe to run any number of times."""
    from .migrate import upgrade

    upgrade(engine)


class Staging:
    """The staging database of one URL: its engine, created and migrated on first use, then reused."""

    def __init__(self, url: str) -> None:
        self.url = url
        self._engine: sa.Engine | None = None
        self._lock = threading.Lock()

    @property
    def engine(self) -> sa.Engine:
        with self._lock:
            if self._engine is None:
                engine = make_engine(self.url)
                apply_schema(engine)
                self._engine = engine
            return self._engine

    def dispose(self) -> None:
        with self._lock:
            if self._engine is not None:
                self._engine.dispose()
                self._engine = None


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
