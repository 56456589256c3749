"""Where every cell goes: one description for the writer that places cells and the reader that finds them.

A :class:`Layout` is built from a template and a language. It lists *slots*: named cells (scalars)
and named columns of the indicator table, each with its kind (issued, input, formula, constant),
header label and, for formulas, the expression from :mod:`rules`. Formula text is produced here by
binding variable names to A1 references, so the writer and the checker cannot disagree about a
position or a formula.
"""
from __future__ import annotations

import functools
from dataclasses import dataclass, field
from typing import Any

from .a1 import col_name as xl_col_to_name, rowcol_to_cell as xl_rowcol_to_cell

from . import checks, rules
from .form_sheet import add_form_slots
from .expr import IF, ROUND, SUM, Expr, Num, Range, Var, render
from .labels import label
from .slot import CONST, FORMULA, INPUT, ISSUED, Slot
from .template import Template


SHEETS = ("guide", "budget", "indicators", "actuals", "scoring", "summary", "form", "lists", "meta")
TABLE_SHEETS = ("indicators", "actuals", "scoring")
# sheets the writer protects (formulas and issued cells locked); a return without it is worth a warning
PROTECTED_SHEETS = ("guide", "budget", "indicators", "actuals", "scoring", "summary", "meta")
HEADER_ROW = 2  # 0-based row of the indicator-table headers on each table sheet
FIRST_ROW = 3   # 0-based first indicator row
CHECK_COL = 20  # first hidden flag column of the declared checks (actuals: one per check; budget: rates)

META_FIRST_ROW = 2  # 0-based row of the first key/value entry on the metadata sheet

HEADER_FIELDS = ("name", "department", "unit", "year")


@dataclass
class Layout:
    tpl: Template
    lang: str
    slots: dict[str, Slot] = field(default_factory=dict)
    sheet_names: dict[str, str] = field(default_factory=dict)

    def __getstate__(self) -> dict[str, Any]:
        """Pickled without its memo (compiled closures do not pickle; the memo is rebuilt on use)."""
        state = dict(self.__dict__)
        state["cache"] = {k: v for k, v in self.cache.items() if k == "built"}
        return state

    # ---- geometry ---------------------------------------------------------------------------
    @property
    def n_rows(self) -> int:
        return self.tpl.indicator_rows

    @property
    def end_row(self) -> int:
        """0-based row of the end marker just below the table (detects inserted/deleted rows)."""
        return FIRST_ROW + self.n_rows

    def rows(self) -> range:
        return range(FIRST_ROW, FIRST_ROW + self.n_rows)

    def columns(self, sheet: str | None = None) -> list[Slot]:
        return list(self._slots_of("columns", sheet))

    def scalars(self, sheet: str | None = None) -> list[Slot]:
        return list(self._slots_of("scalars", sheet))

    def _slots_of(self, kind: str, sheet: str | None) -> list[Slot]:
        """The column or scalar slots (of one sheet), in slot order: memoised once the layout is built
        (the writer asks for them per table and per file; each walk is over every slot)."""
        built = self.cache.get("built", False)
        got = self.cache.get(("slots", kind, sheet)) if built else None
        if got is None:
            got = [s for s in self.slots.values() if s.is_column == (kind == "columns") and (sheet is None or s.sheet == sheet)]
            if built:
                self.cache[("slots", kind, sheet)] = got
        return got

    def add(self, slot: Slot) -> Slot:
        if slot.key in self.slots:
            raise ValueError(f"duplicate slot {slot.key}")
        if self.cache.get("built"):
            raise ValueError(f"slot {slot.key} added to a built layout (layouts are shared and memoised)")
        self.slots[slot.key] = slot
        return slot

    # ---- references -------------------------------------------------------------------------
    def _qualify(self, sheet: str, from_sheet: str, a1: str) -> str:
        if sheet == from_sheet:
            return a1
        return f"'{self.sheet_names[sheet]}'!{a1}"

    def ref(self, name: str, from_sheet: str, row: int | None = None) -> str:
        if name.endswith("[]"):
            s = self.slots[name[:-2]]
            col = "$" + xl_col_to_name(s.col)
            a1 = f"{col}${FIRST_ROW + 1}:{col}${FIRST_ROW + self.n_rows}"
            return self._qualify(s.sheet, from_sheet, a1)
        if name in self._ranges:
            sheet, a1 = self._ranges[name]
            return self._qualify(sheet, from_sheet, a1)
        s = self.slots[name]
        if s.is_column:
            if row is None:
                raise ValueError(f"{name} is a column; a row is needed")
            a1 = "$" + xl_col_to_name(s.col) + str(row + 1)
        else:
            a1 = xl_rowcol_to_cell(s.row, s.col, row_abs=True, col_abs=True)
        return self._qualify(s.sheet, from_sheet, a1)

    def formula(self, slot: Slot, row: int | None = None) -> str:
        """The formula text of a slot (memoised: a layout is built once and then only read)."""
        key = (slot.key, row)
        f = self.cache.get(key)
        if f is None:
            assert slot.expr is not None
            f = self.cache[key] = self.render_at(slot.expr, slot.sheet, row)
        return f

    def render_at(self, expr: Expr, sheet: str, row: int | None = None) -> str:
        """``expr`` as a formula written on ``sheet`` (row ``row`` for column variables): cells,
        conditional formats and validations all render through here."""
        return render(expr, {n: self.ref(n, sheet, row) for n in expr.variables()})

    def a1(self, slot: Slot, row: int | None = None) -> str:
        return xl_rowcol_to_cell(slot.row if row is None else row, slot.col)

    def sheet(self, key: str) -> str:
        return self.sheet_names[key]

    _ranges: dict[str, tuple[str, str]] = field(default_factory=dict)
    # memo of derived, immutable facts (formula texts, evaluation order, digest); a layout is never
    # changed once built, and the checker shares one per template and language across files
    cache: dict[Any, Any] = field(default_factory=dict, repr=False, compare=False)
    # anchor rows of the blocks the writer decorates with titles and headers (0-based)
    funds_header_row: int = 0
    funds_rows: tuple[int, int, int, int] = (0, 0, 0, 0)  # total, first item, last item, item sum
    rates_header_row: int = 0
    level_col: int = 0
    totals_row: int = 0
    summary_levels_row: int = 0
    summary_goal_row: int = 0
    form: Any = None  # form_sheet.FormGeometry: where the 自评表's blocks are


