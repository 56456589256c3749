"""`wbtool report`: a Word draft of the evaluation report, in the structure of the seed report.

Why a draft and why from the checker: the report's numbers are what the office publishes, so each
one comes from the Python re-score of the *checked* return (``checker.check_file``: inputs as read,
every formula recomputed), never from the workbook's cached results, which may be stale or typed
over. A return with errors gets a report only when forced, and then its first page says so and
lists the errors. Everything that needs an evaluator's judgement (background, method, experience,
recommendations) is a visible 【待填写】 placeholder rather than invented prose.

python-docx writes real Word tables and lets us set the East Asian font (w:eastAsia) explicitly:
without it Word falls back to a Latin font's pairing and Chinese text renders in whatever the
reader's default is, which is not what 仿宋_GB2312 / 黑体 government documents use.
"""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .checker import FileReport, check_file
from .errors import WbtoolError
from .findings import ERROR, WARNING
from .layout import FIRST_ROW
from .template import Template

BODY_FONT, BODY_FALLBACK, HEAD_FONT = "仿宋_GB2312", "宋体", "黑体"
PLACEHOLDER = {"zh": "【待填写】", "en": "[to be written]"}

H = {
    "zh": {
        "title": "项目支出绩效评价报告", "draft": "（草稿，由 wbtool 根据检查后的工作簿生成）",
        "s1": "一、基本情况", "s1a": "（一）项目概况", "s1b": "（二）资金投入和使用情况", "s1c": "（三）项目绩效目标",
        "s2": "二、绩效评价工作开展情况", "s2a": "（一）评价目的、对象和范围", "s2b": "（二）绩效评价指标体系",
        "s2c": "（三）评价标准",
        "s3": "三、综合评价情况及评价结论", "s3t": "项目各部分权重和绩效分值",
        "s4": "四、绩效评价指标分析",
        "s5": "五、存在的问题及原因分析", "s5a": "（一）主要经验及做法", "s5b": "（二）存在的问题及原因分析",
        "s6": "六、有关建议",
        "unit": "实施单位", "dept": "主管部门", "year": "年度", "name": "项目名称", "date": "生成日期",
        "errors": "注意：本报告依据的工作簿检查未通过（使用 --force 生成）。以下错误须先核实：",
        "l1": "一级指标", "l2": "二级指标", "l3": "三级指标", "w": "分值", "s": "得分", "r": "得分率",
        "pts": "评价要点", "target": "年度指标值", "actual": "实际完成值", "total": "合计", "item": "项目",
        "rate": "比率",
    },
    "en": {
        "title": "Project expenditure performance evaluation report", "draft": "(draft made by wbtool from the checked workbook)",
        "s1": "1. Basic information", "s1a": "1.1 Project overview", "s1b": "1.2 Funds", "s1c": "1.3 Performance goals",
        "s2": "2. How the evaluation was carried out", "s2a": "2.1 Purpose, object and scope",
        "s2b": "2.2 Indicator system", "s2c": "2.3 Rating standard",
        "s3": "3. Overall evaluation and conclusion", "s3t": "Weights and scores by part",
        "s4": "4. Analysis by indicator",
        "s5": "5. Problems and their causes", "s5a": "5.1 Experience and practice", "s5b": "5.2 Problems and causes",
        "s6": "6. Recommendations",
        "unit": "Implementing unit", "dept": "Supervising department", "year": "Year", "name": "Project",
        "date": "Generated",
        "errors": "Note: the workbook this report rests on did not pass the check (made with --force). Verify these errors first:",
        "l1": "Level 1", "l2": "Level 2", "l3": "Indicator", "w": "Weight", "s": "Score", "r": "Score rate",
        "pts": "Evaluation points", "target": "Target", "actual": "Actual", "total": "Total", "item": "Item",
        "rate": "Rate",
    },
}


@dataclass
class Row:
    """One scored line of the report: an indicator row of the workbook, or a funds rate."""

    level: str
    category: str
    name: str
    weight: float | None
    score: Any
    target: str = ""
    actual: str = ""
    ratio: Any = None
    explain: str = ""
    note: str = ""
    op: str = ""


