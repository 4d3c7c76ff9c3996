"""Request budgets counted the way QBO counts them: at most ``limit`` requests in any sliding ``window`` of seconds
(``window=0``: at most ``limit`` at once). One budget per limit QBO enforces per realm — 500 requests/min,
40 ``/batch``/min, 10 in flight — so the client waits for a slot instead of discovering the limit through 429s.

A request holds its slot from the moment it is granted until its answer (or error) arrives, and then counts in
the window from that moment on. QBO records a request somewhere between the two, so a slot handed to the next
request one window after the previous answer can never land inside QBO's window: the client may use the whole
allowance (a burst of 40 batches when the window is empty) without a safety margin.

- ``WindowBudget``: in this process (one per client; threads of the client share it);
- ``RedisWindowBudget``: in Redis (a sorted set per budget, on Redis's clock), shared by every worker of every
  task that talks to the realm. A worker killed while holding a slot frees it after ``lease`` seconds.
"""
from __future__ import annotations

import threading
import time
import uuid
from collections import deque
from collections.abc import Callable
from typing import Any, Protocol

import redis


class Budget(Protocol):
    name: str

    def acquire(self) -> Any:
        """Block until a slot is free; answer a token for ``release``."""

    def release(self, token: Any) -> None:
        """The request holding ``token`` is over: its slot counts in the window from now on."""


class WindowBudget:
    """At most ``limit`` requests per sliding ``window`` seconds in this process (thread-safe)."""

    def __init__(self, name: str, limit: int, window: float, *, clock: Callable[[], float] = time.monotonic,
                 sleep: Callable[[float], None] = time.sleep) -> None:
        if limit <= 0 or window < 0:
            raise ValueError(f"budget {name}: limit must be positive and window non-negative")
        self.name, self.limit, self.window = name, limit, window
        self._clock, self._sleep = clock, sleep
        self._held = 0
        self._done: deque[float] = deque()  # when each finished request ended, oldest first
        self._cond = threading.Condition()

    def acquire(self) -> None:
        while True:
            with self._cond:
                now = self._clock()
                while self._done and self._done[0] <= now - self.window:
                    self._done.popleft()
                if self._held + len(self._done) < self.limit:
                    self._held += 1
                    return None
                if not self._done:  # every slot is held by a request in flight: wait for one to end
                    self._cond.wait(timeout=1.0)
                    continue
                wait = self._done[0] + self.window - now
            self._sleep(max(wait, 0.0))  # the oldest finished request leaves the window then

    def release(self, token: Any = None) -> None:
        with self._cond:
            self._held = max(self._held - 1, 0)
            if self.window > 0:
                self._done.append(self._clock())
            self._cond.notify()


class RedisWindowBudget:
    """``WindowBudget`` in Redis, shared by every process: each request is a member of a sorted set scored with
    the moment it stops counting against the limit (held: now + lease; finished: its end + window)."""

    ACQUIRE = """
    local t = redis.call('TIME')
    local now = tonumber(t[1]) + tonumber(t[2]) / 1000000
    local limit, window, lease = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])
    redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
    if redis.call('ZCARD', KEYS[1]) < limit then
      redis.call('ZADD', KEYS[1], now + lease, ARGV[4])
      redis.call('PEXPIRE', KEYS[1], math.ceil((lease + window) * 1000) + 1000)
      return '0'
    end
    local first = redis.call('ZRANGE', KEYS[1], 0, 0, 'WITHSCORES')
    return tostring(tonumber(first[2]) - now)
    """
    RELEASE = """
    local t = redis.call('TIME')
    local now = tonumber(t[1]) + tonumber(t[2]) / 1000000
    redis.call('ZADD', KEYS[1], 'XX', now + tonumber(ARGV[1]), ARGV[2])
    return '0'
    """

    def __init__(self, client: redis.Redis, key: str, name: str, limit: int, window: float, *, lease: float = 300.0,
                 poll: float = 0.02, sleep: Callable[[float], None] = time.sleep) -> None:
        if limit <= 0 or window < 0:
            raise ValueError(f"budget {name}: limit must be positive and window non-negative")
        self.name, self.limit, self.window, self.lease = name, limit, window, lease
        self.key = f"atera_qbo:budget:{key}:{name}"
        self._acquire = client.register_script(self.ACQUIRE)
        self._release = client.register_script(self.RELEASE)
        self._poll, self._sleep = poll, sleep

    def acquire(self) -> str:
        token = uuid.uuid4().hex
        while True:
            wait = float(self._acquire(keys=[self.key], args=[self.limit, self.window, self.lease, token]))
            if wait <= 0:
                return token
            # a finished request leaves the window at a known moment; a held one whenever it ends: poll
            self._sleep(min(wait, self._poll) if wait > self.window else wait)

    def release(self, token: str) -> None:
        self._release(keys=[self.key], args=[self.window, token])


def make_budget(name: str, limit: int | None, window: float, *, key: str, redis_client: redis.Redis | None = None
                ) -> WindowBudget | RedisWindowBudget | None:
    """The budget for one limit: in Redis when a client is given, else in this process; None for no limit."""
    if not limit:
        return None
    if redis_client is not None:
        return RedisWindowBudget(redis_client, key, name, limit, window)
    return WindowBudget(name, limit, window)