def _col_ref_expr(src: str) -> Expr:
    return rules.ref_or_blank(src)


def build_layout(tpl: Template, lang: str = "zh") -> Layout:
    L = Layout(tpl, lang)
    L.sheet_names = {k: label(f"sheet.{k}", lang) for k in SHEETS}
    lab = lambda k, **kw: label(k, lang, **kw)  # noqa: E731

    # ---- 预算: project header, funds, funds-derived rates --------------------------------------
    for i, f in enumerate(HEADER_FIELDS):
        L.add(Slot(f"hdr.{f}", "budget", 1, 2 + i, ISSUED, lab(f"hdr.{f}"), fmt="text_in", width=40))
    frow = 2 + len(HEADER_FIELDS) + 2  # funds table header row
    L.funds_header_row = frow
    cols = tpl.funds_columns
    total_row = frow + 1
    for j, c in enumerate(cols):
        kind = ISSUED if c.issued else INPUT
        L.add(Slot(f"funds.total.{c.id}", "budget", 1 + j, total_row, kind, c.label if lang == "zh" else c.en,
                   fmt="money_in", validate="amount"))
    for i in range(tpl.funds_item_rows):
        r = total_row + 1 + i
        fixed = i < len(tpl.funds_items)
        L.add(Slot(f"funds.item{i}.label", "budget", 0, r, CONST if fixed else ISSUED,
                   value=tpl.funds_items[i] if fixed else None, fmt="label" if fixed else "text_in"))
        for j, c in enumerate(cols):
            L.add(Slot(f"funds.item{i}.{c.id}", "budget", 1 + j, r, ISSUED if c.issued else INPUT,
                       fmt="money_in", validate="amount"))
    items_first, items_last = total_row + 1, total_row + tpl.funds_item_rows
    sum_row = items_last + 1
    for j, c in enumerate(cols):
        colname = xl_col_to_name(1 + j)
        L._ranges[f"funds.items.{c.id}"] = ("budget", f"${colname}${items_first + 1}:${colname}${items_last + 1}")
        L.add(Slot(f"funds.itemsum.{c.id}", "budget", 1 + j, sum_row, FORMULA,
                   expr=SUM(Range(f"funds.items.{c.id}")), fmt="money_out"))
        L.add(Slot(f"funds.amount.{c.id}", "budget", 1 + j, sum_row + 1, FORMULA,
                   expr=rules.funds_amount(f"funds.total.{c.id}", f"funds.itemsum.{c.id}"), fmt="money_out"))
    L.funds_rows = (total_row, items_first, items_last, sum_row)

    rrow = sum_row + 3  # rates header row
    L.rates_header_row = rrow
    for i, rt in enumerate(tpl.rates):
        r = rrow + 1 + i
        p = f"rate.{rt.id}"
        L.add(Slot(p + ".label", "budget", 0, r, CONST, value=rt.label if lang == "zh" else rt.en, fmt="label"))
        L.add(Slot(p + ".level", "budget", 1, r, CONST, value=rt.level, fmt="label"))
        L.add(Slot(p + ".ratio", "budget", 2, r, FORMULA,
                   expr=rules.rate_ratio(Var(f"funds.amount.{rt.numerator}"), Var(f"funds.amount.{rt.denominator}")),
                   fmt="pct_out"))
        L.add(Slot(p + ".weight", "budget", 3, r, CONST, value=rt.weight, fmt="num_const"))
        L.add(Slot(p + ".score", "budget", 4, r, FORMULA, expr=rules.rate_score(p + ".ratio", p + ".weight", tpl),
                   fmt="num_out"))
        L.add(Slot(p + ".need", "budget", 5, r, FORMULA,
                   expr=rules.rate_need_explain(p + ".ratio", rt.explain_below, lang), fmt="flag_out"))
        L.add(Slot(p + ".explain", "budget", 6, r, INPUT, fmt="text_in", width=40))
        L.add(Slot(p + ".hint", "budget", 7, r, FORMULA, expr=checks.rate_cue(rt.id, lang), fmt="hint_out", width=16))
        L.add(Slot(p + ".flag", "budget", CHECK_COL, r, FORMULA, expr=IF(checks.rate_explain_missing(rt.id, lang), 1, ""),
                   fmt=""))

    # ---- 指标: the issued indicator table ------------------------------------------------------
    ind = [
        ("level", "col.level", 12, "level"), ("category", "col.category", 14, "category"),
        ("name", "col.name", 28, ""), ("op", "col.op", 8, "op"), ("target", "col.target", 11, "target"),
        ("unit", "col.unit", 8, "unit"), ("weight", "col.weight", 7, "weight"), ("note", "col.note", 48, ""),
    ]
    L.add(Slot("no", "indicators", 0, None, CONST, lab("col.no"), fmt="label", width=5))
    for j, (key, hdr, width, val) in enumerate(ind):
        # 评价要点 and names wrap: unwrapped, dept-eval's long notes made the sheet print at a third of its size
        fmt = {"weight": "num_in", "target": "target_in", "note": "wrap_in", "name": "wrap_in"}.get(key, "text_in")
        L.add(Slot(key, "indicators", 1 + j, None, ISSUED, lab(hdr), fmt=fmt, width=width, validate=val))

    # ---- 实际完成: what the unit fills in --------------------------------------------------------
    L.add(Slot("a_no", "actuals", 0, None, CONST, lab("col.no"), fmt="label", width=5))
    for j, (key, src, hdr, width, fmt) in enumerate([
        ("a_name", "name", "col.name", 28, "text_out"), ("a_op", "op", "col.op", 8, "text_out"),
        ("a_target", "target", "col.target", 11, "target_out"), ("a_unit", "unit", "col.unit", 8, "text_out"),
        ("a_weight", "weight", "col.weight", 7, "num_out"),
    ]):
        L.add(Slot(key, "actuals", 1 + j, None, FORMULA, lab(hdr), expr=_col_ref_expr(src), fmt=fmt, width=width))
    for j, (key, hdr, width, fmt, val) in enumerate([
        ("actual", "col.actual", 12, "actual_in", "actual"), ("grade", "col.grade", 26, "text_in", "grade"),
        ("manual", "col.manual", 10, "num_in", "manual"), ("na", "col.na", 8, "text_in", "na"),
        ("explain", "col.explain", 44, "wrap_in", ""),
    ]):
        L.add(Slot(key, "actuals", 6 + j, None, INPUT, lab(hdr), fmt=fmt, width=width, validate=val))
    L.add(Slot("a_score", "actuals", 11, None, FORMULA, lab("col.score"), expr=_col_ref_expr("score"), fmt="num_out", width=8))
    L.add(Slot("a_need", "actuals", 12, None, FORMULA, lab("col.need_explain"), expr=_col_ref_expr("need"),
               fmt="flag_out", width=7))
    L.add(Slot("a_band", "actuals", 13, None, FORMULA, lab("col.band"), expr=_col_ref_expr("band"),
               fmt="flag_out", width=9))
    # the declared input checks (checks.py): a visible cue, and one hidden flag column per check
    L.add(Slot("a_hint", "actuals", 14, None, FORMULA, lab("col.hint"), expr=checks.cue(tpl, lang), fmt="hint_out",
               width=22))
    for j, c in enumerate(checks.ROW_CHECKS):
        L.add(Slot(c.flag, "actuals", CHECK_COL + j, None, FORMULA, c.code, expr=checks.flag(c, tpl, lang), fmt="",
                   width=4))

    # ---- 评分: computed, locked ------------------------------------------------------------------
    L.add(Slot("s_no", "scoring", 0, None, CONST, lab("col.no"), fmt="label", width=5))
    for j, (key, expr, hdr, width, fmt) in enumerate([
        ("s_level", _col_ref_expr("level"), "col.level", 12, "text_out"),
        ("s_name", _col_ref_expr("name"), "col.name", 28, "text_out"),
        ("s_weight", _col_ref_expr("weight"), "col.weight", 7, "num_out"),
        ("ratio", rules.ratio(tpl), "col.ratio", 9, "pct_out"),
        ("score", rules.score(tpl, lang), "col.score", 8, "num_out"),
        ("w_app", rules.counted_weight(tpl, lang), "col.w_app", 8, "num_out"),
        ("w_na", rules.na_weight(tpl, lang), "col.w_na", 8, "num_out"),
        ("need", rules.need_explain(tpl, lang), "col.need_explain", 7, "flag_out"),
        ("band", rules.grade_band(tpl, lang), "col.band", 10, "flag_out"),
    ]):
        L.add(Slot(key, "scoring", 1 + j, None, FORMULA, lab(hdr), expr=expr, fmt=fmt, width=width))

    lc = 12  # level block starts at column M
    L.level_col = lc
    for i, lv in enumerate(tpl.levels):
        r = FIRST_ROW + i
        p = f"lv.{i}"
        rates_here = [rt for rt in tpl.rates if rt.level == lv.name]
        L.add(Slot(p + ".name", "scoring", lc, r, CONST, value=lv.name, fmt="label"))
        # the level's weight as issued: the template's, or the project's adjusted weight (domain §2a)
        L.add(Slot(p + ".std", "scoring", lc + 1, r, ISSUED, value=lv.weight, fmt="num_in"))
        L.add(Slot(p + ".weight", "scoring", lc + 2, r, FORMULA,
                   expr=rules.level_sum(lv.name, "weight", [f"rate.{rt.id}.weight" for rt in rates_here]), fmt="num_out"))
        L.add(Slot(p + ".score", "scoring", lc + 3, r, FORMULA,
                   expr=rules.level_sum(lv.name, "score", [f"rate.{rt.id}.score" for rt in rates_here]), fmt="num_out"))
        L.add(Slot(p + ".na", "scoring", lc + 4, r, FORMULA, expr=rules.level_sum(lv.name, "w_na", []), fmt="num_out"))
        L.add(Slot(p + ".check", "scoring", lc + 5, r, FORMULA, expr=rules.weight_check(p + ".weight", p + ".std", lang),
                   fmt="flag_out"))
    n_lv = len(tpl.levels)
    lv_first, lv_last = FIRST_ROW, FIRST_ROW + n_lv - 1
    for k, c in (("weight", 2), ("score", 3), ("na", 4)):
        colname = xl_col_to_name(lc + c)
        L._ranges[f"levels.{k}"] = ("scoring", f"${colname}${lv_first + 1}:${colname}${lv_last + 1}")
    trow = lv_last + 2
    L.totals_row = trow
    digest_terms = [Range("actual[]"), Range("manual[]")] + [Var(f"funds.total.{c.id}") for c in cols] + \
        [Range(f"funds.items.{c.id}") for c in cols]
    for i, (key, expr, fmt) in enumerate([
        ("tot.weight", SUM(Range("levels.weight")), "num_out"),
        ("tot.raw", SUM(Range("levels.score")), "num_out"),
        ("tot.na", SUM(Range("levels.na")), "num_out"),
        ("tot.score", rules.total_score(tpl), "total_out"),
        ("tot.grade", rules.rating(tpl), "total_out"),
        ("tot.digest", SUM(*digest_terms), "num_out"),
    ]):
        L.add(Slot(key + ".label", "scoring", lc, trow + i, CONST, value=lab(key), fmt="label"))
        L.add(Slot(key, "scoring", lc + 1, trow + i, FORMULA, expr=expr, fmt=fmt))

    # ---- 汇总 ----------------------------------------------------------------------------------
    for i, f in enumerate(HEADER_FIELDS):
        L.add(Slot(f"sum.hdr.{f}", "summary", 1, 2 + i, FORMULA, expr=rules.ref_or_blank(f"hdr.{f}"), fmt="text_out"))
    srow = 2 + len(HEADER_FIELDS) + 2
    L.summary_levels_row = srow
    for i, lv in enumerate(tpl.levels):
        r = srow + 1 + i
        p = f"sum.lv.{i}"
        L.add(Slot(p + ".name", "summary", 0, r, CONST, value=lv.name if lang == "zh" else (lv.en or lv.name), fmt="label"))
        L.add(Slot(p + ".weight", "summary", 1, r, FORMULA, expr=Var(f"lv.{i}.weight") + 0, fmt="num_out"))
        L.add(Slot(p + ".score", "summary", 2, r, FORMULA, expr=Var(f"lv.{i}.score") + 0, fmt="num_out"))
        L.add(Slot(p + ".rate", "summary", 3, r, FORMULA, expr=rules.score_rate(p + ".score", p + ".weight"), fmt="pct_out"))
    r = srow + 1 + n_lv
    L.add(Slot("sum.total.label", "summary", 0, r, CONST, value=lab("tot.score"), fmt="label_bold"))
    L.add(Slot("sum.total", "summary", 2, r, FORMULA, expr=Var("tot.score") + 0, fmt="total_out"))
    L.add(Slot("sum.grade.label", "summary", 0, r + 1, CONST, value=lab("tot.grade"), fmt="label_bold"))
    L.add(Slot("sum.grade", "summary", 2, r + 1, FORMULA, expr=rules.ref_or_blank("tot.grade"), fmt="total_out"))
    g = r + 3
    L.add(Slot("goal.expected", "summary", 1, g, ISSUED, lab("sum.goal_expected"), fmt="wrap_in"))
    L.add(Slot("goal.actual", "summary", 1, g + 1, INPUT, lab("sum.goal_actual"), fmt="wrap_in"))
    L.summary_goal_row = g
    for i, k in enumerate(("lead", "finance", "date")):
        L.add(Slot(f"sign.{k}", "summary", 1, g + 3 + i, INPUT, lab(f"sum.{k}"),
                   fmt="date_in" if k == "date" else "text_in", validate="date" if k == "date" else ""))

    # ---- 元数据: the recalculation canary ----------------------------------------------------
    L.add(Slot("meta.canary", "meta", 1, 0, FORMULA, expr=ROUND(Num(2) / 3, 4), fmt=""))

    # ---- 自评表: the print-ready form, formulas over the sheets above (form_sheet.py) ------------
    add_form_slots(L)
    L.cache["built"] = True  # (no slot is added after this: slot lists may be memoised)
    return L


