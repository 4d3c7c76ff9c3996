"""What the QBO token refresh tells an operator points at things that exist: the DAG and the README section."""
from __future__ import annotations

import re
from pathlib import Path

import pytest
import requests

from atera_qbo.errors import AuthError
from atera_qbo.qbo.auth import TokenEndpoint

REPO = Path(__file__).resolve().parents[2]


def refused(monkeypatch, error: str) -> str:
    answer = requests.Response()
    answer.status_code, answer._content = 400, f'{{"error": "{error}"}}'.encode()
    endpoint = TokenEndpoint("http://127.0.0.1:9/token", "id", "secret")
    monkeypatch.setattr(endpoint, "_post", lambda *a, **k: answer)
    with pytest.raises(AuthError) as info:
        endpoint.refresh("RT-old")
    return str(info.value)


def test_invalid_grant_names_the_disconnect_dag_and_the_readme_section_that_exist(monkeypatch):
    message = refused(monkeypatch, "invalid_grant")
    dag_ids = set(re.findall(r"\batera_qbo_[a-z_]+\b", message)) - {"atera_qbo_"}
    assert dag_ids == {"atera_qbo_disconnect"}
    assert (REPO / "dags" / "atera_qbo_disconnect.py").is_file()
    section = re.search(r"README '([^']+)'", message).group(1)
    assert f"## {section}" in (REPO / "README.md").read_text(encoding="utf-8")
    assert "RT-old" not in message  # the token itself is never shown


def test_invalid_client_points_at_the_connection(monkeypatch):
    assert "client id/secret of the quickbooks_default connection" in refused(monkeypatch, "invalid_client")
