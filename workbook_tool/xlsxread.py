"""One streaming pass over the parts of a returned workbook that ``check`` needs.

openpyxl builds every cell of every sheet twice (once for formulas, once for cached values) and
three quarters of ``check``'s time went there. This reader walks the package once with expat
(entity declarations refused, nesting depth bounded) and keeps, for the sheets the layout names
only and only up to the rows and columns the layout can reach, each cell's formula text *and*
cached value together. What it yields for a cell is exactly what openpyxl would give in its two
views (``tests/test_xlsxread.py`` compares them cell by cell): shared formulas translated to each
cell, error values as their text, dates for date-formatted numbers, booleans, shared strings.

Memory is bounded whatever the file: sheets the layout does not name are never parsed, parsing a
sheet stops at :data:`MAX_ROW`, cells right of :data:`MAX_COL` are dropped, only the shared
strings that kept cells refer to are stored, and nesting deeper than :data:`MAX_DEPTH` is refused.
"""
from __future__ import annotations

import datetime as dt
import functools
import posixpath
import re
import zipfile
import zlib
from dataclasses import dataclass, field
from typing import Any, Callable, Iterable
from xml.parsers import expat

from .a1 import cell_to_rowcol, col_index, col_name, range_boundaries
from .errors import UnreadableFile

MAIN_NS = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
_REL_NS = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
_PKG_REL_NS = "http://schemas.openxmlformats.org/package/2006/relationships"
_CT_NS = "http://schemas.openxmlformats.org/package/2006/content-types"
_VT_NS = "http://schemas.openxmlformats.org/officeDocument/2006/docPropsVTypes"
_CUSTOM_NS = "http://schemas.openxmlformats.org/officeDocument/2006/custom-properties"
_SST_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sharedStrings+xml"
_WORKBOOK_TYPES = (
    "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml",
    "application/vnd.openxmlformats-officedocument.spreadsheetml.template.main+xml",
    "application/vnd.ms-excel.sheet.macroEnabled.main+xml",
    "application/vnd.ms-excel.template.macroEnabled.main+xml",
)

#: Rows read per sheet (1-based, inclusive). The deepest cell a layout can reach is the end-marker
#: search: 3 header rows + 500 indicator rows (the template maximum) + 200 rows of search.
MAX_ROW = 720
#: Columns kept per sheet (1-based, inclusive); the layout's widest sheet uses 18.
MAX_COL = 64
#: The metadata sheet carries JSON in 30 000-character chunks along its rows.
MAX_META_COL = 1024
#: XML nesting depth; a worksheet needs 6, a rich-text shared string 5.
MAX_DEPTH = 64

_WINDOWS_EPOCH = dt.datetime(1899, 12, 30)
_MAC_EPOCH = dt.datetime(1904, 1, 1)
_SECS_PER_DAY = 86400


class ReadError(Exception):
    """The file is damaged in a way the reader cannot get past (becomes F119 / F118 / F116)."""

    def __init__(self, detail: str, code: str = "F119"):
        super().__init__(detail)
        self.code = code


class _Stop(Exception):
    """Internal: the rows a sheet is read for are done."""


@dataclass(frozen=True)
class NonScalarFormula:
    """An array or data-table formula: openpyxl gives an object, not text; so does this reader."""

    kind: str
    text: str

    def __str__(self) -> str:
        return self.text


@dataclass
class Cell:
    """One cell in openpyxl's two views: ``value``/``type`` as loaded for formulas, ``cached``/
    ``cached_type`` as loaded with data_only=True (type letters as openpyxl's data_type)."""

    value: Any
    type: str
    cached: Any
    cached_type: str


EMPTY = Cell(None, "n", None, "n")


@dataclass
class Book:
    """What ``check`` reads from a workbook: sheet names, custom properties, calc mode, cells."""

    sheetnames: list[str]
    custom: dict[str, Any]
    calc_mode: str | None
    sheets: dict[str, dict[tuple[int, int], Cell]] = field(default_factory=dict)  # the sheets read
    worksheets: list[str] = field(default_factory=list)  # every worksheet (not chartsheets), in order
    protected: dict[str, bool] = field(default_factory=dict)  # sheet read → <sheetProtection sheet=…>

    def cell(self, sheet: str, row: int, col: int) -> Cell:
        """1-based (row, col); an absent cell, or one of a sheet that was not read, is empty."""
        cells = self.sheets.get(sheet)
        return EMPTY if cells is None else cells.get((row, col), EMPTY)


# ---------------------------------------------------------------------------------------------
# expat with the house's protections

def _parser(start: Callable[..., None] | None, end: Callable[..., None] | None,
            text: Callable[[str], None] | None) -> expat.XMLParserType:
    p = expat.ParserCreate(namespace_separator=" ")
    p.buffer_text = True
    p.buffer_size = 1 << 16

    def entity(*_a: object) -> None:
        raise ReadError("entity declaration", "F118")

    p.EntityDeclHandler = entity
    p.UnparsedEntityDeclHandler = entity
    p.ExternalEntityRefHandler = entity  # type: ignore[assignment]
    p.SetParamEntityParsing(expat.XML_PARAM_ENTITY_PARSING_NEVER)
    if start is not None:
        p.StartElementHandler = start
    if end is not None:
        p.EndElementHandler = end
    if text is not None:
        p.CharacterDataHandler = text
    return p


