"""The scoring rules of domain.md §3–4, written once as expression trees.

Each function returns an :class:`~workbook_tool.expr.Expr` over named variables. The layout binds
the names to cells; the writer renders the trees as formulas and the checker evaluates them in
Python. Profile settings (reverse formula, bands, thresholds, rounding) come from the template.

Variable names of one indicator row: ``op target unit weight actual grade manual na`` (inputs) and
``score`` (the computed score, used by the flags). ``X[]`` names a whole column, for SUMIF.

Every ROUND of a computed score, rate or total goes through :func:`~workbook_tool.expr.round_decimal`
and every boundary test on a computed value through :func:`~workbook_tool.expr.settle`, so that the
result is the decimal answer of domain.md §3 on LibreOffice, Gnumeric and (by the same argument)
Excel and WPS — not whatever side of a half or a threshold the float noise of one engine fell on.
Inputs typed by a person (a, t, w, an entered score) are exact decimals already and are compared
as they are.
"""
from __future__ import annotations

from .expr import (
    ABS, AND, ANY_OF, IF, INT, ISNUMBER, MAX, MIN, NOT, OR, SUM, SUMIF, Expr, Num, Range, Str, Var, round_decimal,
    settle,
)
from .labels import label
from .template import OPERATOR_RULES, Template


def ops_for(rule: str) -> list[str]:
    return [op for op, r in OPERATOR_RULES.items() if r == rule]


def _both_numbers(a: Expr, t: Expr) -> Expr:
    return AND(ISNUMBER(a), ISNUMBER(t))


def positive(a: Expr, t: Expr, w: Expr) -> Expr:
    """≥ / ＞: full marks at or above target; else proportional, a negative actual counting as 0."""
    return IF(a >= t, w, IF(t <= 0, 0, w * MAX(a, 0) / t))


def equal(a: Expr, t: Expr, w: Expr) -> Expr:
    """=: like ≥, but a zero target is met only by an actual ≤ 0."""
    return IF(t.eq(0), IF(a <= 0, w, 0), positive(a, t, w))


def reverse(a: Expr, t: Expr, w: Expr, formula: str) -> Expr:
    """≤ / ＜ (less is better). Never above w: at or under target scores w exactly."""
    if formula == "linear":
        missed = w * MAX(0, 1 - (a - t) / t)
    else:
        missed = w * t / a
    return IF(a <= t, w, IF(t <= 0, 0, missed))


def entered(m: Expr, w: Expr) -> Expr:
    """A score typed by the unit or evaluator, held to [0, w]."""
    return IF(ISNUMBER(m), MAX(0, MIN(w, m)), 0)


def on_time(a: Expr, t: Expr) -> Expr:
    """A deadline is met on its calendar day: 2024-10-31 15:30 is on time for 2024-10-31.
    Only for numbers (INT of text is #VALUE!, and AND/OR evaluate every argument): guard with IF."""
    return INT(a) <= INT(t)


FALSE = Num(0) > 1  # a constant FALSE without a TRUE()/FALSE() call


def raw_score(tpl: Template) -> Expr:
    """Unrounded score of a used, applicable row, dispatching on 指标性质."""
    a, t, w, m, op, unit = Var("actual"), Var("target"), Var("weight"), Var("manual"), Var("op"), Var("unit")
    quant_ok = _both_numbers(a, t)
    deadline = IF(quant_ok, IF(on_time(a, t), w, entered(m, w)), entered(m, w))
    return IF(
        ANY_OF(op, ops_for("positive")), IF(quant_ok, positive(a, t, w), 0),
        IF(ANY_OF(op, ops_for("equal")), IF(quant_ok, equal(a, t, w), 0),
           IF(ANY_OF(op, ops_for("reverse")),
              IF(ANY_OF(unit, [tpl.date_unit]), deadline, IF(quant_ok, reverse(a, t, w, tpl.reverse), 0)),
              IF(ANY_OF(op, ops_for("qualitative") + ops_for("manual")), entered(m, w), 0))))


def used() -> Expr:
    """A row counts once it has a numeric 分值; blank rows are harmless everywhere."""
    return ISNUMBER(Var("weight"))


def not_applicable(tpl: Template, lang: str) -> Expr:
    if not tpl.not_applicable:
        return FALSE
    return ANY_OF(Var("na"), [label("v.na", lang)])


def score(tpl: Template, lang: str) -> Expr:
    return IF(NOT(used()), "", IF(not_applicable(tpl, lang), "", round_decimal(raw_score(tpl), tpl.rounding)))


def ratio(tpl: Template) -> Expr:
    """完成率 a / t for quantitative rows (display, and the over-achievement test); not for deadlines."""
    a, t, op = Var("actual"), Var("target"), Var("op")
    quantitative = ANY_OF(op, ops_for("positive") + ops_for("equal") + ops_for("reverse"))
    return IF(AND(used(), quantitative, NOT(ANY_OF(Var("unit"), [tpl.date_unit])), ISNUMBER(a), ISNUMBER(t)),
              IF(t.eq(0), "", a / t), "")


def late(tpl: Template) -> Expr:
    """A deadline (≤ with unit 日期) met after the date: the entered score applies and must be explained."""
    a, t = Var("actual"), Var("target")
    return AND(ANY_OF(Var("op"), ops_for("reverse")), ANY_OF(Var("unit"), [tpl.date_unit]),
               IF(_both_numbers(a, t), NOT(on_time(a, t)), FALSE))


