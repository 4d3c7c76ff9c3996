"""One place for HTTP behaviour shared by the Atera and QBO clients: a ``requests.Session`` with timeouts, a
client-side rate limit (a token bucket, or budgets from ``pacing``), classification of responses into the error
tree, and retries with exponential backoff and jitter (tenacity) that honour ``Retry-After``.

What is retried: 429, 5xx and connection errors, for idempotent requests. A write is retried only when the
caller says it is safe (QBO writes carry a ``requestid``, so QBO replays them instead of doing them twice); an
unsafe write is retried only on 429 (the server says it did nothing).

How long: throttling (429) is waited out — QBO often sends no ``Retry-After`` and its window is a minute — until
the session has spent ``throttle_deadline`` seconds in all waiting on 429s (a run-level bound: one session per
task run). 5xx and connection errors have their own bound: ``error_deadline`` seconds since a request's first
attempt (and ``max_attempts``, when set).
"""
from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import redis
import requests
from tenacity import RetryCallState, Retrying, retry_if_exception, wait_random_exponential

from .errors import (
    ApiError,
    AuthError,
    FatalApiError,
    NotFoundError,
    RateLimitedError,
    RetriableApiError,
    ValidationError,
)
from .money import dumps, loads
from .pacing import Budget

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class RetryPolicy:
    """Backoff knobs (seconds); ``max_wait`` caps any single backoff sleep.

    After a 429 the request waits what the API says: ``Retry-After`` when the answer has one, else
    ``throttle_wait`` when set (QBO: "if you see 429, wait 60 seconds before retrying"), else an exponential
    backoff (Atera publishes nothing). It is never retried sooner: when the wait would pass ``throttle_deadline``
    (how long a session — one task run — may spend in all waiting out 429s) the request fails instead.
    ``error_deadline``: how long one request keeps retrying 5xx/connection errors; ``max_attempts``: an optional
    cap on the attempts of one request that failed with 5xx/connection errors (429s do not count)."""

    max_attempts: int | None = None
    initial_wait: float = 1.0
    max_wait: float = 60.0
    timeout: float = 60.0  # per request (connect, read)
    throttle_deadline: float = 1800.0
    error_deadline: float = 600.0
    throttle_wait: float | None = None


class RateLimiter:
    """A token bucket per key: ``rate`` requests per second, bursts up to ``burst``. Thread-safe."""

    def __init__(self, per_minute: float | None, burst: int | None = None,
                 clock: Callable[[], float] = time.monotonic, sleep: Callable[[float], None] = time.sleep) -> None:
        self.rate = (per_minute or 0) / 60.0
        self.burst = float(burst or max(1, int(self.rate)))
        self._tokens = self.burst
        self._last = clock()
        self._clock = clock
        self._sleep = sleep
        self._lock = threading.Lock()

    def acquire(self) -> float:
        """Take a token, sleeping as needed; answers the seconds slept."""
        if self.rate <= 0:
            return 0.0
        with self._lock:
            now = self._clock()
            self._tokens = min(self.burst, self._tokens + (now - self._last) * self.rate)
            self._last = now
            wait = 0.0 if self._tokens >= 1 else (1 - self._tokens) / self.rate
            self._tokens -= 1
        if wait > 0:
            self._sleep(wait)
        return wait


class SharedRateLimiter:
    """One budget per Atera account / QBO realm for every worker of every task: GCRA (the generic cell rate
    algorithm) in Redis, on Redis's own clock. ``rate`` requests per second, bursts up to ``burst``.

    Each ``acquire`` is one round trip: the script either books the next slot or answers how long to wait.
    """

    SCRIPT = """
    local t = redis.call('TIME')
    local now = tonumber(t[1]) + tonumber(t[2]) / 1000000
    local interval = tonumber(ARGV[1])
    local burst = tonumber(ARGV[2])
    local tat = tonumber(redis.call('GET', KEYS[1]) or '0')
    if tat < now then tat = now end
    local allow_at = tat + interval - burst * interval
    if now < allow_at then return tostring(allow_at - now) end
    redis.call('SET', KEYS[1], tostring(tat + interval), 'PX', math.ceil((tat + interval - now) * 1000) + 1000)
    return '0'
    """

    def __init__(self, client: redis.Redis, key: str, per_minute: float, burst: int = 1,
                 sleep: Callable[[float], None] = time.sleep) -> None:
        if not per_minute or per_minute <= 0:
            raise ValueError("a shared rate limit needs a positive per_minute")
        self.rate = per_minute / 60.0
        self.burst = max(int(burst), 1)
        self.key = f"atera_qbo:rate:{key}"
        self._script = client.register_script(self.SCRIPT)
        self._sleep = sleep

    def acquire(self) -> float:
        slept = 0.0
        while True:
            wait = float(self._script(keys=[self.key], args=[1.0 / self.rate, self.burst]))
            if wait <= 0:
                return slept
            self._sleep(wait)
            slept += wait


