"""Engine, idempotent schema apply and portable upserts (SQLAlchemy Core)."""
from __future__ import annotations

import re
import threading
from datetime import datetime, timezone
from decimal import Decimal
from pathlib import Path
from typing import Any, Iterable, Sequence

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite

SQL_DIR = Path(__file__).resolve().parents[3] / "include" / "sql"
SCHEMA_VERSION = 1

# Money is exact: NUMERIC on PostgreSQL; on SQLite (no decimal type) a TEXT holding the decimal string.
_TYPES = {
    "postgresql": {"money": "NUMERIC(18,5)", "ts": "TIMESTAMP", "bool": "BOOLEAN", "text": "TEXT",
                   "float": "DOUBLE PRECISION"},
    "sqlite": {"money": "TEXT", "ts": "TIMESTAMP", "bool": "BOOLEAN", "text": "TEXT", "float": "REAL"},
}


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


_ENGINES: dict[str, sa.Engine] = {}
_ENGINES_LOCK = threading.Lock()


def shared_engine(url: str) -> sa.Engine:
    """One engine (and pool) per staging URL per process, with the schema applied once."""
    with _ENGINES_LOCK:
        engine = _ENGINES.get(url)
        if engine is None:
            engine = _ENGINES[url] = make_engine(url)
            apply_schema(engine)
        return engine


def sql_file(name: str) -> str:
    return (SQL_DIR / name).read_text(encoding="utf-8")


def render(sql: str, dialect: str) -> str:
    types = _TYPES.get(dialect, _TYPES["postgresql"])
    return re.sub(r"\{\{(\w+)\}\}", lambda m: types[m.group(1)], sql)


def statements(sql: str) -> list[str]:
    without_comments = "\n".join(line for line in sql.splitlines() if not line.strip().startswith("--"))
    return [s.strip() for s in without_comments.split(";") if s.strip()]


_CREATE = re.compile(r"CREATE TABLE IF NOT EXISTS (\w+) \((.*)\)\s*$", re.S)


def _columns(create: str) -> tuple[str, list[tuple[str, str]]] | None:
    """(table, [(column, type and constraints)]) of a CREATE TABLE statement."""
    m = _CREATE.match(create)
    if not m:
        return None
    cols = []
    for line in m.group(2).splitlines():
        line = line.strip().rstrip(",")
        if line and not line.upper().startswith(("PRIMARY KEY", "UNIQUE", "CONSTRAINT", "FOREIGN KEY")):
            name, _, rest = line.partition(" ")
            cols.append((name, rest))
    return m.group(1), cols


def apply_schema(engine: sa.Engine) -> None:
    """Create every table and index that is missing, and add columns a newer schema.sql has to existing tables
    (additive only: nullable columns). Safe to run any number of times."""
    ddl = statements(render(sql_file("schema.sql"), engine.dialect.name))
    with engine.begin() as conn:
        for stmt in ddl:
            conn.exec_driver_sql(stmt)
            parsed = _columns(stmt)
            if parsed is None:
                continue
            name, cols = parsed
            present = {c["name"] for c in sa.inspect(conn).get_columns(name)}
            for col, spec in cols:
                if col not in present:
                    if "NOT NULL" in spec.upper():
                        raise RuntimeError(f"schema.sql adds NOT NULL column {name}.{col}: add it nullable")
                    conn.exec_driver_sql(f"ALTER TABLE {name} ADD COLUMN {col} {spec}")
        version = sa.table("schema_version", sa.column("version"), sa.column("applied_at"))
        if conn.execute(sa.select(version.c.version).where(version.c.version == SCHEMA_VERSION)).first() is None:
            insert = (postgresql.insert(version) if engine.dialect.name == "postgresql" else sqlite.insert(version))
            conn.execute(insert.values(version=SCHEMA_VERSION, applied_at=utcnow()).on_conflict_do_nothing())
    _METADATA.pop(_engine_key(engine), None)


_METADATA: dict[str, sa.MetaData] = {}
_LOCK = threading.Lock()


def _engine_key(engine: sa.Engine) -> str:
    return engine.url.render_as_string(hide_password=False)


def table(engine: sa.Engine, name: str) -> sa.Table:
    """The reflected table (cached per engine URL)."""
    key = _engine_key(engine)
    with _LOCK:
        meta = _METADATA.get(key)
        if meta is None or name not in meta.tables:
            meta = meta or sa.MetaData()
            meta.reflect(bind=engine, only=[name], extend_existing=True)
            _METADATA[key] = meta
        return meta.tables[name]


def utcnow() -> datetime:
    return datetime.now(timezone.utc).replace(tzinfo=None)


def money_out(value: Decimal | None, engine_or_conn: Any) -> Any:
    """Decimal → the column's storage (str on SQLite, Decimal on PostgreSQL)."""
    if value is None:
        return None
    return format(value, "f") if _dialect(engine_or_conn) == "sqlite" else value


def money_in(value: Any) -> Decimal | None:
    """A stored amount → Decimal (from TEXT on SQLite, NUMERIC on PostgreSQL)."""
    if value is None or value == "":
        return None
    return value if isinstance(value, Decimal) else Decimal(str(value))


def _dialect(engine_or_conn: Any) -> str:
    return engine_or_conn.dialect.name


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
