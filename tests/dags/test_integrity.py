"""Every DAG imports cleanly, without heavy modules, network or database, and follows the house rules."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
DAG_FILES = sorted((REPO / "dags").glob("*.py"))
EXPECTED = {"atera_qbo_catalog_sync", "atera_qbo_matching", "atera_qbo_invoice_export", "atera_qbo_reconciliation",
            "atera_qbo_disconnect", "atera_qbo_restore_catalog"}
# Retries per task: an API outage (RetriableApiError) gets Airflow retries; fatal errors fail at once anyway
# (AirflowFailException). The export may retry because the ledger and request ids make a rerun exactly-once: it
# gets three retries, so a QBO outage across two attempts still ends in an export that completes by itself.
# Reconciliation's final check must fail once (it reports critical findings); disconnect is never retried;
# restore may retry (a create whose answer was lost is found by name and SKU and adopted, never made twice).
RETRIES = {"atera_qbo_catalog_sync": 2, "atera_qbo_matching": 1,
           "atera_qbo_invoice_export": {"extract_invoices": 1, "quality_gate": 1, "export": 3},
           "atera_qbo_reconciliation": {"reconcile": 1, "check_critical": 0}, "atera_qbo_disconnect": 0,
           "atera_qbo_restore_catalog": 1}


@pytest.fixture(scope="module")
def dagbag():
    from airflow.dag_processing.dagbag import DagBag

    return DagBag(dag_folder=str(REPO / "dags"), include_examples=False) if "include_examples" in \
        DagBag.__init__.__code__.co_varnames else DagBag(dag_folder=str(REPO / "dags"))


def test_no_import_errors(dagbag):
    assert dagbag.import_errors == {}


def test_expected_dags_present(dagbag):
    assert set(dagbag.dag_ids) >= EXPECTED


@pytest.mark.parametrize("dag_id", sorted(EXPECTED))
def test_dag_policy(dagbag, dag_id):
    dag = dagbag.dags[dag_id]
    assert dag.tags, f"{dag_id} has no tags"
    assert dag.doc_md and len(dag.doc_md) > 100, f"{dag_id} needs doc_md"
    assert dag.max_active_runs == 1
    for t in dag.tasks:
        assert t.owner and t.owner != "airflow", f"{dag_id}.{t.task_id} has no owner"
        want = RETRIES[dag_id][t.task_id] if isinstance(RETRIES[dag_id], dict) else RETRIES[dag_id]
        assert t.retries == want, f"{dag_id}.{t.task_id} retries {t.retries}, expected {want}"
        assert t.retry_delay.total_seconds() >= 60, f"{dag_id}.{t.task_id} retries without waiting out an outage"



def test_every_param_is_described_with_default_and_example_and_arrays_type_their_items(dagbag):
    for dag_id in sorted(EXPECTED):
        for name, param in dagbag.dags[dag_id].params.items():
            where = f"{dag_id} param {name}"
            text = param.description or ""
            assert len(text) >= 40, f"{where}: no real description"
            assert "default" in text.lower() and "example" in text.lower(), f"{where}: say default and example"
            if param.schema.get("type") == "array":
                assert param.schema.get("items", {}).get("type"), f"{where}: an array without an item type"


def test_each_asset_is_defined_once_and_the_mapping_event_comes_only_from_the_commit(dagbag):
    from atera_qbo import assets

    sync, matching = dagbag.dags["atera_qbo_catalog_sync"], dagbag.dags["atera_qbo_matching"]
    assert [o for t in sync.tasks for o in t.outlets] == [assets.CATALOG]
    tasks = matching.task_dict
    assert tasks["preview"].outlets == [] and tasks["commit"].outlets == [assets.MAPPING_UPDATES]
    for path in DAG_FILES:  # no DAG file defines an Asset of its own
        assert "Asset(" not in path.read_text(), f"{path.name} defines an Asset: use atera_qbo.assets"


def test_only_tasks_that_call_qbo_hold_a_qbo_api_slot(dagbag):
    calls_qbo = {("atera_qbo_catalog_sync", "extract_qbo"), ("atera_qbo_matching", "commit"),
                 ("atera_qbo_invoice_export", "export"), ("atera_qbo_reconciliation", "reconcile")}
    holding = {(d, t.task_id) for d in EXPECTED for t in dagbag.dags[d].tasks if t.pool == "qbo_api"}
    assert holding == calls_qbo


def test_no_dag_reads_the_wall_clock():
    for path in DAG_FILES:
        text = path.read_text()
        assert "datetime.now(" not in text and "utcnow(" not in text, f"{path.name} reads the clock"


# What a DAG file must not import at top level (the scheduler parses every file every few seconds): the data
# libraries and the domain modules that pull them in. Tasks import them when they run. Checked two ways, both
# deterministic: modules newly loaded by the import, and import statements run by the DAG file or by an atera_qbo
# module it loads (so a library the Airflow SDK happens to load already, like sqlalchemy, is still caught).
HEAVY = ("pandas", "numpy", "great_expectations", "sqlalchemy", "alembic", "psycopg", "psycopg2", "requests",
         "urllib3", "tenacity", "rapidfuzz", "openpyxl", "xlsxwriter", "fastapi", "atera_qbo.tasks", "atera_qbo.hooks",
         "atera_qbo.matching", "atera_qbo.export", "atera_qbo.extract", "atera_qbo.staging", "atera_qbo.quality",
         "atera_qbo.qbo", "atera_qbo.atera", "atera_qbo.webui", "atera_qbo.reconcile.checks")

PROBE = r"""
import builtins, socket, sys
import airflow.sdk  # the SDK's own imports are not the DAG file's
HEAVY = tuple(sys.argv[2].split(","))
PRE = set(sys.modules)
def _no_network(*a, **k):
    raise RuntimeError("network access at DAG import time")
