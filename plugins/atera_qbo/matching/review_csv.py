"""The review / override file (DESIGN.md B): one format, both directions, as CSV and as ``.xlsx``.

Written as UTF-8 with BOM (Excel opens it right); any cell starting with ``= + - @``, tab or CR is written with a
leading ``'`` (no formula injection when finance opens it) and read back without it. Read back as Excel really
writes it: UTF-8 with or without BOM, Windows-1252 ("CSV (Comma delimited)"), UTF-16 ("Unicode Text"); ``,``,
``;`` (European locales) or tab, told from the header line; CRLF or LF; trailing empty rows; any column order; and
``.xlsx`` (the ``match_review.xlsx`` written here, accepted back as is).
"""
from __future__ import annotations

import csv
import io
import shutil
import zipfile
from collections.abc import Iterable, Iterator
from itertools import chain
from pathlib import Path
from typing import Any

import pandas as pd
import xlsxwriter  # type: ignore[import-untyped]  # XlsxWriter ships no type hints (no py.typed, no stubs package)

from ..cells import csv_file, unprotect
from ..errors import MatchingError
from .review import COLUMNS, MATCHED, Action, Entity, MatchStatus, ReviewRow, cells_of, to_frame

Review = pd.DataFrame | Iterable[ReviewRow]  # a review table, or its rows

__all__ = ["ACTIONS", "COLUMNS", "ENTITIES", "STATUSES", "ReviewRow", "prune", "read_rows", "write_review",
           "write_rows", "write_xlsx"]

ENTITIES = tuple(Entity)
ACTIONS = tuple(Action)
STATUSES = tuple(s for s in MatchStatus if s)
REQUIRED = ("entity", "atera_id", "qbo_id", "action")
DELIMITERS = {",": "comma", ";": "semicolon", "\t": "tab"}
CANDIDATE_COLUMNS = [f"candidate{i}_{part}" for i in (1, 2, 3) for part in ("id", "name", "score")]
XLSX_COLUMNS = [c for c in COLUMNS if c != "candidates"] + CANDIDATE_COLUMNS
KNOWN_COLUMNS = frozenset(COLUMNS) | frozenset(CANDIDATE_COLUMNS)


def write_rows(path: Path, rows: Review) -> Path:
    with csv_file(path, COLUMNS) as writer:
        writer.writerows(zip(*cells_of(rows), strict=True))
    return path


def _decode(path: Path) -> tuple[str, str]:
    """The file's text and the encoding it was read with."""
    try:
        raw = path.read_bytes()
    except FileNotFoundError as exc:
        raise MatchingError(f"overrides file {path} does not exist: pass an existing CSV or .xlsx as overrides_path "
                            "(a path on the worker)") from exc
    if raw.startswith((b"\xff\xfe", b"\xfe\xff")):
        return raw.decode("utf-16"), "UTF-16"
    try:
        return raw.decode("utf-8-sig"), "UTF-8"
    except UnicodeDecodeError:
        pass
    try:
        return raw.decode("cp1252"), "Windows-1252"
    except UnicodeDecodeError as exc:
        line = raw[:exc.start].count(b"\n") + 1
        raise MatchingError(f"overrides file {path} is neither UTF-8 nor Windows-1252 (byte {exc.start}, line "
                            f"{line}): save it from Excel as 'CSV UTF-8'") from exc


def _delimiter(header: str) -> str:
    """The separator that splits the header line into the most known column names (ties: comma)."""
    def known(sep: str) -> int:
        return len({c.strip().strip('"').lower() for c in header.split(sep)} & set(COLUMNS))
    return max(DELIMITERS, key=lambda sep: (known(sep), sep == ","))


def _csv_lines(path: Path) -> tuple[list[tuple[int, list[str]]], str]:
    text, encoding = _decode(path)
    header = text.lstrip("\ufeff").split("\n", 1)[0]
    sep = _delimiter(header)
    reader = csv.reader(io.StringIO(text), delimiter=sep)
    lines = [(reader.line_num, cells) for cells in reader]
    return lines, f"{encoding}, {DELIMITERS[sep]}-separated"


def _cell(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))  # Excel turned an id into a number
    return str(value)


# What an overrides workbook may hold (a review of 100,000 QBO items and as many Atera records is well inside):
# anything larger is refused before it is parsed, naming the limit.
MAX_XLSX_BYTES = 64 * 1024 * 1024  # the file as stored
MAX_XLSX_UNPACKED = 512 * 1024 * 1024  # its parts once unzipped (a zip bomb is small on disk)
MAX_XLSX_ROWS = 500_000
MAX_XLSX_COLUMNS = 64


