"""Reading an office's roster as offices keep it: projects (项目) and their targets (指标).

Offices do not type rosters for wbtool; they export them from the budget system or keep them for
years: a merged title row above the header, two-row headers under a merged "资金（万元）", headers
such as 项目名称（全称） or 预算单位, a 序号 column, a 合计 row at the bottom, 2024年 and 12.5万元 in
number columns, a CSV saved as GBK. This module finds the header, maps the office's words onto
the project file's fields, and reads every row — and when a row cannot be read it says where, as
the office sees it (sheet, row number in Excel, column header, value). Every problem is collected;
nothing here writes anything. :mod:`batch` turns the result into workbooks.
"""
from __future__ import annotations

import csv
import datetime as dt
import io
import re
import unicodedata
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .errors import WbtoolError
from .office import as_date, as_text
from .textnum import number_with_unit, parse_target
from .textsafe import decode_office_text

HEADER_SCAN_ROWS = 30

#: field → header words meaning it (compared after :func:`norm_header`)
PROJECT_FIELDS: dict[str, tuple[str, ...]] = {
    "code": ("项目编码", "项目代码", "项目编号", "编码", "代码", "code"),
    "name": ("项目名称", "项目", "项目全称", "name"),
    "department": ("主管部门", "主管单位", "部门", "主管部门名称", "department"),
    "unit": ("实施单位", "单位名称", "预算单位", "项目单位", "执行单位", "单位", "unit"),
    "year": ("年度", "年份", "预算年度", "year"),
    "template": ("模板", "评价类型", "表样", "template"),
    "file": ("文件名", "输出文件", "file"),
    "project_file": ("项目文件", "project_file"),
    "goal": ("年度总体目标", "总体目标", "预期目标", "年度目标", "goal"),
    "deadline": ("报送截止日期", "截止日期", "报送期限", "deadline"),
    "contact": ("联系人", "contact"),
    "phone": ("联系电话", "电话", "phone"),
    "return_to": ("报送方式", "报送地址", "报送邮箱", "回收邮箱", "return_to"),
}
#: funds column id → header words (both built-in templates call the issued budget ``budget``)
FUNDS_WORDS: dict[str, tuple[str, ...]] = {
    "initial": ("年初预算数", "年初预算", "年初数"),
    "budget": ("全年预算数", "全年预算", "调整后预算数", "预算资金", "预算数", "预算金额", "项目资金", "资金总额", "预算"),
    "arrived": ("实际到位资金", "到位资金", "实际到位"),
    "spent": ("全年执行数", "实际支出资金", "执行数", "实际支出"),
}
INDICATOR_FIELDS: dict[str, tuple[str, ...]] = {
    "code": ("项目编码", "项目代码", "项目编号", "编码", "code"),
    "project": ("项目名称", "项目", "项目全称", "project"),
    "level": ("一级指标", "一级", "level"),
    "category": ("二级指标", "二级", "category"),
    "name": ("三级指标", "指标名称", "三级", "name"),
    "op": ("指标性质", "运算符", "性质", "op"),
    "target": ("指标值", "年度指标值", "目标值", "绩效指标值", "target"),
    "unit": ("计量单位", "度量单位", "单位", "unit"),
    "weight": ("分值", "权重", "weight"),
    "note": ("备注", "指标解释", "评分标准", "说明", "note"),
    "score": ("得分", "score"),
}
IGNORED_QUIETLY = ("序号", "编号", "no")
TOTAL_WORDS = ("合计", "小计", "总计", "总额", "合计数")
TEMPLATE_WORDS = {"自评表": "self-eval", "项目支出绩效自评表": "self-eval", "绩效自评": "self-eval", "自评": "self-eval",
                  "评价指标体系": "dept-eval", "绩效评价": "dept-eval", "部门评价": "dept-eval", "评价": "dept-eval"}
PROJECT_SHEETS = ("项目", "项目清单", "项目名单", "名单", "projects")
INDICATOR_SHEETS = ("指标", "绩效指标", "绩效目标", "绩效目标表", "indicators")


