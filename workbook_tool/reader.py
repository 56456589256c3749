"""Read a returned workbook through the layout: identity, inputs, formulas and cached results.

Positions come from :mod:`layout` (the same description the writer used). Values are turned into
what a spreadsheet engine sees: dates become serial numbers, error texts become error values.
"""
from __future__ import annotations

import datetime as dt
import json
import math
import re
from dataclasses import dataclass, field
from typing import Any

from openpyxl.workbook import Workbook
from openpyxl.worksheet.worksheet import Worksheet

from . import record
from .expr import XLError
from .layout import CONST, FORMULA, HEADER_ROW, PROTECTED_SHEETS, SHEETS, Layout
from .labels import LABELS
from .record import IssuedRecord
from .writer import META_FIRST_ROW, excel_serial

ERROR_TEXTS = {"#DIV/0!", "#VALUE!", "#NAME?", "#N/A", "#REF!", "#NUM!", "#NULL!", "#GETTING_DATA", "#SPILL!", "#CALC!"}


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


def _meta_sheet(wb: Workbook) -> Worksheet | None:
    for name in (LABELS["sheet.meta"][0], LABELS["sheet.meta"][1]):
        if name in wb.sheetnames:
            return wb[name]
    for ws in wb.worksheets:  # renamed: find it by content
        if ws.cell(META_FIRST_ROW + 1, 1).value == "wbtool":
            return ws
    return None


def read_meta(wb_formulas: Workbook) -> Meta | None:
    """The metadata block, or None for a workbook wbtool did not make."""
    custom: dict[str, Any] = {}
    try:
        for p in wb_formulas.custom_doc_props.props:
            custom[p.name] = p.value
    except AttributeError:
        pass
    ws = _meta_sheet(wb_formulas)
    if ws is None:
        if any(k.startswith("wbtool.") for k in custom):
            return Meta({}, None, IssuedRecord(), custom)
        return None
    data: dict[str, str] = {}
    blobs: dict[str, str] = {}
    for row in ws.iter_rows(min_row=META_FIRST_ROW + 1, max_row=META_FIRST_ROW + 40, values_only=True):
        if not row or row[0] is None:
            continue
        k = str(row[0])
        if k in ("ruleset", "issued"):
            blobs[k] = "".join(str(v) for v in row[1:] if v is not None)
        elif len(row) > 1 and row[1] is not None:
            data[k] = str(row[1])
    if data.get("wbtool") != "wbtool workbook":
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


def to_engine_value(v: Any) -> Any:
    """What a formula sees in a cell: dates as serial numbers, error texts as errors."""
    if isinstance(v, dt.datetime) or isinstance(v, dt.date):
        return excel_serial(v)
    if isinstance(v, dt.time):
        return (v.hour * 3600 + v.minute * 60 + v.second) / 86400
    if isinstance(v, dt.timedelta):  # a number in a duration format ([h]:mm:ss) is still the number of days
        return v.total_seconds() / 86400
    if isinstance(v, int) and not isinstance(v, bool):
        try:
            return float(v)
        except OverflowError:  # a 400-digit integer: as a spreadsheet would, an out-of-range number (V026)
            return math.inf if v > 0 else -math.inf
    if isinstance(v, str) and v in ERROR_TEXTS:
        return XLError(v)
    return v


_STR = re.compile(r'"(?:[^"]|"")*"')


def normalise_formula(f: str) -> str:
    """Formula text compared modulo what applications re-serialise: quotes, $, case, spaces."""
    f = f.lstrip("=")
    parts: list[str] = []
    last = 0
    for m in _STR.finditer(f):
        parts.append(_norm_code(f[last:m.start()]))
        parts.append(m.group(0))
        last = m.end()
    parts.append(_norm_code(f[last:]))
    return "".join(parts)


def _norm_code(s: str) -> str:
    s = s.replace("$", "").replace("'", "").replace(" ", "").upper()
    s = s.replace("_XLFN.", "")
    # numbers as other applications re-serialise them: 1.0 / 1.20 (LibreOffice), and Gnumeric's 21
    # significant digits (1.2 → 1.20000000000000000004, 0.9 → 0.899999999999999999978): compared
    # at the 15 significant digits a double holds
    return _NUMBER.sub(lambda m: _norm_number(m.group(0)), s)


