"""Budgets as QBO counts them (a sliding window per limit, a cap on requests in flight). Throttling waited out until
the run's deadline, against a server on loopback: tests/integration/test_pacing.py."""
from __future__ import annotations

import threading

import pytest

from atera_qbo.pacing import WindowBudget
from atera_qbo.qbo.client import QboBudgets, QboLimits
from tests.fake_time import FakeTime


def test_window_budget_grants_the_whole_allowance_then_waits_for_the_oldest_answer_to_age_out():
    t = FakeTime()
    budget = WindowBudget("batch", 3, 60.0, clock=t.clock, sleep=t.sleep)
    for ended_at in (1000.0, 1001.0, 1002.0):
        budget.acquire()
        t.now = ended_at
        budget.release()
    assert t.slept == []  # three at once: the window was empty
    budget.acquire()  # the fourth waits until the first answer is a full window old
    assert t.now == pytest.approx(1060.0)
    budget.acquire()
    assert t.now == pytest.approx(1061.0)


def test_a_request_in_flight_keeps_its_slot_until_its_answer():
    t = FakeTime()
    budget = WindowBudget("requests", 1, 60.0, clock=t.clock, sleep=t.sleep)
    budget.acquire()
    t.now += 500  # long after the start: still in flight, still counted
    waiter = threading.Thread(target=budget.acquire)
    waiter.start()
    waiter.join(timeout=0.2)
    assert waiter.is_alive()
    budget.release()  # the answer came at 1500: the slot is free again at 1560
    waiter.join(timeout=5)
    assert not waiter.is_alive() and t.now == pytest.approx(1560.0)


def test_in_flight_budget_is_a_cap_on_concurrent_requests():
    budget = WindowBudget("in_flight", 2, 0.0)
    budget.acquire()
    budget.acquire()
    third = threading.Thread(target=budget.acquire)
    third.start()
    third.join(timeout=0.2)
    assert third.is_alive()
    budget.release()
    third.join(timeout=5)
    assert not third.is_alive()


def test_a_batch_holds_the_batch_budget_other_requests_do_not():
    budgets = QboBudgets("qbo:test", QboLimits(per_minute=500, batch_per_minute=40, in_flight=10))
    batch = budgets.for_path("/batch")
    assert [b.name for b in batch] == ["batch", "requests", "per_second", "in_flight"]
    assert [(b.limit, b.window) for b in batch] == [(40, 60.0), (500, 60.0), (10, 1.0), (10, 0.0)]
    assert [b.name for b in budgets.for_path("/query")] == ["requests", "per_second", "in_flight"]
    scaled = QboBudgets("qbo:test", QboLimits(minute=3.0, per_minute=None))
    assert [(b.name, b.window) for b in scaled.for_path("/batch")] == [("batch", 3.0), ("per_second", 0.05),
                                                                         ("in_flight", 0.0)]
