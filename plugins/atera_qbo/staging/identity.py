"""Which company a staging database holds (``company_identity``): stamped by the first company that uses it (or,
for a database from before companies, by migration 0011 as ``default``) and checked by every later one, so two
companies can never share a database — a misconfigured ``staging_conn_id`` or companies file is refused, naming
both, before a single row is read or written."""
from __future__ import annotations

import threading

import sqlalchemy as sa

from ..errors import ConfigError
from .db import utcnow
from .tables import company_identity

_CHECKED: set[tuple[str, str]] = set()
_LOCK = threading.Lock()


def database_company(engine: sa.Engine) -> str | None:
    """The company the database holds (None: nobody has used it yet)."""
    with engine.connect() as conn:
        return conn.execute(sa.select(company_identity.c.company_id)).scalar()


def claim_database(engine: sa.Engine, company_id: str) -> None:
    """Stamp an unused database as ``company_id``'s, or check that it is; once per engine and company per process.
    Another company's database is a ConfigError naming both."""
    key = (engine.url.render_as_string(hide_password=True), company_id)
    with _LOCK:
        if key in _CHECKED:
            return
    with engine.begin() as conn:
        holder = conn.execute(sa.select(company_identity.c.company_id)).scalar()
        if holder is None:
            conn.execute(sa.insert(company_identity).values(company_id=company_id, stamped_at=utcnow(),
                                                            how="stamped by its first use"))
        elif holder != company_id:
            raise ConfigError(
                f"the staging database {key[0]} holds company {holder!r}, not {company_id!r}: each company needs "
                f"its own database — fix staging_conn_id of {company_id!r} in the companies file")
    with _LOCK:
        _CHECKED.add(key)


def forget_checks() -> None:
    """Check every database afresh on its next claim (a database replaced or migrated behind this process)."""
    with _LOCK:
        _CHECKED.clear()
