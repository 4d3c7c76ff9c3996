"""How a staging engine is made for a URL: SQLite in WAL mode with a 30 s busy timeout (the API server, the
scheduler's tasks and the CLI share one file), PostgreSQL with pre-ping (a restarted server is noticed, not raised).
``db.engine_for`` caches one per URL per process; tests and tools make throw-away ones here."""
from __future__ import annotations

from typing import Any
from urllib.parse import parse_qsl, urlsplit, urlunsplit

import sqlalchemy as sa


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
    schema = url_schema(url)
    if schema is not None:
        ensure_schema(url, schema)
    return sa.create_engine(url, pool_pre_ping=True)


def url_schema(url: str) -> str | None:
    """The PostgreSQL schema a company's URL pins (``options=-csearch_path=<schema>``), else None."""
    for key, value in parse_qsl(urlsplit(url).query):
        if key == "options" and value.startswith("-csearch_path="):
            return value.split("=", 1)[1]
    return None


def ensure_schema(url: str, schema: str) -> None:
    """Create a company's schema (its own search_path: every table, the version table and every query land in
    it) before anything connects through it."""
    parts = urlsplit(url)
    plain = urlunsplit(parts._replace(query="&".join(
        f"{k}={v}" for k, v in parse_qsl(parts.query) if k != "options")))
    engine = sa.create_engine(plain, poolclass=sa.pool.NullPool)
    try:
        with engine.begin() as conn:
            conn.execute(sa.text(f'CREATE SCHEMA IF NOT EXISTS "{schema}"'))
    finally:
        engine.dispose()
