"""Building QBO query statements safely. QBO escapes with a backslash (``'O\\'Brien'``) and has no bind
parameters, so every literal goes through ``quote``."""
from __future__ import annotations

from collections.abc import Iterable

MAX_RESULTS = 1000


def quote(value: str) -> str:
    """A QBO string literal: backslashes and single quotes escaped with a backslash."""
    return "'" + str(value).replace("\\", "\\\\").replace("'", "\\'") + "'"


def in_list(values: Iterable[str]) -> str:
    return "(" + ", ".join(quote(v) for v in values) + ")"


def select(entity: str, where: str | None = None, *, order_by: str | None = "Id", start: int = 1,
           max_results: int = MAX_RESULTS) -> str:
    if not entity.isalpha():
        raise ValueError(f"not a QBO entity name: {entity!r}")
    if not 1 <= max_results <= MAX_RESULTS:
        raise ValueError(f"MAXRESULTS must be 1..{MAX_RESULTS}")
    sql = f"SELECT * FROM {entity}"
    if where:
        sql += f" WHERE {where}"
    if order_by:
        sql += f" ORDERBY {order_by}"
    return sql + f" STARTPOSITION {start} MAXRESULTS {max_results}"
