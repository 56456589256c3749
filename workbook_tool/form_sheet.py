"""The print-ready 自评表 sheet: the national form (财预〔2020〕10号 附件1) read by formulas from the data sheets.

Why a separate sheet rather than styling the data sheets: the data model (预算 / 指标 / 实际完成 / 评分)
keeps operator, value and unit in separate validated cells, one row per slot, which is what the
checker needs; the paper form wants "≥800本", merged level cells and one page. So the form is a
locked, formula-only *view*: every cell is a formula over the data sheets, always current, and the
cells that carry numbers (funds, rates, every indicator's 分值/得分, 总分, 等级) are layout slots, so
``wbtool check`` compares them with the Python re-score like any other formula and the LibreOffice
agreement test covers them.

Two things the expression language lacks are added here as nodes (kept out of :mod:`expr` on
purpose, the module is being changed in parallel): :class:`At` — one row of a table column, so a
scalar cell of the form can name "the score of indicator 7" — and :class:`DateText` — TEXT(x,
"yyyy-mm-dd") for deadlines. Both render a classic formula and evaluate in Python.

Blank rows: the table has one form row per indicator row (40 by default). Rows cannot be hidden by a
formula without macros, and an autofilter hides rows only when someone re-applies it, so a blank
row prints as blank space: its formulas yield "", it has no borders (borders come from a conditional
format that applies only to rows with content) and keeps the default height. Issued rows come first,
so the printed table is contiguous and the empty space sits after it.
"""
from __future__ import annotations

import datetime as dt
import math
import re
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Callable, Mapping

from .a1 import col_name as xl_col_to_name

from .expr import AND, IF, ISNUMBER, LEN, OR, ROUND, Expr, Var, XLError, lift
from .labels import label
from .slot import FORMULA, Slot

if TYPE_CHECKING:  # (layout imports this module to add the form's slots: the type only)
    from .layout import Layout

FORM = "form"
DATE_MIN, DATE_MAX = 61, 2958466  # serials where Excel and LibreOffice agree on the date (after 1900-03-01)


# ---- expression nodes -------------------------------------------------------------------------

_CELL = re.compile(r"^(.*\$[A-Z]+\$)(\d+)$")


@dataclass(eq=False)
class At(Expr):
    """Row ``index`` (0-based) of the indicator-table column ``name``: ``'评分'!$G$10``.

    Rendered from the column's range reference (the layout's ``name[]``), evaluated from the list
    the engine binds to ``name[]`` — so the engine needs nothing new to compute it."""

    name: str
    index: int

    def excel(self, refs: Mapping[str, str]) -> str:
        first = refs[self.name + "[]"].split(":")[0]
        m = _CELL.match(first)
        assert m, first
        return f"{m.group(1)}{int(m.group(2)) + self.index}"

    def _compile(self) -> Callable[[Mapping[str, Any]], Any]:
        column, index = self.name + "[]", self.index

        def at(env: Mapping[str, Any]) -> Any:
            v = env[column][index]
            return float(v) if v.__class__ is int else v

        return at

    def variables(self) -> set[str]:
        return {self.name + "[]"}


@dataclass(eq=False)
class DateText(Expr):
    """TEXT(x, "yyyy-mm-dd"); only ever applied to serials in [DATE_MIN, DATE_MAX) (see the callers)."""

    arg: Expr

    def excel(self, refs: Mapping[str, str]) -> str:
        return f'TEXT({self.arg.excel(refs)},"yyyy-mm-dd")'

    def _compile(self) -> Callable[[Mapping[str, Any]], Any]:
        arg = self.arg.compiled()

        def date_text(env: Mapping[str, Any]) -> Any:
            v = arg(env)
            if isinstance(v, XLError):
                return v
            if isinstance(v, (int, float)) and not isinstance(v, bool):
                return (dt.date(1899, 12, 30) + dt.timedelta(days=math.floor(v))).isoformat()
            return "" if v is None else str(v)

        return date_text

    def variables(self) -> set[str]:
        return self.arg.variables()


