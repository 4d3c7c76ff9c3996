"""Rate limits as the vendors apply them: requests per (scaled) minute per tenant, and concurrency caps.

``time_scale`` N makes a "minute" last 60/N seconds (and a token's lifetime 1/N of itself: QBO's access tokens,
refresh tokens and grants, Atera's minted JWTs), so tests and benchmarks can exercise real limits quickly.
"""
from __future__ import annotations

import threading
import time
from collections import defaultdict, deque
from collections.abc import Callable


class Clock:
    """Real time with a scale factor for the twins' windows and lifetimes.

    ``now()`` is a monotonic reading for rate-limit windows; ``wall()`` the epoch seconds for instants that outlive
    the process (token issue and expiry times in a state file). ``wall()`` moves with ``now()``: a test that replaces
    ``_now`` by a manual clock moves both, so token lifetimes follow the manual clock too.
    """

    def __init__(self, time_scale: float = 1.0, now: Callable[[], float] = time.monotonic) -> None:
        if time_scale <= 0:
            raise ValueError("time_scale must be positive")
        self.time_scale = time_scale
        self._now = now
        self._epoch = time.time() - now()  # the epoch second at which ``now()`` read 0

    def now(self) -> float:
        return self._now()

    def wall(self) -> float:
        """Epoch seconds (real, unscaled): what the twin stamps on tokens and grants."""
        return self._epoch + self.now()

    def elapsed(self, since_wall: float) -> float:
        """Vendor-seconds since the epoch moment ``since_wall`` (time-scaled, so lifetimes shrink with the scale)."""
        return (self.wall() - float(since_wall)) * self.time_scale

    def seconds(self, vendor_seconds: float) -> float:
        """How long ``vendor_seconds`` of the vendor's time last here."""
        return vendor_seconds / self.time_scale


class SlidingWindowLimiter:
    """At most ``limit`` events per ``window`` vendor-seconds per key (a true sliding window, as QBO counts)."""

    def __init__(self, limit: int | None, clock: Clock, window: float = 60.0) -> None:
        self.limit = limit
        self.window = window
        self.clock = clock
        self._events: dict[str, deque[float]] = defaultdict(deque)
        self._lock = threading.Lock()

    def try_acquire(self, key: str) -> float | None:
        """Record an event and answer None, or answer how many real seconds to wait before one is allowed."""
        if not self.limit:
            return None
        now = self.clock.now()
        window = self.clock.seconds(self.window)
        with self._lock:
            events = self._events[key]
            while events and events[0] <= now - window:
                events.popleft()
            if len(events) >= self.limit:
                return max(events[0] + window - now, 0.0)
            events.append(now)
            return None

    def reset(self) -> None:
        with self._lock:
            self._events.clear()


class ConcurrencyLimiter:
    """At most ``limit`` requests in flight per key."""

    def __init__(self, limit: int | None) -> None:
        self.limit = limit
        self._inflight: dict[str, int] = defaultdict(int)
        self._lock = threading.Lock()

    def try_enter(self, key: str) -> bool:
        with self._lock:
            if self.limit and self._inflight[key] >= self.limit:
                return False
            self._inflight[key] += 1
            return True

    def leave(self, key: str) -> None:
        with self._lock:
            self._inflight[key] = max(self._inflight[key] - 1, 0)
