"""One twin process shared by several tests, each test starting from the same state: the process is the expensive
part (a second or so to start), the state is cheap to put back through the control plane (``sandbox.control``).

    shared = SharedTwin(twin, QboControl(twin.url), profile="demo")   # once, after the module configured it
    shared.restore()                                                   # before every test

``restore`` puts back what a test may have changed: faults off, the limits the module set (and fresh rate-limit
windows), the QBO company settings, the data (reseeded: ``seed`` resets first), an empty request log. What the
control plane cannot put back stays: OAuth grants a test minted (each test mints its own, so none is shared) and
the fault injector's random draws (``sandbox.core.faults.FaultInjector`` is seeded once per process).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from sandbox.control import QboControl, TwinControl
from sandbox.launch import TwinProcess

# QBO's rate limits lifted (10 in flight kept): a test makes hundreds of requests within a minute, and its clients
# (rate_per_minute=None) and its by-hand calls make more than 10 in a second; a 429 would cost it a minute's wait
# (throttle_wait). The throttling itself is tested in tests/twins/qbo and tests/integration/test_pacing.py, the
# client's handling of 429 in tests/integration/test_faults.py.
UNTHROTTLED_QBO = {"per_minute": 100_000, "per_second": 0, "batch_per_minute": 100_000, "concurrent": 10}


@dataclass
class SharedTwin:
    """A twin process and the state its tests start from, captured when it is made."""

    twin: TwinProcess
    control: TwinControl
    profile: str = "demo"
    limits: dict[str, Any] = field(init=False)
    company: dict[str, Any] | None = field(init=False)

    def __post_init__(self) -> None:
        self.limits = self.control.get_limits()
        self.company = self._settings() if isinstance(self.control, QboControl) else None

    def _settings(self) -> dict[str, Any]:
        assert isinstance(self.control, QboControl)
        return {k: v for k, v in self.control.company().items() if k != "realm_id"}

    def restore(self) -> TwinProcess:
        control = self.control
        control.clear_faults()
        control.set_limits(**self.limits)  # also starts the rate-limit windows afresh
        if self.company is not None and self._settings() != self.company:
            assert isinstance(control, QboControl)
            control.reset()  # a company without records takes any setting (multi-currency off, say)
            control.set_company(**self.company)
        control.seed(self.profile)
        control.clear_requests()
        return self.twin
