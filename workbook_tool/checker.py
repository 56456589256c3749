"""`wbtool check`: identify, validate, re-score in Python and cross-check a returned workbook.

The file is read once into memory (:mod:`intake`) and never written. Findings carry catalogue
codes (:mod:`catalogue`); the report is rendered separately (:mod:`report`).
"""
from __future__ import annotations

import datetime as dt
import functools
import math
import re
import unicodedata
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from . import catalogue  # noqa: F401  (registers the codes)
from .engine import evaluate
from .errors import UnreadableFile, WbtoolError
from .expr import XLError, xl_round
from .findings import ERROR, WARNING, Bi, Finding
from .intake import damaged, open_package
from .labels import LABELS, label
from . import checks, rules, signing
from .layout import FIRST_ROW, FORMULA, HEADER_ROW, SHEETS, Layout, formulas_digest, layout_for
from .metadata import META_ROWS, META_SHEET_NAMES, PROP_FINGERPRINT, PROP_SIGNATURE, Meta, read_meta
from .reader import Snapshot, normalise_formula, take_snapshot
from .textnum import LOOKALIKE, parse_number_text
from .template import Template, builtin_templates, load_template, ruleset_digest
from .record import fingerprint
from .xlsxread import ReadError, read_book

TOLERANCE = 0.005
MAX_TEXT = 2000
MAX_NUMBER = 1e12


@dataclass
class ScoreRow:
    no: int
    level: str
    name: str
    weight: Any
    python: Any
    workbook: Any
    sheet: str
    cell: str


@dataclass
class FileReport:
    path: str
    status: str = "ok"  # ok | warnings | errors | unreadable
    template: str | None = None
    findings: list[Finding] = field(default_factory=list)
    scores: list[ScoreRow] = field(default_factory=list)
    total_python: Any = None
    total_workbook: Any = None
    grade_python: Any = None
    grade_workbook: Any = None
    recalculated: bool | None = None
    authenticated: bool = False
    application: str | None = None
    header: dict[str, Any] = field(default_factory=dict)   # project header as returned (for summaries)
    levels: list[dict[str, Any]] = field(default_factory=list)  # per level: name, weight, python, workbook
    # for summaries and annotated copies (collect, annotate): what was issued and where it lives
    fingerprint: str | None = None   # the issued content's fingerprint: the same workbook returned twice
    meta: dict[str, str] = field(default_factory=dict)  # short metadata entries (issuer's contact, if issued)
    sheet_order: list[str] = field(default_factory=list)  # the workbook's sheets in layout order
    funds: dict[str, Any] = field(default_factory=dict)   # funds amount per column id, as Python computes it
    rates: dict[str, Any] = field(default_factory=dict)   # funds rate per rate id (e.g. execution), as a fraction
    unfilled: bool = False  # no actual, grade, score or explanation on any indicator row: never filled in
    # what the re-score worked from, for the report draft (docreport.py): inputs as read, Python's values
    layout: Layout | None = field(default=None, repr=False)
    snapshot: Snapshot | None = field(default=None, repr=False)
    computed: dict[tuple[str, int | None], Any] | None = field(default=None, repr=False)

    #: In-process extras (check_file's keep_inputs): never sent from a worker process. The layout
    #: alone pickles to ~800 KB of expression trees; sent with every file, it made the pool slower
    #: than one process.
    _LOCAL = ("layout", "snapshot", "computed")

    def __getstate__(self) -> dict[str, Any]:
        return {k: (None if k in self._LOCAL else v) for k, v in self.__dict__.items()}

    def count(self, severity: str) -> int:
        return sum(1 for f in self.findings if f.severity == severity)

    def exit_code(self, strict: bool = False) -> int:
        if self.status == "unreadable":
            return 2
        if self.count(ERROR) or (strict and self.count(WARNING)):
            return 1
        return 0

    def finish(self) -> None:
        if self.status != "unreadable":
            self.status = "errors" if self.count(ERROR) else ("warnings" if self.count(WARNING) else "ok")


@functools.lru_cache(maxsize=1)
def _builtins() -> tuple[Template, ...]:
    """Every built-in template, parsed once per process (only when a workbook names an unknown id)."""
    return tuple(load_template(tid) for tid in builtin_templates())


@functools.lru_cache(maxsize=None)
def _builtin(tid: str) -> Template | None:
    """The built-in template whose file is named after ``tid``: one YAML parse, not all of them."""
    if tid not in builtin_templates():
        return None
    t = load_template(tid)
    return t if t.id == tid else None


def known_templates(extra: list[Template] | None = None) -> dict[tuple[str, str], Template]:
    out = {(t.id, t.version): t for t in _builtins()}
    for t in extra or []:
        out[(t.id, t.version)] = t
    return out


def find_template(tid: str, version: str, extra: list[Template] | None = None) -> Template | None:
    """The template a workbook names: an extra one given with --template, else the built-in one."""
    for t in reversed(extra or []):
        if (t.id, t.version) == (tid, version):
            return t
    t = _builtin(tid)
    if t is not None and t.version == version:
        return t
    if t is None and any(b.id == tid for b in _builtins()):  # a built-in file not named after its id
        return known_templates().get((tid, version))
    return None


