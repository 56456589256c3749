"""The metadata block written by meta_cells is what read_meta reads back (both halves in metadata.py)."""
from __future__ import annotations

import json

import pytest

from workbook_tool.metadata import BLOBS, META_ROWS, META_SHEET_NAMES, meta_cells, read_meta
from workbook_tool.xlsxread import Book, Cell


def _book(cells: list[tuple[int, int, str]], sheet: str) -> Book:
    book = Book(sheetnames=[sheet], custom={}, calc_mode=None, worksheets=[sheet])
    book.sheets[sheet] = {(r + 1, c + 1): Cell(t, "s", t, "s") for r, c, t in cells}
    return book


@pytest.mark.parametrize("sheet", [META_SHEET_NAMES[0], "改过名的表"])
def test_entries_and_chunked_values_come_back(sheet):
    ruleset = {"id": "t", "notes": "长" * 70_000}  # three chunks along its row
    entries = [("template_id", "dept-eval"), ("template_version", "2024.2"), ("lang", "zh"), ("project_issued", "0")]
    cells = meta_cells(entries, {"ruleset": json.dumps(ruleset, ensure_ascii=False), "issued": ""})
    assert max(c for _r, c, _t in cells) == 3
    meta = read_meta(_book(cells, sheet))
    assert meta is not None and meta.ruleset == ruleset and meta.template_id == "dept-eval" and meta.lang == "zh"
    assert {k: meta.data[k] for k, _v in entries} == dict(entries)


def test_the_writer_cannot_put_entries_where_the_reader_does_not_look():
    with pytest.raises(ValueError):
        meta_cells([(f"k{i}", "v") for i in range(META_ROWS)], {k: "" for k in BLOBS})
    with pytest.raises(ValueError):
        meta_cells([], {"ruleset": ""})