def _feed(p: expat.XMLParserType, archive: zipfile.ZipFile, name: str) -> None:
    """Parse one part in chunks; every failure becomes a ReadError with the code intake would give."""
    try:
        with archive.open(name) as fh:
            while chunk := fh.read(1 << 17):
                p.Parse(chunk, False)
            p.Parse(b"", True)
    except _Stop:
        return
    except (ReadError, UnreadableFile):
        raise
    except expat.ExpatError as exc:
        raise ReadError(f"{name[:60]}: XML {exc}") from exc
    except (zipfile.BadZipFile, EOFError, zlib.error, OSError) as exc:  # CRC, broken deflate stream
        raise ReadError(f"{name[:60]}: {type(exc).__name__}", "F116") from exc
    except (KeyError, ValueError, RuntimeError, NotImplementedError) as exc:  # member missing, bad zip entry
        raise ReadError(f"{name[:60]}: {type(exc).__name__}") from exc


class _Depth:
    """Counts nesting and refuses absurd depth before a tree can grow (1,000,000 nested <x>)."""

    __slots__ = ("n",)

    def __init__(self) -> None:
        self.n = 0

    def down(self) -> None:
        self.n += 1
        if self.n > MAX_DEPTH:
            raise ReadError(f"XML nested deeper than {MAX_DEPTH} levels")


def _small_tree(archive: zipfile.ZipFile, name: str) -> list[tuple[str, dict[str, str], int]]:
    """(tag, attrs, depth) of every element of a small part, in document order (no text)."""
    out: list[tuple[str, dict[str, str], int]] = []
    d = _Depth()

    def start(tag: str, attrs: dict[str, str]) -> None:
        d.down()
        out.append((tag, attrs, d.n))

    def end(_tag: str) -> None:
        d.n -= 1

    _feed(_parser(start, end, None), archive, name)
    return out


# ---------------------------------------------------------------------------------------------
# package structure: workbook part, sheets, styles, shared strings, custom properties

def _parts(archive: zipfile.ZipFile, names: set[str]) -> tuple[str, str | None]:
    """(workbook part, shared-strings part) as openpyxl finds them: content-type overrides."""
    if "[Content_Types].xml" not in names:
        raise ReadError("[Content_Types].xml missing")
    wb = sst = None
    for tag, attrs, _d in _small_tree(archive, "[Content_Types].xml"):
        if tag == f"{_CT_NS} Override":
            part = attrs.get("PartName", "")
            part = part[1:] if part.startswith("/") else part
            ctype = attrs.get("ContentType")
            if ctype in _WORKBOOK_TYPES and wb is None:
                wb = part
            elif ctype == _SST_TYPE and sst is None:
                sst = part
    if wb is None:
        raise ReadError("no workbook part in [Content_Types].xml")
    return wb, sst


def _rels(archive: zipfile.ZipFile, part: str, names: set[str]) -> dict[str, tuple[str, str]]:
    """rId → (type, target path inside the package) for ``part``'s relationships."""
    folder, base = posixpath.split(part)
    rels_name = posixpath.join(folder, "_rels", base + ".rels")
    out: dict[str, tuple[str, str]] = {}
    if rels_name not in names:
        return out
    for tag, attrs, _d in _small_tree(archive, rels_name):
        if tag == f"{_PKG_REL_NS} Relationship":
            target = attrs.get("Target", "")
            if attrs.get("TargetMode") == "External":
                continue
            path = target[1:] if target.startswith("/") else posixpath.normpath(posixpath.join(folder, target))
            out[attrs.get("Id", "")] = (attrs.get("Type", ""), path)
    return out


@dataclass
class _WorkbookInfo:
    sheets: list[tuple[str, str]]  # (name, part) of worksheets that exist, in order
    sheetnames: list[str]          # openpyxl's wb.sheetnames (chartsheets included)
    calc_mode: str | None
    date1904: bool


def _workbook_info(archive: zipfile.ZipFile, part: str, names: set[str]) -> _WorkbookInfo:
    rels = _rels(archive, part, names)
    sheets: list[tuple[str, str]] = []
    sheetnames: list[str] = []
    calc_mode: str | None = None
    date1904 = False
    for tag, attrs, _d in _small_tree(archive, part):
        if tag == f"{MAIN_NS} sheet":
            rid = attrs.get(f"{_REL_NS} id")
            name = attrs.get("name")
            if rid not in rels or name is None:
                raise ReadError(f"sheet {name!r} has no relationship")
            rtype, target = rels[rid]
            if target not in names:
                continue  # openpyxl skips a sheet whose part is missing
            sheetnames.append(name)
            if "chartsheet" not in rtype:
                sheets.append((name, target))
        elif tag == f"{MAIN_NS} calcPr":
            calc_mode = attrs.get("calcMode")
        elif tag == f"{MAIN_NS} workbookPr":
            date1904 = attrs.get("date1904", "").lower() in ("1", "true")
    return _WorkbookInfo(sheets, sheetnames, calc_mode, date1904)


