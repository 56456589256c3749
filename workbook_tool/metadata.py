"""The hidden metadata block: what the writer puts there and how the checker finds it again.

Both halves live here so they cannot drift: the rows and columns of the key/value entries, the
long JSON values (rule set, issued record) chunked along their row under Excel's cell-text limit,
the mark that tells a wbtool workbook from any other, and the custom document properties that
repeat the identity outside the sheet.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from . import record
from .labels import LABELS
from .layout import META_FIRST_ROW
from .record import IssuedRecord

#: The metadata sheet's name in either language (a renamed one is found by its mark).
META_SHEET_NAMES = (LABELS["sheet.meta"][0], LABELS["sheet.meta"][1])
#: Rows of the metadata sheet that can hold entries (the reader reads this many).
META_ROWS = 40
#: Characters per cell of a long value (a cell holds at most 32,767).
META_CHUNK = 30000
#: The first entry, telling a wbtool workbook from any other.
MARK = ("wbtool", "wbtool workbook")
#: Entries whose value is JSON, chunked along their row.
BLOBS = ("ruleset", "issued")
#: Custom document properties (file → properties shows them; check compares two of them).
PROP_TEMPLATE, PROP_GENERATOR, PROP_FINGERPRINT, PROP_LANG, PROP_SIGNATURE = (
    "wbtool.template", "wbtool.generator", "wbtool.fingerprint", "wbtool.lang", "wbtool.signature")


@dataclass
class Meta:
    data: dict[str, str]
    ruleset: dict[str, Any] | None
    record: IssuedRecord
    custom: dict[str, Any]
    record_error: str | None = None  # the stored record is not a record (S004)

    @property
    def template_id(self) -> str | None:
        return self.data.get("template_id")

    @property
    def template_version(self) -> str | None:
        return self.data.get("template_version")

    @property
    def lang(self) -> str:
        return self.data.get("lang") or "zh"


def meta_cells(entries: list[tuple[str, str]], blobs: dict[str, str]) -> list[tuple[int, int, str]]:
    """(row, column, text), 0-based, of the block: the mark, then ``entries`` one per row (key,
    value), then each of BLOBS as its key and its chunks along the row."""
    if set(blobs) != set(BLOBS):
        raise ValueError(f"metadata blobs must be {BLOBS}")
    cells: list[tuple[int, int, str]] = []
    r = META_FIRST_ROW
    for k, v in [MARK, *entries]:
        cells += [(r, 0, k), (r, 1, v)]
        r += 1
    for k in BLOBS:
        blob = blobs[k]
        chunks = [blob[i:i + META_CHUNK] for i in range(0, len(blob), META_CHUNK)] or [""]
        cells.append((r, 0, k))
        cells += [(r, 1 + j, c) for j, c in enumerate(chunks)]
        r += 1
    if r > META_FIRST_ROW + META_ROWS:
        raise ValueError("more metadata entries than the reader reads")
    return cells


def _meta_sheet(g: Any) -> str | None:
    for name in META_SHEET_NAMES:
        if name in g.sheetnames and name in g.worksheet_names:
            return name
    for name in g.worksheet_names:  # renamed: find it by content
        if g.cell(name, META_FIRST_ROW + 1, 1).value == MARK[0]:
            return name
    return None


def read_meta(wb_formulas: Any) -> Meta | None:
    """The metadata block, or None for a workbook wbtool did not make."""
    from .reader import as_grid

    g = as_grid(wb_formulas)
    custom: dict[str, Any] = dict(g.custom)
    ws = _meta_sheet(g)
    if ws is None:
        if any(k.startswith("wbtool.") for k in custom):
            return Meta({}, None, IssuedRecord(), custom)
        return None
    data: dict[str, str] = {}
    blobs: dict[str, str] = {}
    for r in range(META_FIRST_ROW + 1, META_FIRST_ROW + META_ROWS + 1):
        row = g.row_values(ws, r)
        if not row or row[0] is None:
            continue
        k = str(row[0])
        if k in BLOBS:
            blobs[k] = "".join(str(v) for v in row[1:] if v is not None)
        elif len(row) > 1 and row[1] is not None:
            data[k] = str(row[1])
    if data.get(MARK[0]) != MARK[1]:
        return None
    try:
        ruleset = json.loads(blobs["ruleset"]) if "ruleset" in blobs else None
    except (json.JSONDecodeError, RecursionError):
        ruleset = None
    if not isinstance(ruleset, dict):
        ruleset = None
    try:
        return Meta(data, ruleset, record.parse(blobs.get("issued"), data.get("project_issued")), custom)
    except record.RecordShapeError as e:
        return Meta(data, ruleset, IssuedRecord(), custom, str(e)[:200])
