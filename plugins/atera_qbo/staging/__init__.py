"""The staging store, on SQLite and PostgreSQL alike.

- ``tables.py`` — the schema, declared once as SQLAlchemy Core tables (``metadata``); ``types.py`` — ``Money``.
- ``db.py`` — engines, ``apply_schema`` (= ``alembic upgrade head``), ``Staging`` (owns one engine), upserts.
- ``migrate.py`` + ``migrations/`` — Alembic, driven from Python (no alembic.ini); version table
  ``atera_qbo_alembic_version``.
- ``mappings.py`` — the only writer of ``map_customers`` / ``map_products``, with each mapping's provenance.

Changing the schema (a new table, column, index, type):

1. Change ``tables.py`` (new tables go there too, on ``metadata``).
2. Write a revision after the current head (``python -m atera_qbo.staging.migrate history`` shows it)::

       PYTHONPATH=plugins .venv/bin/python -m atera_qbo.staging.migrate --url sqlite:////tmp/s.db upgrade
       PYTHONPATH=plugins .venv/bin/python -m atera_qbo.staging.migrate --url sqlite:////tmp/s.db \\
           revision --autogenerate -m "recon tables" --rev-id 0005_recon_tables

   then read the generated ``migrations/versions/0005_recon_tables.py`` and fix what autogenerate cannot know
   (renames, data moves). Name revisions ``NNNN_what`` with the next number; ``down_revision`` = the previous
   head — two helpers adding revisions at once must chain them (rebase: set yours after the other's), never
   leave two heads. On SQLite, changing an existing column needs ``op.batch_alter_table`` (the env turns batch
   mode on for SQLite). Freeze what a revision needs inside it (never import ``tables.py`` from a revision:
   the tables change later, the revision must not). A revision that must look at the database (what exists,
   rows to move in Python) needs an offline branch (``context.is_offline_mode()``) that says the same in SQL:
   ``--sql`` renders it for a DBA without a database (see 0003, 0007).
3. ``make sql`` rewrites ``include/sql/staging.<dialect>.sql`` (the schema as SQL, for reading and for DBAs).
4. ``tests/staging/test_migrations.py`` then checks on SQLite and PostgreSQL that a database upgraded from the
   old schema (with rows) ends exactly as ``tables.py`` declares; add rows for your table to its ``ROWS`` when
   your revision moves data.
"""