_NUMBER = re.compile(r"(?<![A-Z0-9_.])\d+\.\d*(?:E[+-]?\d+)?(?![\d])")


def _norm_number(text: str) -> str:
    x = float(f"{float(text):.15g}")
    return str(int(x)) if x.is_integer() and abs(x) < 1e15 else repr(x)


@dataclass
class Snapshot:
    """Everything the checker needs from one returned workbook, addressed by slot key and row."""

    L: Layout
    missing_sheets: list[str] = field(default_factory=list)
    values: dict[tuple[str, int | None], Any] = field(default_factory=dict)   # non-formula slots (engine values)
    raw: dict[tuple[str, int | None], Any] = field(default_factory=dict)      # non-formula slots, as typed
    formulas: dict[tuple[str, int | None], str | None] = field(default_factory=dict)  # formula text found in cell
    cached: dict[tuple[str, int | None], Any] = field(default_factory=dict)   # cached results of formula slots
    typed_formulas: dict[tuple[str, int | None], str] = field(default_factory=dict)  # formulas typed into inputs
    end_rows: dict[str, int | None] = field(default_factory=dict)  # found end-marker row per table sheet
    anchors: dict[str, list[tuple[str, Any, Any]]] = field(default_factory=dict)  # sheet → (slot, expected, found)
    calc_mode: str | None = None
    unprotected: list[str] = field(default_factory=list)  # PROTECTED_SHEETS found without sheet protection


def take_snapshot(L: Layout, wb_formulas: Workbook, wb_values: Workbook) -> Snapshot:
    snap = Snapshot(L)
    try:
        snap.calc_mode = wb_formulas.calculation.calcMode
    except AttributeError:
        snap.calc_mode = None
    for key in SHEETS:
        if L.sheet(key) not in wb_formulas.sheetnames:
            snap.missing_sheets.append(key)
    if snap.missing_sheets:
        return snap
    wf = {k: wb_formulas[L.sheet(k)] for k in SHEETS}
    wv = {k: wb_values[L.sheet(k)] for k in SHEETS}
    for key in ("indicators", "actuals", "scoring"):
        snap.end_rows[key] = _find_end(wf[key], L)
    snap.unprotected = [k for k in PROTECTED_SHEETS if not wf[k].protection.sheet]
    for slot in L.columns():  # table headers anchor the columns (a column inserted shifts them)
        found = wf[slot.sheet].cell(HEADER_ROW + 1, slot.col + 1).value
        snap.anchors.setdefault(slot.sheet, []).append((slot.key, slot.header, found))
    for slot in L.slots.values():
        rows = list(L.rows()) if slot.is_column else [None]
        for r in rows:
            row = slot.row if r is None else r
            fcell = wf[slot.sheet].cell(row + 1, slot.col + 1)
            cf = fcell.value
            vcell = wv[slot.sheet].cell(row + 1, slot.col + 1)
            cv = vcell.value
            k = (slot.key, r)
            is_formula = fcell.data_type == "f" and isinstance(cf, str)
            if slot.kind == FORMULA:
                snap.formulas[k] = cf if is_formula else None
                snap.cached[k] = to_engine_value(cv)
                if not is_formula:
                    snap.cached[k] = to_engine_value(cf)
            elif slot.kind == CONST and isinstance(slot.value, str) and not slot.is_column:
                snap.anchors.setdefault(slot.sheet, []).append((slot.key, slot.value, cv))
                snap.values[k] = cv
            else:
                if is_formula:
                    snap.typed_formulas[k] = cf
                snap.raw[k] = cv
                # text that merely looks like an error value ("#N/A" typed as text) stays text
                snap.values[k] = cv if vcell.data_type == "s" else to_engine_value(cv)
    return snap


def _find_end(ws: Worksheet, L: Layout) -> int | None:
    markers = {LABELS["v.end"][0], LABELS["v.end"][1]}
    expected = L.end_row + 1
    if ws.cell(expected, 1).value in markers:
        return L.end_row
    for r in range(max(1, expected - L.n_rows), expected + 200):
        if ws.cell(r, 1).value in markers:
            return r - 1
    return None