@dataclass
class Problem:
    """A cell (or a whole table) that cannot be read: where, as the office sees it, and why."""

    sheet: str
    row: int | None
    column: str | None
    value: Any
    zh: str
    en: str

    def message(self, lang: str = "zh") -> str:
        if lang == "en":
            where = f"{self.sheet}" + (f" row {self.row}" if self.row else "") + (f", column '{self.column}'" if self.column else "")
            val = "" if self.value is None else f" = {self.value!r}"
            return f"{where}{val}: {self.en}"
        where = f"“{self.sheet}”" + (f"第 {self.row} 行" if self.row else "") + (f"“{self.column}”列" if self.column else "")
        val = "" if self.value is None else f" {self.value!r}"
        return f"{where}{val}：{self.zh}"


@dataclass
class Grid:
    """One sheet's cells as values; ``rows[i]`` is the office's row i + 1 (merged areas filled)."""

    sheet: str
    rows: list[list[Any]]
    merged: list[tuple[int, int, int, int]] = field(default_factory=list)  # 0-based r1, c1, r2, c2


@dataclass
class Table:
    """A sheet read against a field list: records keyed by field, each with its office row number."""

    sheet: str
    records: list[tuple[int, dict[str, Any]]]
    columns: dict[str, str]  # field → the office's header text
    ignored: list[str]  # headers of columns nobody reads
    funds: dict[str, str] = field(default_factory=dict)  # funds id → header text
    funds_units: dict[str, str] = field(default_factory=dict)  # funds id → unit written in the header


@dataclass
class RosterRow:
    """One project as the roster gives it (values already read; the template resolves funds)."""

    sheet: str
    row: int
    values: dict[str, Any]
    funds: dict[str, Any]


@dataclass
class IndicatorRow:
    sheet: str
    row: int
    values: dict[str, Any]


@dataclass
class Roster:
    projects: list[RosterRow]
    indicators: list[IndicatorRow]
    notes: list[tuple[str, str]]  # (zh, en) things said but not refused: ignored columns, skipped rows
    problems: list[Problem]
    project_sheet: str = ""
    columns: dict[str, str] = field(default_factory=dict)  # project field → the office's header text
    funds_columns: dict[str, str] = field(default_factory=dict)  # funds id → the office's header text


# ---- reading grids --------------------------------------------------------------------------------

def read_grids(path: Path) -> list[Grid]:
    """Every sheet of an xlsx (merged areas filled with their value), or the one table of a CSV."""
    suffix = path.suffix.lower()
    if not path.exists():
        raise WbtoolError("B001", f"找不到名单文件：{path}", f"roster not found: {path}")
    if suffix in (".xlsx", ".xlsm"):
        return _xlsx_grids(path)
    if suffix in (".csv", ".txt"):
        return [Grid(path.name, _csv_rows(path))]
    raise WbtoolError("B002", f"无法读取名单 {path}：只支持 .xlsx 或 .csv（.xls 请在 Excel/WPS 中另存为 .xlsx）",
                      f"cannot read roster {path}: .xlsx or .csv only (save an .xls as .xlsx first)")


def _csv_rows(path: Path) -> list[list[Any]]:
    text = decode_office_text(path.read_bytes())
    if text is None:
        raise WbtoolError("B002", f"无法读取名单 {path}：编码既不是 UTF-8 也不是 GBK/GB18030",
                          f"cannot read roster {path}: neither UTF-8 nor GBK/GB18030")
    return [[c if c.strip() else None for c in row] for row in csv.reader(io.StringIO(text))]


