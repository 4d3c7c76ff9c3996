"""An overrides file is read without ever echoing what it holds beyond the expected column names (a file that is
not a review — the worker's environment, say — is refused without a line of it), and an .xlsx is read in
read-only mode within limits on its size, rows and columns, each refusal naming the limit."""
from __future__ import annotations

import zipfile
from pathlib import Path

import pytest
from openpyxl import Workbook

from atera_qbo.errors import MatchingError
from atera_qbo.matching import review_csv
from atera_qbo.matching.review_csv import read_rows

SECRET = "AIRFLOW_CONN_QUICKBOOKS_DEFAULT=http://id:s3cr3t@qbo"


def refused(path: Path) -> str:
    with pytest.raises(MatchingError) as info:
        list(read_rows(path))
    return str(info.value)


def test_a_file_that_is_not_a_review_is_refused_without_echoing_it(tmp_path: Path):
    env = tmp_path / "environ.csv"
    env.write_bytes(b"\0".join([SECRET.encode(), b"HOME=/root", b"PATH=/usr/bin"]) + b"\n" + SECRET.encode())
    message = refused(env)
    assert "lacks column(s) entity, atera_id, qbo_id, action" in message
    assert "none of the expected columns" in message and "s3cr3t" not in message and "HOME" not in message
    partly = tmp_path / "partly.csv"
    partly.write_text(f"entity,{SECRET},atera_id\ncustomer,x,1\n")
    message = refused(partly)
    assert "it has entity, atera_id and 1 other column(s)" in message and "s3cr3t" not in message


def test_a_workbook_over_any_limit_is_refused_naming_it(tmp_path: Path, monkeypatch):
    book = Workbook()
    sheet = book.active
    sheet.append(["entity", "atera_id", "qbo_id", "action"])
    for i in range(20):
        sheet.append(["customer", str(i), "", ""])
    path = tmp_path / "overrides.xlsx"
    book.save(path)
    assert len(list(read_rows(path))) == 20  # within every limit

    monkeypatch.setattr(review_csv, "MAX_XLSX_ROWS", 10)
    assert "more than 10 rows" in refused(path)
    monkeypatch.setattr(review_csv, "MAX_XLSX_ROWS", 500_000)
    monkeypatch.setattr(review_csv, "MAX_XLSX_COLUMNS", 3)
    assert "has 4 columns, more than the 3" in refused(path)
    monkeypatch.setattr(review_csv, "MAX_XLSX_COLUMNS", 64)
    monkeypatch.setattr(review_csv, "MAX_XLSX_BYTES", 1000)
    assert "MiB, over the 0 MiB an overrides workbook may have" in refused(path)
    monkeypatch.setattr(review_csv, "MAX_XLSX_BYTES", 64 * 2**20)
    monkeypatch.setattr(review_csv, "MAX_XLSX_UNPACKED", 1000)
    assert "unpacks to" in refused(path)


def test_a_zip_bomb_is_refused_before_it_is_parsed(tmp_path: Path, monkeypatch):
    monkeypatch.setattr(review_csv, "MAX_XLSX_UNPACKED", 2**20)  # the same check, at a size a test can afford
    bomb = tmp_path / "bomb.xlsx"
    with zipfile.ZipFile(bomb, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("xl/worksheets/sheet1.xml", b"0" * (4 * 2**20))
    assert bomb.stat().st_size < 64 * 2**10 and "unpacks to 4 MiB" in refused(bomb)


def test_a_broken_workbook_says_so_without_its_contents(tmp_path: Path):
    broken = tmp_path / "broken.xlsx"
    broken.write_text(SECRET)
    message = refused(broken)
    assert "not a readable .xlsx workbook" in message and "s3cr3t" not in message
