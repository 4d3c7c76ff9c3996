"""The QBO calls each task run made, as Intuit meters them (table ``qbo_api_usage``): what the management page sums
into the month's metered reads. Reads and queries are "CorePlus" calls (metered; Builder-tier apps are capped at
500,000 a month); writes are not metered."""
from __future__ import annotations

import uuid
from datetime import datetime

import sqlalchemy as sa

from ..staging.db import table, utcnow


def record_usage(engine: sa.Engine, realm_id: str, calls: dict[str, int], *, dag_id: str | None = None,
                 run_id: str | None = None, task_id: str | None = None) -> None:
    with engine.begin() as conn:
        conn.execute(sa.insert(table("qbo_api_usage")).values(
            usage_id=uuid.uuid4().hex, realm_id=realm_id, dag_id=dag_id, run_id=run_id, task_id=task_id,
            reads=int(calls.get("reads", 0)), writes=int(calls.get("writes", 0)), recorded_at=utcnow()))


def metered_reads(engine: sa.Engine, realm_id: str, since: datetime) -> dict[str, int]:
    """Reads and writes recorded for the realm since ``since`` (naive UTC), e.g. the first of the month."""
    tbl = table("qbo_api_usage")
    with engine.connect() as conn:
        reads, writes = conn.execute(
            sa.select(sa.func.coalesce(sa.func.sum(tbl.c.reads), 0), sa.func.coalesce(sa.func.sum(tbl.c.writes), 0))
            .where(tbl.c.realm_id == realm_id, tbl.c.recorded_at >= since)).one()
    return {"reads": int(reads), "writes": int(writes)}