def shown(e: Expr) -> Expr:
    """A display copy that stays blank (not 0) for an empty source."""
    return IF(LEN(e).eq(0), "", e)


def shown_at(L: "Layout", name: str, index: int) -> Expr:
    """``shown(At(name, index))``, one object per layout: the writer memoises a display formula's
    text and closure by its expression object (writer._form_formula), so it must not be rebuilt per file."""
    memo = L.cache.setdefault("form_shown_at", {})
    got = memo.get((name, index))
    if got is None:
        got = memo[(name, index)] = shown(At(name, index))
    return got


def as_date_or(e: Expr, other: Expr) -> Expr:
    return IF(AND(ISNUMBER(e), e >= DATE_MIN, e < DATE_MAX), DateText(e), other)


# ---- geometry -----------------------------------------------------------------------------------

@dataclass
class FormGeometry:
    """0-based rows and columns of the blocks of the form (the writer draws around the slots)."""

    n_cols: int
    name_row: int
    dept_row: int
    funds_header: int
    funds_total: int
    funds_items: int
    rates_first: int  # first extra rate row (templates with more than one rate)
    goal_row: int
    table_header: int
    table_first: int
    total_row: int
    levels_header: int
    sign_row: int
    has_notes: bool
    rate_on_total: bool
    # display-only formulas (not slots): (row, col, expr, format) — see add_form_slots
    display: list = field(default_factory=list)


def _cols(L: "Layout") -> dict[str, int]:
    c = {"level": 0, "category": 1, "name": 2, "target": 3, "actual": 4, "weight": 5, "score": 6, "explain": 7}
    if any(d.note for d in L.tpl.indicators):
        c["note"] = 8
    return c