# number formats: which cell styles are dates (openpyxl.styles.numbers, same rules)
_BUILTIN_FORMATS = {
    0: "General", 1: "0", 2: "0.00", 3: "#,##0", 4: "#,##0.00", 5: '"$"#,##0_);("$"#,##0)',
    6: '"$"#,##0_);[Red]("$"#,##0)', 7: '"$"#,##0.00_);("$"#,##0.00)', 8: '"$"#,##0.00_);[Red]("$"#,##0.00)',
    9: "0%", 10: "0.00%", 11: "0.00E+00", 12: "# ?/?", 13: "# ??/??", 14: "mm-dd-yy", 15: "d-mmm-yy",
    16: "d-mmm", 17: "mmm-yy", 18: "h:mm AM/PM", 19: "h:mm:ss AM/PM", 20: "h:mm", 21: "h:mm:ss",
    22: "m/d/yy h:mm", 37: "#,##0_);(#,##0)", 38: "#,##0_);[Red](#,##0)", 39: "#,##0.00_);(#,##0.00)",
    40: "#,##0.00_);[Red](#,##0.00)", 41: r'_(* #,##0_);_(* \(#,##0\);_(* "-"_);_(@_)',
    42: r'_("$"* #,##0_);_("$"* \(#,##0\);_("$"* "-"_);_(@_)',
    43: r'_(* #,##0.00_);_(* \(#,##0.00\);_(* "-"??_);_(@_)',
    44: r'_("$"* #,##0.00_)_("$"* \(#,##0.00\)_("$"* "-"??_)_(@_)', 45: "mm:ss", 46: "[h]:mm:ss",
    47: "mmss.0", 48: "##0.0E+0", 49: "@",
}
_STRIP = re.compile(r'".*?"|\[(?!hh?\]|mm?\]|ss?\])[^\]]*\]')
_TIMEDELTA = re.compile(r"\[hh?\](:mm(:ss(\.0*)?)?)?|\[mm?\](:ss(\.0*)?)?|\[ss?\](\.0*)?", re.I)


@functools.lru_cache(maxsize=512)
def is_date_format(fmt: str | None) -> bool:
    if fmt is None:
        return False
    fmt = _STRIP.sub("", fmt.split(";")[0])
    return re.search(r"(?<![_\\])[dmhysDMHYS]", fmt) is not None


@functools.lru_cache(maxsize=512)
def is_timedelta_format(fmt: str | None) -> bool:
    return fmt is not None and _TIMEDELTA.search(fmt.split(";")[0]) is not None


def _styles(archive: zipfile.ZipFile, names: set[str]) -> tuple[int, set[int], set[int]]:
    """(number of cell styles, date style indexes, time-duration style indexes) from styles.xml."""
    if "xl/styles.xml" not in names:
        return 0, set(), set()
    custom: dict[int, str] = {}
    xf_fmts: list[int] = []
    in_xfs = 0
    d = _Depth()
    bad_id = False  # (reported once the part is parsed: a damaged part says so first, as before)
    num_fmt, cell_xfs, xf = f"{MAIN_NS} numFmt", f"{MAIN_NS} cellXfs", f"{MAIN_NS} xf"

    def start(tag: str, attrs: dict[str, str]) -> None:  # (no element list: styles.xml is long)
        nonlocal in_xfs, bad_id
        d.down()
        depth = d.n
        if tag == num_fmt:
            try:
                custom[int(attrs.get("numFmtId", ""))] = attrs.get("formatCode", "")
            except ValueError:
                bad_id = True
        elif tag == cell_xfs:
            in_xfs = depth
        elif in_xfs and depth <= in_xfs:
            in_xfs = 0
        if in_xfs and depth == in_xfs + 1 and tag == xf:
            try:
                xf_fmts.append(int(attrs.get("numFmtId", "0")))
            except ValueError:
                bad_id = True

    def end(_tag: str) -> None:
        d.n -= 1

    _feed(_parser(start, end, None), archive, "xl/styles.xml")
    if bad_id:
        raise ReadError("styles: bad numFmtId")
    dates, durations = set(), set()
    for idx, fid in enumerate(xf_fmts):
        fmt = custom[fid] if fid in custom else _BUILTIN_FORMATS.get(fid)
        if is_date_format(fmt):
            dates.add(idx)
        if is_timedelta_format(fmt):
            durations.add(idx)
    return len(xf_fmts), dates, durations


def _custom_props(archive: zipfile.ZipFile, names: set[str]) -> dict[str, Any]:
    """docProps/custom.xml as openpyxl's custom_doc_props: name → typed value."""
    part = "docProps/custom.xml"
    if part not in names:
        return {}
    props: dict[str, Any] = {}
    current: dict[str, Any] = {}
    d = _Depth()
    buf: list[str] = []

    def start(tag: str, attrs: dict[str, str]) -> None:
        d.down()
        buf.clear()
        if tag == f"{_CUSTOM_NS} property":
            current.clear()
            current.update(name=attrs.get("name"), link=attrs.get("linkTarget"))

    def text(s: str) -> None:
        buf.append(s)

    def end(tag: str) -> None:
        d.n -= 1
        if tag.startswith(_VT_NS + " ") and current.get("name") is not None:
            kind, raw = tag.split(" ", 1)[1], "".join(buf)
            value: Any
            if kind == "lpwstr":
                value = raw
            elif kind == "i4":
                value = int(raw)
            elif kind == "r8":
                value = float(raw)
            elif kind == "bool":
                value = raw.strip().lower() in ("1", "true")
            else:
                value = raw  # filetime & co.: wbtool reads none of them
            current["value"] = value
            current["kind"] = kind
        elif tag == f"{_CUSTOM_NS} property" and "kind" in current:
            if current["kind"] in ("lpwstr", "i4", "r8", "bool", "filetime"):
                props[current["name"]] = current["link"] if current["link"] is not None else current["value"]

    try:
        _feed(_parser(start, end, text), archive, part)
    except ReadError as exc:
        if exc.code == "F118":
            raise
        return {}  # intake already judged this part; a broken one carries no identity
    except ValueError:
        return {}
    return props


