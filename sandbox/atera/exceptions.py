"""Domain exceptions of the Atera twin, each carrying the status and RFC 7807 ProblemDetails body Atera answers.

    AteraError (400, ProblemDetails)
    ├── BadRequest            400 a request the API refuses (with ``detail``)
    │   └── ValidationFailed  400 ASP.NET model validation: ``errors`` {field: [messages]}
    ├── NotFound              404
    └── Conflict              409 (POST /contacts with an email that exists)

Atera runs on ASP.NET Core: its 400s are ``ValidationProblemDetails`` with a ``type`` link to the RFC section,
a ``title``, the ``status``, an ``errors`` map and a ``traceId``. The state model raises these; the HTTP layer only
renders them (``to_problem``).
"""
from __future__ import annotations

from typing import Any


class AteraError(Exception):
    status = 400
    title = "Bad Request"
    type = "https://tools.ietf.org/html/rfc9110#section-15.5.1"

    def __init__(self, detail: str, errors: dict[str, list[str]] | None = None) -> None:
        super().__init__(detail)
        self.detail = detail
        self.errors = errors

    def to_problem(self, instance: str | None = None, trace_id: str | None = None) -> dict[str, Any]:
        body: dict[str, Any] = {"type": self.type, "title": self.title, "status": self.status,
                                "detail": self.detail, "instance": instance}
        if self.errors:
            body["errors"] = self.errors
        if trace_id:
            body["traceId"] = trace_id
        return body


class BadRequest(AteraError):
    pass


class ValidationFailed(BadRequest):
    title = "One or more validation errors occurred."

    def __init__(self, errors: dict[str, list[str]], detail: str | None = None) -> None:
        if detail is None:
            detail = "; ".join(f"{field}: {' '.join(msgs)}" for field, msgs in errors.items())
        super().__init__(detail, errors)


class NotFound(AteraError):
    status = 404
    title = "Not Found"
    type = "https://tools.ietf.org/html/rfc9110#section-15.5.5"


class Conflict(AteraError):
    status = 409
    title = "Conflict"
    type = "https://tools.ietf.org/html/rfc9110#section-15.5.10"


def field_error(field: str, message: str) -> ValidationFailed:
    return ValidationFailed({field: [message]})
