"""The copy of a faulty return that goes back to its unit: what to correct, where, and how.

A copy — never the original — gets a first sheet 审核意见 (each finding in the unit's wording, with a
link to its cell) and, at every faulty cell, a comment and a red fill. Nothing else changes: no
input, no formula, no name, validation or metadata, so the unit can correct the copy and send it
back, and `wbtool check` judges it exactly as it judged the original.

openpyxl writes the copy. It keeps what wbtool workbooks use (formulas, standard data validations,
conditional formats, protection, defined names, hidden sheets, custom document properties) but drops
cached formula results; the copy is therefore marked "recalculate on load" (Excel, WPS and
LibreOffice compute it on opening). The tests recalculate copies in LibreOffice and re-check them
to the same findings at the same cells.
"""
from __future__ import annotations

import os
from io import BytesIO
from pathlib import Path
from typing import Any

from .checker import FileReport
from .errors import WbtoolError
from .findings import ERROR, INFO, WARNING, Finding
from .fold import fold
from .wording import for_unit

SHEET = "审核意见"
SHEET_EN = "Review"
AUTHOR = "wbtool"
RED = "FFC7CE"
SUFFIX = "-审核意见"

# Metadata entries of the issuing office's contact, if the workbook was issued with them.
CONTACT_KEYS = {
    "contact": ("contact", "contact_name", "联系人"),
    "phone": ("phone", "contact_phone", "tel", "联系电话"),
    "deadline": ("deadline", "due", "due_date", "报送截止日期"),
}
_LABELS = {
    "zh": {"title": "审核意见", "file": "文件", "project": "项目", "count": "需要修改的问题",
           "contact": "联系人", "phone": "联系电话", "deadline": "报送截止日期",
           "how": "请在本工作簿中逐项修改（点击“位置”可跳到对应单元格，红色单元格有批注），保存后重新报送。本页可保留。",
           "head": ("序号", "级别", "位置", "指标", "问题", "修改方法"), "error": "错误", "warning": "提醒",
           "more": "（由此引起的另 {n} 处问题已在单元格批注中标出）"},
    "en": {"title": "Review", "file": "File", "project": "Project", "count": "Problems to correct",
           "contact": "Contact", "phone": "Phone", "deadline": "Deadline",
           "how": "Correct each item in this workbook (click a location to go to its cell; red cells carry a comment), "
                  "save and send it again. This sheet may stay.",
           "head": ("No.", "Severity", "Location", "Indicator", "Problem", "What to do"), "error": "error",
           "warning": "warning", "more": " ({n} follow-on cells, marked with comments)"},
}


def contact(rep: FileReport) -> dict[str, str]:
    """The office's contact from the issued metadata (absent keys are simply left out)."""
    out = {}
    for field, names in CONTACT_KEYS.items():
        v = next((rep.meta[n] for n in names if rep.meta.get(n)), None)
        if v:
            out[field] = v
    return out


def needs_copy(rep: FileReport) -> bool:
    """A readable wbtool workbook with something for the unit to correct."""
    return rep.status in ("errors", "warnings") and bool(rep.sheet_order)


def target(rep: FileReport, outdir: Path) -> Path:
    src = Path(rep.path)
    return outdir / f"{src.stem}{SUFFIX}.xlsx"


def annotate(rep: FileReport, outdir: str | Path, lang: str = "zh") -> Path | None:
    """Write the annotated copy of ``rep``'s file into ``outdir``; None when there is nothing to annotate."""
    if not needs_copy(rep):
        return None
    import openpyxl

    src = Path(rep.path)
    out = target(rep, Path(outdir))
    if out.resolve() == src.resolve():
        raise WbtoolError("O003", f"审核意见副本不能覆盖原文件：{src}", f"the annotated copy would overwrite {src}")
    data = src.read_bytes()  # the original is only read
    wb = openpyxl.load_workbook(BytesIO(data), keep_links=False)
    _mark_cells(wb, rep, lang)
    _review_sheet(wb, rep, lang)
    wb.calculation.fullCalcOnLoad = True  # openpyxl drops cached results: compute on opening
    from .writer import atomic_output

    tmp = atomic_output(out, True)
    try:
        wb.save(tmp)
        os.replace(tmp, out)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return out


def _cell(wb: Any, f: Finding) -> Any:
    """The cell a finding points at (top-left of a merged range), or None."""
    if not f.sheet or not f.cell or f.sheet not in wb.sheetnames:
        return None
    ws = wb[f.sheet]
    for rng in ws.merged_cells.ranges:
        if f.cell in rng:
            return ws.cell(rng.min_row, rng.min_col)
    return ws[f.cell]