#: Sheets whose cells the checker reads, in either language (guide and lists are only required to exist)
READ_SHEETS = tuple({label(f"sheet.{k}", lang) for k in SHEETS if k not in ("guide", "lists", "meta")
                     for lang in ("zh", "en")})
#: ... and the guide, whose sheet protection only is looked at (S016)
PROTECTION_ONLY_SHEETS = tuple({label("sheet.guide", lang) for lang in ("zh", "en")})


def check_file(path: str | Path, templates: list[Template] | None = None, key: bytes | None = None,
               keep_inputs: bool = False) -> FileReport:
    """Check one return. ``keep_inputs`` leaves what the re-score worked from on the report
    (layout, snapshot, computed: ~1 MB) for the report draft; a folder check keeps only findings
    and figures, so its memory stays flat however many files it holds."""
    rep = _check_file(path, templates, key)
    if not keep_inputs:
        rep.layout = rep.snapshot = rep.computed = None
    return rep


def _check_file(path: str | Path, templates: list[Template] | None, key: bytes | None) -> FileReport:
    rep = FileReport(str(path))
    try:
        pkg = open_package(path)
    except UnreadableFile as e:
        rep.status = "unreadable"
        rep.findings.append(_fatal(e))
        return rep
    with pkg:
        rep.findings.extend(pkg.flags)
        rep.application = pkg.application
        try:
            book = read_book(pkg.archive, READ_SHEETS, META_SHEET_NAMES, meta_rows=META_ROWS + 2 + 1,
                             protection_only=PROTECTION_ONLY_SHEETS)
        except ReadError as e:
            rep.status = "unreadable"
            rep.findings.append(_fatal(damaged(e.code, str(e))))
            return rep
        except UnreadableFile as e:
            rep.status = "unreadable"
            rep.findings.append(_fatal(e))
            return rep
        except Exception as e:  # a reader bug, not a file problem: the same safety net as below
            rep.status = "unreadable"
            rep.findings.append(Finding("S099", values={"error": f"{type(e).__name__}: {e}"[:200]}))
            return rep
    try:
        return _identify_and_analyse(rep, book, templates, key)
    except Exception as e:  # a safety net for content nobody foresaw; the fuzz tests keep it unused
        rep.findings.append(Finding("S099", values={"error": f"{type(e).__name__}: {e}"[:200]}))
        rep.finish()
        return rep


def unreadable_folder(path: str | Path) -> FileReport:
    """A folder of returns that could not be listed: one unreadable entry, so nothing goes unnoticed."""
    rep = FileReport(str(path))
    rep.status = "unreadable"
    rep.findings.append(Finding("F122"))
    return rep


def _identify_and_analyse(rep: FileReport, book: Any, templates: list[Template] | None, key: bytes | None) -> FileReport:
    meta = read_meta(book)
    if meta is None or meta.ruleset is None:
        rep.status = "unreadable"
        rep.findings.append(Finding("S001"))
        return rep
    tkey = (meta.template_id or "", meta.template_version or "")
    rep.template = f"{tkey[0]}@{tkey[1]}"
    tpl = find_template(tkey[0], tkey[1], templates)
    if tpl is None:
        rep.status = "unreadable"
        rep.findings.append(Finding("S002", values={"template": tkey[0], "version": tkey[1]}))
        return rep
    if ruleset_digest(meta.ruleset) != tpl.digest() or meta.data.get("template_digest") != tpl.digest():
        rep.findings.append(Finding("S003", sheet=None, values={"template": rep.template}))
    L = layout_for(tpl, meta.lang if meta.lang in ("zh", "en") else "zh")
    rep.sheet_order = [L.sheet(k) for k in SHEETS]
    rep.fingerprint = meta.data.get("fingerprint")
    rep.meta = {k: v for k, v in meta.data.items() if len(v) <= 200}
    rep.meta.update(_issue_details(meta))
    snap = take_snapshot(L, book)
    if snap.missing_sheets:
        for k in snap.missing_sheets:
            rep.findings.append(Finding("S010", values={"sheet": L.sheet(k)}))
        rep.finish()
        return rep
    return _analyse(rep, L, snap, meta, tpl, key)