def make_limiter(key: str, per_minute: float | None, burst: int | None = None,
                 redis_client: redis.Redis | None = None) -> RateLimiter | SharedRateLimiter:
    """The limiter for one Atera account: in Redis when a client is given (shared by every worker), else owned by
    the client that asks (its threads share it)."""
    if redis_client is not None and per_minute:
        return SharedRateLimiter(redis_client, key, per_minute, burst or 1)
    return RateLimiter(per_minute, burst)


def _retry_after(response: requests.Response) -> float | None:
    value = response.headers.get("Retry-After")
    if not value:
        return None
    try:
        return max(float(value), 0.0)
    except ValueError:
        return None


def classify(response: requests.Response, entity: str, describe: Callable[[requests.Response], tuple[str, str | None]]
             ) -> ApiError | None:
    """The error a response stands for, or None for success. ``describe`` extracts (message, vendor_code)."""
    status = response.status_code
    if status < 400:
        return None
    message, code = describe(response)
    text = f"{entity}: HTTP {status}" + (f", code {code}" if code else "") + (f": {message}" if message else "")
    kwargs: dict[str, Any] = {"status": status, "vendor_code": code, "entity": entity}
    if status == 429:
        return RateLimitedError(text, retry_after=_retry_after(response), **kwargs)
    if status >= 500 or status == 408:
        return RetriableApiError(text, **kwargs)
    if status in (401, 403):
        return AuthError(text, **kwargs)
    if status == 404:
        return NotFoundError(text, **kwargs)
    if status in (400, 409, 422):
        return ValidationError(text, **kwargs)
    return FatalApiError(text, **kwargs)


