"""Write a :class:`~workbook_tool.collect.Summary` as the workbook an office hands on (or as CSV).

Sheets: 总览 (counts, grade distribution, two native charts), 排名, 问题清单, 文件清单 (every file of
the folder, with what became of it) and, with a roster, 未报送 and 名单外. Printed on A4 landscape,
fit to width, with a title and page footer; header rows frozen. Every text is written as text
(``write_string``), never as a formula: a unit named "=HYPERLINK(…)" stays a name.
"""
from __future__ import annotations

import csv
import os
from pathlib import Path
from typing import Any, Callable

from .collect import KIND_NOT_WORKBOOK, KIND_UNREADABLE, SUMMARY_PROPERTY, Record, Summary

GRADE_ORDER = ("优", "良", "中", "差")
VERIFY = "待核实"
SCORE_BINS = ((90, 101, "90–100"), (80, 90, "80–89"), (70, 80, "70–79"), (60, 70, "60–69"), (0, 60, "60 以下"))
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")

STATUS = {"ok": "通过", "warnings": "有警告", "errors": "有错误", "unreadable": "无法读取"}


def status_of(r: Record) -> str:
    """The file's status in Chinese, for every sheet and the CSV."""
    if r.duplicate_of is not None:
        return "重复报送"
    if r.kind == KIND_NOT_WORKBOOK:
        return "非工作簿"
    if r.kind == KIND_UNREADABLE:
        return "无法读取"
    return STATUS.get(r.status, r.status)


def grade_of(r: Record) -> str | None:
    return VERIFY if r.verify else r.grade


# ---- tables (shared by xlsx and csv) -----------------------------------------------------------------

Table = tuple[list[str], list[list[Any]], dict[str, str]]  # header, rows, column formats by header


def ranking_table(s: Summary) -> Table:
    levels = s.level_names()
    fixed = ["排名", "实施单位", "项目名称", "年度", "预算数（万元）", "执行数（万元）", "预算执行率"]
    # a level may share a fixed column's name (self-eval's level 预算执行率 holds its points)
    level_heads = [f"{n}（得分）" if n in fixed else n for n in levels]
    head = [*fixed, *level_heads, "总分", "等级", "状态", "待核实原因", "错误", "警告", "文件"]
    rows = []
    for rank, r in s.ranked():
        rows.append([rank, r.unit, r.name, r.year, r.budget, r.spent, r.execution,
                     *[r.levels.get(n) for n in levels], r.total, grade_of(r), status_of(r), "、".join(r.verify) or None,
                     r.errors, r.warnings, r.file])
    fmts = {"预算数（万元）": "money", "执行数（万元）": "money", "预算执行率": "pct", "总分": "score",
            **{n: "score" for n in level_heads}}
    return head, rows, fmts


def problems_table(s: Summary) -> Table:
    head = ["实施单位", "项目名称", "指标", "位置", "级别", "代码", "问题", "文件"]
    rows = []
    for r in s.records:
        if r.duplicate_of is not None:
            continue
        for p in r.problems:
            rows.append([r.unit, r.name, p.indicator, p.where, "错误" if p.severity == "error" else "警告", p.code,
                         p.message, r.file])
    return head, rows, {}


def files_table(s: Summary) -> Table:
    head = ["文件", "类型", "状态", "项目名称", "实施单位", "说明"]
    kinds = {"workbook": "工作簿", KIND_NOT_WORKBOOK: "非工作簿", KIND_UNREADABLE: "无法读取的工作簿"}
    rows = []
    for r in s.records:
        if r.duplicate_of is not None:
            note = f"与 {Path(r.duplicate_of).name} 重复，只计一次"
        elif r.kind != "workbook":
            note = r.problems[0].message if r.problems else None
        elif r in s.unexpected:
            note = "不在报送名单中"
        else:
            note = None
        rows.append([r.path, kinds[r.kind], status_of(r), r.name, r.unit, note])
    return head, rows, {}


