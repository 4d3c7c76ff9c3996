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

# First key of every advisory lock taken here: keeps them apart from any other advisory lock in the database.
LOCK_NAMESPACE = 0x41_51_45_58  # "AQEX"


def lock_key(number: str) -> int:
    """A stable signed 32-bit key per Atera invoice number (a collision only makes two invoices wait on each other)."""
    return int.from_bytes(hashlib.sha1(number.encode()).digest()[:4], "big", signed=True)


@contextlib.contextmanager
def claim(engine: sa.Engine, numbers: list[str]) -> Iterator[None]:
    """Hold the claim on these invoices for the duration of the block (blocks while another run holds one)."""
    if engine.dialect.name == "postgresql":
        with engine.connect() as conn, conn.begin():
            for key in sorted({lock_key(n) for n in numbers}):
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
