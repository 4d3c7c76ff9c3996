"""The one way the project writes spreadsheet cells (every CSV finance opens in Excel, and the review workbook):
a cell a spreadsheet would take for a formula (starting with ``= + - @``, a tab or a carriage return) is written
with a leading apostrophe, so an Atera company named ``=HYPERLINK(...)`` stays text; ``unprotect`` reads it back.
CSV files are UTF-8 with a BOM (Excel's "CSV UTF-8"), written to a temporary file and moved into place."""
from __future__ import annotations

import csv
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Protocol

RISKY = ("=", "+", "-", "@", "\t", "\r")


def protect(value: Any) -> str:
    """A cell as text no spreadsheet evaluates (None → "")."""
    cell = "" if value is None else str(value)
    return "'" + cell if cell.startswith(RISKY) else cell


def unprotect(cell: str) -> str:
    """A cell as ``protect`` wrote it → its value (a typed ``'=x`` is kept as the user typed it)."""
    return cell[1:] if len(cell) > 1 and cell[0] == "'" and cell[1:].startswith(RISKY) else cell


class Rows(Protocol):
    def writerow(self, row: Iterable[Any]) -> Any: ...

    def writerows(self, rows: Iterable[Iterable[Any]]) -> Any: ...


class SafeWriter:
    """``csv.writer`` whose every cell goes through ``protect``."""

    def __init__(self, out: Rows) -> None:
        self._out = out

    def writerow(self, row: Iterable[Any]) -> None:
        self._out.writerow([protect(v) for v in row])

    def writerows(self, rows: Iterable[Iterable[Any]]) -> None:
        for row in rows:
            self.writerow(row)


@contextmanager
def csv_file(path: Path, header: Sequence[str]) -> Iterator[SafeWriter]:
    """Write ``path`` (header first) through a ``SafeWriter``; the file appears whole or not at all."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(path.suffix + ".tmp")
    with tmp.open("w", encoding="utf-8-sig", newline="") as fh:
        writer = SafeWriter(csv.writer(fh))
        writer.writerow(header)
        yield writer
    tmp.replace(path)