def missing_table(s: Summary) -> Table:
    head = ["名单行", "项目名称", "主管部门", "实施单位", "年度", "文件名"]
    return head, [[m.row, m.name, m.department, m.unit, m.year, m.file] for m in s.missing], {}


def unexpected_table(s: Summary) -> Table:
    head = ["项目名称", "实施单位", "主管部门", "年度", "总分", "等级", "文件"]
    return head, [[r.name, r.unit, r.department, r.year, r.total, grade_of(r), r.file] for r in s.unexpected], {}


def overview_rows(s: Summary) -> list[tuple[str, int]]:
    c = s.counts()
    rows = [("收到文件", c["received"]), ("有效报送（每个项目计一次）", c["workbooks"]), ("　通过", c["passed"]),
            ("　有警告", c["warnings"]), ("　有错误", c["errors"]), ("　其中得分待核实", c["verify"]),
            ("重复报送", c["duplicates"]), ("无法读取的工作簿", c["unreadable"]), ("非工作簿（PDF、Word 等）", c["not_workbook"])]
    if s.roster is not None:
        rows += [("名单中的项目", len(s.roster)), ("未报送", c["missing"]), ("名单外报送", c["unexpected"])]
    return rows


def grade_rows(s: Summary) -> list[tuple[str, int]]:
    grades = [grade_of(r) for r in s.workbooks]
    names = [g for g in GRADE_ORDER] + sorted({g for g in grades if g and g not in GRADE_ORDER and g != VERIFY})
    rows = [(g, grades.count(g)) for g in names]
    rows.append((VERIFY, grades.count(VERIFY)))
    return rows


def score_rows(s: Summary) -> list[tuple[str, int]]:
    totals = [r.total for r in s.workbooks if r.total is not None and not r.verify]
    return [(label, sum(1 for t in totals if lo <= t < hi)) for lo, hi, label in SCORE_BINS]


# ---- writing -----------------------------------------------------------------------------------------

def write(summary: Summary, output: str | Path, force: bool = False) -> list[Path]:
    """Write the summary atomically; .csv writes the ranking there and the other tables beside it."""
    from .writer import atomic_output

    out = Path(output)
    targets: list[tuple[Path, Callable[[Path], None]]]
    if out.suffix.lower() == ".csv":
        tables = [(out, ranking_table(summary)), (_sibling(out, "问题清单"), problems_table(summary)),
                  (_sibling(out, "文件清单"), files_table(summary))]
        if summary.roster is not None:
            tables.append((_sibling(out, "未报送"), missing_table(summary)))
        targets = [(p, (lambda t: lambda tmp: _write_csv(t, tmp))(t)) for p, t in tables]
    else:
        targets = [(out, lambda tmp: _write_xlsx(summary, tmp))]
    tmps = []
    try:
        for p, fn in targets:
            tmp = atomic_output(p, force)
            tmps.append((tmp, p))
            fn(tmp)
        for tmp, p in tmps:
            os.replace(tmp, p)
    except BaseException:
        for tmp, _ in tmps:
            tmp.unlink(missing_ok=True)
        raise
    return [p for p, _ in targets]


def outputs(output: str | Path) -> list[Path]:
    """Every file ``write`` may produce for ``output`` (never read back as returns)."""
    out = Path(output)
    if out.suffix.lower() != ".csv":
        return [out]
    return [out] + [_sibling(out, n) for n in ("问题清单", "文件清单", "未报送")]


def _sibling(out: Path, name: str) -> Path:
    return out.with_name(f"{out.stem}-{name}{out.suffix}")


def _as_text(v: Any) -> Any:
    """Text from returns is data, never a formula, in the office's CSV (a unit named '=cmd|…' stays text)."""
    if isinstance(v, str) and v.startswith(_FORMULA_START):
        return "'" + v
    return v


def _csv_value(v: Any, fmt: str | None) -> Any:
    if v is None:
        return ""
    if fmt == "pct" and isinstance(v, float):
        return f"{v:.2%}"
    if isinstance(v, float) and v.is_integer() and fmt is None:
        return int(v)
    return _as_text(v)