def add_form_slots(L: "Layout") -> None:
    """Put the form's computed cells into the layout (reader, checker and engine then know them)."""
    tpl, lang = L.tpl, L.lang
    cols = _cols(L)
    nf = len(tpl.funds_columns)
    n_cols = max(len(cols), 2 + nf + 3)
    rate_on_total = len(tpl.rates) == 1
    r = 2
    name_row, dept_row = r, r + 1
    funds_header = r + 2
    funds_total = funds_header + 1
    funds_items = funds_total + 1
    rates_first = funds_items + tpl.funds_item_rows
    goal_row = rates_first + (0 if rate_on_total else len(tpl.rates))
    table_header = goal_row + 3
    table_first = table_header + 1
    total_row = table_first + L.n_rows
    levels_header = total_row + 2
    sign_row = levels_header + 1 + len(tpl.levels) + 2
    G = FormGeometry(n_cols, name_row, dept_row, funds_header, funds_total, funds_items, rates_first, goal_row,
                     table_header, table_first, total_row, levels_header, sign_row, "note" in cols, rate_on_total)
    L.form = G  # type: ignore[attr-defined]

    def add(key: str, row: int, col: int, expr: Expr, fmt: str) -> None:
        L.add(Slot(key, FORM, col, row, FORMULA, expr=expr, fmt=fmt))

    add("f.hdr.name", name_row, 1, shown(Var("hdr.name")), "f_text")
    add("f.hdr.department", dept_row, 1, shown(Var("hdr.department")), "f_text")
    add("f.hdr.unit", dept_row, 5, shown(Var("hdr.unit")), "f_text")
    year = Var("hdr.year")
    year_text = (lift("（") & year & label("form.year_suffix", lang) & "）") if lang != "en" else (lift("(") & year & ")")
    G.display.append((1, 0, IF(LEN(year).eq(0), "", year_text), "f_center"))  # joins a number: display only
    for j, c in enumerate(tpl.funds_columns):
        add(f"f.funds.total.{c.id}", funds_total, 2 + j, Var(f"funds.amount.{c.id}"), "f_money")
        for i in range(tpl.funds_item_rows):
            add(f"f.funds.item{i}.{c.id}", funds_items + i, 2 + j, shown(Var(f"funds.item{i}.{c.id}")), "f_money")
    for i in range(tpl.funds_item_rows):
        add(f"f.funds.item{i}.label", funds_items + i, 1, shown(Var(f"funds.item{i}.label")), "f_shrink")
    for k, rt in enumerate(tpl.rates):
        row = funds_total if rate_on_total else rates_first + k
        p = f"rate.{rt.id}"
        add(f"f.{p}.weight", row, 2 + nf, Var(p + ".weight"), "f_num")
        add(f"f.{p}.ratio", row, 3 + nf, Var(p + ".ratio"), "f_pct")
        add(f"f.{p}.score", row, 4 + nf, Var(p + ".score"), "f_num")
    add("f.goal.expected", goal_row + 1, 1, shown(Var("goal.expected")), "f_wrap")
    half = 1 + (n_cols - 1) // 2
    add("f.goal.actual", goal_row + 1, half, shown(Var("goal.actual")), "f_wrap")

    judged = tuple(op for op in tpl.operators if op in ("定性", "评分")) + ("评分",)
    for i in range(L.n_rows):
        row = table_first + i
        op, t, u = At("a_op", i), At("a_target", i), At("a_unit", i)
        is_judged = OR(*[op.eq(o) for o in dict.fromkeys(judged)])
        is_date = u.eq(tpl.date_unit)
        target = IF(LEN(t).eq(0), "", IF(is_judged, t, IF(is_date, op & as_date_or(t, t), op & t & u)))
        a, g = At("actual", i), At("grade", i)
        actual = IF(is_judged, IF(LEN(g).eq(0), shown(a), g),
                    IF(LEN(a).eq(0), "", IF(is_date, as_date_or(a, a), IF(ISNUMBER(a), a & u, a))))
        add(f"f.row{i}.name", row, cols["name"], At("a_name", i), "f_row_wrap")
        # "≥800本" joins a number to text, and engines turn numbers into text differently (Gnumeric
        # writes 90.4 as "90.40000000000001", LibreOffice 1E20 as "1E+020"): these two cells are
        # display only, not slots, so `check` never reports an engine's spelling of a number as X001
        G.display.append((row, cols["target"], target, "f_row_center"))
        G.display.append((row, cols["actual"], actual, "f_row_center"))
        add(f"f.row{i}.weight", row, cols["weight"], At("a_weight", i), "f_row_num")
        add(f"f.row{i}.score", row, cols["score"], At("score", i), "f_row_num")
        add(f"f.row{i}.explain", row, cols["explain"], shown(At("explain", i)), "f_row_wrap")
        if "note" in cols:
            add(f"f.row{i}.note", row, cols["note"], shown(At("note", i)), "f_row_small")
    add("f.tot.weight", total_row, cols["weight"], Var("tot.weight"), "f_num_bold")
    add("f.tot.score", total_row, cols["score"], Var("tot.score"), "f_num_bold")
    add("f.tot.grade", total_row, cols["explain"], Var("tot.grade"), "f_bold")
    for i, lv in enumerate(tpl.levels):
        row = levels_header + 1 + i
        w, s = Var(f"lv.{i}.weight"), Var(f"lv.{i}.score")
        add(f"f.lv.{i}.weight", row, 1, w, "f_num")
        add(f"f.lv.{i}.score", row, 2, s, "f_num")
        add(f"f.lv.{i}.rate", row, 3, IF(w > 0, ROUND(s / w, 4), ""), "f_pct")
    add("f.lvtot.weight", levels_header + 1 + len(tpl.levels), 1, Var("tot.weight"), "f_num_bold")
    add("f.lvtot.score", levels_header + 1 + len(tpl.levels), 2, Var("tot.score"), "f_num_bold")
    sd = Var("sign.date")
    G.display.append((sign_row, 0,
        lift(label("sum.lead", lang) + "：") & shown(Var("sign.lead")) & ("　　　　" + label("sum.finance", lang) + "：")
        & shown(Var("sign.finance")) & ("　　　　" + label("sum.date", lang) + "：") & as_date_or(sd, shown(sd)),
        "f_plain"))


