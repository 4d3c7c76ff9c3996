"""The staging store: engine, schema (from include/sql) and upserts, on SQLite and PostgreSQL alike."""