# ---------------------------------------------------------------------------------------------
# worksheets

@dataclass
class _Raw:
    """A cell as found in the XML, before shared strings and styles are applied."""

    t: str
    s: Any
    v: str | None
    f: str | None        # formula text with "=" (None: no <f>)
    f_kind: str | None   # t= of <f>: None, 'shared', 'array', 'dataTable'
    inline: str | None   # text of <is>, for t="inlineStr"
    coord: str


_DIGITS = re.compile(r"\d+")


class _SheetReader:
    """Streams one worksheet; keeps raw cells in rows ≤ max_row and columns ≤ max_col.

    Structure is matched the way openpyxl's WorksheetReader does it: a ``row`` element anywhere,
    each child of a row is a cell, a cell's first ``v`` / ``f`` / ``is`` children are its value,
    formula and inline text. Depth counters replace a tag stack, and text is collected only
    while inside one of those (the character-data handler is swapped in and out), because
    per-element Python work is what this pass costs.
    """

    def __init__(self, max_row: int, max_col: int):
        self.max_row, self.max_col = max_row, max_col
        self.cells: dict[tuple[int, int], _Raw] = {}
        self.shared: dict[str, tuple[str, int, int]] = {}  # si → (master formula, row, col)
        self.merges: list[str] = []
        self.protected = False  # openpyxl's ws.protection.sheet (the last <sheetProtection> wins)
        self.parser: expat.XMLParserType | None = None
        self.d = 0            # current depth
        self.row_d = 0        # depth of the open row element (0: none)
        self.cell_d = 0       # depth of the open cell (0: none)
        self.row = 0
        self.col = 0
        self.cur: list[Any] = []  # t, s, v, f, fattrs, inline, row, col, coord, has_r
        self.buf: list[str] = []
        self.target = ""      # what buf collects: 'v', 'f', 'is_t', 'is_r'
        self.is_d = 0         # depth of the open <is> (0: none)
        self.r_d = 0          # depth of an open <r> inside <is>
        self.inline_plain: str | None = None
        self.inline_runs: list[str] = []
        self.seen_v = self.seen_f = self.seen_is = False

    def _collect(self, target: str) -> None:
        self.buf = []
        self.target = target
        assert self.parser is not None
        self.parser.CharacterDataHandler = self.buf.append

    def start(self, tag: str, attrs: dict[str, str]) -> None:
        d = self.d = self.d + 1
        if d > MAX_DEPTH:
            raise ReadError(f"XML nested deeper than {MAX_DEPTH} levels")
        if self.cell_d:
            if d == self.cell_d + 1:
                if tag == _V:
                    if not self.seen_v:
                        self.seen_v = True
                        self._collect("v")
                elif tag == _F:
                    if not self.seen_f:
                        self.seen_f = True
                        self.cur[4] = attrs
                        self._collect("f")
                elif tag == _IS and not self.seen_is:
                    self.seen_is = True
                    self.is_d = d
                    self.inline_plain, self.inline_runs = None, []
            elif self.is_d:
                if tag == _T and (d == self.is_d + 1 or (self.r_d and d == self.r_d + 1)):
                    self._collect("is_t" if d == self.is_d + 1 else "is_r")
                elif tag == _R and d == self.is_d + 1:
                    self.r_d = d
            return
        if self.row_d and d == self.row_d + 1:
            coord = attrs.get("r")
            if coord:
                try:
                    row, col = cell_to_rowcol(coord)
                except ValueError as exc:
                    raise ReadError(f"bad cell reference {coord[:20]!r}") from exc
                self.col = col
            else:
                self.col += 1
                row, col = self.row, self.col
                coord = f"{col_name(col - 1)}{row}"
            self.cell_d = d
            self.seen_v = self.seen_f = self.seen_is = False
            self.cur = [attrs.get("t", "n"), attrs.get("s", 0), None, None, None, None, row, col, coord, bool(attrs.get("r"))]
        elif tag == _ROW:
            self.row_d = d
            r = attrs.get("r")
            if r is not None:
                try:
                    self.row = int(r)
                except ValueError:
                    try:
                        val = float(r)
                    except ValueError as exc:
                        raise ReadError(f"bad row number {r[:20]!r}") from exc
                    if not val.is_integer():
                        raise ReadError(f"{r[:20]} is not a valid row number")
                    self.row = int(val)
            else:
                self.row += 1
            self.col = 0
            if self.row > self.max_row and self.parser is not None:
                # rows are in ascending order (the format requires it): nothing further is kept;
                # the rest is only scanned for merged ranges, with cheap handlers and no text
                self.parser.StartElementHandler = self.skip_start
                self.parser.EndElementHandler = self.skip_end
                self.parser.CharacterDataHandler = None
                self.row_d = 0
        elif tag == _MERGE:
            self.merges.append(attrs.get("ref", ""))
        elif tag == _PROTECTION:
            self.protected = _bool(attrs.get("sheet"))

    def end(self, tag: str) -> None:
        d = self.d
        self.d = d - 1
        if not self.cell_d:
            if d == self.row_d:
                self.row_d = 0
            return
        if self.target and (tag == _V or tag == _F or tag == _T):
            text = "".join(self.buf)
            t = self.target
            if t == "v":
                self.cur[2] = text
            elif t == "f":
                self.cur[3] = text
            elif t == "is_t":
                self.inline_plain = text
            else:
                self.inline_runs.append(text)
            self.target = ""
            assert self.parser is not None
            self.parser.CharacterDataHandler = None
        elif d == self.r_d:
            self.r_d = 0
        elif d == self.is_d:
            self.cur[5] = (self.inline_plain or "") + "".join(self.inline_runs)
            self.is_d = 0
        elif d == self.cell_d:
            self.cell_d = 0
            self._finish(self.cur)

    def skip_start(self, tag: str, attrs: dict[str, str]) -> None:
        """Past the rows we need: only merged ranges (after sheetData) still matter."""
        self.d += 1
        if self.d > MAX_DEPTH:
            raise ReadError(f"XML nested deeper than {MAX_DEPTH} levels")
        if tag == _MERGE:
            self.merges.append(attrs.get("ref", ""))
        elif tag == _PROTECTION:
            self.protected = _bool(attrs.get("sheet"))

    def skip_end(self, _tag: str) -> None:
        self.d -= 1

    def _finish(self, cur: list[Any]) -> None:
        t, s, v, ftext, fattrs, inline, row, col, coord, has_r = cur
        f = None
        kind = None
        if fattrs is not None:
            kind = fattrs.get("t")
            f = "=" + (ftext or "")
            if kind == "shared":
                si = fattrs.get("si")
                if si in self.shared:
                    master, mr, mc = self.shared[si]
                    if row <= self.max_row and col <= self.max_col:
                        # (openpyxl does not move a formula whose cell has no address)
                        f = translate_formula(master, row - mr, col - mc) if has_r else master
                elif f != "=":
                    self.shared[si] = (f, row, col)
        if row > self.max_row or col > self.max_col:
            return
        self.cells[(row, col)] = _Raw(t, s, v, f, kind, inline, coord)


