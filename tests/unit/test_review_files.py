"""The spreadsheet round trip (issue 14, Deliver 2): overrides files the way Excel really writes them, the
``match_review.xlsx`` accepted back as is, messages that name the real cause, and per-run review files pruned."""
from __future__ import annotations

import os
from pathlib import Path

import pytest

from atera_qbo.errors import MatchingError
from atera_qbo.matching.review import Action, Entity, MatchStatus, ReviewRow
from atera_qbo.matching.review_csv import XLSX_COLUMNS, prune, read_rows, write_rows, write_xlsx

HEADER = ["entity", "atera_id", "atera_name", "qbo_id", "qbo_name", "action", "status", "score", "candidates", "note"]
ROWS = [["customer", "8", "Café Lumière", "9", "Cafe Lumiere", "match", "suggested", "90", "9|Cafe Lumiere|90",
         "same café"],
        ["customer", "25", "Greenfield Architects", "", "", "create", "unmatched", "", "", "new client"],
        ["customer", "", "", "31", "Pinecrest Vet", "skip", "qbo_only", "", "", ""]]


def excel_csv(path: Path, rows: list[list[str]], *, sep: str = ",", encoding: str = "utf-8-sig",
              newline: str = "\r\n", header: list[str] = HEADER, trailing: int = 0) -> Path:
    """A file as Excel writes it: CRLF, its encoding, its separator, and empty rows left at the end."""
    def line(cells: list[str]) -> str:
        return sep.join(f'"{c}"' if sep in c or '"' in c else c for c in cells)
    text = newline.join([line(header)] + [line(r) for r in rows] + [sep * (len(header) - 1)] * trailing) + newline
    path.write_bytes(text.encode(encoding))
    return path


def decisions(path: Path) -> list[tuple]:
    return [(r.entity, r.atera_id, r.atera_name, r.qbo_id, r.action, r.note, r.line) for r in read_rows(path)]


EXPECTED = [(Entity.CUSTOMER, "8", "Café Lumière", "9", Action.MATCH, "same café", 2),
            (Entity.CUSTOMER, "25", "Greenfield Architects", "", Action.CREATE, "new client", 3),
            (Entity.CUSTOMER, "", "", "31", Action.SKIP, "", 4)]


@pytest.mark.parametrize("variant", [
    {"encoding": "utf-8-sig"},  # "CSV UTF-8"
    {"encoding": "utf-8", "newline": "\n"},  # no BOM, LF (written by a script)
    {"encoding": "cp1252"},  # "CSV (Comma delimited)" on Windows
    {"encoding": "cp1252", "sep": ";"},  # a European locale's Excel
    {"encoding": "utf-8-sig", "sep": ";", "trailing": 3},  # and the empty rows Excel keeps at the end
    {"encoding": "utf-16", "sep": "\t"},  # "Unicode Text"
])
def test_overrides_written_the_way_excel_writes_them_are_accepted(tmp_path: Path, variant: dict):
    assert decisions(excel_csv(tmp_path / "o.csv", ROWS, **variant)) == EXPECTED


def test_any_column_order_and_only_the_needed_columns(tmp_path: Path):
    order = ["note", "action", "qbo_id", "atera_id", "entity"]
    rows = [[r[HEADER.index(c)] for c in order] for r in ROWS]
    got = [(r.entity, r.atera_id, r.qbo_id, r.action, r.note) for r in read_rows(
        excel_csv(tmp_path / "o.csv", rows, sep=";", encoding="cp1252", header=order))]
    assert got == [(e, a, q, act, n) for e, a, _, q, act, n, _ in EXPECTED]


def test_a_file_still_wrong_is_refused_naming_the_real_cause(tmp_path: Path):
    with pytest.raises(MatchingError) as info:
        list(read_rows(excel_csv(tmp_path / "o.csv", [["customer", "8", "x"]], sep=";",
                                 header=["entity", "atera_id", "qbo_name"])))
    text = str(info.value)
    assert "lacks column(s) qbo_id, action" in text and "semicolon-separated" in text and "line 1" in text
    bad = tmp_path / "bad.csv"
    raw = b"entity,atera_id,qbo_id,action\r\ncustomer,1,2,match \x81\r\n"  # 0x81: not in cp1252 either
    bad.write_bytes(raw)
    with pytest.raises(MatchingError, match=rf"neither UTF-8 nor Windows-1252 \(byte {raw.index(0x81)}, line 2\)"):
        list(read_rows(bad))
    with pytest.raises(MatchingError, match=r"does not exist.*a path on the worker"):
        list(read_rows(tmp_path / "missing.csv"))
    (tmp_path / "fake.xlsx").write_text("not a workbook")
    with pytest.raises(MatchingError, match=r"not a readable \.xlsx workbook"):
        list(read_rows(tmp_path / "fake.xlsx"))