def _analyse(rep: FileReport, L: Layout, snap: Snapshot, meta: Meta, tpl: Template, key: bytes | None) -> FileReport:
    rep.header = {f: snap.values.get((f"hdr.{f}", None)) for f in ("name", "department", "unit", "year")}
    _check_fingerprint(rep, meta, tpl)
    if key is None:
        rep.findings.append(Finding("I001"))
    else:
        _check_signature(rep, L, meta, tpl, key)
    if _moved_anchors(rep, L, snap):
        rep.finish()
        return rep
    if _shifted_rows(rep, L, snap):
        # every position below the change is off by the inserted/deleted rows: reading on would
        # report issued content "changed", inputs on the wrong rows and a made-up score
        rep.finish()
        return rep
    if snap.unprotected:
        rep.findings.append(Finding("S016", values={"sheets": "、".join(L.sheet(k) for k in snap.unprotected)}))
    _structure(rep, L, snap, meta)
    _issue_record(rep, L, meta)
    rep.unfilled = all(snap.values.get((k, r)) in (None, "") for k in ("actual", "grade", "manual", "explain")
                       for r in L.rows())
    if rep.unfilled:  # one finding the rest fold under (report.py): "fill it in", not forty cells
        rep.findings.append(Finding("V040", sheet=L.sheet("actuals")))
    # rows beyond the issued ones are news only when a project's full indicator list was issued
    computed = evaluate(L, snap.values)  # every formula, from the inputs alone (never the cached results)
    _inputs(rep, L, snap, tpl, meta.record.rows if meta.record.project_issued else [])
    _declared_checks(rep, L, snap, tpl, computed)
    _rescore(rep, L, snap, tpl, computed)
    rep.finish()
    return rep


def _check_signature(rep: FileReport, L: Layout, meta: Meta, tpl: Template, key: bytes) -> None:
    sig = meta.data.get("signature") or meta.custom.get(PROP_SIGNATURE)
    if not sig:
        rep.findings.append(Finding("S006"))
        return
    if meta.record_error is None and signing.verify(key, str(sig), tpl.digest(), meta.record, formulas_digest(L)):
        rep.authenticated = True
    else:
        rep.findings.append(Finding("S005", values={"key_id": meta.data.get("key_id", "?")}))


def _moved_anchors(rep: FileReport, L: Layout, snap: Snapshot) -> bool:
    """Labels wbtool wrote at fixed cells must still be there; if not, rows/columns moved (S009)."""
    moved = False
    for sheet, anchors in snap.anchors.items():
        for (k, expected, found) in anchors:
            if expected != found:
                s = L.slots[k]
                cell = L.a1(s, HEADER_ROW if s.is_column else None)
                rep.findings.append(Finding("S009", sheet=L.sheet(sheet), cell=cell,
                                            values={"sheet": L.sheet(sheet), "cell": cell, "expected": expected}))
                moved = True
                break
    return moved


def _fatal(e: WbtoolError) -> Finding:
    return Finding(e.code, severity=ERROR, text=(e.zh, e.en))


def _check_fingerprint(rep: FileReport, meta: Meta, tpl: Template) -> None:
    if meta.record_error is not None:
        rep.findings.append(Finding("S004", sheet=None, values={"detail": Bi(f"下达记录已损坏：{meta.record_error}",
                                                                              f"the issued record is damaged: {meta.record_error}")}))
        return
    stored = meta.data.get("fingerprint")
    recomputed = fingerprint(tpl.digest(), meta.record)
    prop = meta.custom.get(PROP_FINGERPRINT)
    if stored != recomputed:
        rep.findings.append(Finding("S004", sheet=None, values={"detail": "元数据中的下达内容与指纹不符 / issued data ≠ fingerprint"}))
    elif prop is not None and str(prop) != stored:
        rep.findings.append(Finding("S004", values={"detail": "文档属性与元数据不符 / document property ≠ metadata"}))


# ---------------------------------------------------------------------------------------------
# structure

def _shifted_rows(rep: FileReport, L: Layout, snap: Snapshot) -> bool:
    """S011 for each table sheet whose end marker moved (rows inserted or deleted); True if any."""
    shifted = False
    for sheet, found in snap.end_rows.items():
        if found != L.end_row:
            shifted = True
            n = "?" if found is None else abs(found - L.end_row)
            change = ("插入" if (found or 0) > L.end_row else "删除")
            rep.findings.append(Finding("S011", sheet=L.sheet(sheet), cell=f"A{L.end_row + 1}",
                                        values={"sheet": L.sheet(sheet), "change": change, "n": n}))
    return shifted


def _structure(rep: FileReport, L: Layout, snap: Snapshot, meta: Meta) -> None:
    slots = L.slots
    for (k, r), found in snap.formulas.items():
        slot = slots[k]
        expected = L.formula(slot, r)
        if found is None:
            rep.findings.append(Finding("S012", sheet=L.sheet(slot.sheet), cell=L.a1(slot, r), indicator=_indicator(L, snap, r),
                                        values={"value": snap.cached.get((k, r)), "expected": expected}))
        elif found != expected and normalise_formula(found) != normalise_formula(expected):
            rep.findings.append(Finding("S013", sheet=L.sheet(slot.sheet), cell=L.a1(slot, r), indicator=_indicator(L, snap, r),
                                        values={"found": found, "expected": expected}))
    by_cell = L.cache.get("by_cell")
    if by_cell is None:  # the same for every file of this template and language: built once
        by_cell = L.cache["by_cell"] = {(s.sheet, L.a1(s, r)): (s, r) for s in L.slots.values() if s.kind != FORMULA
                                        for r in (list(L.rows()) if s.is_column else [None])}
    for key, issued in meta.record.cells.items():
        sheet, a1 = key.split("!", 1)
        hit = by_cell.get((sheet, a1))
        if hit is None:
            continue
        slot, r = hit
        returned = snap.values.get((slot.key, r))
        if not _same(issued, returned):
            rep.findings.append(Finding("S014", sheet=L.sheet(sheet), cell=a1, indicator=_indicator(L, snap, r),
                                        values={"issued": issued, "returned": snap.raw.get((slot.key, r))}))
    for (k, r), f in snap.typed_formulas.items():
        slot = L.slots[k]
        rep.findings.append(Finding("S015", sheet=L.sheet(slot.sheet), cell=L.a1(slot, r), indicator=_indicator(L, snap, r),
                                    values={"formula": f}))