_ROW = f"{MAIN_NS} row"
_C = f"{MAIN_NS} c"
_V = f"{MAIN_NS} v"
_F = f"{MAIN_NS} f"
_IS = f"{MAIN_NS} is"
_T = f"{MAIN_NS} t"
_R = f"{MAIN_NS} r"
_SHEETDATA = f"{MAIN_NS} sheetData"
_SI = f"{MAIN_NS} si"
_MERGE = f"{MAIN_NS} mergeCell"
_PROTECTION = f"{MAIN_NS} sheetProtection"


def _bool(v: str | None) -> bool:
    """An xsd:boolean attribute as openpyxl's Bool descriptor reads it."""
    if v is None or v in ("false", "f", "0"):
        return False
    return bool(v)
#: Cells blanked by merged ranges that one sheet may make the reader visit (see _apply_merges).
MAX_MERGE_WORK = 2_000_000


def _read_sheet(archive: zipfile.ZipFile, part: str, max_row: int, max_col: int) -> _SheetReader:
    rd = _SheetReader(max_row, max_col)
    rd.parser = _parser(rd.start, rd.end, None)
    _feed(rd.parser, archive, part)
    rd.parser = None
    return rd


def _apply_merges(cells: dict[tuple[int, int], Any], merges: list[str], max_row: int, max_col: int) -> None:
    """openpyxl empties every cell of a merged range but its top-left one; so does this reader.

    Only the part of a range inside the rows and columns kept is visited, and the total is capped
    (a sheet of huge overlapping merges is refused as a cell bomb, F121)."""
    work = 0
    for ref in merges:
        try:
            c1, r1, c2, r2 = range_boundaries(ref.strip() if ref else "")
        except ValueError as exc:
            raise ReadError(f"bad merged range {ref[:30]!r}") from exc
        if None in (c1, r1, c2, r2):
            raise ReadError(f"bad merged range {ref[:30]!r}")
        assert c1 is not None and r1 is not None and c2 is not None and r2 is not None
        r1, r2, c1, c2 = min(r1, r2), max(r1, r2), min(c1, c2), max(c1, c2)
        top = (r1, c1)
        rows, cols = range(r1, min(r2, max_row) + 1), range(c1, min(c2, max_col) + 1)
        work += len(rows) * len(cols)
        if work > MAX_MERGE_WORK:
            raise ReadError("merged ranges too large", "F121")
        for r in rows:
            for c in cols:
                if (r, c) != top:
                    cells.pop((r, c), None)


def _shared_strings(archive: zipfile.ZipFile, part: str | None, wanted: set[int]) -> tuple[dict[int, str], int]:
    """The wanted entries of the shared-string table and its length (negative indexes count back).

    An entry's text is openpyxl's ``Text.content``: its own ``t`` plus the ``t`` of each run
    (phonetic ``rPh`` text excluded), then "x005F_" removed."""
    if part is None or part not in set(archive.namelist()):
        return {}, 0
    st = _SstState(wanted)
    p = _parser(None, None, None)
    st.parser = p
    p.StartElementHandler = st.start
    p.EndElementHandler = st.end
    _feed(p, archive, part)
    return st.out, st.i + 1


