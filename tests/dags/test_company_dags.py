"""One DAG per company and family, generated from the companies file at parse time: the ids, tags, names and
Assets of each company's chain; no file is exactly the single-company deployment of before; a broken file is an
import error of every DAG file, naming the problem."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
FAMILIES = ("atera_qbo_catalog_sync", "atera_qbo_disconnect", "atera_qbo_invoice_export", "atera_qbo_matching",
            "atera_qbo_reconciliation", "atera_qbo_restore_catalog")
THREE = {"companies": [
    {"id": "default", "name": "Contoso US", "route": {"country": ["United States", "US"]}},
    {"id": "uk", "name": "Contoso UK", "qbo_conn_id": "quickbooks_uk", "route": {"country": ["United Kingdom"]},
     "logins": ["finance_uk"]},
    {"id": "fabrikam", "name": "Fabrikam", "atera_conn_id": "atera_fabrikam", "qbo_conn_id": "quickbooks_fabrikam"},
]}


def parse(monkeypatch: pytest.MonkeyPatch, companies_file: Path):
    from airflow.dag_processing.dagbag import DagBag

    monkeypatch.setenv("ATERA_QBO_COMPANIES_FILE", str(companies_file))
    return DagBag(dag_folder=str(REPO / "dags"))


@pytest.fixture(scope="module")
def three(tmp_path_factory: pytest.TempPathFactory):
    path = tmp_path_factory.mktemp("companies") / "companies.json"
    path.write_text(json.dumps(THREE))
    with pytest.MonkeyPatch.context() as mp:
        yield parse(mp, path)


def test_three_companies_give_every_family_to_each_with_its_id_tag_and_name(three):
    assert three.import_errors == {}
    want = set(FAMILIES) | {f"{f}__uk" for f in FAMILIES} | {f"{f}__fabrikam" for f in FAMILIES}
    assert set(three.dag_ids) == want
    names = {"default": "Contoso US", "uk": "Contoso UK", "fabrikam": "Fabrikam"}
    for dag_id, dag in three.dags.items():
        company = dag_id.partition("__")[2] or "default"
        assert {t for t in dag.tags if t.startswith("company:")} == {f"company:{company}"}, dag_id
        assert dag.description.startswith(f"{names[company]}: "), dag_id
        assert dag.doc_md.startswith(f"**Company: {names[company]}** (`{company}`"), dag_id
        assert dag.max_active_runs == 1 and len(dag.doc_md) > 200


def test_each_company_keeps_the_params_retries_and_pool_of_its_family(three):
    for family in FAMILIES:
        base = three.dags[family]
        for dag_id in (f"{family}__uk", f"{family}__fabrikam"):
            dag = three.dags[dag_id]
            assert set(dag.params) == set(base.params), dag_id
            assert {t.task_id: (t.retries, t.pool, t.owner) for t in dag.tasks} == \
                {t.task_id: (t.retries, t.pool, t.owner) for t in base.tasks}, dag_id
    assert "quickbooks_fabrikam" in three.dags["atera_qbo_disconnect__fabrikam"].params.get_param("confirm").description


def test_each_company_chain_is_triggered_only_by_its_own_catalog_sync(three):
    from atera_qbo.assets import company_assets

    uris = {}
    for company, suffix in (("default", ""), ("uk", "__uk"), ("fabrikam", "__fabrikam")):
        sync, matching = three.dags[f"atera_qbo_catalog_sync{suffix}"], three.dags[f"atera_qbo_matching{suffix}"]
        own = company_assets(None if company == "default" else company)
        (emitted,) = [o for t in sync.tasks for o in t.outlets]
        assert emitted == own.catalog
        assert list(matching.timetable.asset_condition.objects) == [own.catalog], company
        assert matching.task_dict["commit"].outlets == [own.mapping_updates]
        uris[company] = (own.catalog.uri, own.mapping.uri, own.mapping_updates.name)
    assert uris["default"] == ("atera_qbo://staging/catalog", "atera_qbo://staging/mapping",
                               "atera_qbo_mapping_updates")  # the adopted company keeps its Asset history
    assert len({u for three_uris in uris.values() for u in three_uris}) == 9  # no two companies share one


def test_every_generated_dag_runs_its_tasks_for_its_own_company(three, monkeypatch, tmp_path):
    """The task callables take no company: ``wiring()`` resolves it from the running DAG id."""
    from atera_qbo.tasks.runtime import task_company

    path = tmp_path / "companies.json"
    path.write_text(json.dumps(THREE))
    monkeypatch.setenv("ATERA_QBO_COMPANIES_FILE", str(path))
    for dag_id in three.dag_ids:
        assert task_company(dag_id).id == (dag_id.partition("__")[2] or "default")


def test_no_companies_file_gives_exactly_the_ids_of_before(monkeypatch, tmp_path):
    bag = parse(monkeypatch, tmp_path / "absent.json")
    assert bag.import_errors == {}
    assert set(bag.dag_ids) == set(FAMILIES)
    assert all("company:default" in dag.tags for dag in bag.dags.values())


@pytest.mark.parametrize(("content", "problem"), [
    ("{not json", "is not valid JSON"),
    (json.dumps({"companies": [{"id": "uk", "name": "A"}, {"id": "uk", "name": "B"}]}),
     "companies 'uk' and 'uk' have the same id"),
    (json.dumps({"companies": [{"id": "UK", "name": "A"}]}), "id 'UK' must be lower-case letters"),
])
def test_a_broken_companies_file_is_an_import_error_of_every_dag_file_naming_it(monkeypatch, tmp_path, content,
                                                                                problem):
    path = tmp_path / "companies.json"
    path.write_text(content)
    bag = parse(monkeypatch, path)
    assert bag.dag_ids == []
    assert {Path(f).name for f in bag.import_errors} == {f"{f}.py" for f in FAMILIES}
    for error in bag.import_errors.values():
        assert "ConfigError" in error and problem in error and str(path) in error