def _issue_details(meta: Meta) -> dict[str, str]:
    """The office's details from the signed issue record (contact, phone, deadline…), as text: what the
    annotated copy shows the unit. A deadline is stored as a date serial."""
    issue = meta.record.extra.get("issue")
    out: dict[str, str] = {}
    for k, v in (issue.items() if isinstance(issue, dict) else ()):
        if k == "deadline" and isinstance(v, (int, float)) and not isinstance(v, bool) and 0 < v < 2958466:
            v = (dt.date(1899, 12, 30) + dt.timedelta(days=int(v))).isoformat()
        if isinstance(v, (str, int, float)) and not isinstance(v, bool) and len(str(v)) <= 200:
            out[str(k)] = str(v)
    return out


def _issue_record(rep: FileReport, L: Layout, meta: Meta) -> None:
    """V037 when the return's header names another project or year than the issue record does:
    the unit reused a form (another project's, or last year's) — said plainly, beside the S014."""
    issue = meta.record.extra.get("issue")
    if not isinstance(issue, dict):
        return
    for f in ("name", "year"):
        issued = issue.get(f)
        returned = (rep.header or {}).get(f)
        if issued in (None, "") or returned in (None, "") or _same(issued, returned):
            continue
        s = L.slots[f"hdr.{f}"]
        rep.findings.append(Finding("V037", sheet=L.sheet(s.sheet), cell=L.a1(s),
                                    values={"what": Bi("项目名称", "project name") if f == "name" else Bi("年度", "year"),
                                            "issued": issued, "returned": returned}))


def _same(a: Any, b: Any) -> bool:
    if a in (None, "") and b in (None, ""):
        return True
    if isinstance(a, (int, float)) and isinstance(b, (int, float)) and not isinstance(b, bool):
        return abs(float(a) - float(b)) < 1e-9
    return str(a).strip() == str(b).strip() if isinstance(b, str) and isinstance(a, str) else a == b


def _indicator(L: Layout, snap: Snapshot, r: int | None) -> str | None:
    if r is None:
        return None
    name = snap.values.get(("name", r))
    return str(name) if name not in (None, "") else f"#{r - FIRST_ROW + 1}"


# ---------------------------------------------------------------------------------------------
# inputs

# the text-number reader is shared with issuing (textnum); the old names stay for this module
_LOOKALIKE = LOOKALIKE

_FULLWIDTH_DIGITS = re.compile("[\uff10-\uff19]")
_DATE_TEXT = re.compile(r"^\s*(\d{4})\s*(?:[.\-/]|年)\s*(\d{1,2})\s*(?:[.\-/]|月)\s*(\d{1,2})\s*日?\s*(前|之前|以前)?\s*$")


def _hint(text: str) -> Bi | str:
    """What a unit most likely meant by a text in a number cell, as a suggestion for the message."""
    n, op, unit = parse_number_text(text)
    if n is None:
        return ""
    zh, en = [], []
    if _FULLWIDTH_DIGITS.search(text):
        zh.append("含全角数字")
        en.append("full-width digits")
    if op:
        zh.append(f"指标性质 {op}")
        en.append(f"operator {op}")
    zh.append(f"数值 {n:g}")
    en.append(f"number {n:g}")
    if unit:
        unit = "%" if unit in ("%", "％", "百分比") else unit
        zh.append(f"单位 {unit}")
        en.append(f"unit {unit}")
    return Bi("（建议：" + "，".join(zh) + "）", " (suggested: " + ", ".join(en) + ")")


def _date_hint(text: str) -> Bi:
    """"2024.10.31", "2024年10月31日" → the date they mean; otherwise the format to use."""
    m = _DATE_TEXT.match(unicodedata.normalize("NFKC", text))
    if m:
        try:
            d = dt.date(int(m.group(1)), int(m.group(2)), int(m.group(3))).isoformat()
            return Bi(f"（应为日期 {d}：请按 {d} 的格式重新填写）", f" (the date {d}: enter it as {d})")
        except ValueError:
            pass
    return Bi("（请按 2024-09-25 的格式填写日期）", " (enter dates as 2024-09-25)")


def _col(key: str) -> Bi:
    """A column's name in both languages, for messages."""
    zh, en = LABELS[key]
    return Bi(zh, en)