# ---- drawing ------------------------------------------------------------------------------------

FORM_FORMATS: dict[str, dict[str, Any]] = {
    "f_title": {"bold": True, "font_size": 16, "align": "center", "border": 0, "font_name": "黑体"},
    "f_center": {"align": "center", "text_wrap": True},
    "f_text": {"text_wrap": True},
    "f_shrink": {"shrink": True},  # row labels in a narrow column: shrink rather than wrap into a one-line row
    "f_wrap": {"text_wrap": True, "valign": "top"},
    "f_wrap_small": {"text_wrap": True, "valign": "top", "font_size": 8},
    "f_label": {"bold": True, "align": "center", "text_wrap": True},
    "f_head": {"bold": True, "align": "center", "text_wrap": True, "bg_color": "#F2F2F2"},
    "f_money": {"num_format": "#,##0.00", "align": "right"},
    "f_num": {"num_format": "0.00", "align": "center"},
    "f_num_bold": {"num_format": "0.00", "align": "center", "bold": True},
    "f_pct": {"num_format": "0.00%", "align": "center"},
    "f_bold": {"bold": True, "align": "center"},
    "f_plain": {"border": 0},
    # indicator rows: no borders of their own (a conditional format draws them on rows with content)
    "f_row_center": {"align": "center", "text_wrap": True, "border": 0},
    "f_row_wrap": {"text_wrap": True, "border": 0},
    "f_row_num": {"num_format": "0.00", "align": "center", "border": 0},
    "f_row_small": {"text_wrap": True, "font_size": 8, "border": 0},
}


def text_lines(text: str, width_chars: float) -> int:
    """Lines a wrapped text takes in a column ``width_chars`` wide (a CJK character counts double)."""
    if not text:
        return 1
    text = str(text)
    w = len(text) + len(_WIDE.findall(text))  # (a regex, not a loop over characters: issued rows have long notes)
    return max(1, math.ceil(w / max(width_chars - 1, 1)))


_WIDE = re.compile("[\u2e81-\U0010ffff]")  # characters after U+2E80 (CJK and beyond) count double


