"""Atera's paging envelope, as configuration rather than code in every handler.

``GET`` lists take ``page`` (default 1) and ``itemsInPage`` (default 20, capped at 50) and answer
``{"items", "page", "itemsInPage", "totalItemCount", "totalPages", "prevLink", "nextLink"}``; the links are full
URLs keeping the other query parameters, and ``null`` where there is no such page.

The items may be any sequence supporting ``len()`` and slicing (a list, or a lazy sequence such as the generated
invoices), so a late page costs what an early page costs.
"""
from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl, urlencode

from .exceptions import ValidationFailed

DEFAULT_ITEMS_IN_PAGE = 20
MAX_ITEMS_IN_PAGE = 50


def _int_arg(request: Any, name: str) -> int | None:
    raw = request.arg(name)
    if raw is None or raw == "":
        return None
    try:
        value = int(raw)
    except ValueError:
        value = None
    if value is None or not -(2 ** 31) <= value <= 2 ** 31 - 1:  # the parameters are int32
        raise ValidationFailed({name: [f"The value '{raw}' is not valid."]})
    return value


@dataclass(frozen=True)
class PageRequest:
    page: int
    items_in_page: int

    @classmethod
    def from_request(cls, request: Any) -> PageRequest:
        page = _int_arg(request, "page")
        size = _int_arg(request, "itemsInPage")
        page = 1 if page is None else page
        size = DEFAULT_ITEMS_IN_PAGE if size is None else size
        if page < 1:
            raise ValidationFailed({"page": ["Page index must be 1 or greater."]})
        if size < 1:
            raise ValidationFailed({"itemsInPage": ["Items in page must be 1 or greater."]})
        return cls(page, min(size, MAX_ITEMS_IN_PAGE))


def _link(request: Any, page: int, size: int) -> str:
    pairs = [(k, v) for k, v in parse_qsl(request.query_string, keep_blank_values=True)
             if k.lower() not in ("page", "itemsinpage")]
    pairs += [("page", str(page)), ("itemsInPage", str(size))]
    return f"{request.base_url}{request.path}?{urlencode(pairs)}"


def envelope(items: Sequence[Any], request: Any, render: Callable[[Any], Any] | None = None) -> dict[str, Any]:
    """One page of ``items`` (rendered with ``render``) in Atera's envelope."""
    paging = PageRequest.from_request(request)
    page, size = paging.page, paging.items_in_page
    total = len(items)
    total_pages = (total + size - 1) // size
    start = (page - 1) * size
    chunk = items[start:start + size] if start < total else []
    rendered = [render(item) for item in chunk] if render else list(chunk)
    return {
        "items": rendered,
        "page": page,
        "itemsInPage": size,
        "totalItemCount": total,
        "totalPages": total_pages,
        "prevLink": _link(request, page - 1, size) if page > 1 else None,
        "nextLink": _link(request, page + 1, size) if page < total_pages else None,
    }
