"""Render check reports: JSON for scripts (schema in the README), text for people."""
from __future__ import annotations

import json
from typing import Any

from .checker import FileReport, agree
from .findings import ERROR, INFO, WARNING
from .textsafe import json_text, safe

SCHEMA_VERSION = 1

_T = {
    "zh": {"ok": "通过", "warnings": "有警告", "errors": "有错误", "unreadable": "无法读取", "total": "总分", "grade": "等级",
           "py": "Python", "wb": "工作簿", "no": "序号", "ind": "指标", "w": "分值", "level": "一级指标",
           "error": "错误", "warning": "警告", "info": "提示", "summary": "汇总", "files": "个文件",
           "not_recalc": "（工作簿未重算）"},
    "en": {"ok": "OK", "warnings": "warnings", "errors": "errors", "unreadable": "unreadable", "total": "total",
           "grade": "grade", "py": "Python", "wb": "workbook", "no": "No.", "ind": "indicator", "w": "weight", "level": "level",
           "error": "error", "warning": "warning", "info": "info", "summary": "summary", "files": "files",
           "not_recalc": "(not recalculated)"},
}


def to_json(reports: list[FileReport], lang: str = "zh", strict: bool = False) -> str:
    doc = {
        "schema": SCHEMA_VERSION,
        "files": [file_dict(r, lang, strict) for r in reports],
        "exit_code": overall_exit(reports, strict),
    }
    return json_text(json.dumps(doc, ensure_ascii=False, indent=2))


def file_dict(r: FileReport, lang: str, strict: bool) -> dict[str, Any]:
    return {
        "path": r.path,
        "status": r.status,
        "exit_code": r.exit_code(strict),
        "template": r.template,
        "application": r.application,
        "recalculated": r.recalculated,
        "authenticated": r.authenticated,
        "total": {"python": _num(r.total_python), "workbook": _num(r.total_workbook)},
        "grade": {"python": _s(r.grade_python), "workbook": _s(r.grade_workbook)},
        "counts": {"error": r.count(ERROR), "warning": r.count(WARNING), "info": r.count(INFO)},
        "scores": [
            {"no": s.no, "level": s.level, "indicator": s.name, "weight": _num(s.weight), "python": _num(s.python),
             "workbook": _num(s.workbook), "sheet": s.sheet, "cell": s.cell}
            for s in r.scores
        ],
        "findings": [f.to_dict(lang) for f in r.findings],
    }


def _num(v: Any) -> Any:
    if isinstance(v, bool) or v is None:
        return v
    if isinstance(v, (int, float)):
        return v
    return None if v == "" else str(v)


def _s(v: Any) -> Any:
    return None if v in (None, "") else str(v)


def overall_exit(reports: list[FileReport], strict: bool) -> int:
    codes = [r.exit_code(strict) for r in reports] or [0]
    if 2 in codes:
        return 2
    return max(codes)


def _fmt(v: Any) -> str:
    if v is None or v == "":
        return "—"
    if isinstance(v, float):
        return f"{v:.2f}"
    return safe(v)


def to_text(reports: list[FileReport], lang: str = "zh", strict: bool = False) -> str:
    t = _T["en" if lang == "en" else "zh"]
    out: list[str] = []
    for r in reports:
        out.append(f"== {safe(r.path)}" + (f"  [{safe(r.template)}]" if r.template else ""))
        for f in r.findings:
            loc = ""
            if f.sheet:
                loc = safe(f"{f.sheet}!{f.cell}" if f.cell else f.sheet)
            ind = f" 〈{safe(f.indicator)}〉" if f.indicator else ""
            out.append(f"  {t[f.severity]:<4} {f.code} {loc}{ind}: {f.message(lang)}")
        if r.scores:
            out.append(f"  {t['no']:>4}  {t['level']:<8} {t['ind']:<26} {t['w']:>6} {t['py']:>8} {t['wb']:>8}")
            for s in r.scores:
                mark = "" if agree(s.python, s.workbook) or not r.recalculated else "  ≠"
                no = str(s.no) if s.no else "·"
                out.append(f"  {no:>4}  {safe(s.level):<8} {safe(s.name)[:26]:<26} {_fmt(s.weight):>6} {_fmt(s.python):>8} "
                           f"{_fmt(s.workbook if r.recalculated else None):>8}{mark}")
            extra = "" if r.recalculated else " " + t["not_recalc"]
            out.append(f"  {t['total']}: {t['py']} {_fmt(r.total_python)} / {t['wb']} "
                       f"{_fmt(r.total_workbook if r.recalculated else None)}{extra}   "
                       f"{t['grade']}: {_fmt(r.grade_python)}")
        out.append("")
    out.append(f"-- {t['summary']} ({len(reports)} {t['files']})")
    for r in reports:
        out.append(summary_line(r, t, strict))
    return "\n".join(out)


def summary_line(r: FileReport, t: dict[str, str], strict: bool) -> str:
    status = t[r.status]
    return (f"{status:<6} {safe(r.path)}  {t['total']} {_fmt(r.total_python)}  {t['grade']} {_fmt(r.grade_python)}  "
            f"{t['error']} {r.count(ERROR)}  {t['warning']} {r.count(WARNING)}")
