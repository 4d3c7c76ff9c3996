"""How a staging engine is made for a URL: SQLite in WAL mode with a 30 s busy timeout (the API server, the
scheduler's tasks and the CLI share one file), PostgreSQL with pre-ping (a restarted server is noticed, not raised).
``db.engine_for`` caches one per URL per process; tests and tools make throw-away ones here."""
from __future__ import annotations

from typing import Any

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
    return sa.create_engine(url, pool_pre_ping=True)
