"""Render check reports: JSON for scripts (schema in the README), text for people.

The text report is built per file (:func:`render_file`, printed as soon as a file is checked) plus
a footer for the run (:func:`render_footer`: notices that apply to every file, one line per file,
the count). Findings are shown in sheet and row order with follow-ons folded under their cause
(:mod:`fold`) and in brief wording (:mod:`wording`); JSON keeps every finding, marking follow-ons.
"""
from __future__ import annotations

import json
import unicodedata
from collections import Counter
from typing import Any

from .checker import FileReport, agree
from .findings import ERROR, INFO, WARNING
from .fold import RUN_NOTICES, fold
from .textsafe import json_text, safe
from .wording import brief

SCHEMA_VERSION = 1

_T = {
    "zh": {"ok": "通过", "warnings": "有警告", "errors": "有错误", "unreadable": "无法读取", "total": "总分", "grade": "等级",
           "py": "复核得分", "wb": "表内得分", "no": "序号", "ind": "指标", "w": "分值", "level": "一级指标",
           "error": "错误", "warning": "警告", "info": "提示", "summary": "汇总", "files": "个文件",
           "not_recalc": "（工作簿未重算）", "notices": "本次检查的提示", "saved_by": "最后保存程序",
           "n_files": "{n} 个文件", "followons": "由此引起", "folded_n": "（另有 {n} 项由此引起）", "more": "另有 {n} 项由此引起的问题未逐一列出（见 --format json）",
           "count": "共 {n} 个文件：通过 {ok}，有警告 {warnings}，有错误 {errors}，无法读取 {unreadable}"},
    "en": {"ok": "OK", "warnings": "warnings", "errors": "errors", "unreadable": "unreadable", "total": "total",
           "grade": "grade", "py": "re-check", "wb": "in workbook", "no": "No.", "ind": "indicator", "w": "weight", "level": "level",
           "error": "error", "warning": "warning", "info": "info", "summary": "summary", "files": "files",
           "not_recalc": "(not recalculated)", "notices": "notes for this run", "saved_by": "last saved by",
           "n_files": "{n} files", "followons": "follow-ons", "folded_n": " (+{n} follow-on)", "more": "{n} follow-on findings not listed (see --format json)",
           "count": "{n} files: {ok} ok, {warnings} with warnings, {errors} with errors, {unreadable} unreadable"},
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
        "findings": _findings_json(r, lang),
    }


def _findings_json(r: FileReport, lang: str) -> list[dict[str, Any]]:
    """Every finding in the checker's order; a follow-on names the index of its cause (``folded_under``)."""
    causes = {it.index: it.cause for it in fold(r.findings, r.sheet_order)}
    out = []
    for i, f in enumerate(r.findings):
        d = f.to_dict(lang)
        d["folded_under"] = causes.get(i)
        out.append(d)
    return out


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


# ---- display width: a Chinese character takes two columns in a terminal ---------------------------

def width(text: str) -> int:
    """Columns ``text`` takes in a terminal (East Asian wide and fullwidth characters count two)."""
    return sum(2 if unicodedata.east_asian_width(ch) in ("W", "F") else 0 if unicodedata.combining(ch) else 1
               for ch in text)


def clip(text: str, cols: int) -> str:
    """``text`` cut to at most ``cols`` columns (with … when cut)."""
    if width(text) <= cols:
        return text
    out, used = "", 0
    for ch in text:
        w = width(ch)
        if used + w > cols - 1:
            break
        out += ch
        used += w
    return out + "…"


def ljust(text: str, cols: int) -> str:
    return text + " " * max(0, cols - width(text))


def rjust(text: str, cols: int) -> str:
    return " " * max(0, cols - width(text)) + text


def _fmt(v: Any) -> str:
    if v is None or v == "":
        return "—"
    if isinstance(v, bool):
        return str(v)
    if isinstance(v, float):
        return f"{v:.2f}"
    return safe(v)


# ---- text ------------------------------------------------------------------------------------------

def _tr(lang: str) -> dict[str, str]:
    return _T["en" if lang == "en" else "zh"]


def _loc(f: Any) -> str:
    if not f.sheet:
        return ""
    return safe(f"{f.sheet}!{f.cell}" if f.cell else f.sheet)