class _SstState:
    def __init__(self, wanted: set[int]):
        self.wanted = wanted
        self.out: dict[int, str] = {}
        self.i = -1
        self.d = 0
        self.si_d = 0
        self.r_d = 0
        self.keep = False
        self.plain: str | None = None
        self.runs: list[str] = []
        self.buf: list[str] | None = None
        self.parser: expat.XMLParserType | None = None

    def start(self, tag: str, attrs: dict[str, str]) -> None:
        d = self.d = self.d + 1
        if d > MAX_DEPTH:
            raise ReadError(f"XML nested deeper than {MAX_DEPTH} levels")
        if tag == _SI:
            self.i += 1
            self.si_d = d
            self.keep = self.i in self.wanted
            self.plain, self.runs = None, []
        elif self.keep:
            if tag == _T and (d == self.si_d + 1 or (self.r_d and d == self.r_d + 1)):
                self.buf = []
                assert self.parser is not None
                self.parser.CharacterDataHandler = self.buf.append
            elif tag == _R and d == self.si_d + 1:
                self.r_d = d

    def end(self, tag: str) -> None:
        d = self.d
        self.d = d - 1
        if not self.keep:
            return
        if self.buf is not None and tag == _T:
            text = "".join(self.buf)
            if d == self.si_d + 1:
                self.plain = text
            else:
                self.runs.append(text)
            self.buf = None
            assert self.parser is not None
            self.parser.CharacterDataHandler = None
        elif d == self.r_d:
            self.r_d = 0
        elif d == self.si_d and tag == _SI:
            self.out[self.i] = ((self.plain or "") + "".join(self.runs)).replace("x005F_", "")
            self.keep = False


# ---------------------------------------------------------------------------------------------
# values, as openpyxl's WorksheetReader.parse_cell gives them

def _cast_number(value: str) -> int | float:
    if "." in value or "E" in value or "e" in value:
        return float(value)
    return int(value)