def counted_weight(tpl: Template, lang: str) -> Expr:
    return IF(AND(used(), NOT(not_applicable(tpl, lang))), Var("weight"), 0)


def na_weight(tpl: Template, lang: str) -> Expr:
    return IF(AND(used(), not_applicable(tpl, lang)), Var("weight"), 0)


def overshoot(tpl: Template) -> Expr:
    """Reaching the over-achievement threshold on a ≥ / = indicator (needs an explanation)."""
    r = Var("ratio")
    # (ROUND of the blank-text ratio of other rows would be #VALUE!: AND evaluates every argument)
    return AND(ANY_OF(Var("op"), ops_for("positive") + ops_for("equal")), settle(IF(ISNUMBER(r), r, 0)) >= tpl.overshoot)


def need_explain(tpl: Template, lang: str) -> Expr:
    s = Var("score")
    return IF(ISNUMBER(s), IF(OR(s < Var("weight"), overshoot(tpl), late(tpl)), label("v.yes", lang), ""), "")


def grade_band(tpl: Template, lang: str) -> Expr:
    """For 定性 rows: is the entered score inside the chosen grade's band?"""
    g, m, w = Var("grade"), Var("manual"), Var("weight")
    out: Expr = Str(label("v.no_grade", lang))
    for gr in reversed(tpl.grades):
        # band edges settled: 9 × 0.8 is 7.2000000000000002 in doubles, and 7.2 is inside 达成
        upper = (m <= settle(w * gr.max)) if gr.max >= 1 else (m < settle(w * gr.max))
        inside = AND(ISNUMBER(m), m >= settle(w * gr.min), upper)
        out = IF(ANY_OF(g, [gr.name] + ([gr.short] if gr.short != gr.name else [])),
                 IF(inside, label("v.ok", lang), label("v.out_of_band", lang)), out)
    qualitative = AND(used(), ANY_OF(Var("op"), ops_for("qualitative")), NOT(not_applicable(tpl, lang)))
    return IF(qualitative, out, "")


def ref_or_blank(name: str) -> Expr:
    """A display copy of another cell that stays blank (not 0) when the source is blank."""
    v = Var(name)
    return IF(v.eq(""), "", v)


# ---- funds ---------------------------------------------------------------------------------------

def funds_amount(total: str, item_sum: str) -> Expr:
    """The total row, or the sum of the line items while the total is still blank (a unit filling
    only the source rows sees a live score; a total left at 0 with money in the items is reported)."""
    t = Var(total)
    return IF(ISNUMBER(t), t, IF(Var(item_sum) > 0, Var(item_sum), ""))


def rate_ratio(num: Expr, den: Expr) -> Expr:
    return IF(AND(ISNUMBER(num), ISNUMBER(den)), IF(den > 0, num / den, ""), "")


def rate_score(ratio_var: str, weight_var: str, tpl: Template) -> Expr:
    r, w = Var(ratio_var), Var(weight_var)
    return IF(ISNUMBER(r), round_decimal(MIN(MAX(r, 0), 1) * w, tpl.rounding), 0)


def rate_need_explain(ratio_var: str, threshold: float | None, lang: str) -> Expr:
    r = Var(ratio_var)
    if threshold is None:
        return Str("")
    return IF(ISNUMBER(r), IF(settle(r) < threshold, label("v.yes", lang), ""), label("v.yes", lang))


def column_sum(range_name: str) -> Expr:
    return SUM(Range(range_name))


# ---- levels and total ----------------------------------------------------------------------------

def level_sum(level_name: str, column: str, extra: list[str]) -> Expr:
    e: Expr = SUMIF(Range("level[]"), level_name, Range(column + "[]"))
    for x in extra:
        e = e + Var(x)
    return e


def score_rate(score_var: str, weight_var: str) -> Expr:
    """得分率 of a level, as a fraction shown in percent (4 decimals: 97.5 % exactly at a half)."""
    w = Var(weight_var)
    return IF(w > 0, round_decimal(Var(score_var) / w, 4), "")


def weight_check(weight_var: str, std_var: str, lang: str) -> Expr:
    """A level whose indicator weights differ from its issued weight — once the table has rows."""
    rows_weight = SUM(Range("weight[]"))
    return IF(AND(rows_weight.ne(0), ABS(Var(weight_var) - Var(std_var)) > 0.001), label("v.mismatch", lang), "")


def total_score(tpl: Template) -> Expr:
    """Σ rounded scores; with 不适用 rows, rescaled to 100 over the applicable weights."""
    raw, weight, na = Var("tot.raw"), Var("tot.weight"), Var("tot.na")
    plain = round_decimal(raw, tpl.rounding)
    if not tpl.not_applicable:
        return plain
    return IF(AND(na > 0, weight - na > 0), round_decimal(raw * 100 / (weight - na), tpl.rounding), plain)


def nothing_entered() -> Expr:
    """No actual and no score typed yet: a blank form shows no grade (not 差) and no weight alarm."""
    return SUM(Range("actual[]"), Range("manual[]")).eq(0)


def rating(tpl: Template) -> Expr:
    """Bands (lower bounds inclusive) applied to the rounded total; blank until something is entered."""
    t = Var("tot.score")
    out: Expr = Str(tpl.rating[-1].grade)
    for band in reversed(tpl.rating[:-1]):
        out = IF(t >= band.min, band.grade, out)
    return IF(nothing_entered(), "", out)