class ApiSession:
    """A requests.Session with the sync's retry, timeout and rate-limit behaviour."""

    def __init__(self, base_url: str, *, policy: RetryPolicy | None = None,
                 limiter: RateLimiter | SharedRateLimiter | None = None,
                 describe: Callable[[requests.Response], tuple[str, str | None]] | None = None,
                 sleep: Callable[[float], None] = time.sleep, clock: Callable[[], float] = time.monotonic) -> None:
        self.base_url = base_url.rstrip("/")
        self.policy = policy or RetryPolicy()
        self.limiter = limiter
        self.session = requests.Session()
        self.session.headers["Accept"] = "application/json"
        self.session.headers["User-Agent"] = "atera-qbo-sync/1.0"
        self._describe = describe or (lambda r: ("", None))
        self._sleep = sleep
        self._clock = clock
        self.request_count = 0
        self.throttled_seconds = 0.0  # spent waiting out 429s, against policy.throttle_deadline
        self._lock = threading.Lock()

    def close(self) -> None:
        self.session.close()

    # -- retries ---------------------------------------------------------------------------------------------
    def _wait(self, state: RetryCallState) -> float:
        exc = state.outcome.exception() if state.outcome else None
        backoff: float = wait_random_exponential(multiplier=self.policy.initial_wait, max=self.policy.max_wait)(state)
        if isinstance(exc, RateLimitedError):
            if exc.retry_after is not None:
                return exc.retry_after  # what the API asked for, never less
            if self.policy.throttle_wait is not None:
                return self.policy.throttle_wait
        return backoff

    def _stop(self, state: RetryCallState, errors: list[float]) -> bool:
        """Stop waiting out a 429 only at the run's throttle deadline; stop retrying other failures after
        ``error_deadline`` seconds (or ``max_attempts`` of them)."""
        exc = state.outcome.exception() if state.outcome else None
        policy = self.policy
        if isinstance(exc, RateLimitedError):  # give up rather than retry sooner than the API asked
            with self._lock:
                if self.throttled_seconds + state.upcoming_sleep > policy.throttle_deadline:
                    return True
                self.throttled_seconds += state.upcoming_sleep
                return False
        errors.append(self._clock())
        if policy.max_attempts is not None and len(errors) >= policy.max_attempts:
            return True
        return errors[-1] + state.upcoming_sleep - errors[0] > policy.error_deadline

    def request(self, method: str, path: str, *, entity: str, safe_to_retry: bool | None = None,
                prepare: Callable[[], dict[str, Any]] | None = None, budgets: Sequence[Budget] = (),
                on_attempt: Callable[[], None] | None = None, **kwargs: Any) -> requests.Response:
        """Send with retries. ``prepare`` is called before every attempt (fresh auth headers after a refresh);
        each attempt holds a slot of every budget in ``budgets`` (taken in that order) until its answer;
        ``on_attempt`` is told of every attempt sent (metering)."""
        idempotent = method.upper() in ("GET", "HEAD", "PUT", "DELETE") if safe_to_retry is None else safe_to_retry

        def retriable(exc: BaseException) -> bool:
            if isinstance(exc, RateLimitedError):
                return True
            return isinstance(exc, RetriableApiError) and idempotent

        def before_sleep(state: RetryCallState) -> None:
            exc = state.outcome.exception() if state.outcome else None
            log.warning("%s: attempt %d failed (%s); retrying in %.1fs", entity, state.attempt_number, exc,
                        state.upcoming_sleep)

        errors: list[float] = []
        retrying = Retrying(
            stop=lambda state: self._stop(state, errors),
            wait=self._wait,
            retry=retry_if_exception(retriable),
            sleep=self._sleep,
            before_sleep=before_sleep,
            reraise=True,
        )
        return retrying(self._send_once, method, path, entity, prepare, budgets, kwargs, on_attempt)

    def _send_once(self, method: str, path: str, entity: str, prepare: Callable[[], dict[str, Any]] | None,
                   budgets: Sequence[Budget], kwargs: dict[str, Any],
                   on_attempt: Callable[[], None] | None = None) -> requests.Response:
        if self.limiter is not None:
            self.limiter.acquire()
        call_kwargs = dict(kwargs)
        if "json" in call_kwargs:  # Decimal amounts go out as exact JSON numbers, never through float
            call_kwargs["data"] = dumps(call_kwargs.pop("json")).encode("utf-8")
            call_kwargs["headers"] = {**(call_kwargs.get("headers") or {}), "Content-Type": "application/json"}
        if prepare is not None:
            extra = prepare()
            headers = dict(call_kwargs.pop("headers", None) or {})
            headers.update(extra.get("headers", {}))
            call_kwargs["headers"] = headers
        url = path if path.startswith("http") else f"{self.base_url}{path}"
        held: list[tuple[Budget, Any]] = []
        try:
            for budget in budgets:
                held.append((budget, budget.acquire()))
            self.request_count += 1
            if on_attempt is not None:
                on_attempt()
            response = self.session.request(method, url, timeout=self.policy.timeout, **call_kwargs)
        except (requests.ConnectionError, requests.Timeout) as exc:
            raise RetriableApiError(f"{entity}: {type(exc).__name__} talking to {self.base_url}",
                                    entity=entity) from exc
        finally:
            for budget, token in reversed(held):
                budget.release(token)
        error = classify(response, entity, self._describe)
        if error is not None:
            raise error
        return response

    @staticmethod
    def json(response: requests.Response) -> Any:
        """The body as JSON with Decimal amounts."""
        return loads(response.content) if response.content else None


def json_object(value: Any, entity: str) -> dict[str, Any]:
    """An API answer (or part of one) that must be a JSON object; anything else is the API's fault, said so."""
    if not isinstance(value, dict):
        raise FatalApiError(f"{entity}: the API answered {type(value).__name__}, not a JSON object", entity=entity)
    return value