socket.socket.connect = _no_network
import sqlite3
def _no_db(*a, **k):
    raise RuntimeError("database access at DAG import time")
sqlite3.connect = _no_db
asked = set()
_import = builtins.__import__
def _watch(name, globals=None, locals=None, fromlist=(), level=0):
    module = (globals or {}).get("__name__", "")
    if module == "probe" or module.startswith("atera_qbo"):
        full = name
        if level:  # a relative import inside atera_qbo: resolve it against the importing package
            package = (globals or {}).get("__package__") or module
            base = package.rsplit(".", level - 1)[0] if level > 1 else package
            full = f"{base}.{name}" if name else base
        asked.update([full] + [f"{full}.{f}" for f in fromlist or () if f != "*"])
    return _import(name, globals, locals, fromlist, level)
builtins.__import__ = _watch
import importlib.util
spec = importlib.util.spec_from_file_location("probe", sys.argv[1])
mod = importlib.util.module_from_spec(spec)
spec.loader.exec_module(mod)
def heavy(m):
    return any(m == h or m.startswith(h + ".") for h in HEAVY)
print(",".join(sorted({m for m in (set(sys.modules) - PRE) | asked if heavy(m)})))
"""


@pytest.mark.parametrize("path", DAG_FILES, ids=[p.name for p in DAG_FILES])
def test_dag_file_imports_without_heavy_modules_network_or_db(path):
    out = subprocess.run([sys.executable, "-c", PROBE, str(path), ",".join(HEAVY)], capture_output=True, text=True,
                         timeout=120, cwd=REPO)
    assert out.returncode == 0, out.stderr[-2000:]
    heavy = out.stdout.strip().splitlines()[-1] if out.stdout.strip() else ""
    assert heavy == "", f"{path.name} imports heavy modules at top level: {heavy} (import them inside the task)"


def test_the_import_probe_sees_a_heavy_import(tmp_path):
    """The probe above can fail: a DAG file importing sqlalchemy (already loaded by the SDK) or the matching
    package at top level is reported."""
    bad = tmp_path / "bad_dag.py"
    bad.write_text("import sqlalchemy\nfrom atera_qbo.matching import review\n")
    out = subprocess.run([sys.executable, "-c", PROBE, str(bad), ",".join(HEAVY)], capture_output=True, text=True,
                         timeout=120, cwd=REPO)
    assert out.returncode == 0, out.stderr[-2000:]
    reported = set(out.stdout.strip().splitlines()[-1].split(","))
    assert {"sqlalchemy", "atera_qbo.matching", "pandas"} <= reported
