"""Input checks declared once: the workbook's live cue and `check`'s finding come from the same rule.

Each :class:`RowCheck` is a "fails" expression over one indicator row's variables (the inputs, and
formula columns such as ``need`` and ``band``), written in the expression language like the
scoring rules. The layout turns every check into a hidden flag column on 实际完成
(``IF(fails, 1, "")``); the visible 填写提示 column shows the first failing check's cue in a few
words, and the writer paints the check's cell red from its flag. The checker raises the catalogue
finding wherever the flag — evaluated by the same engine from the same expression — is 1. A flag
column is an ordinary formula cell, so the agreement test proves each check on LibreOffice and
Gnumeric exactly like a score.

What stays imperative in the checker is what a formula cannot see: reading problems (types,
text-number hints, look-alike operators), structure, signatures and the formula cross-check.
Checks marked ``cue_only`` only show the cue; their findings come from those reading checks.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

from .expr import AND, ANY_OF, IF, ISNUMBER, NOT, OR, Expr, Var, is_blank_text
from .findings import Bi
from .labels import label
from .rules import FALSE, late, not_applicable, ops_for, used
from .template import Template

Values = Callable[[dict[str, Any], Template, str], dict[str, Any]]
PERCENT_UNITS = ["%", "％", "百分比"]  # domain.md §3: 百分比 and ％ mean %


@dataclass(frozen=True)
class RowCheck:
    name: str          # flag column key: chk.<name>
    code: str          # catalogue code of the finding
    cell: str          # slot key the finding (and the red fill) points at
    cue: str           # label key of the live cue
    fails: Callable[[Template, str], Expr]
    values: Values | None = None  # message values, from the row's inputs and computed columns
    cue_only: bool = False        # the finding is raised by the checker's reading checks instead

    @property
    def flag(self) -> str:
        return f"chk.{self.name}"


def _num(v: Any) -> Any:
    return int(v) if isinstance(v, float) and v.is_integer() else v


def _quant(tpl: Template) -> Expr:
    return ANY_OF(Var("op"), ops_for("positive") + ops_for("equal") + ops_for("reverse"))


def _date_row(tpl: Template) -> Expr:
    return AND(ANY_OF(Var("op"), ops_for("reverse")), ANY_OF(Var("unit"), [tpl.date_unit]))


def _live(tpl: Template, lang: str) -> Expr:
    """A used row that counts (not 不适用)."""
    return AND(used(), NOT(not_applicable(tpl, lang)))


def _then(guard: Expr, test: Expr) -> Expr:
    """``test`` only where ``guard`` holds: AND() evaluates every argument, and a comparison with an
    error value typed into a cell would turn the flag itself into that error."""
    return IF(guard, test, FALSE)


def _numbers(*keys: str) -> Expr:
    return AND(*[ISNUMBER(Var(k)) for k in keys])


def _text_in(key: str) -> Expr:
    v = Var(key)
    return AND(NOT(ISNUMBER(v)), NOT(is_blank_text(v)))


def nearest_grade(text: Any, tpl: Template) -> str | None:
    """The grade a free text most likely means: "部分达成预期指标" → 部分达成年度指标并具有一定效果;
    " 达成" → 达成年度指标 (the longest short name the trimmed text starts with)."""
    t = str(text or "").strip()
    hits = [g for g in tpl.grades if t and t.startswith(g.short)]
    return max(hits, key=lambda g: len(g.short)).name if hits else None


def _grade_values(env: dict[str, Any], tpl: Template, lang: str) -> dict[str, Any]:
    g = env.get("grade")
    near = nearest_grade(g, tpl)
    return {"problem": Bi("缺失", "missing") if g in (None, "") or not str(g).strip() else Bi("无效", "unknown"),
            "value": g, "options": "、".join(x.name for x in tpl.grades),
            "hint": Bi(f"（是否为“{near}”？请从下拉列表选择）", f" (did you mean '{near}'? pick it from the list)")
            if near and near != g else ""}


def _band_values(env: dict[str, Any], tpl: Template, lang: str) -> dict[str, Any]:
    g, w = env.get("grade"), env.get("weight")
    gr = next((x for x in tpl.grades if g in (x.name, x.short)), tpl.grades[0])
    return {"grade": gr.name, "lo": _num(w * gr.min), "hi": _num(w * gr.max), "score": env.get("manual")}


def _explain_values(env: dict[str, Any], tpl: Template, lang: str) -> dict[str, Any]:
    s, w = env.get("score"), env.get("weight")
    if isinstance(s, (int, float)) and isinstance(w, (int, float)) and s < w:
        reason = Bi(f"得分 {s:g} 低于分值 {w:g}", f"the score {s:g} is below the weight {w:g}")
    elif late(tpl).eval(env) is True:
        reason = Bi("时效指标逾期完成", "the deadline was missed")
    else:
        reason = Bi(f"完成值达到指标值的 {tpl.overshoot:.0%} 及以上",
                    f"the actual reached {tpl.overshoot:.0%} of the target or more")
    return {"reason": reason}


def _scale_values(env: dict[str, Any], tpl: Template, lang: str) -> dict[str, Any]:
    a, t = _num(env.get("actual")), _num(env.get("target"))
    return {"target": t, "actual": a, "suggest": f"{a * 100:g}"}


def _target_values(env: dict[str, Any], tpl: Template, lang: str) -> dict[str, Any]:
    a, t = _num(env.get("actual")), _num(env.get("target"))
    return {"target": t, "actual": a, "suggest": f"{t * 100:g}"}


def _score_values(env: dict[str, Any], tpl: Template, lang: str) -> dict[str, Any]:
    return {"score": _num(env.get("manual")), "weight": _num(env.get("weight")), "computed": _num(env.get("score"))}


# In cue order: the first failing check of a row is the one its 填写提示 shows.
ROW_CHECKS: tuple[RowCheck, ...] = (
    RowCheck("number", "V002", "actual", "cue.number", cue_only=True,
             fails=lambda tpl, lang: AND(_live(tpl, lang), _quant(tpl), NOT(_date_row(tpl)), _text_in("actual"))),
    RowCheck("date", "V007", "actual", "cue.date", cue_only=True,
             fails=lambda tpl, lang: AND(_live(tpl, lang), _date_row(tpl), _text_in("actual"))),
    # only where more is better: a legitimate 差错率 ≤ 2% can well be 0.5
    RowCheck("percent", "V004", "actual", "cue.percent", values=_scale_values,
             fails=lambda tpl, lang: _then(AND(_live(tpl, lang), ANY_OF(Var("op"), ops_for("positive") + ops_for("equal")),
                                               ANY_OF(Var("unit"), PERCENT_UNITS), _numbers("actual", "target")),
                                           AND(Var("target") > 1, Var("actual") > 0, Var("actual") <= 1))),
    # a typed 100% is stored as 1: a target of 1 (unit %) against 95 means 100 %, not an over-achievement
    RowCheck("percent_target", "V034", "target", "cue.percent_target", values=_target_values,
             fails=lambda tpl, lang: _then(AND(_live(tpl, lang), ANY_OF(Var("op"), ops_for("positive") + ops_for("equal")),
                                               ANY_OF(Var("unit"), PERCENT_UNITS), _numbers("actual", "target")),
                                           AND(Var("target") > 0, Var("target") <= 1, Var("actual") > 1,
                                               Var("actual") >= Var("target") * 10))),
    RowCheck("grade", "V008", "grade", "cue.grade", values=_grade_values,
             fails=lambda tpl, lang: ANY_OF(Var("band"), [label("v.no_grade", lang)])),
    RowCheck("band", "V009", "manual", "cue.band", values=_band_values,
             fails=lambda tpl, lang: ANY_OF(Var("band"), [label("v.out_of_band", lang)])),
    RowCheck("range", "V010", "manual", "cue.range",
             values=lambda env, tpl, lang: {"score": env.get("manual"), "weight": env.get("weight")},
             fails=lambda tpl, lang: _then(AND(_live(tpl, lang), ISNUMBER(Var("manual"))),
                                           OR(Var("manual") < 0, Var("manual") > Var("weight")))),
    RowCheck("late_full", "V030", "manual", "cue.late_full",
             values=lambda env, tpl, lang: {"score": env.get("manual"), "weight": env.get("weight")},
             fails=lambda tpl, lang: _then(AND(_live(tpl, lang), late(tpl), ISNUMBER(Var("manual"))),
                                           Var("manual") >= Var("weight"))),
    # real tables give 19 of 20 on a met target; on a formula-scored row the entered score is ignored
    RowCheck("score_ignored", "V033", "manual", "cue.score_ignored", values=_score_values,
             fails=lambda tpl, lang: AND(_live(tpl, lang), _quant(tpl), NOT(_date_row(tpl)), ISNUMBER(Var("manual")))),
    RowCheck("explain", "V013", "explain", "cue.explain", values=_explain_values,
             fails=lambda tpl, lang: AND(ANY_OF(Var("need"), [label("v.yes", lang)]), is_blank_text(Var("explain")))),
)


def flag(check: RowCheck, tpl: Template, lang: str) -> Expr:
    """The flag column's formula: 1 where the check fails, blank elsewhere."""
    return IF(check.fails(tpl, lang), 1, "")


def cue(tpl: Template, lang: str) -> Expr:
    """填写提示: the first failing check's cue, over the flag columns."""
    out: Expr = IF(Var(ROW_CHECKS[-1].flag).eq(1), label(ROW_CHECKS[-1].cue, lang), "")
    for c in reversed(ROW_CHECKS[:-1]):
        out = IF(Var(c.flag).eq(1), label(c.cue, lang), out)
    return out


# ---- funds block --------------------------------------------------------------------------------

def rate_explain_missing(rate_id: str, lang: str) -> Expr:
    """A funds rate that needs an explanation (below its threshold, or not computable) without one."""
    return AND(ANY_OF(Var(f"rate.{rate_id}.need"), [label("v.yes", lang)]), is_blank_text(Var(f"rate.{rate_id}.explain")))


def rate_cue(rate_id: str, lang: str) -> Expr:
    return IF(Var(f"rate.{rate_id}.flag").eq(1), label("cue.explain", lang),
              IF(ISNUMBER(Var(f"rate.{rate_id}.ratio")), "", label("cue.amounts", lang)))
