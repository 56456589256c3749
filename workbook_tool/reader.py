"""Read a returned workbook through the layout: identity, inputs, formulas and cached results.

Positions come from :mod:`layout` (the same description the writer used). Values are turned into
what a spreadsheet engine sees: dates become serial numbers, error texts become error values.
"""
from __future__ import annotations

import datetime as dt
import functools
import math
import re
from dataclasses import dataclass, field
from typing import Any

from .dates import excel_serial
from .expr import XLError
from .layout import CONST, FORMULA, HEADER_ROW, PROTECTED_SHEETS, SHEETS, Layout
from .labels import LABELS
from .xlsxread import EMPTY, Book, Cell

#: Sheets a workbook issued by an earlier wbtool lacks (the 自评表 came with issue #14): their cells are
#: views of the others, so a return without them is still fully checkable.
OPTIONAL_SHEETS = ("form",)

ERROR_TEXTS = {"#DIV/0!", "#VALUE!", "#NAME?", "#N/A", "#REF!", "#NUM!", "#NULL!", "#GETTING_DATA", "#SPILL!", "#CALC!"}


class OpenpyxlGrid:
    """The two openpyxl views of a workbook behind the streaming reader's interface.

    ``check`` reads with :mod:`xlsxread`; this adapter lets tests (and anything holding openpyxl
    workbooks) take the same snapshot, which is how the two readers are compared."""

    def __init__(self, wb_formulas: Any, wb_values: Any):
        self.f, self.v = wb_formulas, wb_values
        self.sheetnames: list[str] = list(wb_formulas.sheetnames)
        try:
            self.calc_mode = wb_formulas.calculation.calcMode
        except AttributeError:
            self.calc_mode = None
        self.custom: dict[str, Any] = {}
        try:
            for p in wb_formulas.custom_doc_props.props:
                self.custom[p.name] = p.value
        except AttributeError:
            pass

    @property
    def worksheet_names(self) -> list[str]:
        return [ws.title for ws in self.f.worksheets]

    def cell(self, sheet: str, row: int, col: int) -> Cell:
        fc, vc = self.f[sheet].cell(row, col), self.v[sheet].cell(row, col)
        return Cell(fc.value, fc.data_type, vc.value, vc.data_type)

    def protected(self, sheet: str) -> bool:
        return bool(self.f[sheet].protection.sheet)

    def row_values(self, sheet: str, row: int) -> list[Any]:
        ws = self.f[sheet]
        return [ws.cell(row, c).value for c in range(1, ws.max_column + 1)]


class BookGrid:
    """A :class:`~workbook_tool.xlsxread.Book` with the interface the snapshot code reads."""

    def __init__(self, book: Book):
        self.book = book
        self.sheetnames = book.sheetnames
        self.calc_mode = book.calc_mode
        self.custom = book.custom

    @property
    def worksheet_names(self) -> list[str]:
        return self.book.worksheets

    def cell(self, sheet: str, row: int, col: int) -> Cell:
        return self.book.cell(sheet, row, col)

    def protected(self, sheet: str) -> bool:
        return self.book.protected.get(sheet, False)

    def row_values(self, sheet: str, row: int) -> list[Any]:
        cells = [(c, cell.value) for (r, c), cell in self.book.sheets.get(sheet, {}).items() if r == row]
        if not cells:
            return []
        out: list[Any] = [None] * max(c for c, _v in cells)
        for c, v in cells:
            out[c - 1] = v
        return out


Grid = Any  # OpenpyxlGrid | BookGrid


def as_grid(wb_formulas: Any, wb_values: Any = None) -> Any:
    """A grid from a Book, a grid, or the two openpyxl workbooks (formulas, values)."""
    if isinstance(wb_formulas, Book):
        return BookGrid(wb_formulas)
    if isinstance(wb_formulas, (BookGrid, OpenpyxlGrid)):
        return wb_formulas
    return OpenpyxlGrid(wb_formulas, wb_values if wb_values is not None else wb_formulas)


