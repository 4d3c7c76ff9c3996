"""A clock and a sleep that only count: ``ApiSession(..., sleep=t.sleep, clock=t.clock)`` waits without waiting."""
from __future__ import annotations


class FakeTime:
    def __init__(self) -> None:
        self.now = 1000.0
        self.slept: list[float] = []

    def clock(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds
