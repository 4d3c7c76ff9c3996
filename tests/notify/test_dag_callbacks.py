"""Every task of every DAG tells its failure through ``on_task_failure`` — and Airflow calls it once, after the last
retry, with the exception: proved with ``dag.test()`` on a task that fails on each of its two attempts, to a real
SMTP server (the attempt before the last is a retry: no message)."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from atera_qbo.notify.callbacks import on_task_failure

REPO = Path(__file__).resolve().parents[2]


def test_every_task_of_every_dag_tells_its_failure():
    from airflow.dag_processing.dagbag import DagBag

    bag = DagBag(dag_folder=str(REPO / "dags"))
    assert bag.import_errors == {} and len(bag.dags) >= 6
    for dag in bag.dags.values():
        for t in dag.tasks:
            assert on_task_failure in list(t.on_failure_callback or []), f"{dag.dag_id}.{t.task_id}"
            assert on_task_failure not in list(t.on_retry_callback or []), f"{dag.dag_id}.{t.task_id} on retry"


PROBE_DAG = """
from datetime import datetime, timedelta
from pathlib import Path

from airflow.sdk import DAG, task

from atera_qbo.notify.callbacks import on_task_failure

ATTEMPTS = Path(__file__).with_name("attempts.txt")

with DAG("notify_probe", schedule=None, start_date=datetime(2026, 1, 1), catchup=False,
         default_args={"owner": "test", "retries": 1, "retry_delay": timedelta(seconds=0),
                       "on_failure_callback": on_task_failure}):
    @task
    def flaky(ti=None):
        with ATTEMPTS.open("a") as out:
            out.write(f"{ti.try_number}\\n")
        raise RuntimeError("QBO answered HTTP 503 (attempt failed)\\nsecond line not shown")

    flaky()
"""


def test_the_callback_fires_once_after_the_last_retry(engine, smtp_server, configure, monkeypatch, tmp_path):
    """A DAG of its own (``dag.test`` finds a DAG through the dags folder), its task failing on both attempts."""
    if engine.dialect.name != "sqlite":
        pytest.skip("the callback finds the staging database through its connection: the SQLite file is enough")
    from airflow.dag_processing.dagbag import DagBag
    from airflow.utils import db
    from airflow.utils.state import DagRunState

    folder = tmp_path / "dags"
    folder.mkdir()
    (folder / "notify_probe.py").write_text(PROBE_DAG)
    monkeypatch.setenv("AIRFLOW__DAG_PROCESSOR__DAG_BUNDLE_CONFIG_LIST", json.dumps([{
        "name": "notify-probe", "classpath": "airflow.dag_processing.bundles.local.LocalDagBundle",
        "kwargs": {"path": str(folder)}}]))
    db.resetdb()
    configure(smtp=smtp_server, to={"failure": ["ops@example.com"]})
    monkeypatch.setenv("AIRFLOW_CONN_ATERA_QBO_STAGING", json.dumps({"conn_type": "sqlite",
                                                                     "host": engine.url.database}))
    bag = DagBag(dag_folder=str(folder))
    assert bag.import_errors == {}
    run = bag.dags["notify_probe"].test()
    assert run.state == DagRunState.FAILED
    assert (folder / "attempts.txt").read_text().split() == ["1", "2"]  # a retry, then the last attempt
    (mail,) = smtp_server.mails  # told once: after the last attempt, not after the retried one
    assert mail.recipients == ["ops@example.com"]
    assert mail.subject == ("[Atera ↔ QBO] notify_probe failed: task flaky — RuntimeError: QBO answered HTTP 503 "
                            "(attempt failed)")
    assert "attempt 2, the last" in mail.html and "second line" not in mail.html