def review_rows() -> list[ReviewRow]:
    return [ReviewRow(entity="customer", atera_id="5", atera_name="=HYPERLINK(\"x\")", qbo_id="13",
                      qbo_name="Apex Dental Group", status=MatchStatus.SUGGESTED, score="95",
                      candidates="13|Apex Dental Group|95;14|Apex Dental Care|93", note="-close candidates"),
            ReviewRow(entity="product", atera_id="product:35", atera_name='Tablet 11" Wi-Fi', qbo_id="46",
                      qbo_name="Tablet 11 in. Wi-Fi", action="match", status=MatchStatus.MATCHED_OVERRIDE),
            ReviewRow(entity="customer", qbo_id="31", qbo_name="Pinecrest Vet", status=MatchStatus.QBO_ONLY)]


def test_the_review_workbook_has_a_dropdown_a_frozen_header_and_comes_back_as_is(tmp_path: Path):
    from openpyxl import load_workbook

    path = write_xlsx(tmp_path / "match_review.xlsx", review_rows())
    sheet = load_workbook(path)["review"]
    assert [c.value for c in sheet[1]] == XLSX_COLUMNS and sheet.freeze_panes == "A2"
    (validation,) = sheet.data_validations.dataValidation
    assert validation.type == "list" and validation.formula1 == '"match,create,skip,import"'
    action_column = sheet.cell(row=1, column=XLSX_COLUMNS.index("action") + 1).column_letter
    assert str(validation.sqref) == f"{action_column}2:{action_column}4"
    name = sheet.cell(row=2, column=XLSX_COLUMNS.index("atera_name") + 1)
    assert name.data_type == "s" and name.value == '=HYPERLINK("x")'  # text, not a formula
    row2 = {c: sheet.cell(row=2, column=i + 1).value for i, c in enumerate(XLSX_COLUMNS)}
    assert (row2["candidate2_id"], row2["candidate2_name"], row2["candidate2_score"]) == ("14", "Apex Dental Care",
                                                                                          "93")
    back = list(read_rows(path))
    assert [r.as_list() for r in back] == [r.as_list() for r in review_rows()]
    # finance picks an action from the dropdown and saves: accepted as is
    sheet.cell(row=2, column=XLSX_COLUMNS.index("action") + 1).value = "match"
    sheet.cell(row=3, column=XLSX_COLUMNS.index("atera_id") + 1).value = None
    sheet.cell(row=4, column=XLSX_COLUMNS.index("qbo_id") + 1).value = 31  # Excel made the id a number
    edited = tmp_path / "edited.xlsx"
    sheet.parent.save(edited)
    rows = list(read_rows(edited))
    assert rows[0].action == Action.MATCH and rows[0].qbo_id == "13" and rows[2].qbo_id == "31"
    assert [r.line for r in rows] == [2, 3, 4]


def test_review_csv_round_trip_is_unchanged(tmp_path: Path):
    path = write_rows(tmp_path / "r.csv", review_rows())
    assert [r.as_list() for r in read_rows(path)] == [r.as_list() for r in review_rows()]


def test_per_run_review_files_are_pruned_to_the_last_n(tmp_path: Path):
    for i in range(6):
        f = tmp_path / f"match_review_run{i}.csv"
        f.write_text("x")
        os.utime(f, (1_000_000 + i, 1_000_000 + i))
    (tmp_path / "match_review.csv").write_text("latest")
    gone = prune(tmp_path, "match_review_*.csv", keep=2)
    assert sorted(p.name for p in gone) == [f"match_review_run{i}.csv" for i in range(4)]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["match_review.csv", "match_review_run4.csv",
                                                         "match_review_run5.csv"]


def test_a_large_review_workbook_holds_what_needs_a_decision(tmp_path: Path, monkeypatch):
    from atera_qbo.matching import review_csv
    from atera_qbo.matching.review_csv import write_review

    monkeypatch.setattr(review_csv, "XLSX_ALL_ROWS", 2)
    rows = [*review_rows(), ReviewRow(entity="customer", atera_id="1", atera_name="Northwind", qbo_id="10",
                                      qbo_name="Northwind", status=MatchStatus.MATCHED_EXACT, score="100")]
    write_review(tmp_path, "run1", rows)
    assert len(list(read_rows(tmp_path / "match_review.csv"))) == 4  # the CSV has every row
    in_book = [(r.atera_id, r.status) for r in read_rows(tmp_path / "match_review.xlsx")]
    assert ("1", MatchStatus.MATCHED_EXACT) not in in_book and len(in_book) == 3  # the override row stays
    assert (tmp_path / "match_review_run1.csv").exists()
