"""The review / override CSV (DESIGN.md B): one format, both directions.

Written as UTF-8 with BOM (Excel opens it right); any cell starting with ``= + - @``, tab or CR is written with a
leading ``'`` (no formula injection when finance opens it) and read back without it.
"""
from __future__ import annotations

import csv
import io
from pathlib import Path
from typing import Iterable, Iterator

from ..errors import MatchingError
from .review import COLUMNS, Action, Entity, MatchStatus, ReviewRow

__all__ = ["ACTIONS", "COLUMNS", "ENTITIES", "STATUSES", "ReviewRow", "read_rows", "write_rows"]

ENTITIES = tuple(Entity)
ACTIONS = tuple(Action)
STATUSES = tuple(s for s in MatchStatus if s)
_RISKY = ("=", "+", "-", "@", "\t", "\r")


def _protect(cell: str) -> str:
    return "'" + cell if cell and cell.startswith(_RISKY) else cell


def _unprotect(cell: str) -> str:
    return cell[1:] if len(cell) > 1 and cell[0] == "'" and cell[1:].startswith(_RISKY) else cell


def write_rows(path: Path, rows: Iterable[ReviewRow]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(path.suffix + ".tmp")
    with tmp.open("w", encoding="utf-8-sig", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(COLUMNS)
        for row in rows:
            writer.writerow([_protect(str(c)) for c in row.as_list()])
    tmp.replace(path)
    return path


def read_rows(path: Path) -> Iterator[ReviewRow]:
    """Rows of an overrides file; errors name the file and line and say what to fix."""
    try:
        text = path.read_text(encoding="utf-8-sig")
    except FileNotFoundError as exc:
        raise MatchingError(f"overrides file {path} does not exist: pass an existing CSV as overrides_path") from exc
    except UnicodeDecodeError as exc:
        raise MatchingError(f"overrides file {path} is not UTF-8 (byte {exc.start}): save it as CSV UTF-8") from exc
    reader = csv.reader(io.StringIO(text))
    header = next(reader, None)
    if header is None:
        return
    header = [h.strip().lower() for h in header]
    missing = [c for c in ("entity", "atera_id", "qbo_id", "action") if c not in header]
    if missing:
        raise MatchingError(f"{path}: header lacks column(s) {', '.join(missing)}; expected {','.join(COLUMNS)}")
    for number, cells in enumerate(reader, start=2):
        if not any(c.strip() for c in cells):
            continue
        values = {name: _unprotect(cells[i].strip()) if i < len(cells) else "" for i, name in enumerate(header)}
        yield ReviewRow(**{c: values.get(c, "") for c in COLUMNS}, line=number)