def _num(v: Any) -> float | None:
    return float(v) if isinstance(v, (int, float)) and not isinstance(v, bool) else None


def fmt_num(v: Any) -> str:
    """2 decimals at most, trailing zeros dropped: 7.94, 4, 1.94, 99."""
    x = _num(v)
    if x is None:
        return "" if v in (None, "") else str(v)
    s = f"{x:.2f}".rstrip("0").rstrip(".")
    return "0" if s in ("-0", "") else s


def fmt_pct(v: Any) -> str:
    x = _num(v)
    if x is None:
        return ""
    s = f"{x * 100:.2f}".rstrip("0").rstrip(".")
    return s + "%"


def _date(v: Any) -> str:
    x = _num(v)
    if x is None:
        return "" if v is None else str(v)
    return (dt.date(1899, 12, 30) + dt.timedelta(days=int(x))).isoformat()


def collect_rows(rep: FileReport, tpl: Template) -> list[Row]:
    """Indicator rows in workbook order with the funds rates placed under their level (as the seed's table)."""
    L, snap, comp = rep.layout, rep.snapshot, rep.computed
    assert L is not None and snap is not None and comp is not None
    v = snap.values
    rows: list[Row] = []
    for r in L.rows():
        name = v.get(("name", r))
        if name in (None, "") and v.get(("weight", r)) in (None, ""):
            continue
        unit, op = str(v.get(("unit", r)) or ""), str(v.get(("op", r)) or "")
        t, a = v.get(("target", r)), v.get(("actual", r))
        if unit == tpl.date_unit:
            target, actual = f"{op}{_date(t)}", _date(a)
        elif op in ("定性", "评分"):
            target = "" if t is None else str(t)
            actual = str(v.get(("grade", r)) or a or "")
        else:
            target = f"{op}{fmt_num(t)}{unit}" if t not in (None, "") else ""
            actual = f"{fmt_num(a)}{unit}" if _num(a) is not None else ("" if a is None else str(a))
        rows.append(Row(str(v.get(("level", r)) or ""), str(v.get(("category", r)) or ""), str(name or f"#{r - FIRST_ROW + 1}"),
                        _num(v.get(("weight", r))), comp.get(("score", r)), target, actual, comp.get(("ratio", r)),
                        str(v.get(("explain", r)) or ""), str(v.get(("note", r)) or ""), op))
    for rt in reversed(tpl.rates):  # inserted in front of their category: reversed keeps the template's order
        p = f"rate.{rt.id}"
        lv = next((x for x in tpl.levels if x.name == rt.level), None)
        cat = lv.categories[0] if lv and lv.categories else ""
        rate_row = Row(rt.level, cat, rt.label, rt.weight, comp.get((p + ".score", None)),
                       target="", actual=fmt_pct(comp.get((p + ".ratio", None))), ratio=comp.get((p + ".ratio", None)),
                       explain=str(v.get((p + ".explain", None)) or ""), op="rate")
        at = next((i for i, x in enumerate(rows) if x.level == rt.level and x.category == cat), None)
        if at is None:
            at = next((i for i, x in enumerate(rows) if x.level == rt.level), None)
        if at is None:
            rows.append(rate_row)
        else:
            rows.insert(at, rate_row)
    # keep rows of one level together, in the template's level order (rates were inserted in place)
    order = {lv.name: i for i, lv in enumerate(tpl.levels)}
    return sorted(rows, key=lambda x: order.get(x.level, len(order)))


# ---- python-docx helpers ----------------------------------------------------------------------

def _set_font(target: Any, east_asia: str, size: float | None = None, bold: bool | None = None) -> None:
    """Set the Latin and the East Asian font of a run or a style (w:rFonts/@w:eastAsia)."""
    from docx.oxml.ns import qn
    from docx.shared import Pt

    font = target.font
    font.name = "Times New Roman" if east_asia != HEAD_FONT else HEAD_FONT
    if size is not None:
        font.size = Pt(size)
    if bold is not None:
        font.bold = bold
    rpr = target.element.get_or_add_rPr()
    fonts = rpr.find(qn("w:rFonts"))
    if fonts is None:
        fonts = rpr.makeelement(qn("w:rFonts"), {})
        rpr.insert(0, fonts)
    fonts.set(qn("w:eastAsia"), east_asia)