def write_form(w: Any, formula: Callable[..., None]) -> None:
    """Draw the 自评表 sheet on writer ``w``: labels, merges, and the formulas of the layout's form slots.

    ``formula(ws, row, col, expr, fmt_name)`` writes a formula that is *not* a slot (merged level
    cells) with its cached value; slot formulas go through the writer's own path."""
    L, lang, tpl = w.L, w.lang, w.tpl
    G: FormGeometry = L.form
    ws = w.ws[FORM]
    f = w.fmt
    cols = _cols(L)
    last = G.n_cols - 1
    lab = lambda k, **kw: label(k, lang, **kw)  # noqa: E731
    nf = len(tpl.funds_columns)
    widths = {"level": 8, "category": 10, "name": 20, "target": 11, "actual": 11, "weight": 7, "score": 7,
              "explain": 24, "note": 40}
    for key, c in cols.items():
        ws.set_column(c, c, widths[key])
    ws.hide_gridlines(2)
    ws.merge_range(0, 0, 0, last, lab("form.title"), f["f_title"])
    ws.set_row(0, 30)
    ws.merge_range(1, 0, 1, last, "", f["f_plain"])  # the year formula (slot) is written into A2 below
    ws.write_string(G.name_row, 0, lab("hdr.name"), f["f_label"])
    ws.merge_range(G.name_row, 1, G.name_row, last, "", f["f_text"])
    ws.write_string(G.dept_row, 0, lab("hdr.department"), f["f_label"])
    ws.merge_range(G.dept_row, 1, G.dept_row, 3, "", f["f_text"])
    ws.write_string(G.dept_row, 4, lab("hdr.unit"), f["f_label"])
    ws.merge_range(G.dept_row, 5, G.dept_row, last, "", f["f_text"])
    # funds block
    funds_last = G.rates_first - 1 if G.rate_on_total else G.goal_row - 1
    ws.merge_range(G.funds_header, 0, funds_last, 0, lab("form.funds", unit=tpl.funds_unit), f["f_label"])
    ws.write_string(G.funds_header, 1, "", f["f_head"])
    for j, c in enumerate(tpl.funds_columns):
        ws.write_string(G.funds_header, 2 + j, c.label if lang != "en" else c.en, f["f_head"])
    rate_hdr = (tpl.rates[0].label if lang != "en" else tpl.rates[0].en) if G.rate_on_total else lab("rates.ratio")
    for k, key in enumerate(("rates.weight", None, "rates.score")):
        ws.write_string(G.funds_header, 2 + nf + k, lab(key) if key else rate_hdr, f["f_head"])
    ws.write_string(G.funds_total, 1, tpl.funds_total_label if lang != "en" else "Total", f["f_shrink"])
    for i in range(tpl.funds_item_rows):
        for k in range(3):
            if G.rate_on_total:
                ws.write_blank(G.funds_items + i, 2 + nf + k, None, f["f_text"])
    if not G.rate_on_total:
        for k in range(3):
            ws.write_blank(G.funds_total, 2 + nf + k, None, f["f_text"])
        for k, rt in enumerate(tpl.rates):
            r = G.rates_first + k
            ws.write_string(r, 1, rt.label if lang != "en" else rt.en, f["f_shrink"])
            for j in range(nf):
                ws.write_blank(r, 2 + j, None, f["f_text"])
    # goal
    half = 1 + (G.n_cols - 1) // 2
    ws.merge_range(G.goal_row, 0, G.goal_row + 1, 0, lab("sum.goal"), f["f_label"])
    ws.merge_range(G.goal_row, 1, G.goal_row, half - 1, lab("sum.goal_expected"), f["f_head"])
    ws.merge_range(G.goal_row, half, G.goal_row, last, lab("sum.goal_actual"), f["f_head"])
    ws.merge_range(G.goal_row + 1, 1, G.goal_row + 1, half - 1, "", f["f_wrap"])
    ws.merge_range(G.goal_row + 1, half, G.goal_row + 1, last, "", f["f_wrap"])
    exp_text = (w.project.goal_expected if w.project else "") or ""
    goal_width = sum(widths[k] for k, c in cols.items() if 1 <= c < half)
    ws.set_row(G.goal_row + 1, max(60, 14 * text_lines(exp_text, goal_width) + 4))
    # indicator table
    heads = {"level": "col.level", "category": "col.category", "name": "col.name", "target": "form.target",
             "actual": "col.actual", "weight": "col.weight", "score": "col.score", "explain": "col.explain",
             "note": "form.note"}
    for key, c in cols.items():
        ws.write_string(G.table_header, c, lab(heads[key]), f["f_head"])
    ws.set_row(G.table_header, 30)
    issued = len(w.out.issued_rows)
    runs = _runs(w, issued) if issued else []
    issued_texts = _issued_texts(w)
    merged: set[tuple[int, int]] = set()
    for r, c, expr, fmt in G.display:
        formula(ws, r, c, expr, fmt)
    for col_key, src, start, end in runs:
        c = cols[col_key]
        expr = shown_at(L, src, start)
        if end > start:
            ws.merge_range(G.table_first + start, c, G.table_first + end, c, "", f["f_row_center"])
        formula(ws, G.table_first + start, c, expr, "f_row_center")
        merged |= {(i, c) for i in range(start, end + 1)}
    for i in range(L.n_rows):
        for col_key, src in (("level", "s_level"), ("category", "category")):
            c = cols[col_key]
            if (i, c) not in merged:
                formula(ws, G.table_first + i, c, shown_at(L, src, i), "f_row_center")
        spec = issued_texts[i] if i < len(issued_texts) else {}
        if spec:  # XlsxWriter cannot autofit: issued rows get the height their known texts need
            shown_target = f'{spec.get("op") or ""}{spec.get("target") or ""}{spec.get("unit") or ""}'
            texts = {"level": spec.get("level"), "category": spec.get("category"), "name": spec.get("name"),
                     "target": shown_target, "explain": spec.get("explain"), "note": spec.get("note")}
            lines = max(text_lines(str(t or ""), widths[k] * (1.25 if k == "note" else 1)) * (0.8 if k == "note" else 1)
                        for k, t in texts.items() if k in cols)
            ws.set_row(G.table_first + i, min(409, max(15, 13.5 * lines + 3)))
    # borders only on rows with content: blank rows vanish from the printed table
    first, lastr = G.table_first, G.table_first + L.n_rows - 1
    name_col = xl_col_to_name(cols["name"])
    border = w.wb.add_format({"border": 1, "border_color": "#000000"})
    ws.conditional_format(first, 0, lastr, last, {
        "type": "formula", "criteria": f'=OR(LEN(${name_col}{first + 1})>0,LEN(${xl_col_to_name(cols["weight"])}{first + 1})>0)',
        "format": border})
    # totals, levels, signature
    ws.merge_range(G.total_row, 0, G.total_row, cols["weight"] - 1, lab("tot.score"), f["f_label"])
    ws.write_string(G.levels_header - 1, 0, lab("form.levels_title"), w.fmt["label_bold"])
    for j, k in enumerate(("lv.name", "col.weight", "lv.score", "sum.rate")):
        ws.write_string(G.levels_header, j, lab(k), f["f_head"])
    for i, lv in enumerate(tpl.levels):
        ws.write_string(G.levels_header + 1 + i, 0, lv.name if lang != "en" else (lv.en or lv.name), f["f_label"])
    tr = G.levels_header + 1 + len(tpl.levels)
    ws.write_string(tr, 0, lab("tot.score"), f["f_label"])
    ws.write_blank(tr, 3, None, f["f_text"])
    ws.merge_range(G.sign_row, 0, G.sign_row, last, "", f["f_plain"])
    ws.set_row(G.sign_row, 24)
    ws.write_string(G.sign_row + 1, 0, lab("form.stamp"), f["f_plain"])


