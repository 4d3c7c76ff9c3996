"""The wizard's data: the latest review (``match_review.csv``, written by every matching run), finance's draft
decisions applied to it, and candidate search over the staged QBO catalogs.

Decisions made in the browser become an overrides file in the review CSV format — the review file with the
``action`` (and, for a match to another candidate, ``qbo_id``/``qbo_name``, and ``note``) cells filled in, exactly
what finance would write editing the CSV by hand — so the matching DAG reads one format whichever way it came.
"""
from __future__ import annotations

import copy
import threading
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from ..errors import MatchingError
from ..matching.review import MATCHED, Action, Entity, MatchStatus, ReviewRow
from ..matching.review_csv import read_rows, write_rows
from ..staging.db import chunked, table


@dataclass(frozen=True)
class StepSpec:
    """What a step of the wizard shows (rows of ``entity``, QBO-only ones or not) and the actions it offers."""

    entity: Entity
    qbo_only: bool
    actions: tuple[Action, ...]


STEPS = {
    "products": StepSpec(Entity.PRODUCT, False, (Action.MATCH, Action.CREATE, Action.SKIP)),
    "customers": StepSpec(Entity.CUSTOMER, False, (Action.MATCH, Action.CREATE, Action.SKIP)),
    "import": StepSpec(Entity.CUSTOMER, True, (Action.IMPORT, Action.SKIP)),
}
SEARCH_LIMIT = 20
PAGE_SIZE = 100


@dataclass(frozen=True)
class Candidate:
    qbo_id: str
    name: str
    score: str = ""


@dataclass
class Choice:
    """Finance's decision on one row, as the browser posts it."""
    action: Action
    qbo_id: str = ""
    note: str = ""


def row_key(row: ReviewRow) -> str:
    """The stable key of a review row: ``entity|atera_id``, or ``customer|qbo:<id>`` for a QBO-only row."""
    return f"{row.entity}|{row.atera_id}" if row.atera_id else f"{row.entity}|qbo:{row.qbo_id}"


def candidates(row: ReviewRow) -> list[Candidate]:
    """The row's candidates (``id|name|score;...``), the current ``qbo_id`` first when it is not among them."""
    found = []
    for part in filter(None, (row.candidates or "").split(";")):
        ident, _, rest = part.partition("|")
        name, _, score = rest.rpartition("|")
        found.append(Candidate(ident, name, score))
    if row.qbo_id and row.qbo_id not in {c.qbo_id for c in found}:
        found.insert(0, Candidate(row.qbo_id, row.qbo_name, row.score))
    return found


class Review:
    """The latest review file, re-read when it changes."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._stamp: tuple[float, int] | None = None
        self._rows: list[ReviewRow] = []

    def rows(self) -> list[ReviewRow]:
        if not self.path.exists():
            return []
        stat = self.path.stat()
        stamp = (stat.st_mtime, stat.st_size)
        if stamp != self._stamp:
            self._rows, self._stamp = list(read_rows(self.path)), stamp
        return self._rows

    def step_rows(self, step: str) -> list[ReviewRow]:
        spec = STEPS[step]
        return [r for r in self.rows()
                if r.entity == spec.entity and (r.status == MatchStatus.QBO_ONLY) == spec.qbo_only]


class ReviewCache:
    """The ``Review`` of each company's review file, kept between requests (a file is re-read when it changes)."""

    def __init__(self) -> None:
        self._reviews: dict[Path, Review] = {}
        self._lock = threading.Lock()

    def of(self, path: Path) -> Review:
        with self._lock:
            found = self._reviews.get(path)
            if found is None:
                found = self._reviews[path] = Review(path)
            return found


@dataclass
class Page:
    rows: list[ReviewRow]
    total: int
    page: int
    pages: int
    status_counts: dict[str, int] = field(default_factory=dict)