def _write_csv(table: Table, path: Path) -> None:
    head, rows, fmts = table
    with path.open("w", encoding="utf-8-sig", newline="") as f:
        w = csv.writer(f)
        w.writerow(head)
        for row in rows:
            w.writerow([_csv_value(v, fmts.get(h)) for h, v in zip(head, row)])


def _write_xlsx(s: Summary, path: Path) -> None:
    import xlsxwriter

    wb = xlsxwriter.Workbook(str(path), {"strings_to_formulas": False, "strings_to_urls": False,
                                         "strings_to_numbers": False})
    wb.set_custom_property(SUMMARY_PROPERTY, "1")
    wb.set_properties({"title": "绩效自评回收汇总", "comments": "wbtool collect"})
    f = _formats(wb)
    when = s.created.strftime("%Y-%m-%d %H:%M")
    _overview(wb, f, s, when)
    _table(wb, f, "排名", "绩效自评得分排名", ranking_table(s), when,
           widths={"排名": 5, "实施单位": 18, "项目名称": 24, "年度": 6, "预算数（万元）": 9, "执行数（万元）": 9,
                   "预算执行率": 8, "总分": 7, "等级": 7, "状态": 8, "待核实原因": 12, "错误": 5, "警告": 5, "文件": 20},
           default_width=7)
    _table(wb, f, "问题清单", "退回修改的问题", problems_table(s), when,
           widths={"实施单位": 22, "项目名称": 28, "指标": 24, "位置": 14, "问题": 60, "文件": 28})
    if s.roster is not None:
        _table(wb, f, "未报送", "名单中未报送的项目", missing_table(s), when, widths={"项目名称": 30, "主管部门": 22, "实施单位": 22,
                                                                             "文件名": 28})
        _table(wb, f, "名单外", "不在名单中的报送", unexpected_table(s), when, widths={"项目名称": 30, "实施单位": 22,
                                                                          "主管部门": 22, "文件": 28})
    _table(wb, f, "文件清单", "收到的全部文件", files_table(s), when, widths={"文件": 50, "项目名称": 28, "实施单位": 22,
                                                                      "说明": 50})
    wb.close()


def _formats(wb: Any) -> dict[str, Any]:
    base = {"font_name": "宋体", "font_size": 10, "valign": "vcenter", "border": 1}
    return {
        "title": wb.add_format({"bold": True, "font_size": 14, "font_name": "黑体"}),
        "sub": wb.add_format({"font_size": 9, "font_color": "#666666"}),
        "head": wb.add_format({**base, "bold": True, "bg_color": "#DDEBF7", "text_wrap": True, "align": "center"}),
        "text": wb.add_format({**base, "text_wrap": True}),
        "int": wb.add_format({**base, "num_format": "0"}),
        "money": wb.add_format({**base, "num_format": "#,##0.00"}),
        "pct": wb.add_format({**base, "num_format": "0.0%"}),
        "score": wb.add_format({**base, "num_format": "0.0#"}),
        "verify": wb.add_format({**base, "font_color": "#C00000", "bold": True}),
    }


def _page(ws: Any, title: str, when: str, header_rows: tuple[int, int] | None) -> None:
    ws.set_paper(9)  # A4
    ws.set_landscape()
    ws.fit_to_pages(1, 0)  # fit to width, as many pages down as needed
    ws.set_margins(left=0.5, right=0.5, top=0.7, bottom=0.7)
    ws.set_header(f"&C&\"-,Bold\"{_hf(title)}")
    ws.set_footer(f"&L{_hf('wbtool collect · ' + when)}&R第 &P 页 / 共 &N 页")
    if header_rows:
        ws.repeat_rows(*header_rows)


def _hf(text: str) -> str:
    return text.replace("&", "&&")