def _issued_texts(w: Any) -> list[dict[str, Any]]:
    """The issued rows' texts (the project's, or the template's default rows), once per sheet, not per row."""
    return w.project.indicators if w.project else [
        {"level": d.level, "category": d.category, "name": d.name, "op": d.op, "target": d.target, "unit": d.unit,
         "note": d.note} for d in w.tpl.indicators]


def _runs(w: Any, issued: int) -> list[tuple[str, str, int, int]]:
    """Runs of equal 一级 (and, inside them, 二级) among the issued rows: merged as on the form."""
    rows = w.project.indicators if w.project else [{"level": d.level, "category": d.category} for d in w.tpl.indicators]
    rows = rows[:issued]
    out: list[tuple[str, str, int, int]] = []
    for key, src, parent in (("level", "s_level", None), ("category", "category", "level")):
        start = 0
        for i in range(1, len(rows) + 1):
            same = i < len(rows) and rows[i].get(key) == rows[start].get(key) and rows[i].get(key) and (
                parent is None or rows[i].get(parent) == rows[start].get(parent))
            if not same:
                if rows[start].get(key):
                    out.append((key, src, start, i - 1))
                start = i
    return out


def setup_print(w: Any) -> None:
    """A4 portrait, one page wide, the table header repeated, print area over the whole form."""
    G: FormGeometry = w.L.form
    ws = w.ws[FORM]
    ws.set_paper(9)
    ws.set_portrait()
    ws.fit_to_pages(1, 0)
    ws.center_horizontally()
    ws.set_margins(left=0.5, right=0.5, top=0.6, bottom=0.7)
    ws.repeat_rows(G.table_header)
    ws.print_area(0, 0, G.sign_row + 1, G.n_cols - 1)


def cached(v: Any) -> Any:
    """What to store as a formula's cached result: numbers as numbers, the rest as text."""
    if v is None:
        return ""
    if isinstance(v, bool):
        return "TRUE" if v else "FALSE"
    if isinstance(v, (int, float)):
        return v if math.isfinite(v) else ""
    return str(v)

