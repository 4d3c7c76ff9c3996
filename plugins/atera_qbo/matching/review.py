"""The review row: one model from matching through the review CSV to the commit.

A review is a table (pandas, for joins at 100,000 records) whose columns are exactly the fields of
:class:`ReviewRow`; :func:`to_frame` and :func:`rows_of` move between the two without renaming or reshaping
anything. Statuses, actions and decisions are Enums whose values are the words of the CSV (DESIGN.md B).
"""
from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import astuple, dataclass, fields
from enum import StrEnum
from typing import Any

import pandas as pd


class Entity(StrEnum):
    CUSTOMER = "customer"
    PRODUCT = "product"  # Atera products, rates/services and expenses; QBO items


class MatchStatus(StrEnum):
    """What matching found (the CSV's ``status``)."""
    MATCHED_EXACT = "matched_exact"
    MATCHED_OVERRIDE = "matched_override"
    SUGGESTED = "suggested"
    UNMATCHED = "unmatched"
    CONFLICT = "conflict"
    QBO_ONLY = "qbo_only"
    NONE = ""  # a row read from an overrides file with no (or an unknown) status: the status is not an input


class Action(StrEnum):
    """Finance's decision on a row (the CSV's ``action``)."""
    MATCH = "match"
    CREATE = "create"
    SKIP = "skip"
    IMPORT = "import"
    NONE = ""


class Decision(StrEnum):
    """What the commit does with a row."""
    MAP = "map"
    CREATE_QBO = "create_qbo"
    IMPORT_ATERA = "import_atera"
    NONE = "none"


COLUMNS = ["entity", "atera_id", "atera_name", "qbo_id", "qbo_name", "action", "status", "score", "candidates",
           "note"]  # the CSV's columns, in order (DESIGN.md B)
MATCHED = (MatchStatus.MATCHED_EXACT, MatchStatus.MATCHED_OVERRIDE)


@dataclass
class ReviewRow:
    """One row of the review. ``entity`` and ``action`` read from a file keep an unknown word as a plain ``str``
    (so the overrides check can name it with its line); everything matching writes is an Enum member."""
    entity: Entity | str
    atera_id: str = ""
    atera_name: str = ""
    qbo_id: str = ""
    qbo_name: str = ""
    action: Action | str = Action.NONE
    status: MatchStatus = MatchStatus.NONE
    score: str = ""
    candidates: str = ""
    note: str = ""
    decision: Decision = Decision.NONE
    line: int = 0  # line number in the file it was read from (1 = header); 0 = not from a file

    def __post_init__(self) -> None:
        self.entity = _enum(Entity, self.entity)
        self.action = _enum(Action, self.action)
        status = _enum(MatchStatus, self.status)
        self.status = status if isinstance(status, MatchStatus) else MatchStatus.NONE
        self.decision = Decision(self.decision or Decision.NONE)

    def as_list(self) -> list[str]:
        """The CSV cells, in ``COLUMNS`` order."""
        return [str(getattr(self, c) or "") for c in COLUMNS]


FIELDS = [f.name for f in fields(ReviewRow)]


def _enum(kind: type[StrEnum], value: Any) -> Any:
    if isinstance(value, kind):
        return value
    text = "" if value is None else str(value).strip().lower()
    return kind._value2member_map_.get(text, text)


def to_frame(rows: Iterable[ReviewRow]) -> pd.DataFrame:
    """Rows as a review table (columns = ``FIELDS``), empty or not."""
    return pd.DataFrame([astuple(r) for r in rows], columns=FIELDS)


def empty(n: int = 0, **values: Any) -> pd.DataFrame:
    """A review table of ``n`` default rows, with whole columns given as ``values`` (arrays, Series or scalars)."""
    defaults = ReviewRow(entity=Entity.CUSTOMER)
    data = {name: values.get(name, getattr(defaults, name)) for name in FIELDS}
    data = {k: v.to_numpy() if isinstance(v, pd.Series) else str(v) if isinstance(v, StrEnum) else v
            for k, v in data.items()}  # the table holds the Enums' values, as plain strings
    return pd.DataFrame(data, index=pd.RangeIndex(n), columns=FIELDS)


def cells_of(review: pd.DataFrame | Iterable[ReviewRow]) -> list[list[str]]:
    """The CSV cells of a review (its table or its rows), column by column in ``COLUMNS`` order, each as
    ``ReviewRow.as_list`` gives it (None / NaN → ""): whole columns at once, no row objects for a table."""
    if isinstance(review, pd.DataFrame):
        raw = [review[c].tolist() for c in COLUMNS]
    else:
        rows = list(review)
        raw = [[getattr(r, c) for r in rows] for c in COLUMNS]
    return [[str(v) if v and v == v else "" for v in column] for column in raw]


def rows_of(review: pd.DataFrame) -> Iterator[ReviewRow]:
    """The typed rows of a review table."""
    cols = [c for c in FIELDS if c in review.columns]
    values = [review[c].tolist() for c in cols]  # whole columns at once: iterating a pandas string column is slow
    for cells in zip(*values):
        row = {c: ("" if v is None or v != v else v) for c, v in zip(cols, cells)}  # None / NaN → ""
        row["line"] = int(row.get("line") or 0)
        yield ReviewRow(**row)