def _xlsx_grids(path: Path) -> list[Grid]:
    import openpyxl

    try:
        wb = openpyxl.load_workbook(path, data_only=True)
    except Exception as e:  # openpyxl raises many types for a damaged file; the user needs one line
        raise WbtoolError("B002", f"无法读取名单 {path}：{type(e).__name__}: {e}",
                          f"cannot read roster {path}: {type(e).__name__}: {e}") from None
    grids = []
    for ws in wb.worksheets:
        if ws.sheet_state != "visible":
            continue
        rows = [list(r) for r in ws.iter_rows(values_only=True)]
        merged = []
        for m in ws.merged_cells.ranges:
            r1, c1, r2, c2 = m.min_row - 1, m.min_col - 1, m.max_row - 1, m.max_col - 1
            merged.append((r1, c1, r2, c2))
            v = rows[r1][c1] if r1 < len(rows) and c1 < len(rows[r1]) else None
            for r in range(r1, min(r2, len(rows) - 1) + 1):
                for c in range(c1, min(c2, len(rows[r]) - 1) + 1):
                    rows[r][c] = v
        grids.append(Grid(ws.title, rows, merged))
    return grids


# ---- headers --------------------------------------------------------------------------------------

_BRACKETS = re.compile(r"[（(【\[][^）)】\]]*[）)】\]]")
_MONEY_UNIT = re.compile(r"[（(【\[]\s*(亿元|万元|千元|元)\s*[）)】\]]|单位[:：]?\s*(亿元|万元|元)")


def norm_header(h: Any) -> str:
    """Header text as compared: full-width folded, brackets ("（全称）", "（万元）"), spaces and * removed."""
    s = unicodedata.normalize("NFKC", str(h or ""))
    s = _BRACKETS.sub("", s.replace("（", "(").replace("）", ")"))
    return re.sub(r"[\s*＊:：]", "", s).lower()


def money_unit(h: Any) -> str:
    m = _MONEY_UNIT.search(unicodedata.normalize("NFKC", str(h or "")).replace("(", "（").replace(")", "）")) or \
        _MONEY_UNIT.search(str(h or ""))
    return (m.group(1) or m.group(2)) if m else ""


def _lookup(text: str, fields: dict[str, tuple[str, ...]]) -> str | None:
    for f, words in fields.items():
        if text in (w.lower() for w in words):
            return f
    return None


def _funds_id(text: str, extra: dict[str, str]) -> str | None:
    if text in extra:
        return extra[text]
    for fid, words in FUNDS_WORDS.items():
        if text in words:
            return fid
    for word, fid in (("执行", "spent"), ("到位", "arrived"), ("支出", "spent"), ("预算", "budget")):  # 预算执行数 is spent
        if word in text and ("资金" in text or "金额" in text or text.endswith("数")):
            return fid
    return None


