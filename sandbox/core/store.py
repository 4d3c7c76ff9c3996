"""Durable record store for the twins.

State is kept in memory as plain JSON-able dicts, one collection per (tenant, name). With a ``path`` every change
is also written to a SQLite file inside the same transaction, so an acknowledged change survives a restart:
``with store.transaction(): ...`` groups the writes of one request and commits once, before the answer is sent.

Amounts are ``decimal.Decimal`` in memory; they are stored as JSON numbers and read back as Decimal.
"""
from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import simplejson


def dumps(obj: Any) -> str:
    """JSON text with Decimal written as an exact number (``Decimal('10.50')`` → ``10.50``)."""
    return simplejson.dumps(obj, use_decimal=True, separators=(",", ":"), ensure_ascii=False)


def loads(text: str | bytes) -> Any:
    """JSON text with every non-integer number read as Decimal."""
    return simplejson.loads(text, use_decimal=True)


_SCHEMA = """
CREATE TABLE IF NOT EXISTS records (
    tenant TEXT NOT NULL, collection TEXT NOT NULL, key TEXT NOT NULL, body TEXT NOT NULL,
    PRIMARY KEY (tenant, collection, key));
CREATE TABLE IF NOT EXISTS counters (
    tenant TEXT NOT NULL, name TEXT NOT NULL, value INTEGER NOT NULL, PRIMARY KEY (tenant, name));
"""


class Store:
    """In-memory collections with optional write-through to a SQLite file.

    Collections preserve insertion order (Python dicts), which the twins use as their natural order.
    All access goes through ``lock``; the HTTP layer holds it for the whole of a request's state work.
    """

    def __init__(self, path: str | None = None) -> None:
        self.path = path
        self.lock = threading.RLock()
        self._data: dict[tuple[str, str], dict[str, Any]] = {}
        self._counters: dict[tuple[str, str], int] = {}
        self._pending: list[tuple[str, tuple[Any, ...]]] = []
        self._depth = 0
        self._db: sqlite3.Connection | None = None
        if path:
            self._db = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=NORMAL")
            self._db.executescript(_SCHEMA)
            self._load()

    # -- loading -------------------------------------------------------------------------------------------
    def _load(self) -> None:
        assert self._db is not None
        for tenant, collection, key, body in self._db.execute(
            "SELECT tenant, collection, key, body FROM records ORDER BY rowid"
        ):
            self._data.setdefault((tenant, collection), {})[key] = loads(body)
        for tenant, name, value in self._db.execute("SELECT tenant, name, value FROM counters"):
            self._counters[(tenant, name)] = value

    def is_empty(self) -> bool:
        return not any(self._data.values())

    # -- transactions --------------------------------------------------------------------------------------
    @contextmanager
    def transaction(self) -> Iterator[Store]:
        """Group writes; the outermost block commits them to disk at once (or drops them on error).

        The in-memory side is not rolled back on error: state models validate before they mutate.
        """
        with self.lock:
            self._depth += 1
            try:
                yield self
            except BaseException:
                self._depth -= 1
                if self._depth == 0:
                    self._pending.clear()
                raise
            self._depth -= 1
            if self._depth == 0:
                self._flush()

    def _write(self, sql: str, params: tuple[Any, ...]) -> None:
        if self._db is None:
            return
        self._pending.append((sql, params))
        if self._depth == 0:
            self._flush()

    def _flush(self) -> None:
        if self._db is None or not self._pending:
            return
        pending, self._pending = self._pending, []
        self._db.execute("BEGIN")
        try:
            for sql, params in pending:
                self._db.execute(sql, params)
            self._db.execute("COMMIT")
        except BaseException:
            self._db.execute("ROLLBACK")
            raise

    # -- records -------------------------------------------------------------------------------------------
    def collection(self, tenant: str, name: str) -> dict[str, Any]:
        """The live dict of a collection (read it; change it only through put/delete)."""
        return self._data.setdefault((tenant, name), {})

    def get(self, tenant: str, name: str, key: Any) -> Any | None:
        return self._data.get((tenant, name), {}).get(str(key))

    def put(self, tenant: str, name: str, key: Any, obj: Any) -> Any:
        with self.lock:
            self._data.setdefault((tenant, name), {})[str(key)] = obj
            if self._db is None:  # memory only: skip serialising (large seeds build much faster)
                return obj
            self._write(
                "INSERT INTO records (tenant, collection, key, body) VALUES (?, ?, ?, ?) "
                "ON CONFLICT (tenant, collection, key) DO UPDATE SET body = excluded.body",
                (tenant, name, str(key), dumps(obj)),
            )
        return obj

    def delete(self, tenant: str, name: str, key: Any) -> None:
        with self.lock:
            self._data.get((tenant, name), {}).pop(str(key), None)
            self._write(
                "DELETE FROM records WHERE tenant = ? AND collection = ? AND key = ?", (tenant, name, str(key))
            )

    def next_id(self, tenant: str, name: str, start: int = 1) -> int:
        """A durable, strictly increasing counter (ids are never reused, as in the real services)."""
        with self.lock:
            value = max(self._counters.get((tenant, name), start - 1) + 1, start)
            self._counters[(tenant, name)] = value
            self._write(
                "INSERT INTO counters (tenant, name, value) VALUES (?, ?, ?) "
                "ON CONFLICT (tenant, name) DO UPDATE SET value = excluded.value",
                (tenant, name, value),
            )
            return value

    def tenants(self) -> set[str]:
        return {tenant for tenant, _ in self._data}

    def clear(self, tenant: str | None = None, keep: set[str] | frozenset[str] = frozenset()) -> None:
        """Drop every collection (of one tenant), except the collection names in ``keep``; counters too."""
        with self.lock:
            for tenant_name in list(self._data):
                if (tenant is None or tenant_name[0] == tenant) and tenant_name[1] not in keep:
                    del self._data[tenant_name]
                    self._write(
                        "DELETE FROM records WHERE tenant = ? AND collection = ?", tenant_name
                    )
            for counter in list(self._counters):
                if (tenant is None or counter[0] == tenant) and counter[1] not in keep:
                    del self._counters[counter]
                    self._write("DELETE FROM counters WHERE tenant = ? AND name = ?", counter)

    def close(self) -> None:
        with self.lock:
            self._flush()
            if self._db is not None:
                self._db.close()
                self._db = None