def _number_problem(rep: FileReport, L: Layout, snap: Snapshot, key: str, r: int | None, what: str | Bi,
                    required: bool, allow_negative: bool = True, date: bool = False) -> float | None:
    """Validate a cell that must hold a number; report and return None when it does not."""
    slot = L.slots[key]
    v = snap.values.get((key, r))
    where = dict(sheet=L.sheet(slot.sheet), cell=L.a1(slot, r), indicator=_indicator(L, snap, r))
    if isinstance(v, XLError):
        rep.findings.append(Finding("V022", **where, values={"what": what, "value": str(v)}))
        return None
    if isinstance(v, bool):
        rep.findings.append(Finding("V023", **where, values={"what": what, "value": v}))
        return None
    if v is None or (isinstance(v, str) and not v.strip()):
        if required:
            rep.findings.append(Finding("V001", **where, values={"what": what}))
        return None
    if isinstance(v, str):
        if date:
            rep.findings.append(Finding("V007", **where, values={"what": what, "value": v, "hint": _date_hint(v)}))
        else:
            rep.findings.append(Finding("V002", **where, values={"what": what, "value": v, "hint": _hint(v)}))
        return None
    x = float(v)
    if not math.isfinite(x) or abs(x) > MAX_NUMBER:
        rep.findings.append(Finding("V026", **where, values={"what": what, "value": v}))
        return None
    if x < 0 and not allow_negative:
        rep.findings.append(Finding("V005", **where, values={"what": what, "value": v}))
    return x


def _inputs(rep: FileReport, L: Layout, snap: Snapshot, tpl: Template, issued_rows: list[int]) -> None:
    for f in ("name", "department", "unit", "year"):
        s = L.slots[f"hdr.{f}"]
        if snap.values.get((s.key, None)) in (None, ""):
            rep.findings.append(Finding("V001", sheet=L.sheet("budget"), cell=L.a1(s), values={"what": s.header}))
    for (k, r), v in snap.raw.items():
        if isinstance(v, str) and len(v) > MAX_TEXT:
            s = L.slots[k]
            rep.findings.append(Finding("V025", sheet=L.sheet(s.sheet), cell=L.a1(s, r), indicator=_indicator(L, snap, r),
                                        values={"what": s.header or k, "n": len(v)}))
    _form_parts(rep, L, snap)
    issued = set(issued_rows)
    for r in L.rows():
        _RowCheck(rep, L, snap, tpl, r).run(issued)
    _issued_na_totals(rep, L, snap)
    _weights(rep, L, snap, tpl)
    _funds(rep, L, snap, tpl)


@dataclass
class _RowCheck:
    """The input checks of one indicator row (what the unit typed against what the rules need)."""

    rep: FileReport
    L: Layout
    snap: Snapshot
    tpl: Template
    r: int

    def g(self, key: str) -> Any:
        return self.snap.values.get((key, self.r))

    def env(self) -> dict[str, Any]:
        """The row's inputs as the rule expressions see them."""
        return _row_env(self.L, self.snap, self.r)

    def add(self, code: str, key: str, **values: Any) -> None:
        slot = self.L.slots[key]
        self.rep.findings.append(Finding(code, sheet=self.L.sheet(slot.sheet), cell=self.L.a1(slot, self.r),
                                         indicator=_indicator(self.L, self.snap, self.r), values=values))

    def number(self, key: str, what: Bi, required: bool = True, **kw: Any) -> float | None:
        return _number_problem(self.rep, self.L, self.snap, key, self.r, what, required, **kw)

    def run(self, issued: set[int]) -> None:
        if all(self.g(k) in (None, "") for k in ("level", "name", "op", "weight")):
            return  # an unused row
        if issued and self.r not in issued:
            self.add("V032", "name")
        self.classification()
        w = self.number("weight", _col("col.weight"))
        if w is not None and w < 0:
            self.add("V019", "weight", value=w)
            w = None
        if self.not_applicable(issued):
            return
        rule = _rule_of(self.g("op"))
        if rule in ("positive", "equal", "reverse"):
            self.quantitative(rule, w)
        if rule in ("qualitative", "manual"):  # (grade, band and range: the declared checks)
            self.number("manual", _col("col.manual"))

    def classification(self) -> None:
        tpl, levels = self.tpl, {lv.name: lv for lv in self.tpl.levels}
        lv, cat = self.g("level"), self.g("category")
        if lv not in levels or not levels[lv].categories:
            self.add("V016", "level", what=_col("col.level"), value=lv,
                     options="、".join(x.name for x in tpl.indicator_levels()))
        elif cat not in (None, "") and cat not in levels[lv].categories:
            self.add("V016", "category", what=_col("col.category"), value=cat, options="、".join(levels[lv].categories))
        if self.g("name") in (None, ""):
            self.add("V001", "name", what=_col("col.name"))
        op = self.g("op")
        if op in (None, ""):
            self.add("V001", "op", what=_col("col.op"))
        elif op not in tpl.operators:
            fix = _LOOKALIKE.get(str(op).strip())
            ops = " ".join(tpl.operators)
            self.add("V003", "op", value=op, hint=Bi(f"（应为 {fix}）", f" (should be {fix})") if fix
                     else Bi(f"（可选：{ops}）", f" (options: {ops})"))

    def not_applicable(self, issued: set[int]) -> bool:
        """Validate the 不适用 cell; True when the row is (validly or not) marked not applicable."""
        na_label = label("v.na", self.L.lang)
        na = self.g("na")
        is_na = isinstance(na, str) and na.strip() == na_label
        if is_na and not self.tpl.not_applicable:
            self.add("V020", "na")
        elif na not in (None, "") and not is_na:
            self.add("V016", "na", what=_col("col.na"), value=na, options=na_label)
        if is_na:
            if self.tpl.not_applicable and str(self.g("explain") or "").strip() == "":
                self.add("V021", "explain")
            if self.r in issued:
                slot = self.L.slots["na"]
                self.rep.findings.append(Finding(
                    "V031", severity=WARNING if self.tpl.issued_not_applicable else ERROR, sheet=self.L.sheet(slot.sheet),
                    cell=self.L.a1(slot, self.r), indicator=_indicator(self.L, self.snap, self.r),
                    values={"row": self.r, "with_na": "?", "without_na": "?"}))
        return is_na

    def quantitative(self, rule: str, w: float | None) -> None:
        tpl, op = self.tpl, self.g("op")
        date_row = self.g("unit") == tpl.date_unit
        dated = any(isinstance(self.snap.raw.get((k, self.r)), dt.date) for k in ("target", "actual"))
        if (date_row or dated) and not (rule == "reverse" and date_row):
            self.add("V029", "op", op=op, unit=self.g("unit") or "", date_unit=tpl.date_unit)
        t = None
        tv = self.g("target")
        if isinstance(tv, str) or tv is None:
            self.add("V018", "target", value=tv, hint=_hint(str(tv or "")))
        else:
            t = self.number("target", _col("col.target"))
        if t == 0:
            self.add("V027", "target", op=op)
        a = self.number("actual", _col("col.actual"), date=date_row)
        if a is not None and a < 0:
            self.add("V028", "actual", value=a)
        if a is None or t is None:
            return
        if not date_row:
            _scale_checks(self.rep, self.L, self.snap, self.r, a, t, self.g("unit"), rule)
        elif rules.late(tpl).eval(self.env()):  # a missed deadline: the evaluator's score applies, below 分值
            self.number("manual", _col("col.manual"))


