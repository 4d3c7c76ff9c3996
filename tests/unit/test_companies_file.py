"""The companies file (``atera_qbo.companies``): what a valid file gives, and each mistake refused with a message
naming the file, the company and the fix — read without network or database, as the DAG files read it."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from atera_qbo.companies import (
    SINGLE,
    Companies,
    Company,
    Route,
    add_company,
    company_url,
    load_companies,
    parse_companies,
    write_companies,
)
from atera_qbo.errors import ConfigError

SOURCE = Path("/etc/atera_qbo/companies.json")
US = {"id": "default", "name": "Contoso US", "route": {"country": ["United States", "US", "USA"]}}
UK = {"id": "uk", "name": "Contoso UK", "qbo_conn_id": "quickbooks_uk",
      "route": {"country": ["United Kingdom", "GB", "UK"]}, "logins": ["finance_uk"]}
FAB = {"id": "fabrikam", "name": "Fabrikam", "atera_conn_id": "atera_fabrikam", "qbo_conn_id": "quickbooks_fabrikam"}


def parse(*companies: dict) -> Companies:
    return parse_companies({"companies": list(companies)}, SOURCE)


def refused(*companies: dict) -> str:
    with pytest.raises(ConfigError) as info:
        parse(*companies)
    assert str(SOURCE) in str(info.value)
    return str(info.value)


def test_a_valid_file_gives_each_company_with_its_defaults():
    companies = parse(US, UK, FAB)
    assert companies.ids == ["default", "uk", "fabrikam"]
    us, uk, fab = companies
    assert (us.qbo_conn_id, us.atera_conn_id, us.staging_conn_id) == ("quickbooks_default", "atera_default", None)
    assert (uk.qbo_conn_id, uk.atera_conn_id, uk.logins) == ("quickbooks_uk", "atera_default", ("finance_uk",))
    assert fab.route is None and fab.atera_conn_id == "atera_fabrikam"
    assert companies.get(None) is us and companies.get("uk") is uk
    assert [c.id for c in companies.sharing_atera(uk)] == ["default", "uk"]
    with pytest.raises(ConfigError, match="no company 'nope': the companies are default, uk, fabrikam"):
        companies.get("nope")


def test_dag_ids_keep_the_adopted_companys_and_map_back():
    companies = parse(US, UK, FAB)
    us, uk, _ = companies
    assert us.dag_id("atera_qbo_invoice_export") == "atera_qbo_invoice_export"
    assert uk.dag_id("atera_qbo_invoice_export") == "atera_qbo_invoice_export__uk"
    assert companies.of_dag("atera_qbo_invoice_export__uk") is uk
    assert companies.of_dag("atera_qbo_invoice_export") is us
    assert companies.of_dag("atera_qbo_invoice_export__gone") is None
    assert companies.of_dag("atera_qbo_invoice_export__default") is None  # default's DAGs have no suffix
    assert companies.of_dag(None) is None
    assert parse(UK, FAB).of_dag("atera_qbo_invoice_export") is None  # no company default: no unsuffixed DAGs


def test_routes_compare_values_as_written_loosely_and_by_their_own_field():
    by_country = parse(US, UK).items[1].route
    assert by_country is not None and by_country.places(" united   KINGDOM ") and by_country.places("gb")
    assert not by_country.places("Ireland") and not by_country.places(None) and not by_country.places("")
    entry = {"id": "a", "name": "A", "route": {"custom_field": "Billing entity", "values": "Contoso UK"}}
    field = parse(entry).items[0].route
    assert field == Route("custom_field", frozenset({"contoso uk"}), "Billing entity", ("Contoso UK",))
    assert field.places("United Kingdom", "contoso  uk") and not field.places("United Kingdom", None)
    assert field.describe() == "custom field 'Billing entity' in (Contoso UK)"


def test_logins_limit_a_login_to_the_companies_listing_it():
    companies = parse(US, UK, {**FAB, "logins": ["finance_uk", "fab"]})
    assert [c.id for c in companies.visible_to("finance_uk")] == ["uk", "fabrikam"]
    assert [c.id for c in companies.visible_to("alice")] == ["default", "uk", "fabrikam"]
    assert companies.limited("fab") and not companies.limited("alice")


@pytest.mark.parametrize(("companies", "message"), [
    ([US, {**UK, "id": "default"}], "companies 'default' and 'default' have the same id"),
    ([US, {**UK, "name": " contoso  us"}], "companies 'default' and 'uk' have the same name"),
    ([{**US, "realm_id": "123"}, {**FAB, "realm_id": "123"}], "same realm_id (one QBO company cannot be two"),
    ([{**UK, "staging_conn_id": "db"}, {**FAB, "staging_conn_id": "db"}], "same staging_conn_id"),
])
def test_two_companies_cannot_share_what_is_theirs_alone(companies, message):
    assert message in refused(*companies)


def test_companies_sharing_an_atera_account_each_need_a_route():
    message = refused(US, {**UK, "route": None})
    assert "companies default, uk share the Atera account of connection atera_default" in message
    assert "uk need(s) a route" in message
    parse(US, {**FAB, "route": None})  # an Atera account of its own needs no route


@pytest.mark.parametrize("uk_countries", [["UK", "United States"], ["united  states"], ["usa "]])
def test_two_routes_of_one_atera_account_may_not_claim_one_value(uk_countries):
    message = refused(US, {**UK, "route": {"country": uk_countries}})
    assert "companies 'default' and 'uk' both route country" in message
    assert "a customer must belong to one company" in message


def test_the_same_value_may_route_in_different_atera_accounts_or_fields():
    parse(US, {**FAB, "route": {"country": ["United States"]}})
    parse({**US, "route": {"custom_field": "Entity", "values": ["US"]}},
          {**UK, "route": {"custom_field": "Other field", "values": ["US"]}})


@pytest.mark.parametrize("bad_id", ["UK", "1uk", "u-k", "", "a" * 31, "uk!"])
def test_a_bad_id_is_refused_saying_what_an_id_is(bad_id):
    message = refused({**FAB, "id": bad_id})
    assert "company #1" in message and "must be lower-case letters, digits or _" in message


@pytest.mark.parametrize(("entry", "message"), [
    ({**FAB, "qbo_conn": "x"}, "company 'fabrikam': unknown key(s) qbo_conn"),
    ({**FAB, "logins": "finance"}, "logins must be a list of Airflow user names"),
    ({**FAB, "route": ["UK"]}, "route must be an object"),
    ({**FAB, "route": {"country": []}}, "route values must be a non-empty list of strings"),
    ({**FAB, "route": {"region": ["EU"]}}, "route needs \"country\" or \"custom_field\""),
    ({**FAB, "route": {"custom_field": " ", "values": ["x"]}}, "route.custom_field is empty"),
    ("fabrikam", "company #1 is not an object"),
])
def test_a_malformed_company_is_refused_naming_it(entry, message):
    assert message in refused(entry)


@pytest.mark.parametrize("data", [{}, {"companies": []}, {"companies": {}}, []])
def test_a_file_without_companies_is_refused(data):
    with pytest.raises(ConfigError, match="with at least one company"):
        parse_companies(data, SOURCE)


def test_no_file_is_the_single_company_of_before(tmp_path):
    assert load_companies(tmp_path / "absent.json") is SINGLE
    assert SINGLE.ids == ["default"] and SINGLE.get(None).dag_id("atera_qbo_matching") == "atera_qbo_matching"


def test_the_file_is_read_again_when_it_changes_and_broken_json_names_it(tmp_path):
    path = tmp_path / "companies.json"
    path.write_text(json.dumps({"companies": [US]}))
    assert load_companies(path).ids == ["default"]
    path.write_text(json.dumps({"companies": [US, FAB]}))
    assert load_companies(path).ids == ["default", "fabrikam"]
    path.write_text('{"companies": [')
    with pytest.raises(ConfigError, match=f"{path} is not valid JSON"):
        load_companies(path)


def test_written_companies_read_back_the_same(tmp_path):
    path = tmp_path / "atera_qbo" / "companies.json"
    companies = parse(US, UK, FAB)
    assert write_companies(list(companies), path).items == companies.items
    assert load_companies(path).items == companies.items
    assert json.loads(path.read_text())["companies"][2] == FAB  # defaults are not written out


def test_adding_a_company_writes_the_implicit_default_first_and_refuses_a_taken_id(tmp_path):
    path = tmp_path / "companies.json"
    added = add_company(Company("fabrikam", "Fabrikam", atera_conn_id="atera_fabrikam"), path)
    assert added.ids == ["default", "fabrikam"] and load_companies(path).ids == ["default", "fabrikam"]
    with pytest.raises(ConfigError, match="there is already a company 'fabrikam'"):
        add_company(Company("fabrikam", "Other"), path)
    with pytest.raises(ConfigError, match="share the Atera account"):  # validated before anything is written
        add_company(Company("uk", "Contoso UK"), path)
    assert load_companies(path).ids == ["default", "fabrikam"]


def test_each_company_has_its_own_database_and_review_dir(tmp_path):
    us, uk = parse(US, UK)
    assert us.staging_url("sqlite:////var/x/atera_qbo_staging.db") == "sqlite:////var/x/atera_qbo_staging.db"
    assert uk.staging_url("sqlite:////var/x/atera_qbo_staging.db") == "sqlite:////var/x/atera_qbo_staging.uk.db"
    pg = uk.staging_url("postgresql+psycopg2://u:p@db:5432/staging?sslmode=require&options=-csearch_path%3Dx")
    assert pg.startswith("postgresql+psycopg2://u:p@db:5432/staging?sslmode=require&options=")
    assert "search_path%3Datera_qbo_uk" in pg and "%3Dx" not in pg
    with pytest.raises(ConfigError, match="in-memory staging database cannot hold several companies"):
        company_url("sqlite://", "uk")
    assert us.review_dir(tmp_path) == tmp_path and uk.review_dir(tmp_path) == tmp_path / "companies" / "uk"
    assert (tmp_path / "companies" / "uk").is_dir()


def test_what_a_company_task_writes_names_its_own_dags():
    """A blocked invoice's reason or a finding's action tells finance which DAG to run: the company's own, or
    the family's id outside any company's task (one company: the messages of before)."""
    from atera_qbo.companies import Company, at_work, dag_of, working_for

    uk = Company("uk", "Contoso UK")
    with working_for(uk, several=True):
        assert dag_of("atera_qbo_matching") == "atera_qbo_matching__uk"
        with working_for(Company("default", "Contoso US"), several=True):  # nested: the inner one wins
            assert dag_of("atera_qbo_matching") == "atera_qbo_matching"
        assert at_work().company is uk
    assert at_work() is None and dag_of("atera_qbo_invoice_export") == "atera_qbo_invoice_export"
