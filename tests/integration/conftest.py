"""Twins as real processes on loopback, shared per module (each starts in about a second)."""
from __future__ import annotations

import pytest
import requests

from sandbox.launch import start_twin
from scripts.airflow_env import DEMO


@pytest.fixture(scope="module")
def atera_twin(tmp_path_factory):
    twin = start_twin("atera", ["--seed", "demo", "--api-key", DEMO["atera_api_key"]],
                      log_path=tmp_path_factory.mktemp("atera") / "twin.log")
    yield twin
    twin.stop()


@pytest.fixture(scope="module")
def qbo_twin(tmp_path_factory):
    twin = start_twin("qbo", ["--seed", "demo", "--realm-id", DEMO["realm_id"], "--client-id", DEMO["client_id"],
                              "--client-secret", DEMO["client_secret"], "--refresh-token", DEMO["refresh_token"]],
                      log_path=tmp_path_factory.mktemp("qbo") / "twin.log")
    # Many tests share this twin within a minute: lift QBO's per-minute limits here (the throttling itself is
    # tested in tests/twins/qbo, and the client's handling of 429 in test_faults).
    requests.put(f"{twin.url}/_sandbox/limits", json={"per_minute": 100000, "batch_per_minute": 100000,
                                                      "concurrent": 10}, timeout=5).raise_for_status()
    yield twin
    twin.stop()