def _mark_cells(wb: Any, rep: FileReport, lang: str) -> None:
    """A comment (every finding at that cell) and a red fill at each faulty cell."""
    from openpyxl.comments import Comment
    from openpyxl.styles import PatternFill

    by_cell: dict[tuple[str, str], list[Finding]] = {}
    for f in rep.findings:
        if f.severity == INFO:
            continue
        c = _cell(wb, f)
        if c is not None:
            by_cell.setdefault((c.parent.title, c.coordinate), []).append(f)
    for (sheet, coord), fs in by_cell.items():
        c = wb[sheet][coord]
        lines = []
        for f in fs:
            msg, act = for_unit(f, lang)
            lines.append(f"{msg}{'：' + act if act and lang != 'en' else ('; ' + act if act else '')}")
        comment = Comment("\n".join(lines), AUTHOR)
        comment.width, comment.height = 320, min(60 + 40 * len(lines), 400)
        c.comment = comment
        c.fill = PatternFill("solid", start_color=RED, end_color=RED)


def _review_sheet(wb: Any, rep: FileReport, lang: str) -> None:
    from openpyxl.styles import Alignment, Border, Font, PatternFill, Side
    from openpyxl.worksheet.hyperlink import Hyperlink

    t = _LABELS["en" if lang == "en" else "zh"]
    name = SHEET_EN if lang == "en" else SHEET
    if name in wb.sheetnames:  # a return annotated before: replace the old review
        del wb[name]
    ws = wb.create_sheet(name, 0)
    for other in wb.worksheets:
        other.sheet_view.tabSelected = False
    wb.active = 0
    ws.sheet_view.tabSelected = True
    ws.sheet_properties.tabColor = "C00000"
    thin = Side(style="thin", color="999999")
    box = Border(left=thin, right=thin, top=thin, bottom=thin)
    wrap = Alignment(wrap_text=True, vertical="top")
    ws["A1"] = t["title"]
    ws["A1"].font = Font(bold=True, size=14)
    h = rep.header or {}
    info = [(t["file"], Path(rep.path).name), (t["project"], " / ".join(str(h[k]) for k in ("name", "unit") if h.get(k)))]
    cont = contact(rep)
    info += [(t[k], cont[k]) for k in ("contact", "phone", "deadline") if k in cont]
    items = [it for it in fold(rep.findings, rep.sheet_order) if it.cause is None and it.finding.severity in (ERROR, WARNING)]
    info.append((t["count"], str(len(items))))
    r = 2
    for k, v in info:
        ws.cell(r, 1, k).font = Font(bold=True)
        ws.cell(r, 2, v)  # data types: str → written as text, never as a formula (see _text)
        ws.cell(r, 2).data_type = "s"
        r += 1
    ws.cell(r, 1, t["how"]).alignment = Alignment(wrap_text=True)
    ws.merge_cells(start_row=r, start_column=1, end_row=r, end_column=6)
    ws.row_dimensions[r].height = 32
    r += 2
    head_row = r
    for j, text in enumerate(t["head"], start=1):
        c = ws.cell(r, j, text)
        c.font = Font(bold=True)
        c.fill = PatternFill("solid", start_color="DDEBF7", end_color="DDEBF7")
        c.border = box
    for n, it in enumerate(items, start=1):
        r += 1
        f = it.finding
        msg, act = for_unit(f, lang)
        if it.folded:
            msg += t["more"].format(n=len(it.folded))
        loc = f"{f.sheet}!{f.cell}" if f.sheet and f.cell else (f.sheet or "")
        values = (n, t["error"] if f.severity == ERROR else t["warning"], loc, f.indicator or "", msg, act)
        for j, v in enumerate(values, start=1):
            c = ws.cell(r, j, v)
            if isinstance(v, str):
                c.data_type = "s"
            c.alignment = wrap
            c.border = box
        target_cell = _cell(wb, f)
        if target_cell is not None:
            ref = f"'{target_cell.parent.title}'!{target_cell.coordinate}"
            link = ws.cell(r, 3)
            link.hyperlink = Hyperlink(ref=link.coordinate, location=ref, display=loc)
            link.font = Font(color="0563C1", underline="single")
    for col, width in zip("ABCDEF", (6, 8, 16, 26, 60, 36)):
        ws.column_dimensions[col].width = width
    ws.freeze_panes = ws.cell(head_row + 1, 1)
    ws.page_setup.orientation = "landscape"
    ws.page_setup.paperSize = ws.PAPERSIZE_A4
    ws.page_setup.fitToWidth, ws.page_setup.fitToHeight = 1, 0
    ws.sheet_properties.pageSetUpPr.fitToPage = True