class _Doc:
    def __init__(self, lang: str):
        from docx import Document
        from docx.enum.text import WD_ALIGN_PARAGRAPH
        from docx.shared import Mm

        self.lang, self.h = lang, H[lang]
        self.d = Document()
        self.center = WD_ALIGN_PARAGRAPH.CENTER
        sec = self.d.sections[0]
        sec.page_width, sec.page_height = Mm(210), Mm(297)
        sec.top_margin, sec.bottom_margin = Mm(37), Mm(35)
        sec.left_margin, sec.right_margin = Mm(28), Mm(26)
        _set_font(self.d.styles["Normal"], BODY_FONT, 14)
        for name, size in (("Title", 22), ("Heading 1", 16), ("Heading 2", 15), ("Heading 3", 14)):
            st = self.d.styles[name]
            _set_font(st, HEAD_FONT, size, True)
            st.font.color.rgb = None
        _set_font(self.d.styles["Table Grid"], BODY_FALLBACK, 10.5)
        self._page_number_footer()

    def _page_number_footer(self) -> None:
        """A centred PAGE field in the footer ("— 1 —" as such reports number their pages)."""
        from docx.oxml import OxmlElement
        from docx.oxml.ns import qn

        p = self.d.sections[0].footer.paragraphs[0]
        p.alignment = self.center
        p.add_run("— ")
        run = p.add_run()
        for kind, text in (("begin", None), (None, " PAGE "), ("separate", None), (None, "1"), ("end", None)):
            if kind:
                el = OxmlElement("w:fldChar")
                el.set(qn("w:fldCharType"), kind)
            else:
                el = OxmlElement("w:instrText" if text == " PAGE " else "w:t")
                el.set(qn("xml:space"), "preserve")
                el.text = text
            run._r.append(el)
        p.add_run(" —")

    def heading(self, text: str, level: int = 1) -> None:
        self.d.add_heading(text, level=level)

    def para(self, text: str, bold: bool = False, center: bool = False, size: float | None = None) -> Any:
        from docx.shared import Pt

        p = self.d.add_paragraph()
        if center:
            p.alignment = self.center
        else:
            p.paragraph_format.first_line_indent = Pt(28)
        run = p.add_run(text)
        if bold or size:
            _set_font(run, HEAD_FONT if bold else BODY_FONT, size, bold or None)
        return p

    def placeholder(self, what: str) -> None:
        self.para(f"{PLACEHOLDER[self.lang]}{what}")

    def table(self, head: list[str], rows: list[list[str]], widths: list[float] | None = None) -> Any:
        from docx.shared import Cm

        t = self.d.add_table(rows=1 + len(rows), cols=len(head))
        t.style = self.d.styles["Table Grid"]
        for j, h in enumerate(head):
            cell = t.cell(0, j)
            cell.text = h
            for run in cell.paragraphs[0].runs:
                _set_font(run, HEAD_FONT, 10.5, True)
        for i, row in enumerate(rows):
            for j, val in enumerate(row):
                t.cell(1 + i, j).text = val
        if widths:
            for j, w in enumerate(widths):
                for row in t.rows:
                    row.cells[j].width = Cm(w)
        self.d.add_paragraph()
        return t

    def page_break(self) -> None:
        from docx.enum.text import WD_BREAK

        self.d.add_paragraph().add_run().add_break(WD_BREAK.PAGE)


# ---- the report -----------------------------------------------------------------------------

