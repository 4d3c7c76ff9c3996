"""``make sql``: write the staging schema's SQL for each database (``include/sql/``), as ``migrate upgrade --sql``
prints it for an empty database — for reading the schema and for a DBA who creates it by hand. The tasks never run
these files (they migrate with Alembic); a test fails when they fall behind the migrations."""
from __future__ import annotations

import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(REPO), str(REPO / "plugins")]

from atera_qbo.staging.migrate import upgrade_sql  # noqa: E402

# dialect → a URL of it (offline rendering never connects)
DIALECTS = {"postgresql": "postgresql://dba@localhost/staging", "sqlite": "sqlite:///staging.db"}
HEADER = ("-- The staging schema from an empty database to the head revision, for {dialect}.\n"
          "-- Written by `make sql` from the Alembic migrations (plugins/atera_qbo/staging/migrations): do not edit.\n"
          "-- To upgrade an existing database instead: python -m atera_qbo.staging.migrate --url <url> current, then\n"
          "-- python -m atera_qbo.staging.migrate --url <url> upgrade <current>:head --sql\n\n")


def expected(dialect: str) -> str:
    return HEADER.format(dialect=dialect) + upgrade_sql(DIALECTS[dialect])


def path_of(dialect: str) -> Path:
    return REPO / "include" / "sql" / f"staging.{dialect}.sql"


def main() -> int:
    for dialect in DIALECTS:
        path_of(dialect).write_text(expected(dialect), encoding="utf-8")
        print(f"wrote {path_of(dialect).relative_to(REPO)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
