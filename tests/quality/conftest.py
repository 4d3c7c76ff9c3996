"""Fixtures of the quality-gate tests: the ``engine`` fixture's database with a clean dataset staged."""
from __future__ import annotations

import pytest
import sqlalchemy as sa
from quality_data import CLEAN, stage


@pytest.fixture
def clean(engine: sa.Engine) -> sa.Engine:
    """The ``engine`` fixture's database with the clean dataset staged (one transaction)."""
    from atera_qbo.staging.tables import metadata

    with engine.begin() as conn:
        for name, rows in CLEAN.items():
            stage(conn, name, [dict(r) for r in rows], tbl=metadata.tables[name])
    return engine
