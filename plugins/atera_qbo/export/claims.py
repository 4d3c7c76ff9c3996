"""Claims on invoices while a chunk is being sent: what keeps concurrent export runs apart.

Two runs (two Celery workers, overlapping date windows, a retry next to a new run) may select the same invoices.
Before a chunk is marked ``pending`` and sent, the run claims its invoices, then re-reads their ledger rows: an
invoice another run exported meanwhile is skipped, and a ``pending`` one left by a run that died is re-sent with
the request id it was given (QBO replays, never repeats). The claim is held until the chunk's outcome is recorded.

- PostgreSQL: transaction-level advisory locks, one per invoice number, taken in one global order (no deadlock
  between runs), on a connection of their own. When the holder dies, PostgreSQL drops its connection and with it
  the claims, so a rerun never waits for a lease to expire.
- SQLite (one machine by construction): an exclusive ``flock`` on a file beside the database file, released by the
  kernel when the holder dies. In-memory SQLite is private to its process and needs no claim.
"""
from __future__ import annotations

import contextlib
import fcntl
import hashlib
from collections.abc import Iterator
from pathlib import Path

import sqlalchemy as sa

from ..staging.engine import url_schema

# First key of every advisory lock taken here: keeps them apart from any other advisory lock in the database.
LOCK_NAMESPACE = 0x41_51_45_58  # "AQEX"


def lock_key(number: str, scope: str = "") -> int:
    """A stable signed 32-bit key per Atera invoice number (a collision only makes two invoices wait on each other)
    within ``scope``: the company's schema, as advisory locks are the whole database's and two companies (two
    Atera accounts) may both have an invoice 1042 — each company locks only its own."""
    return int.from_bytes(hashlib.sha1(f"{scope}|{number}".encode() if scope else number.encode()).digest()[:4],
                          "big", signed=True)


def _scope(engine: sa.Engine) -> str:
    return url_schema(engine.url.render_as_string()) or ""


@contextlib.contextmanager
def claim(engine: sa.Engine, numbers: list[str]) -> Iterator[None]:
    """Hold the claim on these invoices for the duration of the block (blocks while another run holds one)."""
    if engine.dialect.name == "postgresql":
        with engine.connect() as conn, conn.begin():
            for key in sorted({lock_key(n, _scope(engine)) for n in numbers}):
                conn.execute(sa.text("SELECT pg_advisory_xact_lock(:ns, :key)"), {"ns": LOCK_NAMESPACE, "key": key})
            yield  # the transaction ends (rolled back: it wrote nothing) and releases every lock
        return
    path = engine.url.database
    if engine.dialect.name != "sqlite" or not path or path == ":memory:":
        yield
        return
    with open(Path(f"{path}.export-claims"), "a+b") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


# ---------------------------------------------------------------------------------------------- batch claims
# Every running export batch is held by its process for the batch's life, the same two ways: a session-level
# advisory lock (PostgreSQL; it dies with the holder's connection) or an exclusive flock on a file beside the SQLite
# database (the kernel releases it when the holder dies). A ``running`` batch nobody holds any more belongs to a
# process that is gone — killed outside an Airflow retry, a lost host — and the next export closes it.
BATCH_NAMESPACE = 0x41_51_42_58  # "AQBX"


def _batch_file(engine: sa.Engine, batch_id: str) -> Path | None:
    path = engine.url.database
    if engine.dialect.name != "sqlite" or not path or path == ":memory:":
        return None
    return Path(f"{path}.export-batch-{batch_id}")


@contextlib.contextmanager
def hold_batch(engine: sa.Engine, batch_id: str) -> Iterator[None]:
    """Hold the claim that says batch ``batch_id``'s process is alive, for the duration of the block."""
    key = {"ns": BATCH_NAMESPACE, "key": lock_key(batch_id, _scope(engine))}
    if engine.dialect.name == "postgresql":
        with engine.connect() as conn:
            conn.execute(sa.text("SELECT pg_advisory_lock(:ns, :key)"), key)
            conn.commit()
            try:
                yield
            finally:
                conn.execute(sa.text("SELECT pg_advisory_unlock(:ns, :key)"), key)
                conn.commit()
        return
    path = _batch_file(engine, batch_id)
    if path is None:
        yield
        return
    with open(path, "a+b") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            path.unlink(missing_ok=True)
            fcntl.flock(fh, fcntl.LOCK_UN)


def batch_is_held(engine: sa.Engine, batch_id: str) -> bool:
    """Whether a live process holds batch ``batch_id`` (an in-memory database: always, it is this process's)."""
    key = {"ns": BATCH_NAMESPACE, "key": lock_key(batch_id, _scope(engine))}
    if engine.dialect.name == "postgresql":
        with engine.connect() as conn:
            free = bool(conn.execute(sa.text("SELECT pg_try_advisory_lock(:ns, :key)"), key).scalar())
            if free:
                conn.execute(sa.text("SELECT pg_advisory_unlock(:ns, :key)"), key)
            conn.commit()
        return not free
    path = _batch_file(engine, batch_id)
    if path is None:
        return True
    try:
        fh = open(path, "rb")  # noqa: SIM115 - held across the flock probe below, closed in finally
    except FileNotFoundError:
        return False  # its holder removed it on the way out, or died before it was made
    try:
        fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return True
    finally:
        fh.close()  # closing releases a lock taken just now
    path.unlink(missing_ok=True)
    return False
