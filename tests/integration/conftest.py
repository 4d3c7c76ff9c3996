"""Twins as real processes on loopback, shared per module (each starts in about a second)."""
from __future__ import annotations

import pytest

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
    yield twin
    twin.stop()
