"""Test-wide set-up: an Airflow home of its own (set before anything imports airflow), and staging engines on
SQLite and — when ``ATERA_QBO_TEST_PG_URL`` is set (``make test-postgres``, ``.ci/run``) — PostgreSQL."""
from __future__ import annotations

import os
import sys
import tempfile
import uuid
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
_HOME = Path(tempfile.mkdtemp(prefix="atera-qbo-test-airflow-"))
os.environ.setdefault("AIRFLOW_HOME", str(_HOME))
os.environ.setdefault("AIRFLOW__CORE__LOAD_EXAMPLES", "False")
os.environ.setdefault("AIRFLOW__CORE__DAGS_FOLDER", str(REPO / "dags"))
os.environ.setdefault("AIRFLOW__CORE__PLUGINS_FOLDER", str(REPO / "plugins"))
os.environ.setdefault("AIRFLOW__DATABASE__SQL_ALCHEMY_CONN", f"sqlite:///{_HOME / 'airflow.db'}")
os.environ.setdefault("ATERA_QBO_REVIEW_DIR", str(_HOME / "review"))
os.environ.setdefault("ATERA_QBO_OVERRIDES_DIRS", str(REPO / "include" / "demo"))  # the demo's overrides file
os.environ.setdefault("NO_PROXY", "127.0.0.1,localhost")
for path in (str(REPO), str(REPO / "plugins")):
    if path not in sys.path:
        sys.path.insert(0, path)

PG_URL = os.environ.get("ATERA_QBO_TEST_PG_URL")


def _backends() -> list:
    return ["sqlite", pytest.param("postgres", marks=[pytest.mark.postgres, pytest.mark.skipif(
        not PG_URL, reason="set ATERA_QBO_TEST_PG_URL (make test-postgres) to run against PostgreSQL")])]


@pytest.fixture(params=_backends())
def blank_engine(request: pytest.FixtureRequest, tmp_path: Path):
    """A fresh, empty staging database (no schema), on each backend; on PostgreSQL in a schema of its own,
    reached through the connection's search_path."""
    from atera_qbo.staging.db import make_engine

    if request.param == "sqlite":
        eng = make_engine(f"sqlite:///{tmp_path / 'staging.db'}")
        yield eng
        eng.dispose()
        return
    import sqlalchemy as sa

    schema = f"t_{uuid.uuid4().hex[:10]}"
    admin = sa.create_engine(PG_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.exec_driver_sql(f"CREATE SCHEMA {schema}")
    sep = "&" if "?" in PG_URL else "?"
    eng = make_engine(f"{PG_URL}{sep}options=-csearch_path%3D{schema}")  # the test's own schema
    yield eng
    eng.dispose()
    with admin.connect() as conn:
        conn.exec_driver_sql(f"DROP SCHEMA {schema} CASCADE")
    admin.dispose()


@pytest.fixture
def engine(blank_engine):
    """A fresh staging database with the schema applied (Alembic upgrade head), on each backend."""
    from atera_qbo.staging.db import apply_schema

    apply_schema(blank_engine)
    return blank_engine


class ManualClock:
    """Time that moves only when a test says so. Injected into a twin's ``Clock``, it makes the twin's rate-limit
    windows exact: no wall-clock sleeps, no flakes on a busy machine."""

    def __init__(self, start: float = 1000.0) -> None:
        self.now = start

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@pytest.fixture
def manual_clock(monkeypatch: pytest.MonkeyPatch):
    """``clock = manual_clock(twin)``: the in-process twin's clock (``sandbox.core.ratelimit.Clock``) now reads
    ``clock``."""

    def inject(twin) -> ManualClock:
        clock = ManualClock()
        monkeypatch.setattr(twin.clock, "_now", clock)
        return clock

    return inject