def from_excel(value: float, epoch: dt.datetime, timedelta: bool = False) -> Any:
    """A serial number as openpyxl's from_excel returns it (datetime, time or timedelta)."""
    if timedelta:
        td = dt.timedelta(days=value)
        if td.microseconds:
            td = dt.timedelta(seconds=td.total_seconds() // 1, microseconds=round(td.microseconds, -3))
        return td
    day, fraction = divmod(value, 1)
    diff = dt.timedelta(milliseconds=round(fraction * _SECS_PER_DAY * 1000))
    if 0 <= value < 1 and diff.days == 0:
        mins, seconds = divmod(diff.seconds, 60)
        hours, mins = divmod(mins, 60)
        return dt.time(hours, mins, seconds, diff.microseconds)
    if 0 < value < 60 and epoch == _WINDOWS_EPOCH:
        day += 1
    return epoch + dt.timedelta(days=day) + diff


_ISO = re.compile(r"""
^(?P<date>(?P<year>\d{4})-(?P<month>\d{2})-(?P<day>\d{2}))?T?
(?P<time>(?P<hour>\d{2}):(?P<minute>\d{2})(:(?P<second>\d{2})(?P<microsecond>\.\d{1,3})?)?)?Z?""", re.VERBOSE)


def _from_iso(s: str) -> Any:
    if not s:
        return None
    m = _ISO.match(s)
    if m and any(m.groups()):
        p = m.groupdict(0)
        for k in ("year", "month", "day", "hour", "minute", "second"):
            if p[k]:
                p[k] = int(p[k])
        if p["microsecond"]:
            p["microsecond"] = int(float(p["microsecond"]) * 1_000_000)
        if not p["date"]:
            return dt.time(p["hour"], p["minute"], p["second"], p["microsecond"])
        if not p["time"]:
            return dt.date(p["year"], p["month"], p["day"])
        return dt.datetime(p["year"], p["month"], p["day"], p["hour"], p["minute"], p["second"], p["microsecond"])
    raise ReadError(f"bad ISO 8601 date {s[:30]!r}")


class _Values:
    def __init__(self, strings: dict[int, str], n_strings: int, n_styles: int, dates: set[int], durations: set[int],
                 epoch: dt.datetime):
        self.strings, self.n_strings = strings, n_strings
        self.n_styles, self.dates, self.durations, self.epoch = n_styles, dates, durations, epoch

    def style(self, s: Any) -> Any:
        if s:
            try:
                s = int(s)
            except ValueError as exc:
                raise ReadError(f"bad style index {str(s)[:20]!r}") from exc
            if self.n_styles and not -self.n_styles <= s < self.n_styles:
                raise ReadError(f"style index {s} out of range")
        return s

    def string(self, v: str) -> str:
        try:
            i = int(v)
        except ValueError as exc:
            raise ReadError(f"bad shared-string index {v[:20]!r}") from exc
        if i < 0:
            i += self.n_strings
        if i not in self.strings:
            raise ReadError(f"shared-string index {v[:20]} out of range")
        return self.strings[i]

    def both(self, raw: _Raw) -> Cell:
        """The cell in both views; the common cases (number, shared string, formula) take a short path."""
        t = raw.t
        if raw.f is None and (t == "s" or (t == "n" and not raw.s)):
            v = raw.v or None
            if v is None:
                return Cell(None, t, None, t)
            if t == "s":
                sv = self.string(v)
                return Cell(sv, "s", sv, "s")
            try:
                num = _cast_number(v)
            except (ValueError, OverflowError) as exc:
                raise ReadError(f"cell {raw.coord}: {type(exc).__name__}") from exc
            return Cell(num, "n", num, "n")
        if raw.f is not None and raw.f_kind != "array" and raw.f_kind != "dataTable":
            if t == "str":  # a formula with a text result (never a date): its cached text
                self.style(raw.s)  # (checked as in cell())
                v = raw.v or None
                return Cell(raw.f, "f", v, "s" if v is not None else "str")
            if t == "n" and self.style(raw.s) not in self.dates:  # ... with a plain number result
                v = raw.v or None
                if v is None:
                    return Cell(raw.f, "f", None, "n")
                try:
                    return Cell(raw.f, "f", _cast_number(v), "n")
                except (ValueError, OverflowError) as exc:
                    raise ReadError(f"cell {raw.coord}: {type(exc).__name__}") from exc
        fv, ft = self.cell(raw, data_only=False)
        cv, ct = self.cell(raw, data_only=True) if raw.f is not None else (fv, ft)
        return Cell(fv, ft, cv, ct)

    def cell(self, raw: _Raw, data_only: bool) -> tuple[Any, str]:
        """(value, data_type) in one of openpyxl's two views."""
        t = raw.t
        style = self.style(raw.s)
        value: Any = None if t == "inlineStr" else (raw.v or None)
        if not data_only and raw.f is not None:
            if raw.f_kind in ("array", "dataTable"):
                return NonScalarFormula(raw.f_kind, raw.f), "f"
            return raw.f, "f"
        if value is not None:
            try:
                if t == "n":
                    value = _cast_number(value)
                    if style in self.dates:
                        t = "d"
                        try:
                            value = from_excel(value, self.epoch, timedelta=style in self.durations)
                        except (OverflowError, ValueError):
                            t, value = "e", "#VALUE!"
                elif t == "s":
                    value = self.string(value)
                elif t == "b":
                    value = bool(int(value))
                elif t == "str":
                    t = "s"
                elif t == "d":
                    value = _from_iso(value)
            except ReadError:
                raise
            except (ValueError, OverflowError, TypeError) as exc:
                raise ReadError(f"cell {raw.coord}: {type(exc).__name__}") from exc
        elif t == "inlineStr" and raw.inline is not None:
            t, value = "s", raw.inline
        return value, t


# ---------------------------------------------------------------------------------------------
# public entry point

def read_book(archive: zipfile.ZipFile, wanted: Iterable[str], meta_names: Iterable[str] = (),
              meta_rows: int = 64, protection_only: Iterable[str] = ()) -> Book:
    """Read the sheets named in ``wanted`` (those present), in one pass over each part.

    ``meta_names`` are sheets read with wide rows (the metadata's JSON chunks). If none of them is
    present, every other sheet's first ``meta_rows`` rows are read too so that the checker can find
    a renamed metadata sheet by content. Sheets in ``protection_only`` are scanned for their
    protection flag and merged ranges only (no cell is kept).
    """
    try:
        return _read_book(archive, set(wanted), list(meta_names), meta_rows, set(protection_only))
    except RecursionError as exc:  # pragma: no cover - depth is bounded; belt and braces
        raise ReadError("XML nested too deeply") from exc


def _read_book(archive: zipfile.ZipFile, wanted: set[str], meta_names: list[str], meta_rows: int,
               protection_only: set[str]) -> Book:
    names = set(archive.namelist())
    wb_part, sst_part = _parts(archive, names)
    if wb_part not in names:
        raise ReadError(f"workbook part {wb_part[:60]} missing")
    info = _workbook_info(archive, wb_part, names)
    n_styles, dates, durations = _styles(archive, names)
    custom = _custom_props(archive, names)
    present = {n for n, _p in info.sheets}
    plan: dict[str, tuple[str, int, int]] = {}
    for name, part in info.sheets:
        if name in plan:
            continue
        if name in meta_names:
            plan[name] = (part, meta_rows, MAX_META_COL)
        elif name in wanted:
            plan[name] = (part, MAX_ROW, MAX_COL)
        elif name in protection_only:
            plan[name] = (part, 0, 0)
    if meta_names and not any(m in present for m in meta_names):
        for name, part in info.sheets:  # a renamed metadata sheet is found by its content
            if name not in plan:
                plan[name] = (part, meta_rows, MAX_META_COL)
    raws: dict[str, _SheetReader] = {}
    for name, (part, rows, cols) in plan.items():
        raws[name] = _read_sheet(archive, part, rows, cols)
    wanted_strings: set[int] = set()
    negative = False
    for rd in raws.values():
        for raw in rd.cells.values():
            if raw.t == "s" and raw.v:
                try:
                    i = int(raw.v)
                except ValueError:
                    continue  # reported when the value is built
                if i < 0:
                    negative = True
                wanted_strings.add(i)
    strings, n_strings = _shared_strings(archive, sst_part, wanted_strings) if sst_part and wanted_strings else ({}, 0)
    if negative:  # Python-style negative indexes (openpyxl indexes a list): count back from the end
        neg = {i + n_strings for i in wanted_strings if i < 0}
        if neg - set(strings):
            more, _n = _shared_strings(archive, sst_part, neg)
            strings.update(more)
    vals = _Values(strings, n_strings, n_styles, dates, durations, _MAC_EPOCH if info.date1904 else _WINDOWS_EPOCH)
    book = Book(sheetnames=info.sheetnames, custom=custom, calc_mode=info.calc_mode,
                worksheets=[n for n, _p in info.sheets])
    for name, rd in raws.items():
        cells: dict[tuple[int, int], Cell] = {}
        both = vals.both
        for pos, raw in rd.cells.items():
            cells[pos] = both(raw)
        _apply_merges(cells, rd.merges, rd.max_row, rd.max_col)
        book.sheets[name] = cells
        book.protected[name] = rd.protected
    return book


# ---------------------------------------------------------------------------------------------
# shared formulas: the master's text moved to each cell (openpyxl's Translator, same rules)

_ERRORS = ("#NULL!", "#DIV/0!", "#VALUE!", "#REF!", "#NAME?", "#NUM!", "#N/A", "#GETTING_DATA")
_SCI = re.compile(r"^[1-9](\.[0-9]+)?[Ee]$")
_OPERATORS = set("+-*/^&=><%,;(){} \n")
_ROW_RANGE = re.compile(r"(\$?[1-9][0-9]{0,6}):(\$?[1-9][0-9]{0,6})$")
_COL_RANGE = re.compile(r"(\$?[A-Za-z]{1,3}):(\$?[A-Za-z]{1,3})$")
_CELL_REF = re.compile(r"(\$?[A-Za-z]{1,3})(\$?[1-9][0-9]{0,6})$")


def _closing_quote(body: str, i: int, what: str) -> int:
    """Index of the quote closing the one at ``i`` (a doubled quote inside stands for itself)."""
    q, j, n = body[i], i + 1, len(body)
    while j < n:
        if body[j] == q:
            if j + 1 < n and body[j + 1] == q:
                j += 2
                continue
            return j
        j += 1
    raise ReadError(f"formula: unterminated {what}")


def _segments(body: str) -> list[tuple[str, bool]]:
    """Split formula text (after "=") into (text, is_operand) pieces; a function name is not an operand."""
    out: list[tuple[str, bool]] = []
    tok: list[str] = []
    i, n = 0, len(body)

    def flush(next_ch: str | None) -> None:
        if tok:
            out.append(("".join(tok), next_ch != "("))
            tok.clear()

    while i < n:
        ch = body[i]
        if ch == '"' and not tok:
            j = _closing_quote(body, i, "string")
            out.append((body[i:j + 1], False))
            i = j + 1
        elif ch == "'":
            j = _closing_quote(body, i, "quoted name")
            tok.append(body[i:j + 1])
            i = j + 1
        elif ch == "[":
            depth, j = 0, i
            while j < n:
                if body[j] == "[":
                    depth += 1
                elif body[j] == "]":
                    depth -= 1
                    if depth == 0:
                        break
                j += 1
            if j >= n:
                raise ReadError("formula: unmatched [")
            tok.append(body[i:j + 1])
            i = j + 1
        elif ch == "#" and (not tok or tok[-1].endswith("!")):
            err = next((e for e in _ERRORS if body.startswith(e, i)), None)
            if err is None:
                raise ReadError("formula: bad error literal")
            if tok:
                tok.append(err)
            else:
                out.append((err, False))
            i += len(err)
        elif ch in "+-" and tok and _SCI.match("".join(tok)):
            tok.append(ch)
            i += 1
        elif ch in _OPERATORS:
            flush(ch)
            out.append((ch, False))
            i += 1
        else:
            tok.append(ch)
            i += 1
    flush(None)
    return out


def _is_range_operand(text: str) -> bool:
    if text.startswith(('"', "#")) or text in ("TRUE", "FALSE"):
        return False
    try:
        float(text)
    except ValueError:
        return True
    return False


def _move_row(s: str, d: int) -> str:
    if s.startswith("$"):
        return s
    r = int(s) + d
    if r <= 0:
        raise ReadError("shared formula moved out of the sheet")
    return str(r)


def _move_col(s: str, d: int) -> str:
    if s.startswith("$"):
        return s
    try:
        c = col_index(s) + d
        if c < 1 or c > 18278:
            raise ValueError
        return col_name(c - 1)
    except ValueError as exc:
        raise ReadError("shared formula moved out of the sheet") from exc


def _move_range(ref: str, dr: int, dc: int) -> str:
    ws = ""
    if "!" in ref:
        sheet, ref = ref.rsplit("!", 1)
        ws = sheet + "!"
    m = _ROW_RANGE.match(ref)
    if m:
        return ws + _move_row(m.group(1), dr) + ":" + _move_row(m.group(2), dr)
    m = _COL_RANGE.match(ref)
    if m:
        return ws + _move_col(m.group(1), dc) + ":" + _move_col(m.group(2), dc)
    if ":" in ref:
        return ws + ":".join(_move_range(p, dr, dc) for p in ref.split(":"))
    m = _CELL_REF.match(ref)
    if m is None:
        return ref  # a defined name
    return ws + _move_col(m.group(1), dc) + _move_row(m.group(2), dr)


def translate_formula(formula: str, dr: int, dc: int) -> str:
    """``formula`` (with "=") as it reads moved by (dr, dc): relative references move, $ ones stay."""
    body = formula[1:] if formula.startswith("=") else formula
    if not formula.startswith("="):
        return formula
    pieces = _segments(body)
    if not pieces:
        return ""
    return "=" + "".join(_move_range(t, dr, dc) if op and _is_range_operand(t) else t for t, op in pieces)