def _xlsx_size_ok(path: Path) -> None:
    """Refuse a workbook over the size limits before openpyxl reads any of it."""
    size = path.stat().st_size
    if size > MAX_XLSX_BYTES:
        raise MatchingError(f"overrides file {path} is {size / 2**20:.0f} MiB, over the {MAX_XLSX_BYTES // 2**20} MiB "
                            "an overrides workbook may have: remove other sheets and data, or save it as CSV UTF-8")
    try:
        with zipfile.ZipFile(path) as archive:
            unpacked = sum(i.file_size for i in archive.infolist())
    except zipfile.BadZipFile as exc:
        raise MatchingError(f"overrides file {path} is not a readable .xlsx workbook (not a zip archive): save it "
                            "from Excel as 'Excel Workbook (.xlsx)' or as 'CSV UTF-8'") from exc
    if unpacked > MAX_XLSX_UNPACKED:
        raise MatchingError(f"overrides file {path} unpacks to {unpacked / 2**20:.0f} MiB, over the "
                            f"{MAX_XLSX_UNPACKED // 2**20} MiB an overrides workbook may have: save it as CSV UTF-8")


def _sheet_lines(sheet: Any, path: Path) -> list[tuple[int, list[str]]]:
    """The sheet's rows as text cells, refusing past ``MAX_XLSX_ROWS`` rows or ``MAX_XLSX_COLUMNS`` columns."""
    lines = []
    for number, values in enumerate(sheet.iter_rows(values_only=True), start=1):
        if number > MAX_XLSX_ROWS:
            raise MatchingError(f"overrides file {path}: sheet {sheet.title!r} has more than {MAX_XLSX_ROWS:,} "
                                "rows: keep only the review's rows (one per record)")
        cells = [_cell(v) for v in values]
        while cells and cells[-1] == "":
            cells.pop()
        if len(cells) > MAX_XLSX_COLUMNS:
            raise MatchingError(f"overrides file {path}: line {number} of sheet {sheet.title!r} has {len(cells)} "
                                f"columns, more than the {MAX_XLSX_COLUMNS} an overrides sheet may have: keep the "
                                "review's columns")
        lines.append((number, cells))
    return lines


def _xlsx_lines(path: Path) -> tuple[list[tuple[int, list[str]]], str]:
    # imported here, not with the module: openpyxl (0.1-0.2 s to import) is needed only when an overrides file is
    # an .xlsx; the review writers, the web UI and reconciliation's report use this module without it
    from openpyxl import load_workbook

    if path.exists():
        _xlsx_size_ok(path)
    try:
        book = load_workbook(path, read_only=True, data_only=True)
    except FileNotFoundError as exc:
        raise MatchingError(f"overrides file {path} does not exist: pass an existing CSV or .xlsx as overrides_path "
                            "(a path on the worker)") from exc
    except Exception as exc:
        raise MatchingError(f"overrides file {path} is not a readable .xlsx workbook ({type(exc).__name__}): save "
                            "it from Excel as 'Excel Workbook (.xlsx)' or as 'CSV UTF-8'") from exc
    sheet = book["review"] if "review" in book.sheetnames else book.worksheets[0]
    try:
        lines = _sheet_lines(sheet, path)
    finally:
        book.close()
    return lines, f"sheet {sheet.title!r}"


def read_rows(path: Path) -> Iterator[ReviewRow]:
    """Rows of an overrides file (CSV or .xlsx); errors name the file, the line and the real cause."""
    path = Path(path)
    lines, how = _xlsx_lines(path) if path.suffix.lower() in (".xlsx", ".xlsm") else _csv_lines(path)
    if not lines:
        return
    header = [h.strip().lower() for h in lines[0][1]]
    missing = [c for c in REQUIRED if c not in header]
    if missing:  # named: only the expected columns it has; the rest of line 1 is the file's, never echoed
        known = [h for h in header if h in KNOWN_COLUMNS]
        others = len([h for h in header if h and h not in KNOWN_COLUMNS])
        has = f"it has {', '.join(known)}" if known else "it has none of the expected columns"
        has += f" and {others} other column(s)" if others else ""
        raise MatchingError(f"{path}: the header (line 1, read as {how}) lacks column(s) {', '.join(missing)}; "
                            f"{has}. Expected {','.join(COLUMNS)} (any order): is this the review file?")
    for number, cells in lines[1:]:
        if not any(c.strip() for c in cells):
            continue
        values = {name: unprotect(cells[i].strip()) if i < len(cells) else "" for i, name in enumerate(header)}
        if not values.get("candidates") and values.get("candidate1_id"):
            values["candidates"] = _joined_candidates(values)
        yield ReviewRow(values.get("entity", ""), atera_id=values.get("atera_id", ""),
                        atera_name=values.get("atera_name", ""), qbo_id=values.get("qbo_id", ""),
                        qbo_name=values.get("qbo_name", ""), action=values.get("action", ""),
                        status=MatchStatus.of(values.get("status", "")), score=values.get("score", ""),
                        candidates=values.get("candidates", ""), note=values.get("note", ""), line=number)