def render_file(r: FileReport, lang: str = "zh", strict: bool = False) -> str:
    """One file's block: findings in sheet/row order, follow-ons folded, then the score table."""
    t = _tr(lang)
    out = [f"== {safe(r.path)}" + (f"  [{safe(r.template)}]" if r.template else "")]
    items = fold(r.findings, r.sheet_order)
    by_index = {it.index: it for it in items}
    for it in items:
        f = it.finding
        if it.cause is not None or f.code in RUN_NOTICES:
            continue
        ind = f" 〈{safe(f.indicator)}〉" if f.indicator else ""
        loc = _loc(f)
        where = f" {loc}{ind}" if loc or ind else ""
        out.append(f"  {ljust(t[f.severity], 4)} {f.code}{where}: {brief(f, lang)}")
        if it.folded:
            if len(it.folded) <= 3:
                parts = [f"{by_index[i].finding.code} {_loc(by_index[i].finding)} {by_index[i].finding.title(lang)}"
                         for i in sorted(it.folded, key=lambda i: items.index(by_index[i]))]
                out.append(f"         └ {t['followons']}: " + "；".join(parts))
            else:
                out.append("         └ " + t["more"].format(n=len(it.folded)))
    if r.scores:
        out.extend(_score_table(r, t))
    out.append("")
    return "\n".join(out)


def _score_table(r: FileReport, t: dict[str, str]) -> list[str]:
    rows = []
    for s in r.scores:
        mark = "" if agree(s.python, s.workbook) or not r.recalculated else "  ≠"
        rows.append((str(s.no) if s.no else "·", safe(s.level), clip(safe(s.name), 30), _fmt(s.weight), _fmt(s.python),
                     _fmt(s.workbook if r.recalculated else None), mark))
    head = (t["no"], t["level"], t["ind"], t["w"], t["py"], t["wb"], "")
    cols = [max(width(x[i]) for x in rows + [head]) for i in range(6)]
    right = (True, False, False, True, True, True)

    def line(x: tuple[str, ...]) -> str:
        cells = [rjust(x[i], cols[i]) if right[i] else ljust(x[i], cols[i]) for i in range(6)]
        return ("  " + "  ".join(cells) + x[6]).rstrip()

    out = [line(head)] + [line(x) for x in rows]
    extra = "" if r.recalculated else " " + t["not_recalc"]
    out.append(f"  {t['total']}: {t['py']} {_fmt(r.total_python)} / {t['wb']} "
               f"{_fmt(r.total_workbook if r.recalculated else None)}{extra}   {t['grade']}: {_fmt(r.grade_python)}")
    return out


def render_notices(reports: list[FileReport], lang: str = "zh") -> list[str]:
    """Notices that concern the run, once: "no key given", and which programs saved the files."""
    t = _tr(lang)
    seen: dict[str, str] = {}
    apps: Counter[str] = Counter()
    for r in reports:
        for f in r.findings:
            if f.code == "I002":
                apps[safe(f.values.get("application"))] += 1
            elif f.code in RUN_NOTICES and f.code not in seen:
                seen[f.code] = f.message(lang)
    if not seen and not apps:
        return []
    out = [f"-- {t['notices']}"]
    out += [f"  {t['info']} {code}: {msg}" for code, msg in seen.items()]
    out += [f"  {t['info']} I002: {t['saved_by']} {app}（{t['n_files'].format(n=n)}）" if lang != "en"
            else f"  {t['info']} I002: {t['saved_by']} {app} ({t['n_files'].format(n=n)})" for app, n in apps.most_common()]
    return out


def count_line(reports: list[FileReport], lang: str = "zh") -> str:
    c = Counter(r.status for r in reports)
    return _tr(lang)["count"].format(n=len(reports), ok=c["ok"], warnings=c["warnings"], errors=c["errors"],
                                     unreadable=c["unreadable"])


def render_footer(reports: list[FileReport], lang: str = "zh", strict: bool = False) -> str:
    t = _tr(lang)
    out = render_notices(reports, lang)
    out.append(f"-- {t['summary']} ({len(reports)} {t['files']})")
    out += [summary_line(r, t, strict) for r in reports]
    out.append(count_line(reports, lang))
    return "\n".join(out)


def to_text(reports: list[FileReport], lang: str = "zh", strict: bool = False) -> str:
    return "\n".join([render_file(r, lang, strict) for r in reports] + [render_footer(reports, lang, strict)])


def summary_line(r: FileReport, t: dict[str, str], strict: bool = False) -> str:
    """One line per file (also the whole of ``check -q``)."""
    folded = sum(1 for it in fold(r.findings, r.sheet_order) if it.cause is not None and it.finding.severity == ERROR)
    errors = f"{t['error']} {r.count(ERROR) - folded}" + (t["folded_n"].format(n=folded) if folded else "")
    return (f"{ljust(t[r.status], 8)} {safe(r.path)}  {t['total']} {_fmt(r.total_python)}  {t['grade']} {_fmt(r.grade_python)}  "
            f"{errors}  {t['warning']} {r.count(WARNING)}")


def quiet_line(r: FileReport, lang: str = "zh", strict: bool = False) -> str:
    return summary_line(r, _tr(lang), strict)