def build_report(rep: FileReport, tpl: Template, lang: str = "zh") -> Any:
    """The python-docx Document for one checked return."""
    lang = "en" if lang == "en" else "zh"
    D = _Doc(lang)
    h = D.h
    zh = lang == "zh"
    L, snap, comp = rep.layout, rep.snapshot, rep.computed
    assert L is not None and snap is not None and comp is not None
    v = snap.values
    hdr = {k: ("" if rep.header.get(k) is None else fmt_num(rep.header.get(k)) if k == "year" else str(rep.header.get(k)))
           for k in ("name", "department", "unit", "year")}
    rows = collect_rows(rep, tpl)
    errors = [f for f in rep.findings if f.severity == ERROR]

    # title page
    for _ in range(4):
        D.d.add_paragraph()
    D.para(hdr["name"], bold=True, center=True, size=22)
    D.para(h["title"], bold=True, center=True, size=22)
    D.para(h["draft"], center=True)
    for _ in range(3):
        D.d.add_paragraph()
    for key, k in (("dept", "department"), ("unit", "unit"), ("year", "year")):
        D.para(f"{h[key]}：{hdr[k]}" if zh else f"{h[key]}: {hdr[k]}", center=True)
    D.para(f"{h['date']}：{dt.date.today().isoformat()}" if zh else f"{h['date']}: {dt.date.today().isoformat()}", center=True)
    if errors:
        D.d.add_paragraph()
        D.para(h["errors"], bold=True)
        for f in errors:
            where = f"{f.sheet}!{f.cell} " if f.sheet and f.cell else ""
            D.para(f"{f.code} {where}{f.message(lang)}")
    D.page_break()

    # 一、基本情况
    D.heading(h["s1"], 1)
    D.heading(h["s1a"], 2)
    D.table([h["name"], h["dept"], h["unit"], h["year"]], [[hdr["name"], hdr["department"], hdr["unit"], hdr["year"]]])
    D.placeholder("项目背景、主要内容及实施情况" if zh else "background, content and implementation")
    D.heading(h["s1b"], 2)
    unit = tpl.funds_unit
    amounts = {c.id: comp.get((f"funds.amount.{c.id}", None)) for c in tpl.funds_columns}
    parts = [f"{(c.label if zh else c.en)} {fmt_num(amounts[c.id])} {unit}" for c in tpl.funds_columns]
    rates = [f"{(rt.label if zh else rt.en)} {fmt_pct(comp.get((f'rate.{rt.id}.ratio', None)))}" for rt in tpl.rates]
    D.para(("本项目" + "，".join(parts) + "；" + "，".join(rates) + "。") if zh else
           ("Funds: " + ", ".join(parts) + "; " + ", ".join(rates) + "."))
    frows = [[tpl.funds_total_label if zh else h["total"]] + [fmt_num(amounts[c.id]) for c in tpl.funds_columns]]
    for i in range(tpl.funds_item_rows):
        lab = v.get((f"funds.item{i}.label", None))
        vals = [v.get((f"funds.item{i}.{c.id}", None)) for c in tpl.funds_columns]
        if lab in (None, "") and all(x in (None, "") for x in vals):
            continue
        frows.append([str(lab or "")] + [fmt_num(x) for x in vals])
    D.table([f"{h['item']}（{unit}）" if zh else f"{h['item']} ({unit})"] + [c.label if zh else c.en for c in tpl.funds_columns], frows)
    D.table([h["l3"], h["rate"], h["w"], h["s"]],
            [[rt.label if zh else rt.en, fmt_pct(comp.get((f"rate.{rt.id}.ratio", None))), fmt_num(rt.weight),
              fmt_num(comp.get((f"rate.{rt.id}.score", None)))] for rt in tpl.rates])
    D.heading(h["s1c"], 2)
    goal = v.get(("goal.expected", None))
    D.para(("总体目标：" if zh else "Overall goal: ") + (str(goal) if goal else PLACEHOLDER[lang]))
    ind = [r for r in rows if r.op not in ("rate", "评分")]
    D.table([h["l1"], h["l2"], h["l3"], h["target"]], [[r.level, r.category, r.name, r.target] for r in ind])

    # 二、绩效评价工作开展情况
    D.heading(h["s2"], 1)
    D.heading(h["s2a"], 2)
    D.placeholder("评价目的、评价对象、评价范围、评价原则和方法" if zh else "purpose, object, scope, principles and methods")
    D.heading(h["s2b"], 2)
    has_notes = any(r.note for r in rows)
    head = [h["l1"], h["l2"], h["l3"], h["w"]] + ([h["pts"]] if has_notes else [])
    D.table(head, [[r.level, r.category, r.name, fmt_num(r.weight)] + ([r.note] if has_notes else []) for r in rows],
            widths=[1.6, 2.0, 3.2, 1.2, 8.0] if has_notes else None)
    D.heading(h["s2c"], 2)
    bands = ("；".join(f"{b.grade} ≥ {b.min:g}" for b in tpl.rating) if zh else
             "; ".join(f"{b.grade} ≥ {b.min:g}" for b in tpl.rating))
    D.para((f"总分 100 分，评价等级：{bands}（按四舍五入后的总分）。") if zh else f"Total 100; rating: {bands} (on the rounded total).")
    D.heading(h.get("s2d", "（四）绩效评价工作过程" if zh else "2.4 Process"), 2)
    D.placeholder("前期准备、组织实施、分析评价" if zh else "preparation, fieldwork, analysis")

    # 三、综合评价情况及评价结论
    D.heading(h["s3"], 1)
    total, grade = comp.get(("tot.score", None)), comp.get(("tot.grade", None))
    D.para((f"经评价，本项目总得分 {fmt_num(total)} 分，评价等级为“{grade}”。") if zh else
           f"The project scores {fmt_num(total)} in total, rating \u201c{grade}\u201d.")
    D.para(h["s3t"], bold=True, center=True)
    trows = [[r.level, r.category, r.name, fmt_num(r.weight), fmt_num(r.score),
              fmt_pct(r.score / r.weight) if _num(r.score) is not None and r.weight else ""] for r in rows]
    tw = comp.get(("tot.weight", None))
    trows.append([h["total"], "", "", fmt_num(tw), fmt_num(total), fmt_pct(_num(total) / 100) if _num(total) is not None else ""])
    D.table([h["l1"], h["l2"], h["l3"], h["w"], h["s"], h["r"]], trows)
    D.placeholder("主要绩效" if zh else "main results")

    # 四、绩效评价指标分析
    D.heading(h["s4"], 1)
    cn = "一二三四五六七八九十"
    for i, lv in enumerate(tpl.levels):
        mine = [r for r in rows if r.level == lv.name]
        if not mine:
            continue
        w, s = comp.get((f"lv.{i}.weight", None)), comp.get((f"lv.{i}.score", None))
        D.heading(f"（{cn[i] if i < 10 else i + 1}）{lv.name}" if zh else f"4.{i + 1} {lv.en or lv.name}", 2)
        lvname = lv.name if lv.name.endswith("指标") else lv.name + "指标"
        D.para((f"{lvname}由 {len(mine)} 个三级指标构成，权重为 {fmt_num(w)} 分，实际得分 {fmt_num(s)} 分。") if zh else
               f"{len(mine)} indicators, weight {fmt_num(w)}, score {fmt_num(s)}.")
        for r in mine:
            bits = []
            if r.target:
                bits.append(("指标值 " if zh else "target ") + r.target)
            if r.actual:
                bits.append(("实际完成 " if zh else "actual ") + r.actual)
            if r.op not in ("rate",) and _num(r.ratio) is not None:
                bits.append(("完成率 " if zh else "completion ") + fmt_pct(r.ratio))
            bits.append((f"得 {fmt_num(r.score)} 分（分值 {fmt_num(r.weight)}）") if zh else
                        f"score {fmt_num(r.score)} of {fmt_num(r.weight)}")
            text = f"{r.name}：" + "，".join(bits) + "。" if zh else f"{r.name}: " + ", ".join(bits) + "."
            if r.explain:
                text += ("说明：" if zh else " Explanation: ") + r.explain
            D.para(text)

    # 五、存在的问题及原因分析
    D.heading(h["s5"], 1)
    D.heading(h["s5a"], 2)
    D.placeholder("主要经验及做法" if zh else "experience and practice")
    D.heading(h["s5b"], 2)
    problems = problem_lines(rep, tpl, rows, lang)
    for k, line in enumerate(problems, 1):
        D.para(f"{k}. {line}")
    if not problems:
        D.para("各指标均得满分，检查未发现问题。" if zh else "Every indicator scored full marks; the check found no problems.")
    D.placeholder("问题的原因分析" if zh else "analysis of causes")

    # 六、有关建议
    D.heading(h["s6"], 1)
    D.placeholder("有关建议" if zh else "recommendations")
    return D.d