def _put(ws: Any, row: int, col: int, v: Any, fmt: Any) -> None:
    if v is None:
        ws.write_blank(row, col, None, fmt)
    elif isinstance(v, str):
        ws.write_string(row, col, v, fmt)
    elif isinstance(v, bool):
        ws.write_string(row, col, str(v), fmt)
    else:
        ws.write_number(row, col, v, fmt)


def _table(wb: Any, f: dict[str, Any], name: str, title: str, table: Table, when: str,
           widths: dict[str, int] | None = None, default_width: int | None = None) -> Any:
    head, rows, fmts = table
    ws = wb.add_worksheet(name)
    ws.write_string(0, 0, title, f["title"])
    ws.write_string(1, 0, f"生成时间 {when}，共 {len(rows)} 行", f["sub"])
    for c, h in enumerate(head):
        ws.write_string(2, c, h, f["head"])
        ws.set_column(c, c, (widths or {}).get(h, default_width or max(8, min(14, 2 * len(h) + 2))))
    for i, row in enumerate(rows, start=3):
        for c, (h, v) in enumerate(zip(head, row)):
            fmt = f[fmts[h]] if h in fmts else (f["verify"] if v == VERIFY else f["int"] if isinstance(v, int) else f["text"])
            _put(ws, i, c, v, fmt)
    ws.set_row(2, 30)  # header row: room for wrapped headers
    ws.freeze_panes(3, 0)
    if rows:
        ws.autofilter(2, 0, 2 + len(rows), len(head) - 1)
    _page(ws, title, when, (2, 2))
    return ws


def _overview(wb: Any, f: dict[str, Any], s: Summary, when: str) -> None:
    ws = wb.add_worksheet("总览")
    ws.write_string(0, 0, "绩效自评回收汇总", f["title"])
    ws.write_string(1, 0, f"生成时间 {when}", f["sub"])
    ws.set_column(0, 0, 28)
    ws.set_column(1, 1, 10)
    ws.set_column(3, 3, 12)
    ws.set_column(4, 4, 10)
    ws.write_string(2, 0, "项目", f["head"])
    ws.write_string(2, 1, "数量", f["head"])
    r = 3
    for label, n in overview_rows(s):
        ws.write_string(r, 0, label, f["text"])
        ws.write_number(r, 1, n, f["int"])
        r += 1
    # grade distribution and score distribution, each feeding a native chart
    ws.write_string(2, 3, "等级", f["head"])
    ws.write_string(2, 4, "项目数", f["head"])
    grades = grade_rows(s)
    for i, (g, n) in enumerate(grades):
        ws.write_string(3 + i, 3, g, f["text"])
        ws.write_number(3 + i, 4, n, f["int"])
    g_last = 3 + len(grades) - 1
    top = g_last + 2
    ws.write_string(top, 3, "总分区间", f["head"])
    ws.write_string(top, 4, "项目数", f["head"])
    bins = score_rows(s)
    for i, (label, n) in enumerate(bins):
        ws.write_string(top + 1 + i, 3, label, f["text"])
        ws.write_number(top + 1 + i, 4, n, f["int"])
    b_first, b_last = top + 1, top + len(bins)
    for title, first, last, anchor, color in (("等级分布", 3, g_last, "G3", "#4472C4"),
                                              ("总分分布（不含待核实）", b_first, b_last, "G20", "#ED7D31")):
        ch = wb.add_chart({"type": "column"})
        ch.add_series({"name": title, "categories": ["总览", first, 3, last, 3], "values": ["总览", first, 4, last, 4],
                       "fill": {"color": color}, "data_labels": {"value": True}})
        ch.set_title({"name": title, "name_font": {"size": 11}})
        ch.set_legend({"none": True})
        ch.set_y_axis({"name": "项目数", "major_gridlines": {"visible": True}, "min": 0})
        ch.set_size({"width": 480, "height": 270})
        ws.insert_chart(anchor, ch)
    ws.freeze_panes(3, 0)
    _page(ws, "绩效自评回收汇总 · 总览", when, None)