@functools.lru_cache(maxsize=32)
def layout_for(tpl: Template, lang: str) -> Layout:
    """One layout per template and language per process, shared by the writer and the checker:
    formula texts, addresses and evaluation order are computed once (Layout memoises them). A
    layout is never changed after build_layout, which is what makes sharing it safe."""
    return build_layout(tpl, lang)


def formula_slots(L: Layout) -> list[Slot]:
    return [s for s in L.slots.values() if s.kind == FORMULA]


def evaluation_order(L: Layout) -> tuple[list[Slot], list[Slot]]:
    """Formula columns (per row) and formula scalars, each in dependency order (memoised)."""
    got = L.cache.get("evaluation_order")
    if got is None:
        got = L.cache["evaluation_order"] = _evaluation_order(L)
    return got


def _evaluation_order(L: Layout) -> tuple[list[Slot], list[Slot]]:

    def topo(slots: list[Slot]) -> list[Slot]:
        keys = {s.key for s in slots}
        done: set[str] = set()
        out: list[Slot] = []
        pending = list(slots)
        while pending:
            progressed = False
            for s in list(pending):
                deps = {v for v in s.expr.variables() if v in keys}  # type: ignore[union-attr]
                if deps <= done:
                    out.append(s)
                    done.add(s.key)
                    pending.remove(s)
                    progressed = True
            if not progressed:
                raise ValueError(f"cyclic formulas: {[s.key for s in pending]}")
        return out

    f = formula_slots(L)
    return topo([s for s in f if s.is_column]), topo([s for s in f if not s.is_column])


def formulas_digest(L: Layout) -> str:
    """A hash of every generated formula: part of what a signed workbook vouches for (memoised)."""
    import hashlib

    if "formulas_digest" in L.cache:
        return L.cache["formulas_digest"]
    h = hashlib.sha256()
    for s in formula_slots(L):
        for r in (list(L.rows()) if s.is_column else [None]):
            h.update(f"{s.sheet}!{L.a1(s, r)}={L.formula(s, r)}\n".encode())
    L.cache["formulas_digest"] = h.hexdigest()
    return L.cache["formulas_digest"]