def problem_lines(rep: FileReport, tpl: Template, rows: list[Row], lang: str) -> list[str]:
    """Indicators below full marks, over-achievement, funds below threshold, and the check's findings."""
    zh = lang == "zh"
    out: list[str] = []
    for r in rows:
        s, w = _num(r.score), r.weight
        if s is not None and w is not None and s < w - 1e-9:
            why = f"（{r.explain.rstrip('。')}）" if r.explain and zh else (f" ({r.explain})" if r.explain else "")
            out.append(f"{r.name}得 {fmt_num(s)} 分，低于分值 {fmt_num(w)} 分{why}。" if zh else
                       f"{r.name} scored {fmt_num(s)} of {fmt_num(w)}{why}.")
        ratio = _num(r.ratio)
        if r.op not in ("rate", "≤", "＜") and ratio is not None and ratio >= tpl.overshoot:
            out.append(f"{r.name}完成率 {fmt_pct(ratio)}，超过指标值的 {tpl.overshoot:.0%}，目标设定可能偏低。" if zh else
                       f"{r.name} reached {fmt_pct(ratio)} of its target (≥ {tpl.overshoot:.0%}): the target may be too low.")
    comp = rep.computed or {}
    for rt in tpl.rates:
        ratio = _num(comp.get((f"rate.{rt.id}.ratio", None)))
        if rt.explain_below and ratio is not None and ratio < rt.explain_below:
            out.append(f"{rt.label} {fmt_pct(ratio)}，低于 {rt.explain_below:.0%}。" if zh else
                       f"{rt.en} {fmt_pct(ratio)} is below {rt.explain_below:.0%}.")
    for f in rep.findings:
        if f.severity in (ERROR, WARNING):
            where = f"{f.sheet}!{f.cell} " if f.sheet and f.cell else ""
            out.append(("检查：" if zh else "Check: ") + f"{f.code} {where}{f.message(lang)}")
    return out