def to_engine_value(v: Any) -> Any:
    """What a formula sees in a cell: dates as serial numbers, error texts as errors."""
    c = v.__class__
    if c is float or v is None:  # the common cases first
        return v
    if c is str:
        return XLError(v) if v in ERROR_TEXTS else v
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


@functools.lru_cache(maxsize=16384)
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


def take_snapshot(L: Layout, wb_formulas: Any, wb_values: Any = None) -> Snapshot:
    """Read every slot of the layout: a :class:`Book` (streaming reader) or two openpyxl workbooks."""
    g = as_grid(wb_formulas, wb_values)
    snap = Snapshot(L)
    snap.calc_mode = g.calc_mode
    names = set(g.worksheet_names)
    # a sheet listed but a chartsheet counts as missing: nothing of ours can be read from it
    present = {k for k in SHEETS if L.sheet(k) in g.sheetnames and L.sheet(k) in names}
    snap.missing_sheets = [k for k in SHEETS if k not in present and k not in OPTIONAL_SHEETS]
    if snap.missing_sheets:
        return snap
    cell = g.cell
    for key in ("indicators", "actuals", "scoring"):
        snap.end_rows[key] = _find_end(g, L.sheet(key), L)
    snap.unprotected = [k for k in PROTECTED_SHEETS if not g.protected(L.sheet(k))]
    for slot in L.columns():  # table headers anchor the columns (a column inserted shifts them)
        found = cell(L.sheet(slot.sheet), HEADER_ROW + 1, slot.col + 1).value
        snap.anchors.setdefault(slot.sheet, []).append((slot.key, slot.header, found))
    sheets: dict[str, Any] = {}
    for key, r, sheet_key, row, col, kind, const in _read_plan(L):
        if sheet_key not in present:
            continue  # an optional sheet the workbook predates: nothing to compare there
        at = sheets.get(sheet_key)
        if at is None:
            at = sheets[sheet_key] = _cells_of(g, L.sheet(sheet_key))
        c = at(row, col)
        cf, cv = c.value, c.cached
        k = (key, r)
        is_formula = c.type == "f" and isinstance(cf, str)
        if kind == FORMULA:
            snap.formulas[k] = cf if is_formula else None
            snap.cached[k] = to_engine_value(cv if is_formula else cf)
        elif const is not None:
            snap.anchors.setdefault(sheet_key, []).append((key, const, cv))
            snap.values[k] = cv
        else:
            if is_formula:
                snap.typed_formulas[k] = cf
            snap.raw[k] = cv
            # text that merely looks like an error value ("#N/A" typed as text) stays text
            snap.values[k] = cv if c.cached_type == "s" else to_engine_value(cv)
    return snap


def _read_plan(L: Layout) -> list[tuple[str, int | None, str, int, int, str, str | None]]:
    """Every cell the snapshot reads: (slot key, row or None, sheet key, 1-based row and column,
    slot kind, the text of a constant label anchoring it). The same for every file: memoised."""
    plan = L.cache.get("read_plan")
    if plan is None:
        plan = L.cache["read_plan"] = []
        for slot in L.slots.values():
            const = slot.value if slot.kind == CONST and isinstance(slot.value, str) and not slot.is_column else None
            for r in (list(L.rows()) if slot.is_column else [None]):
                plan.append((slot.key, r, slot.sheet, (slot.row if r is None else r) + 1, slot.col + 1, slot.kind, const))
    return plan


def _cells_of(g: Any, sheet: str) -> Any:
    """(row, col) → Cell for one sheet, straight from the book's dict when there is one."""
    if isinstance(g, BookGrid):
        cells = g.book.sheets.get(sheet) or {}
        return lambda row, col: cells.get((row, col), EMPTY)
    return lambda row, col: g.cell(sheet, row, col)


def _find_end(g: Any, sheet: str, L: Layout) -> int | None:
    markers = {LABELS["v.end"][0], LABELS["v.end"][1]}
    expected = L.end_row + 1
    if g.cell(sheet, expected, 1).value in markers:
        return L.end_row
    for r in range(max(1, expected - L.n_rows), expected + 200):
        if g.cell(sheet, r, 1).value in markers:
            return r - 1
    return None