def _form_parts(rep: FileReport, L: Layout, snap: Snapshot) -> None:
    """The parts of the form around the tables: what was achieved overall, and who signs for it."""
    def where(key: str) -> dict[str, Any]:
        s = L.slots[key]
        return {"sheet": L.sheet(s.sheet), "cell": L.a1(s)}

    if str(snap.values.get(("goal.actual", None)) or "").strip() == "":
        rep.findings.append(Finding("V001", **where("goal.actual"), values={"what": Bi("年度总体目标·实际完成情况", "overall goal: what was achieved")}))
    for k in ("sign.lead", "sign.finance"):
        if str(snap.values.get((k, None)) or "").strip() == "":
            rep.findings.append(Finding("V035", **where(k), values={"what": _col(k.replace("sign.", "sum."))}))
    d = snap.raw.get(("sign.date", None))
    if d in (None, "") or (isinstance(d, str) and not d.strip()):
        rep.findings.append(Finding("V035", **where("sign.date"), values={"what": _col("sum.date")}))
    elif not isinstance(d, (dt.date, dt.datetime)):
        rep.findings.append(Finding("V036", **where("sign.date"),
                                    values={"value": d, "hint": _date_hint(d) if isinstance(d, str) else ""}))


def _issued_na_totals(rep: FileReport, L: Layout, snap: Snapshot) -> None:
    """V031 quotes the total both ways: what marking issued rows 不适用 gained the unit."""
    v031 = [f for f in rep.findings if f.code == "V031"]
    if not v031:
        return
    counted = dict(snap.values)
    for f in v031:
        counted[("na", f.values.pop("row"))] = None
    with_na, without_na = (evaluate(L, vals).get(("tot.score", None)) for vals in (snap.values, counted))
    for f in v031:
        f.values.update(with_na=_show(with_na), without_na=_show(without_na))


def _row_env(L: Layout, snap: Snapshot, r: int) -> dict[str, Any]:
    return {s.key: snap.values.get((s.key, r)) for s in L.columns() if s.kind != FORMULA}


def _rule_of(op: Any) -> str | None:
    from .template import OPERATOR_RULES

    return OPERATOR_RULES.get(op) if isinstance(op, str) else None