def page_of(rows: list[ReviewRow], *, status: str = "", query: str = "", page: int = 1,
            size: int = PAGE_SIZE) -> Page:
    counts: dict[str, int] = {}
    for r in rows:
        counts[r.status] = counts.get(r.status, 0) + 1
    needle = query.strip().lower()
    chosen = [r for r in rows if (not status or r.status == status)
              and (not needle or needle in (r.atera_name or "").lower() or needle in (r.qbo_name or "").lower())]
    pages = max(1, -(-len(chosen) // size))
    page = min(max(1, page), pages)
    return Page(chosen[(page - 1) * size:page * size], len(chosen), page, pages, counts)


def suggestions_above(rows: Iterable[ReviewRow], min_score: float) -> dict[str, Choice]:
    """``match`` decisions accepting every suggestion scoring at least ``min_score`` (bulk accept)."""
    out = {}
    for r in rows:
        if r.status == MatchStatus.SUGGESTED and r.qbo_id and r.score and float(r.score) >= min_score:
            out[row_key(r)] = Choice(Action.MATCH, r.qbo_id)
    return out


def _problem(key: str, row: ReviewRow | None, choice: Choice) -> str | None:
    if row is None:
        return f"{key}: not in the latest review (a newer matching run replaced it): reload the page"
    allowed = STEPS["import" if row.status == MatchStatus.QBO_ONLY else "customers"].actions
    if choice.action not in allowed:
        return (f"{key} ({row.atera_name or row.qbo_name}): action {str(choice.action)!r} is not one of "
                f"{', '.join(allowed)}")
    if choice.action == Action.MATCH and not choice.qbo_id:
        return f"{key} ({row.atera_name}): choose a QBO record to match"
    return None


def parse_decisions(raw: Any, rows: list[ReviewRow]) -> dict[str, Choice]:
    """The draft posted by the browser (``{key: {action, qbo_id, note}}``), checked against the review: unknown
    rows, actions a row cannot take, and matches without a QBO id are refused, each named."""
    if not isinstance(raw, dict):
        raise MatchingError("the decisions are not a JSON object: reload the page and decide again")
    by_key = {row_key(r): r for r in rows}
    out: dict[str, Choice] = {}
    problems = []
    for key, value in raw.items():
        value = value if isinstance(value, dict) else {}
        word = str(value.get("action") or "").strip().lower()
        if not word:
            continue
        choice = Choice(Action(word) if word in set(Action) else word,  # type: ignore[arg-type]
                        str(value.get("qbo_id") or "").strip(), str(value.get("note") or "").strip())
        problem = _problem(str(key), by_key.get(str(key)), choice)
        if problem:
            problems.append(problem)
        else:
            out[str(key)] = choice
    if problems:
        raise MatchingError("decisions refused, nothing saved:\n  " + "\n  ".join(problems))
    return out


def apply_decisions(rows: list[ReviewRow], decided: dict[str, Choice],
                    names: dict[tuple[str, str], str]) -> list[ReviewRow]:
    """The review with the decisions written in, as finance would edit the CSV: ``names`` gives the QBO name of
    a chosen record that is not the row's own candidate ((entity, qbo_id) → name)."""
    out = []
    for row in rows:
        row = copy.copy(row)
        decision = decided.get(row_key(row))
        if decision is not None:
            row.action = decision.action
            if decision.action == Action.MATCH and decision.qbo_id != row.qbo_id:
                known = {c.qbo_id: c.name for c in candidates(row)}
                row.qbo_id = decision.qbo_id
                row.qbo_name = known.get(decision.qbo_id) or names.get((row.entity, decision.qbo_id), "")
            if decision.note:
                row.note = decision.note
        row.line = 0
        out.append(row)
    return out


def changed_rows(before: list[ReviewRow], after: list[ReviewRow]) -> list[ReviewRow]:
    """The rows of ``after`` (the review with a user's decisions written in) that differ from ``before`` (the
    review they started from): what an overrides version saves, so it never re-asserts a decision its author did
    not make (another user's Done in between stays in force)."""
    return [a for b, a in zip(before, after, strict=True)
            if (a.action, a.qbo_id, a.note) != (b.action, b.qbo_id, b.note)]


def write_overrides(path: Path, rows: list[ReviewRow]) -> str:
    """Write the overrides file (the review CSV format) and answer its text."""
    write_rows(path, rows)
    return path.read_text(encoding="utf-8-sig")


def plan(rows: list[ReviewRow]) -> dict[str, list[ReviewRow]]:
    """What a commit of these rows will do (the rows are the overrides: the review with decisions applied)."""
    out: dict[str, list[ReviewRow]] = {"create_customer": [], "create_product": [], "import_customer": [],
                                       "match": [], "skip": [], "undecided": []}
    for r in rows:
        if r.action == Action.CREATE:
            out[f"create_{r.entity}"].append(r)
        elif r.action == Action.IMPORT:
            out["import_customer"].append(r)
        elif r.action == Action.SKIP:
            out["skip"].append(r)
        elif r.action == Action.MATCH or r.status in MATCHED:
            out["match"].append(r)
        elif r.status != MatchStatus.QBO_ONLY:
            out["undecided"].append(r)
    return out


def _like(text: str) -> str:
    return "%" + text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"


def search_qbo(engine: sa.Engine, entity: str, query: str, *, limit: int = SEARCH_LIMIT) -> list[Candidate]:
    """Active QBO customers/items whose name contains ``query`` (case-insensitive), names starting with it first;
    at most ``limit``: the dropdown never loads the whole catalog (100,000 items)."""

    tbl = table("stg_qbo_customers" if entity == "customer" else "stg_qbo_items")
    name = tbl.c.display_name if entity == "customer" else tbl.c.name
    needle = query.strip().lower()
    stmt = sa.select(tbl.c.source_id, name).where(tbl.c.deleted_at.is_(None), tbl.c.active.is_(True), name.is_not(None))
    if entity == "product":
        stmt = stmt.where(tbl.c.item_type != "Category")
    if needle:
        stmt = stmt.where(sa.func.lower(name).like(_like(needle), escape="\\"))
        starts = sa.case((sa.func.lower(name).like(_like(needle)[1:], escape="\\"), 0), else_=1)
        stmt = stmt.order_by(starts, name)
    else:
        stmt = stmt.order_by(name)
    with engine.connect() as conn:
        return [Candidate(str(i), n) for i, n in conn.execute(stmt.limit(limit))]


def qbo_names(engine: sa.Engine, wanted: Iterable[tuple[str, str]]) -> dict[tuple[str, str], str]:
    """(entity, qbo_id) → name for the given records (the names written next to a chosen match)."""

    out: dict[tuple[str, str], str] = {}
    for entity in ("customer", "product"):
        ids = sorted({i for e, i in wanted if e == entity})
        if not ids:
            continue
        tbl = table("stg_qbo_customers" if entity == "customer" else "stg_qbo_items")
        name = tbl.c.display_name if entity == "customer" else tbl.c.name
        with engine.connect() as conn:
            for part in chunked(ids):
                for i, n in conn.execute(sa.select(tbl.c.source_id, name).where(tbl.c.source_id.in_(part))):
                    out[(entity, str(i))] = n or ""
    return out
