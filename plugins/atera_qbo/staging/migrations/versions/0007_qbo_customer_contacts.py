"""QBO customers' phone and web address (``stg_qbo_customers.phone`` / ``web_addr``): with the e-mail already
staged, they let matching identify a customer whose name is written differently on each side
(``matching.contacts``). Rows staged before this revision get both from the record they keep in ``raw_json``.

Revision ID: 0007_qbo_customer_contacts
Revises: 0006_review_overrides
Create Date: 2026-11-27
"""
from __future__ import annotations

import json

import sqlalchemy as sa
from alembic import context, op

revision = "0007_qbo_customer_contacts"
down_revision = "0006_review_overrides"
branch_labels = None
depends_on = None

TABLE = "stg_qbo_customers"


def _contacts(raw: str | None) -> dict[str, str | None]:
    record = json.loads(raw) if raw else {}
    return {"phone": (record.get("PrimaryPhone") or {}).get("FreeFormNumber"),
            "web_addr": (record.get("WebAddr") or {}).get("URI")}


def _backfill_sql(dialect: str) -> str:
    if dialect == "postgresql":
        phone, web = ("raw_json::json -> 'PrimaryPhone' ->> 'FreeFormNumber'", "raw_json::json -> 'WebAddr' ->> 'URI'")
    else:
        phone, web = ("json_extract(raw_json, '$.PrimaryPhone.FreeFormNumber')",
                      "json_extract(raw_json, '$.WebAddr.URI')")
    return f"UPDATE {TABLE} SET phone = {phone}, web_addr = {web} WHERE raw_json IS NOT NULL"


def upgrade() -> None:
    op.add_column(TABLE, sa.Column("phone", sa.Text))
    op.add_column(TABLE, sa.Column("web_addr", sa.Text))
    tbl = sa.table(TABLE, sa.column("source_id"), sa.column("raw_json"), sa.column("phone"), sa.column("web_addr"))
    if context.is_offline_mode():  # ``--sql``: the same backfill, by the database's own JSON functions
        op.execute(_backfill_sql(op.get_bind().dialect.name))
        return
    bind = op.get_bind()
    rows = bind.execute(sa.select(tbl.c.source_id, tbl.c.raw_json).where(tbl.c.raw_json.is_not(None))).all()
    values = [{"sid": sid, **_contacts(raw)} for sid, raw in rows]
    values = [v for v in values if v["phone"] is not None or v["web_addr"] is not None]
    if values:
        bind.execute(tbl.update().where(tbl.c.source_id == sa.bindparam("sid"))
                     .values(phone=sa.bindparam("phone"), web_addr=sa.bindparam("web_addr")), values)


def downgrade() -> None:
    with op.batch_alter_table(TABLE) as batch:
        batch.drop_column("web_addr")
        batch.drop_column("phone")