def _joined_candidates(values: dict[str, str]) -> str:
    return ";".join(f"{values[f'candidate{i}_id']}|{values.get(f'candidate{i}_name', '')}|"
                    f"{values.get(f'candidate{i}_score', '')}" for i in (1, 2, 3) if values.get(f"candidate{i}_id"))


def _split_candidates(candidates: str) -> list[str]:
    cells: list[str] = []
    for cand in (candidates.split(";") if candidates else [])[:3]:
        qbo_id, _, rest = cand.partition("|")
        name, _, score = rest.rpartition("|")
        cells += [qbo_id, name, score]
    return cells + [""] * (len(CANDIDATE_COLUMNS) - len(cells))


def write_xlsx(path: Path, rows: Review) -> Path:
    """The review as a workbook: frozen header, ``action`` as a dropdown, each candidate in its own columns (id,
    name, score); every cell is text, never a formula (``write_string``), an empty one is left out. Accepted back
    as is by ``read_rows``. Written by XlsxWriter (openpyxl reads it): about 10,000 rows a second."""
    columns = dict(zip(COLUMNS, cells_of(rows), strict=True))
    candidates = [_split_candidates(c) for c in columns.pop("candidates")]  # XLSX_COLUMNS: the others, then these
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    with xlsxwriter.Workbook(str(tmp)) as book:
        sheet = book.add_worksheet("review")
        sheet.freeze_panes(1, 0)
        body = ([*cells, *split] for cells, split in zip(zip(*columns.values(), strict=True), candidates, strict=True))
        for r, cells in enumerate(chain([XLSX_COLUMNS], body)):
            for c, value in enumerate(cells):
                if value:
                    sheet.write_string(r, c, value)
        action = XLSX_COLUMNS.index("action")
        sheet.data_validation(1, action, max(len(candidates), 1), action, {
            "validate": "list", "source": [str(a) for a in Action if a], "ignore_blank": True,
            "error_title": "action", "error_message": "match, create, skip or import (or leave it empty)"})
    tmp.replace(path)
    return path


def prune(directory: Path, pattern: str, keep: int) -> list[Path]:
    """Delete all but the newest ``keep`` files matching ``pattern`` (per-run review files); returns the deleted."""
    files = sorted(directory.glob(pattern), key=lambda p: (p.stat().st_mtime, p.name), reverse=True)
    gone = files[max(keep, 0):]
    for old in gone:
        old.unlink(missing_ok=True)
    return gone


KEEP_RUNS = 48  # per-run review files kept (two days of an hourly schedule); the setting atera_qbo_review_keep
XLSX_ALL_ROWS = 20_000  # above: the workbook holds the rows to decide (and those with an action), the CSV all


def write_review(out_dir: Path, stamp: str, review: Review, keep: int = KEEP_RUNS) -> Path:
    """The review of one run: ``match_review.csv`` and ``match_review.xlsx`` (the latest, both valid overrides
    files), a per-run copy of the CSV, older per-run copies pruned to the last ``keep``."""
    review = review if isinstance(review, pd.DataFrame) else to_frame(review)
    latest = write_rows(out_dir / "match_review.csv", review)
    to_decide = review if len(review) <= XLSX_ALL_ROWS else review[
        (review["action"] != "") | ~review["status"].isin([str(s) for s in MATCHED])]
    write_xlsx(out_dir / "match_review.xlsx", to_decide)
    shutil.copyfile(latest, out_dir / f"match_review_{stamp}.csv")
    prune(out_dir, "match_review_*.csv", keep)
    return latest
