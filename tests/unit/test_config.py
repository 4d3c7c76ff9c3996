import pytest

from atera_qbo.config import AteraSettings, ConnInfo, QboSettings, staging_url
from atera_qbo.errors import ConfigError


def test_staging_url_from_connections(monkeypatch, tmp_path):
    monkeypatch.setenv("AIRFLOW_HOME", str(tmp_path))
    assert staging_url(None) == f"sqlite:///{tmp_path / 'atera_qbo_staging.db'}"
    assert staging_url(ConnInfo("sqlite", host="/data/s.db")) == "sqlite:////data/s.db"
    pg = ConnInfo("postgres", host="db", login="etl", password="p@ss:w/rd", schema="staging", port=5433)
    assert staging_url(pg) == "postgresql+psycopg2://etl:p%40ss%3Aw%2Frd@db:5433/staging"
    with pytest.raises(ConfigError, match="not sqlite or postgres"):
        staging_url(ConnInfo("mysql"))


def test_settings_name_what_is_missing_and_never_show_secrets():
    with pytest.raises(ConfigError, match="password"):
        AteraSettings.from_conn(ConnInfo("http", host="https://app.atera.com"))
    with pytest.raises(ConfigError, match=r"missing login \(client id\)$"):
        QboSettings.from_conn(ConnInfo("http", password="secret"))  # no realm id: Connect stores the company
    assert QboSettings.from_conn(ConnInfo("http", login="id", password="secret")).realm_id == ""
    s = QboSettings.from_conn(ConnInfo("http", login="id", password="top-secret",
                                       extra={"realm_id": "123", "refresh_token": "rt-secret"}))
    assert s.token_url == "https://oauth.platform.intuit.com/oauth2/v1/tokens/bearer"
    assert "top-secret" not in repr(s) and "rt-secret" not in repr(s)


def test_qbo_environment_from_the_extra_or_the_host_and_the_report_links_to_its_web_app():
    from atera_qbo.config import ConnInfo, QboSettings
    from atera_qbo.errors import ConfigError
    from atera_qbo.export.report import qbo_link

    def settings(host, **extra):
        return QboSettings.from_conn(ConnInfo("http", host=host, login="id", password="secret",
                                              extra={"realm_id": "1", **extra}))

    assert settings("https://quickbooks.api.intuit.com").environment == "production"
    assert settings("https://sandbox-quickbooks.api.intuit.com").app_url == "https://app.sandbox.qbo.intuit.com"
    assert settings("http://127.0.0.1:5000", environment="Sandbox").environment == "sandbox"  # the twins
    assert settings("http://127.0.0.1:5000").environment == "production"
    with pytest.raises(ConfigError, match=r"extra\.environment is 'staging'"):
        settings("https://quickbooks.api.intuit.com", environment="staging")
    prod, sandbox = settings("quickbooks.api.intuit.com").app_url, settings("sandbox-quickbooks.api.intuit.com").app_url
    assert qbo_link("Invoice", "42", prod) == "https://app.qbo.intuit.com/app/invoice?txnId=42"
    assert qbo_link("CreditMemo", "7", sandbox) == "https://app.sandbox.qbo.intuit.com/app/creditmemo?txnId=7"
    assert qbo_link("Invoice", "", prod) == "" and qbo_link(None, "42", prod) == ""


def test_overrides_path_relative_to_the_review_dir_and_errors_name_the_resolved_path(tmp_path):
    from atera_qbo.config import overrides_file

    review = tmp_path / "review"
    (review / "overrides").mkdir(parents=True)
    (review / "overrides" / "nov.csv").write_text("entity,atera_id,qbo_id,action\n")
    assert overrides_file("overrides/nov.csv", review) == review / "overrides" / "nov.csv"
    assert overrides_file(str(review / "overrides" / "nov.csv"), review) == review / "overrides" / "nov.csv"
    with pytest.raises(ConfigError, match=f"'dec.csv' \\(resolved against the review dir: {review / 'dec.csv'}\\) "
                                          "does not exist on the worker"):
        overrides_file("dec.csv", review)
    with pytest.raises(ConfigError, match="is not a file"):
        overrides_file("overrides", review)


@pytest.mark.parametrize("value", ["/proc/self/environ", "../../etc/passwd", "/etc/passwd", "link.csv",
                                   "overrides/../../outside.csv"])
def test_overrides_path_outside_the_allowed_directories_is_refused_before_reading(tmp_path, value, monkeypatch):
    """A param must not read the worker's files: the environment (connection URIs), /etc/passwd, a symlink out of
    the review dir. Refused naming the rule, and nothing of the file is read."""
    from atera_qbo.config import overrides_file

    monkeypatch.delenv("ATERA_QBO_OVERRIDES_DIRS", raising=False)
    review = tmp_path / "review"
    (review / "overrides").mkdir(parents=True)
    (tmp_path / "outside.csv").write_text("SECRET_TOKEN=abc\n")
    (review / "link.csv").symlink_to("/etc/passwd")
    with pytest.raises(ConfigError, match="outside the directories overrides are read from") as refused:
        overrides_file(value, review, lambda name: None)
    assert "atera_qbo_overrides_dirs" in str(refused.value) and "SECRET_TOKEN" not in str(refused.value)
    assert "root:" not in str(refused.value)


def test_an_admin_lists_more_overrides_directories_in_a_variable(tmp_path, monkeypatch):
    from atera_qbo.config import overrides_file

    monkeypatch.delenv("ATERA_QBO_OVERRIDES_DIRS", raising=False)
    review, shared = tmp_path / "review", tmp_path / "finance-share"
    review.mkdir()
    shared.mkdir()
    (shared / "nov.csv").write_text("entity,atera_id,qbo_id,action\n")
    with pytest.raises(ConfigError, match="outside"):
        overrides_file(str(shared / "nov.csv"), review, lambda name: None)
    listed = {"atera_qbo_overrides_dirs": f"{tmp_path / 'nowhere'}, {shared}"}
    assert overrides_file(str(shared / "nov.csv"), review, listed.get) == shared / "nov.csv"
    with pytest.raises(ConfigError, match="relative paths"):
        overrides_file(str(shared / "nov.csv"), review, {"atera_qbo_overrides_dirs": "share"}.get)
    monkeypatch.setenv("ATERA_QBO_OVERRIDES_DIRS", str(shared))  # or the environment, where no Variable is set
    assert overrides_file(str(shared / "nov.csv"), review) == shared / "nov.csv"


def test_data_docs_keep_runs_from_variable_then_environment(monkeypatch):
    from atera_qbo.config import data_docs_keep_runs

    monkeypatch.delenv("ATERA_QBO_DATA_DOCS_KEEP_RUNS", raising=False)
    assert data_docs_keep_runs(lambda name: None) == 48
    monkeypatch.setenv("ATERA_QBO_DATA_DOCS_KEEP_RUNS", "12")
    assert data_docs_keep_runs(lambda name: None) == 12
    assert data_docs_keep_runs({"atera_qbo_data_docs_keep_runs": "5"}.get) == 5
    for bad in ("0", "-3", "many"):
        with pytest.raises(ConfigError, match="whole number ≥ 1"):
            data_docs_keep_runs({"atera_qbo_data_docs_keep_runs": bad}.get)
