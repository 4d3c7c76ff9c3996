"""Twins as real processes on loopback: one process per module (each starts in about a second), and every test
gets it back in the state the module started it in (``tests/twin_state.py``: demo data reseeded, faults off, the
module's limits, an empty request log), so no test depends on what another one did to it."""
from __future__ import annotations

from collections.abc import Iterator

import pytest

from sandbox.control import AteraControl, QboControl
from sandbox.launch import TwinProcess, start_twin
from scripts.airflow_env import DEMO
from tests.twin_state import UNTHROTTLED_QBO, SharedTwin


@pytest.fixture(scope="module")
def atera_process(tmp_path_factory) -> Iterator[SharedTwin]:
    twin = start_twin("atera", ["--seed", "demo", "--api-key", DEMO["atera_api_key"]],
                      log_path=tmp_path_factory.mktemp("atera") / "twin.log")
    try:
        yield SharedTwin(twin, AteraControl(twin.url))
    finally:
        twin.stop()


@pytest.fixture(scope="module")
def qbo_process(tmp_path_factory) -> Iterator[SharedTwin]:
    twin = start_twin("qbo", ["--seed", "demo", "--realm-id", DEMO["realm_id"], "--client-id", DEMO["client_id"],
                              "--client-secret", DEMO["client_secret"], "--refresh-token", DEMO["refresh_token"]],
                      log_path=tmp_path_factory.mktemp("qbo") / "twin.log")
    try:
        QboControl(twin.url).set_limits(**UNTHROTTLED_QBO)
        yield SharedTwin(twin, QboControl(twin.url))
    finally:
        twin.stop()


@pytest.fixture
def atera_twin(atera_process: SharedTwin) -> TwinProcess:
    """The module's Atera twin, as the demo seed left it."""
    return atera_process.restore()


@pytest.fixture
def qbo_twin(qbo_process: SharedTwin) -> TwinProcess:
    """The module's QBO twin, as the demo seed left it, its per-minute limits lifted."""
    return qbo_process.restore()


@pytest.fixture
def atera_control(atera_twin: TwinProcess) -> AteraControl:
    return AteraControl(atera_twin.url)


@pytest.fixture
def qbo_control(qbo_twin: TwinProcess) -> QboControl:
    return QboControl(qbo_twin.url)