def _scale_checks(rep: FileReport, L: Layout, snap: Snapshot, r: int, a: float, t: float, unit: Any, rule: str | None) -> None:
    where = dict(sheet=L.sheet("actuals"), cell=L.a1(L.slots["actual"], r), indicator=_indicator(L, snap, r))
    a, t = _plain(a), _plain(t)  # messages say "85", not "85.0" (the percent scale: checks.py)
    bigger = {"万元": "元", "元": "分", "吨": "千克", "公里": "米", "千克": "克"}   # a unit 1000+ times smaller
    smaller = {"元": "万元", "千克": "吨", "米": "公里", "克": "千克"}          # a unit 1000+ times larger
    if t > 0 and a / t >= 1000 and unit in bigger:
        rep.findings.append(Finding("V006", **where, values={"actual": a, "target": t, "ratio": a / t, "unit": unit,
                                                            "other": bigger[unit]}))
    elif t > 0 and 0 < a / t <= 0.001 and unit in smaller:
        rep.findings.append(Finding("V006", **where, values={"actual": a, "target": t, "ratio": a / t, "unit": unit,
                                                            "other": smaller[unit]}))


def _plain(x: float) -> float | int:
    return int(x) if float(x).is_integer() else x


def _weights(rep: FileReport, L: Layout, snap: Snapshot, tpl: Template) -> None:
    total = 0.0
    for i, lv in enumerate(tpl.levels):
        found = sum(float(snap.values.get(("weight", r))) for r in L.rows()
                    if snap.values.get(("level", r)) == lv.name and isinstance(snap.values.get(("weight", r)), (int, float))
                    and not isinstance(snap.values.get(("weight", r)), bool))
        found += sum(rt.weight for rt in tpl.rates if rt.level == lv.name)
        total += found
        issued = snap.values.get((f"lv.{i}.std", None))  # the level weight as issued (S014 guards it)
        expected = float(issued) if isinstance(issued, (int, float)) and not isinstance(issued, bool) else lv.weight
        if abs(found - expected) > 1e-6:
            s = L.slots[f"lv.{i}.weight"]
            rep.findings.append(Finding("V011", sheet=L.sheet("scoring"), cell=L.a1(s),
                                        values={"level": lv.name, "found": round(found, 6), "expected": expected}))
    if abs(total - 100) > 1e-6:
        s = L.slots["tot.weight"]
        rep.findings.append(Finding("V012", sheet=L.sheet("scoring"), cell=L.a1(s), values={"found": round(total, 6)}))


def _funds(rep: FileReport, L: Layout, snap: Snapshot, tpl: Template) -> None:
    totals: dict[str, float | None] = {}
    for c in tpl.funds_columns:
        items = []
        for i in range(tpl.funds_item_rows):
            x = _number_problem(rep, L, snap, f"funds.item{i}.{c.id}", None, f"明细{i + 1}·{c.label}", False, allow_negative=False)
            if x is not None:
                items.append(x)
        has_items = bool(items) and any(items)
        total = _number_problem(rep, L, snap, f"funds.total.{c.id}", None, f"{tpl.funds_total_label}·{c.label}",
                                not has_items, allow_negative=False)
        totals[c.id] = total if total is not None else (sum(items) if has_items else None)
        if has_items and total is not None and abs(sum(items) - total) > 0.005:
            s = L.slots[f"funds.total.{c.id}"]
            rep.findings.append(Finding("V015", sheet=L.sheet("budget"), cell=L.a1(s),
                                        values={"column": c.label, "items": round(sum(items), 6), "total": total}))
    labels = {c.id: c.label for c in tpl.funds_columns}
    for rt in tpl.rates:
        num, den = totals.get(rt.numerator), totals.get(rt.denominator)
        s = L.slots[f"rate.{rt.id}.ratio"]
        where = dict(sheet=L.sheet("budget"), cell=L.a1(s), indicator=rt.label)
        if not den:
            rep.findings.append(Finding("V024", **where, values={"what": rt.label, "den": labels[rt.denominator]}))
            continue
        if num is None:
            continue
        rate = num / den
        if rate > 1 + 1e-9:
            rep.findings.append(Finding("V014", **where, values={"what": rt.label, "rate": rate}))



# ---------------------------------------------------------------------------------------------
# re-score and cross-check

def _blankish(v: Any) -> bool:
    return v is None or v == ""


def agree(py: Any, wb: Any) -> bool:
    """A cached result matches Python's (blank ≡ empty text; numbers within TOLERANCE)."""
    if _blankish(py) and _blankish(wb):
        return True
    if isinstance(py, bool) or isinstance(wb, bool):
        return py == wb
    if isinstance(py, (int, float)) and isinstance(wb, (int, float)):
        return abs(py - wb) <= TOLERANCE
    if isinstance(py, XLError) or isinstance(wb, XLError):
        return str(py) == str(wb)
    return str(py) == str(wb)