def write_report(path: str | Path, out: str | Path, lang: str = "zh", force: bool = False,
                 templates: list[Template] | None = None, overwrite: bool = False) -> FileReport:
    """Check ``path`` and write its report draft to ``out``; refuse a return with errors unless forced."""
    from .checker import known_templates

    out = Path(out)
    if out.exists() and not overwrite:
        raise WbtoolError("O001", f"输出文件已存在：{out}（使用 --overwrite 覆盖）", f"output exists: {out} (use --overwrite)")
    rep = check_file(path, templates, keep_inputs=True)
    if rep.status == "unreadable" or rep.computed is None:
        raise WbtoolError("D002", f"{path}：无法读取或无法评分，不能生成报告", f"{path}: unreadable or not scorable: no report")
    if rep.count(ERROR) and not force:
        codes = ", ".join(sorted({f.code for f in rep.findings if f.severity == ERROR}))
        raise WbtoolError("D001", f"{path}：检查有错误（{codes}），未生成报告；核实后可用 --force 生成（首页将列出错误）",
                          f"{path}: the check found errors ({codes}); no report. Use --force to write one anyway "
                          "(its first page lists the errors)")
    tid, ver = (rep.template or "@").split("@", 1)
    tpl = known_templates(templates)[(tid, ver)]
    doc = build_report(rep, tpl, lang)
    tmp = out.with_name(f".{out.name}.tmp")
    doc.save(str(tmp))
    tmp.replace(out)
    return rep
