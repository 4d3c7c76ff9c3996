"""The QBO client surface the domain uses (export, matching, reconciliation, extraction), as a ``Protocol``: the
domain is typed against this, ``QboClient`` implements it, and a test may hand in anything that does."""
from __future__ import annotations

from collections.abc import Iterator
from typing import Any, Protocol


class QboApi(Protocol):
    """QBO's accounting API for one realm: reads, CDC, creates (with request ids) and /batch."""

    realm_id: str

    def close(self) -> None: ...

    def query(self, statement: str, *, entity: str) -> dict[str, Any]: ...

    def query_all(self, entity: str, where: str | None = None, *, page_size: int = ...) -> Iterator[dict[str, Any]]:
        ...

    def cdc(self, entities: list[str], changed_since: str) -> dict[str, list[dict[str, Any]]]: ...

    def read(self, entity: str, entity_id: str) -> dict[str, Any]: ...

    def preferences(self) -> dict[str, Any]: ...

    def company_info(self) -> dict[str, Any]: ...

    def create(self, entity: str, body: dict[str, Any], *, request_id: str | None = None,
               label: str | None = None) -> dict[str, Any]: ...

    def batch(self, items: list[dict[str, Any]], *, request_id: str | None = None,
              label: str = ...) -> dict[str, dict[str, Any]]: ...
