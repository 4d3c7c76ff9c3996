"""Injected faults (``PUT /_sandbox/faults``) and the twins' request log (``GET /_sandbox/requests``)."""
from __future__ import annotations

import random
import threading
import time
from collections import deque
from dataclasses import asdict, dataclass, field, fields
from decimal import Decimal
from typing import Any


class FaultConfigError(ValueError):
    """A faults document the twin cannot apply."""


@dataclass
class Faults:
    """What goes wrong on purpose.

    - ``error_rate`` of requests get ``error_status`` (503 by default) before they touch state;
    - ``latency_ms`` is added to every request;
    - ``commit_then_drop_rate`` of successful writes are performed and committed, then the connection is dropped
      without an answer: the case that breaks naive retries;
    - ``xml_429`` (QBO) renders throttling faults as XML, as QBO sometimes does;
    - ``paths``: when not empty, errors and drops hit only requests whose path ends with one of these
      (``["/batch"]``: QBO's writes fail, its queries do not).
    """

    error_rate: float = 0.0
    error_status: int = 503
    latency_ms: int = 0
    commit_then_drop_rate: float = 0.0
    xml_429: bool = False
    paths: list[str] = field(default_factory=list)

    @classmethod
    def from_json(cls, doc: Any) -> Faults:
        if doc is None:
            return cls()
        if not isinstance(doc, dict):
            raise FaultConfigError("faults must be a JSON object")
        known = {f.name for f in fields(cls)}
        unknown = set(doc) - known
        if unknown:
            raise FaultConfigError(f"unknown fault settings: {sorted(unknown)}; known: {sorted(known)}")
        # request bodies are read with Decimal for non-integers (store.loads): rates are plain floats here
        doc = {k: float(v) if isinstance(v, Decimal) else v for k, v in doc.items()}
        faults = cls(**doc)
        for name in ("error_rate", "commit_then_drop_rate"):
            value = getattr(faults, name)
            if not isinstance(value, (int, float)) or not 0 <= value <= 1:
                raise FaultConfigError(f"{name} must be a number between 0 and 1")
        if not isinstance(faults.error_status, int) or not 400 <= faults.error_status <= 599:
            raise FaultConfigError("error_status must be an HTTP error status (400-599)")
        if not isinstance(faults.latency_ms, int) or faults.latency_ms < 0:
            raise FaultConfigError("latency_ms must be a non-negative integer")
        if not isinstance(faults.paths, list) or not all(isinstance(p, str) and p for p in faults.paths):
            raise FaultConfigError("paths must be a list of path endings like [\"/batch\"]")
        return faults

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


class FaultInjector:
    """Draws fault decisions from a seedable RNG, so a seeded twin fails the same way every run."""

    def __init__(self, seed: int | None = None) -> None:
        self.config = Faults()
        self._rng = random.Random(seed)
        self._lock = threading.Lock()

    def configure(self, doc: Any) -> Faults:
        self.config = Faults.from_json(doc)
        return self.config

    def delay(self) -> None:
        if self.config.latency_ms:
            time.sleep(self.config.latency_ms / 1000)

    def _draw(self, rate: float) -> bool:
        if rate <= 0:
            return False
        with self._lock:
            return self._rng.random() < rate

    def applies(self, path: str) -> bool:
        paths = self.config.paths
        return not paths or any(path.rstrip("/").endswith(p.rstrip("/")) for p in paths)

    def should_fail(self, path: str = "") -> bool:
        return self.applies(path) and self._draw(self.config.error_rate)

    def should_drop_after_commit(self, path: str = "") -> bool:
        return self.applies(path) and self._draw(self.config.commit_then_drop_rate)


class RequestLog:
    """What the twin was asked, in order: ``{"method", "path", "query", "status", "time", ...}``.

    Only the method, path, query string, status and time are kept — never headers or bodies (they carry secrets).
    """

    def __init__(self, maxlen: int = 200_000) -> None:
        self._entries: deque[dict[str, Any]] = deque(maxlen=maxlen)
        self._lock = threading.Lock()

    def add(self, method: str, path: str, query: str, status: int | None, **extra: Any) -> None:
        entry = {"method": method, "path": path, "query": query, "status": status, "time": time.time()}
        entry.update(extra)
        with self._lock:
            self._entries.append(entry)

    def entries(self) -> list[dict[str, Any]]:
        with self._lock:
            return list(self._entries)

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()
