"""The review row: one model from matching through the review CSV to the commit.

A review is a table (pandas, for joins at 100,000 records) whose columns are exactly the fields of
:class:`ReviewRow`; :func:`to_frame` and :func:`rows_of` move between the two without renaming or reshaping
anything. Statuses, actions and decisions are Enums whose values are the words of the CSV (DESIGN.md B).
"""
from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from dataclasses import MISSING, astuple, dataclass, fields
from enum import StrEnum
from typing import Any, TypeVar

import numpy as np
import pandas as pd

E = TypeVar("E", bound=StrEnum)


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

    @classmethod
    def of(cls, value: object) -> MatchStatus:
        """The status a cell names; ``NONE`` for an empty or unknown one."""
        status = _enum(cls, value)
        return status if isinstance(status, MatchStatus) else cls.NONE


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

    @classmethod
    def of(cls, value: object) -> Decision:
        """The decision a cell names; ``NONE`` for an empty one (an unknown word is a ``ValueError``)."""
        if isinstance(value, cls):
            return value
        return cls(str(value)) if value else cls.NONE


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
        self.status = MatchStatus.of(self.status)
        self.decision = Decision.of(self.decision)

    def as_list(self) -> list[str]:
        """The CSV cells, in ``COLUMNS`` order."""
        return [str(getattr(self, c) or "") for c in COLUMNS]


FIELDS = [f.name for f in fields(ReviewRow)]
_DEFAULTS = {f.name: f.default for f in fields(ReviewRow)}  # MISSING: a column every review table has (entity)


def _enum(kind: type[E], value: object) -> E | str:
    """The member of ``kind`` a cell names (blanks and case ignored), else the cell's text."""
    if isinstance(value, kind):
        return value
    text = "" if value is None else str(value).strip().lower()
    member = kind._value2member_map_.get(text)
    return member if isinstance(member, kind) else text


def to_frame(rows: Iterable[ReviewRow]) -> pd.DataFrame:
    """Rows as a review table (columns = ``FIELDS``), empty or not."""
    return pd.DataFrame([astuple(r) for r in rows], columns=FIELDS)


def empty(n: int = 0, **values: object) -> pd.DataFrame:
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


def _cells(review: pd.DataFrame, name: str) -> list[Any]:
    """One column's cells (None / NaN → ""), whole at once: iterating a pandas string column is slow. A column the
    table lacks gives the field's default in every row."""
    if name not in review.columns and _DEFAULTS[name] is not MISSING:
        return [_DEFAULTS[name]] * len(review)
    return ["" if v is None or v != v else v for v in review[name].tolist()]


def rows_of(review: pd.DataFrame) -> Iterator[ReviewRow]:
    """The typed rows of a review table."""
    for (entity, atera_id, atera_name, qbo_id, qbo_name, action, status, score, candidates, note, decision,
         line) in zip(*[_cells(review, name) for name in FIELDS], strict=True):
        yield ReviewRow(entity, atera_id=atera_id, atera_name=atera_name, qbo_id=qbo_id, qbo_name=qbo_name,
                        action=action, status=MatchStatus.of(status), score=score, candidates=candidates, note=note,
                        decision=Decision.of(decision), line=int(line or 0))


def set_cells(review: pd.DataFrame, at: np.ndarray, column: str, values: str | Sequence[str] | np.ndarray) -> None:
    """Write ``values`` into ``column`` of the rows at positions ``at``, in place (the columns are unique)."""
    position = review.columns.get_loc(column)
    if not isinstance(position, int):
        raise KeyError(f"the review table has several columns {column!r}")
    review.iloc[at, position] = values
