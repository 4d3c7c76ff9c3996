from pathlib import Path

import pytest

from atera_qbo.errors import MatchingError
from atera_qbo.matching.review_csv import COLUMNS, ReviewRow, read_rows, write_rows


def test_written_with_bom_and_formula_cells_protected(tmp_path: Path):
    path = write_rows(tmp_path / "r.csv", [ReviewRow(entity="customer", atera_id="1", atera_name="=HYPERLINK(1)",
                                                     note="-5 off", action="match", qbo_id="7")])
    raw = path.read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf")
    text = raw.decode("utf-8-sig")
    assert text.splitlines()[0] == ",".join(COLUMNS)
    assert "'=HYPERLINK(1)" in text and "'-5 off" in text
    (row,) = list(read_rows(path))
    assert row.atera_name == "=HYPERLINK(1)" and row.note == "-5 off" and row.line == 2


def test_read_names_missing_columns(tmp_path: Path):
    path = tmp_path / "bad.csv"
    path.write_text("entity,atera_id\ncustomer,1\n", encoding="utf-8")
    with pytest.raises(MatchingError, match="qbo_id"):
        list(read_rows(path))


def test_read_rejects_non_utf8(tmp_path: Path):
    # Windows-1252 is read since issue 14 (Excel's "CSV (Comma delimited)"): a byte undefined there too is refused
    path = tmp_path / "latin1.csv"
    path.write_bytes("entity,atera_id,qbo_id,action\ncustomer,1,2,match Café\x81\n".encode("latin-1"))
    with pytest.raises(MatchingError, match="UTF-8"):
        list(read_rows(path))
