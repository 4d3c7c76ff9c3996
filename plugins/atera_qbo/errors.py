"""The errors of the sync, as one tree. Retries happen in one place (``http.ApiSession``); tasks turn every
``FatalError`` into ``AirflowFailException`` (no Airflow retries) and let ``RetriableApiError`` through.

    SyncError
    ├── ConfigError                  a connection, variable or param is missing or wrong
    ├── ApiError(status, vendor_code, entity)
    │   ├── RetriableApiError        429, 5xx, connection reset, timeout: try again later
    │   │   └── RateLimitedError     429 (carries retry_after)
    │   └── FatalApiError            the request itself is wrong: retrying changes nothing
    │       ├── AuthError            401/403, invalid_grant, invalid_client
    │       ├── NotFoundError        404 / QBO 610
    │       ├── StaleObjectError     QBO 5010 (SyncToken out of date)
    │       └── ValidationError      400 / QBO 2xxx, 6xxx
    ├── MatchingError                an overrides CSV row that cannot be applied
    ├── DataQualityError             a Great Expectations gate failed
    └── BatchLoadError               some invoices of an export batch failed (per-item results attached)

Messages name the record and what to do; they never carry a secret or a full response body.
"""
from __future__ import annotations

from typing import Any


class SyncError(Exception):
    """Base of every error this package raises on purpose."""


class FatalError(SyncError):
    """Retrying will not help: a human must change data or configuration."""


class ConfigError(FatalError):
    """A connection, variable or parameter is missing or invalid."""


class ApiError(SyncError):
    def __init__(self, message: str, *, status: int | None = None, vendor_code: str | None = None,
                 entity: str | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.vendor_code = vendor_code
        self.entity = entity


class RetriableApiError(ApiError):
    """A transient failure: rate limit, server error, connection problem."""


class RateLimitedError(RetriableApiError):
    def __init__(self, message: str, *, retry_after: float | None = None, **kwargs: Any) -> None:
        super().__init__(message, **kwargs)
        self.retry_after = retry_after


class FatalApiError(ApiError, FatalError):
    """The API refused the request for a reason a retry cannot fix."""


class AuthError(FatalApiError):
    pass


class NotFoundError(FatalApiError):
    pass


class StaleObjectError(FatalApiError):
    pass


class ValidationError(FatalApiError):
    pass


class MatchingError(FatalError):
    """An override or match decision that cannot be applied (names the CSV row)."""


class DataQualityError(FatalError):
    """A quality gate failed; ``summary`` says which expectation and which ids."""

    def __init__(self, message: str, summary: dict[str, Any] | None = None) -> None:
        super().__init__(message)
        self.summary = summary or {}


class BatchLoadError(FatalError):
    """Some invoices of a batch failed; ``results`` maps each Atera invoice number to its outcome."""

    def __init__(self, message: str, results: dict[str, Any]) -> None:
        super().__init__(message)
        self.results = results
