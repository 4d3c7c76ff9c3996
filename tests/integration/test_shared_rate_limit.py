"""The rate budget of an Atera account / QBO realm is shared by every worker through Redis (127.0.0.1:6379)."""
from __future__ import annotations

import itertools
import multiprocessing
import time
import uuid
from pathlib import Path

import pytest

redis = pytest.importorskip("redis")
REDIS_URL = "redis://127.0.0.1:6379/15"


@pytest.fixture
def client():
    c = redis.Redis.from_url(REDIS_URL, socket_connect_timeout=2)
    try:
        c.ping()
    except redis.ConnectionError:
        pytest.skip("no Redis on 127.0.0.1:6379 (.ci/run starts one)")
    yield c
    c.close()


def _worker(key: str, n: int, per_minute: float, out) -> None:  # pragma: no cover - child process
    import sys

    sys.path[:0] = [str(Path(__file__).resolve().parents[2] / "plugins")]
    import redis as r

    from atera_qbo.http import SharedRateLimiter

    limiter = SharedRateLimiter(r.Redis.from_url(REDIS_URL), key, per_minute)
    stamps = []
    for _ in range(n):
        limiter.acquire()
        stamps.append(time.time())
    out.put(stamps)


def test_two_processes_share_one_budget(client):
    key = f"test:{uuid.uuid4().hex}"
    per_minute, n = 600, 15  # 10 requests/s shared: 30 requests take ≥ 2.9 s in all
    ctx = multiprocessing.get_context("spawn")
    out = ctx.Queue()
    procs = [ctx.Process(target=_worker, args=(key, n, per_minute, out)) for _ in range(2)]
    for p in procs:
        p.start()
    stamps = sorted(out.get(timeout=60) + out.get(timeout=60))
    for p in procs:
        p.join(timeout=10)
    span = stamps[-1] - stamps[0]
    assert span >= (2 * n - 1) / 10 * 0.95, f"30 requests in {span:.2f} s: the budget was not shared"
    gaps = [b - a for a, b in itertools.pairwise(stamps)]
    assert min(gaps) > 0.05  # never two at once: ~0.1 s apart


def test_hook_uses_redis_when_the_connection_is_defined(client, monkeypatch):
    import json

    from atera_qbo import hooks
    from atera_qbo.http import SharedRateLimiter

    monkeypatch.setenv("AIRFLOW_CONN_ATERA_QBO_REDIS", json.dumps({"conn_type": "redis", "host": "127.0.0.1",
                                                                   "port": 6379, "schema": "15"}))
    monkeypatch.setenv("AIRFLOW_CONN_ATERA_DEFAULT", json.dumps({"conn_type": "http", "host": "http://127.0.0.1:9",
                                                                 "password": "secret-api-key"}))
    client_ = hooks.AteraHook().get_conn()
    assert isinstance(client_.http.limiter, SharedRateLimiter)
    assert "secret-api-key" not in client_.http.limiter.key  # a digest, not the key


def test_qbo_budgets_in_redis_hold_every_worker_to_one_window_and_one_in_flight_cap(client):
    """Two workers, each with its own Redis connection and budget objects: together never more than 5 requests in
    any 0.5-s window (measured from each request's start), never more than 2 in flight."""
    import threading

    from atera_qbo.pacing import RedisWindowBudget

    key = f"test:{uuid.uuid4().hex}"
    starts: list[float] = []
    in_flight, most = [0], [0]
    lock = threading.Lock()

    def worker() -> None:
        conn = redis.Redis.from_url(REDIS_URL)
        window = RedisWindowBudget(conn, key, "batch", 5, 0.5)
        cap = RedisWindowBudget(conn, key, "in_flight", 2, 0.0)
        for _ in range(8):
            tokens = window.acquire(), cap.acquire()
            with lock:
                starts.append(time.time())
                in_flight[0] += 1
                most[0] = max(most[0], in_flight[0])
            time.sleep(0.01)
            with lock:
                in_flight[0] -= 1
            cap.release(tokens[1])
            window.release(tokens[0])
        conn.close()

    threads = [threading.Thread(target=worker) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    starts.sort()
    assert len(starts) == 16 and most[0] <= 2
    assert all(b - a >= 0.5 for a, b in zip(starts, starts[5:], strict=False)), "more than 5 requests in one window"
    assert starts[4] - starts[0] < 0.5  # the first five went at once: the whole allowance is used


def test_qbo_hook_keeps_each_limit_of_the_connection_in_redis(client, monkeypatch, tmp_path):
    import json

    from atera_qbo import hooks
    from atera_qbo.pacing import RedisWindowBudget

    monkeypatch.setenv("AIRFLOW_CONN_ATERA_QBO_REDIS", json.dumps({"conn_type": "redis", "host": "127.0.0.1",
                                                                   "port": 6379, "schema": "15"}))
    monkeypatch.setenv("AIRFLOW_CONN_ATERA_QBO_STAGING", json.dumps({"conn_type": "sqlite",
                                                                     "host": str(tmp_path / "staging.db")}))
    monkeypatch.setenv("AIRFLOW_CONN_QUICKBOOKS_DEFAULT", json.dumps({
        "conn_type": "http", "host": "http://127.0.0.1:9", "login": "id", "password": "secret",
        "extra": {"realm_id": "4620816365", "refresh_token": "rt", "batch_per_minute": 30, "max_in_flight": 4,
                  "throttle_deadline": 900}}))
    qbo = hooks.QuickBooksHook().get_conn()
    budgets = {b.name: b for b in qbo.budgets.for_path("/batch")}
    assert all(isinstance(b, RedisWindowBudget) for b in budgets.values())
    assert {n: (b.limit, b.window) for n, b in budgets.items()} == {
        "batch": (30, 60.0), "requests": (500, 60.0), "per_second": (10, 1.0), "in_flight": (4, 0.0)}
    assert all("4620816365" in b.key for b in budgets.values())
    assert qbo.http.policy.throttle_deadline == 900
