"""Hooks own their client: one HTTP session per hook, reused on every get_conn, closed by the hook."""
import json

import pytest


@pytest.fixture
def atera_conn(monkeypatch):
    monkeypatch.setenv("AIRFLOW_CONN_ATERA_DEFAULT", json.dumps({"conn_type": "http", "host": "http://127.0.0.1:9",
                                                                 "password": "secret-api-key"}))
    monkeypatch.setenv("AIRFLOW_CONN_ATERA_QBO_REDIS", json.dumps({"conn_type": "redis", "host": "127.0.0.1",
                                                                   "port": 9, "schema": "15"}))


def test_a_hook_hands_out_one_client_and_one_session(atera_conn):
    from atera_qbo.hooks import AteraHook

    hook = AteraHook()
    first = hook.get_conn()
    assert hook.get_conn() is first and hook.get_conn().http.session is first.http.session
    assert AteraHook().get_conn() is not first  # another hook, another client


def test_closing_the_hook_closes_its_client_and_the_next_get_conn_builds_a_new_one(atera_conn, monkeypatch):
    from atera_qbo.hooks import AteraHook

    hook = AteraHook()
    first = hook.get_conn()
    closed = []
    monkeypatch.setattr(first, "close", lambda: closed.append(first))
    hook.close()
    assert closed == [first]
    assert hook.get_conn() is not first
    hook.close()
    hook.close()  # closing twice is harmless
