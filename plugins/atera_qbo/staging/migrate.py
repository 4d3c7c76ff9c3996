"""Alembic, driven from Python: bring a staging database to the head revision (``upgrade``), tell what differs
from ``tables.metadata`` (``schema_diff``), and a small CLI for maintainers::

    python -m atera_qbo.staging.migrate [--url URL] upgrade            # default URL: the staging connection
    python -m atera_qbo.staging.migrate [--url URL] current | history | downgrade REVISION
    python -m atera_qbo.staging.migrate --url sqlite:///tmp/s.db revision --autogenerate -m "what" --rev-id 0004_what
    python -m atera_qbo.staging.migrate --url postgresql://... upgrade --sql   # the SQL, for a DBA to run
    python -m atera_qbo.staging.migrate --url postgresql://... upgrade 0006_review_overrides:head --sql

``--sql`` cannot look at the database, so it prints what an upgrade from the revision before the colon does (no
colon: from an empty database), in one transaction with the version table's updates: ``current`` says where a
database is.

Alembic's version table is ``atera_qbo_alembic_version`` (not ``alembic_version``: the staging database may be
Airflow's own, which has one). Only tables of ``tables.metadata`` are compared, so a shared database's other
tables are never proposed for dropping.
"""
from __future__ import annotations

import argparse
import io
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TextIO

import sqlalchemy as sa
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory

from ..config import conn_info, staging_url
from .engine import make_engine
from .tables import metadata

MIGRATIONS = Path(__file__).resolve().with_name("migrations")
VERSION_TABLE = "atera_qbo_alembic_version"
_PG_LOCK_KEY = 7_246_118_231  # pg_advisory_xact_lock key: one migrator at a time per database


def alembic_config(connection: sa.Connection | None = None, url: str | None = None,
                   output: TextIO | None = None) -> Config:
    cfg = Config(output_buffer=output)
    cfg.set_main_option("script_location", str(MIGRATIONS))
    if url:
        cfg.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    cfg.attributes["connection"] = connection
    return cfg


def _include(obj: Any, name: str | None, type_: str, reflected: bool, compare_to: Any) -> bool:
    """Compare only our tables: a table in the database that the metadata does not know is someone else's."""
    return not (type_ == "table" and reflected and compare_to is None)


def context_options() -> dict[str, Any]:
    return {"target_metadata": metadata, "version_table": VERSION_TABLE, "compare_type": True,
            "include_object": _include}


def configure_context(context: Any) -> None:
    """Called by ``migrations/env.py`` with Alembic's ``context``."""
    cfg = context.config
    if context.is_offline_mode():
        url = cfg.get_main_option("sqlalchemy.url")
        context.configure(url=url, literal_binds=True, render_as_batch=url.startswith("sqlite"), **context_options())
        with context.begin_transaction():
            context.run_migrations()
        return
    conn = cfg.attributes.get("connection")
    if conn is None:  # the CLI's commands that need a database (current, history with ranges, autogenerate)
        engine = make_engine(cfg.get_main_option("sqlalchemy.url"))
        with engine.begin() as conn:
            _run_online(context, conn)
        engine.dispose()
        return
    _run_online(context, conn)


def _run_online(context: Any, conn: sa.Connection) -> None:
    context.configure(connection=conn, render_as_batch=conn.dialect.name == "sqlite", **context_options())
    with context.begin_transaction():
        context.run_migrations()


def head() -> str | None:
    return ScriptDirectory.from_config(alembic_config()).get_current_head()


def current(conn: sa.Connection) -> str | None:
    return MigrationContext.configure(conn, opts={"version_table": VERSION_TABLE}).get_current_revision()


@contextmanager
def _migration_transaction(engine: sa.Engine) -> Iterator[sa.Connection]:
    """One transaction that only one migrator at a time gets: SQLite ``BEGIN IMMEDIATE`` (the write lock up
    front, and the DDL atomic), a transaction-scoped advisory lock on PostgreSQL."""
    with engine.connect() as conn:
        if conn.dialect.name == "sqlite":
            conn.exec_driver_sql("BEGIN IMMEDIATE")
        else:
            conn.begin()
            conn.execute(sa.select(sa.func.pg_advisory_xact_lock(_PG_LOCK_KEY)))
        try:
            yield conn
        except BaseException:
            conn.rollback()
            raise
        conn.commit()


def upgrade(engine: sa.Engine, revision: str = "head") -> None:
    """``alembic upgrade <revision>`` on the engine's database (in the search_path schema on PostgreSQL).
    Safe to run any number of times and from several processes at once."""
    if revision == "head":
        with engine.connect() as conn:
            if current(conn) == head():
                return
    with _migration_transaction(engine) as conn:
        command.upgrade(alembic_config(conn), revision)


def upgrade_sql(url: str, revision: str = "head") -> str:
    """The SQL of ``upgrade`` for the URL's dialect, for a DBA to review and run (``--sql``): from an empty
    database to ``revision``, or ``FROM:TO`` from a database at revision FROM."""
    out = io.StringIO()
    command.upgrade(alembic_config(url=url, output=out), revision, sql=True)
    return out.getvalue()


def downgrade(engine: sa.Engine, revision: str) -> None:
    """``alembic downgrade <revision>`` (maintainers only: the tasks never go down)."""
    with _migration_transaction(engine) as conn:
        command.downgrade(alembic_config(conn), revision)


def schema_diff(engine: sa.Engine) -> list[Any]:
    """Alembic's autogenerate comparison of the database with ``tables.metadata``: empty when they agree."""
    with engine.connect() as conn:
        diff: list[Any] = compare_metadata(MigrationContext.configure(conn, opts=context_options()), metadata)
        return diff


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m atera_qbo.staging.migrate", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--url", help="staging SQLAlchemy URL (default: the atera_qbo_staging connection)")
    sub = parser.add_subparsers(dest="command", required=True)
    up = sub.add_parser("upgrade")
    up.add_argument("revision", nargs="?", default="head")
    up.add_argument("--sql", action="store_true", help="print the DDL instead of running it")
    down = sub.add_parser("downgrade")
    down.add_argument("revision")
    sub.add_parser("current")
    sub.add_parser("history")
    rev = sub.add_parser("revision")
    rev.add_argument("-m", "--message", required=True)
    rev.add_argument("--rev-id", required=True, help="NNNN_short_name, the next number after the head")
    rev.add_argument("--autogenerate", action="store_true")
    args = parser.parse_args(argv)
    url = args.url or _default_url()
    cfg = alembic_config(url=url)
    if args.command == "upgrade" and not args.sql:
        upgrade(make_engine(url), args.revision)
    elif args.command == "downgrade":
        downgrade(make_engine(url), args.revision)
    elif args.command == "upgrade":
        sys.stdout.write(upgrade_sql(url, args.revision))
    elif args.command == "current":
        command.current(cfg, verbose=True)
    elif args.command == "history":
        command.history(cfg)
    else:
        command.revision(cfg, message=args.message, autogenerate=args.autogenerate, rev_id=args.rev_id)
    return 0


def _default_url() -> str:
    """The ``atera_qbo_staging`` connection's URL, else the default SQLite file."""
    try:
        return staging_url(conn_info("atera_qbo_staging", required=False))
    except Exception:  # noqa: BLE001 - no Airflow metadata DB to read the connection from: the default SQLite file
        return staging_url(None)


if __name__ == "__main__":
    sys.exit(main())
