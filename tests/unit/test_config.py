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
    with pytest.raises(ConfigError, match=r"login \(client id\).*extra.realm_id"):
        QboSettings.from_conn(ConnInfo("http", password="secret"))
    s = QboSettings.from_conn(ConnInfo("http", login="id", password="top-secret",
                                       extra={"realm_id": "123", "refresh_token": "rt-secret"}))
    assert s.token_url == "https://oauth.platform.intuit.com/oauth2/v1/tokens/bearer"
    assert "top-secret" not in repr(s) and "rt-secret" not in repr(s)