def _declared_checks(rep: FileReport, L: Layout, snap: Snapshot, tpl: Template, computed: dict[Any, Any]) -> None:
    """Findings of the declared input checks (checks.py): wherever the check's flag formula, evaluated
    from the inputs like every formula, is 1 — the same cells the workbook's 填写提示 points at."""
    row_cols = [s for s in L.columns()]
    for r in L.rows():
        env: dict[str, Any] | None = None
        for c in checks.ROW_CHECKS:
            if c.cue_only or computed.get((c.flag, r)) != 1:
                continue
            if env is None:
                env = {s.key: (computed if s.kind == FORMULA else snap.values).get((s.key, r)) for s in row_cols}
            slot = L.slots[c.cell]
            rep.findings.append(Finding(c.code, sheet=L.sheet(slot.sheet), cell=L.a1(slot, r), indicator=_indicator(L, snap, r),
                                        values=c.values(env, tpl, L.lang) if c.values else {}))
    for rt in tpl.rates:
        p = f"rate.{rt.id}"
        if computed.get((p + ".flag", None)) != 1:
            continue
        rate = computed.get((p + ".ratio", None))
        if isinstance(rate, float) and rt.explain_below is not None:
            reason = Bi(f"{rt.label} {rate:.2%} 低于 {rt.explain_below:.0%}", f"{rt.en} {rate:.2%} is below {rt.explain_below:.0%}")
        else:
            reason = Bi(f"{rt.label}无法计算", f"{rt.en} cannot be computed")
        e = L.slots[p + ".explain"]
        rep.findings.append(Finding("V013", sheet=L.sheet("budget"), cell=L.a1(e), indicator=rt.label, values={"reason": reason}))


def _rescore(rep: FileReport, L: Layout, snap: Snapshot, tpl: Template, computed: dict[Any, Any]) -> None:
    rep.layout, rep.snapshot, rep.computed = L, snap, computed
    canary = snap.cached.get(("meta.canary", None))
    rep.recalculated = isinstance(canary, (int, float)) and not isinstance(canary, bool)
    for r in L.rows():
        s = computed.get(("score", r))
        if _blankish(s) and snap.values.get(("weight", r)) in (None, ""):
            continue
        sc = L.slots["score"]
        rep.scores.append(ScoreRow(r - FIRST_ROW + 1, str(snap.values.get(("level", r)) or ""), _indicator(L, snap, r) or "",
                                   snap.values.get(("weight", r)), s, snap.cached.get(("score", r)),
                                   L.sheet("scoring"), L.a1(sc, r)))
    for rt in tpl.rates:
        p = f"rate.{rt.id}"
        rep.scores.append(ScoreRow(0, rt.level, rt.label, rt.weight, computed.get((p + ".score", None)),
                                   snap.cached.get((p + ".score", None)), L.sheet("budget"), L.a1(L.slots[p + ".score"])))
    for i, lv in enumerate(tpl.levels):
        k = f"lv.{i}.score"
        rep.levels.append({"name": lv.name, "weight": computed.get((f"lv.{i}.weight", None)),
                           "python": computed.get((k, None)), "workbook": snap.cached.get((k, None))})
    rep.funds = {c.id: computed.get((f"funds.amount.{c.id}", None)) for c in tpl.funds_columns}
    rep.rates = {rt.id: computed.get((f"rate.{rt.id}.ratio", None)) for rt in tpl.rates}
    rep.total_python = computed.get(("tot.score", None))
    rep.grade_python = computed.get(("tot.grade", None))
    rep.total_workbook = snap.cached.get(("tot.score", None))
    rep.grade_workbook = snap.cached.get(("tot.grade", None))
    if rep.recalculated and rep.application:  # (XlsxWriter claims "Microsoft Excel": only meaningful once saved)
        rep.findings.append(Finding("I002", values={"application": rep.application}))
    if not rep.recalculated:
        rep.findings.append(Finding("X002", sheet=L.sheet("scoring"), cell=L.a1(L.slots["tot.score"])))
        return
    digest_py, digest_wb = computed.get(("tot.digest", None)), snap.cached.get(("tot.digest", None))
    stale = not agree(digest_py, digest_wb)
    disagreements = []
    for (k, r), py in computed.items():
        if (k, r) not in snap.formulas or snap.formulas[(k, r)] is None:
            continue  # replaced formulas are reported by the structure check
        wb = snap.cached.get((k, r))
        if not agree(py, wb):
            disagreements.append((k, r, py, wb))
    if stale or (disagreements and snap.calc_mode == "manual"):
        detail = (f"输入校验和：工作簿 {digest_wb!r}，当前输入 {digest_py!r}" if stale
                  else "工作簿为手动计算模式")
        rep.findings.append(Finding("X003", sheet=L.sheet("scoring"), cell=L.a1(L.slots["tot.digest"]),
                                    values={"detail": detail}))
        return
    if disagreements and any(f.code in ("S012", "S013") for f in rep.findings):
        # downstream cells of an overwritten or edited formula disagree by construction: the
        # S012/S013 findings point at the cause; listing every dependent would hide it
        rep.findings.append(Finding("I003", values={"n": len(disagreements)}))
        return
    for k, r, py, wb in disagreements:
        slot = L.slots[k]
        rep.findings.append(Finding("X001", sheet=L.sheet(slot.sheet), cell=L.a1(slot, r), indicator=_indicator(L, snap, r),
                                    values={"python": _show(py), "cached": _show(wb), "formula": L.formula(slot, r)}))


def _show(v: Any) -> Any:
    if isinstance(v, float):
        return xl_round(v, 6) if math.isfinite(v) else v
    return v