def read_table(grid: Grid, fields: dict[str, tuple[str, ...]], required: str, funds_extra: dict[str, str] | None = None,
               problems: list[Problem] | None = None) -> Table | None:
    """Find the header row of ``grid`` and read its records; None when no header is recognisable."""
    funds_extra = funds_extra or {}
    best, best_score = None, 0
    for r, row in enumerate(grid.rows[:HEADER_SCAN_ROWS]):
        texts = [norm_header(v) for v in row]
        hits = {_lookup(t, fields) for t in texts if t} - {None}
        fund_hits = sum(1 for t in texts if t and _lookup(t, fields) is None and _funds_id(t, funds_extra))
        score = len(hits) + fund_hits
        if required in hits and score > best_score:
            best, best_score = r, score
    if best is None or best_score < 2:
        return None
    head = grid.rows[best]
    sub = grid.rows[best + 1] if best + 1 < len(grid.rows) else []
    # a two-row header: group labels (merged across columns, e.g. 资金（万元）) over the real names
    group_cols = {c for (r1, c1, r2, c2) in grid.merged if r1 == best and r2 == best and c2 > c1 for c in range(c1, c2 + 1)}
    sub_used = False
    names: list[tuple[int, str]] = []
    for c in range(max(len(head), len(sub))):
        h = head[c] if c < len(head) else None
        s = sub[c] if c < len(sub) else None
        s_known = s is not None and norm_header(s) and (_lookup(norm_header(s), fields) or _funds_id(norm_header(s), funds_extra))
        if (c in group_cols or h is None) and s_known:
            names.append((c, f"{h}/{s}" if h is not None and h != s else str(s)))
            sub_used = True
        elif h is not None:
            names.append((c, str(h)))
    start = best + 2 if sub_used else best + 1
    columns: dict[str, str] = {}
    col_of: dict[str, int] = {}
    funds: dict[str, str] = {}
    funds_col: dict[str, int] = {}
    funds_units: dict[str, str] = {}
    ignored: list[str] = []
    for c, text in names:
        leaf = text.split("/")[-1]
        t = norm_header(leaf)
        if not t:
            continue
        f = _lookup(t, fields)
        if f is not None and f not in col_of:
            columns[f], col_of[f] = text, c
            continue
        fid = _funds_id(t, funds_extra) if funds_extra is not None and f is None else None
        if fid is not None and fid not in funds_col and fields is PROJECT_FIELDS:
            funds[fid], funds_col[fid] = text, c
            funds_units[fid] = money_unit(text)
            continue
        if t not in IGNORED_QUIETLY:
            ignored.append(text)
    records: list[tuple[int, dict[str, Any]]] = []
    key_cols = [col_of[k] for k in (required, "name", "project", "code") if k in col_of]
    for r in range(start, len(grid.rows)):
        row = grid.rows[r]
        cells = [v for v in row if v is not None and str(v).strip() != ""]
        if not cells:
            continue
        first = norm_header(cells[0])
        if any(norm_header(row[c]) in TOTAL_WORDS for c in key_cols if c < len(row) and row[c] is not None) \
                or first in TOTAL_WORDS or first.startswith(("合计", "小计", "总计")):
            continue
        if len(cells) == 1 and isinstance(cells[0], str) and cells[0].strip().startswith(("注", "说明", "备注", "填表")):
            continue  # a footnote under the table
        rec = {f: (row[c] if c < len(row) else None) for f, c in col_of.items()}
        rec.update({f"funds:{fid}": (row[c] if c < len(row) else None) for fid, c in funds_col.items()})
        records.append((r + 1, rec))
    return Table(grid.sheet, records, columns, ignored, funds, funds_units)


# ---- the roster as a whole ------------------------------------------------------------------------

def _pick(grids: list[Grid], names: tuple[str, ...]) -> Grid | None:
    for g in grids:
        if norm_header(g.sheet) in names:
            return g
    return None


