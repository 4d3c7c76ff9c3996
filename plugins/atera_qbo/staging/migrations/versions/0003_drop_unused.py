"""Drop the two tables nothing uses any more: ``schema_version`` (Alembic's version table replaces it) and
``sync_runs`` (never written by any code path; Airflow's own run history is the run log).

Revision ID: 0003_drop_unused
Revises: 0002_sqlite_keys_not_null
Create Date: 2026-11-27
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import context, op

revision = "0003_drop_unused"
down_revision = "0002_sqlite_keys_not_null"
branch_labels = None
depends_on = None


def upgrade() -> None:
    if context.is_offline_mode():  # ``--sql`` cannot look: drop them if they are there
        for name in ("schema_version", "sync_runs"):
            op.execute(f"DROP TABLE IF EXISTS {name}")
        return
    present = set(sa.inspect(op.get_bind()).get_table_names())
    for name in ("schema_version", "sync_runs"):
        if name in present:
            op.drop_table(name)


def downgrade() -> None:
    op.create_table("schema_version", sa.Column("version", sa.Integer, primary_key=True),
                    sa.Column("applied_at", sa.TIMESTAMP, nullable=False))
    op.create_table("sync_runs", sa.Column("run_key", sa.Text, primary_key=True),
                    sa.Column("dag_id", sa.Text, nullable=False), sa.Column("started_at", sa.TIMESTAMP, nullable=False),
                    sa.Column("finished_at", sa.TIMESTAMP), sa.Column("summary_json", sa.Text))
