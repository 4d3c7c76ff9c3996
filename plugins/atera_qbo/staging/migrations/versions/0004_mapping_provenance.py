"""Mapping provenance: how each mapping came to be, kept across runs (``staging.mappings`` writes it).

``override_file`` / ``override_sha256`` / ``override_line`` for ``method = 'override'``; ``origin_plan_id`` (the
commit plan whose step created the record) for ``created`` / ``imported``; ``decided_at`` when the provenance was
recorded. Existing rows keep their ``method``; their ``created``/``imported`` rows get ``origin_plan_id`` from
``plan_id`` (the commit that wrote them), and ``decided_at`` from ``updated_at``.

Revision ID: 0004_mapping_provenance
Revises: 0003_drop_unused
Create Date: 2026-11-27
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004_mapping_provenance"
down_revision = "0003_drop_unused"
branch_labels = None
depends_on = None

TABLES = ("map_customers", "map_products")
COLUMNS = (("override_file", sa.Text), ("override_sha256", sa.Text), ("override_line", sa.Integer),
           ("origin_plan_id", sa.Text), ("decided_at", sa.TIMESTAMP))


def upgrade() -> None:
    for name in TABLES:
        for column, type_ in COLUMNS:
            op.add_column(name, sa.Column(column, type_))
        tbl = sa.table(name, sa.column("method"), sa.column("plan_id"), sa.column("origin_plan_id"),
                       sa.column("updated_at"), sa.column("decided_at"))
        op.execute(tbl.update().where(tbl.c.method.in_(("created", "imported")))
                   .values(origin_plan_id=tbl.c.plan_id))
        op.execute(tbl.update().values(decided_at=tbl.c.updated_at))


def downgrade() -> None:
    for name in TABLES:
        with op.batch_alter_table(name) as batch:
            for column, _ in reversed(COLUMNS):
                batch.drop_column(column)