def read_roster(path: str | Path, indicators_path: str | Path | None = None,
                funds_labels: dict[str, str] | None = None) -> Roster:
    """Read the project table (and the indicator table: a 指标 sheet, or a second CSV).

    ``funds_labels`` maps the header words of a custom template's funds columns to their ids.
    """
    p = Path(path)
    grids = read_grids(p)
    problems: list[Problem] = []
    notes: list[tuple[str, str]] = []
    pg = _pick(grids, PROJECT_SHEETS) or grids[0] if grids else None
    ig = _pick(grids, INDICATOR_SHEETS)
    if indicators_path is not None:
        ig_grids = read_grids(Path(indicators_path))
        ig = _pick(ig_grids, INDICATOR_SHEETS) or ig_grids[0]
    extra = {norm_header(k): v for k, v in (funds_labels or {}).items()}
    table = read_table(pg, PROJECT_FIELDS, "name", extra) if pg is not None else None
    if table is None:
        sheet = pg.sheet if pg is not None else p.name
        raise WbtoolError("B004", f"名单“{sheet}”中找不到表头：前 {HEADER_SCAN_ROWS} 行没有一行同时含“项目名称”和"
                                  f"主管部门、实施单位、年度或资金等列（未生成任何文件）",
                          f"no header found in roster sheet '{sheet}': none of the first {HEADER_SCAN_ROWS} rows has 项目名称 "
                          f"together with 主管部门, 实施单位, 年度 or a funds column (nothing was written)")
    if table.ignored:
        notes.append((f"“{table.sheet}”中以下列未使用：{'、'.join(table.ignored)}",
                      f"columns not used in '{table.sheet}': {', '.join(table.ignored)}"))
    for fid, text in table.funds.items():
        u = table.funds_units.get(fid)
        if u and u != "万元":
            problems.append(Problem(table.sheet, None, text, None, f"金额单位为{u}，评价表以万元填列：请换算为万元",
                                    f"amounts are in {u}; the form is in 万元: convert them"))
    projects = []
    for row, rec in table.records:
        values = {k: v for k, v in rec.items() if not k.startswith("funds:")}
        funds = {k[6:]: v for k, v in rec.items() if k.startswith("funds:")}
        if values.get("name") in (None, ""):
            if any(v not in (None, "") for k, v in rec.items() if k not in ("code",)):
                problems.append(Problem(table.sheet, row, table.columns.get("name"), None, "项目名称为空", "the project name is empty"))
            continue
        projects.append(RosterRow(table.sheet, row, values, funds))
    indicators: list[IndicatorRow] = []
    if ig is not None and ig is not pg:
        it = read_table(ig, INDICATOR_FIELDS, "name")
        if it is None:
            problems.append(Problem(ig.sheet, None, None, None, "找不到指标表的表头（须含“三级指标”或“指标名称”及一级指标、指标值、分值等列）",
                                    "no header found in the indicator sheet (三级指标 or 指标名称 with 一级指标, 指标值, 分值…)"))
        else:
            if "code" not in it.columns and "project" not in it.columns:
                problems.append(Problem(it.sheet, None, None, None, "指标表缺少“项目编码”或“项目名称”列，无法对应到项目",
                                        "the indicator sheet has no 项目编码 or 项目名称 column to find each row's project"))
            if it.ignored:
                notes.append((f"“{it.sheet}”中以下列未使用：{'、'.join(it.ignored)}", f"columns not used in '{it.sheet}': {', '.join(it.ignored)}"))
            last: dict[str, Any] = {}
            for row, rec in it.records:
                # budget-system exports leave the project, 一级 and 二级 blank under the first row of a group
                for k in ("code", "project", "level", "category"):
                    if rec.get(k) in (None, "") and rec.get("name") not in (None, ""):
                        rec[k] = last.get(k)
                last = {k: rec.get(k) for k in ("code", "project", "level", "category")}
                if rec.get("name") in (None, ""):
                    if any(rec.get(k) not in (None, "") for k in ("target", "weight")):
                        problems.append(Problem(it.sheet, row, it.columns.get("name"), None, "三级指标名称为空", "the indicator name is empty"))
                    continue
                indicators.append(IndicatorRow(it.sheet, row, rec))
    if not projects:
        raise WbtoolError("B005", f"名单“{table.sheet}”中没有可读的项目行（未生成任何文件）",
                          f"no project rows could be read from '{table.sheet}' (nothing was written)")
    return Roster(projects, indicators, notes, problems, table.sheet, table.columns, table.funds)


# ---- values -------------------------------------------------------------------------------------

def read_year(v: Any) -> int | None:
    """2024, 2024.0, "2024", "2024年", "2024年度" → 2024; None if it is not a year."""
    if isinstance(v, (dt.date, dt.datetime)):
        return v.year
    n, unit = number_with_unit(v)
    if n is None or not n.is_integer() or unit not in ("", "年", "年度") or not 1990 <= n <= 2100:
        return None
    return int(n)


def read_amount(v: Any) -> tuple[float | None, bool]:
    """An amount in 万元: 12.5, "12.5", "1,234.5", "12.5万元", "12.5万"; (None, True) for blank, (None, False) unreadable."""
    if v is None or (isinstance(v, str) and not v.strip()):
        return None, True
    n, unit = number_with_unit(v)
    if n is None or unit not in ("", "万元", "万"):
        return None, False
    return n, True


__all__ = ["Problem", "Roster", "RosterRow", "IndicatorRow", "read_roster", "read_year", "read_amount", "as_date", "as_text",
           "parse_target", "TEMPLATE_WORDS", "norm_header"]
