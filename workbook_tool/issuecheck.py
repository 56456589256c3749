"""Issue-side checks: refuse a project whose issued content is inconsistent, before anything is written.

What the office issues is written into locked cells. If its weights do not add up or its line
items disagree with the total, `check` reports it at return time on cells the unit cannot change,
where it looks like the unit's mistake. So `new` and `batch` run these checks first and refuse the
whole issue, naming project, indicator row (counted from 1, as the form's 序号), field and value.
"""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from .errors import WbtoolError
from .textsafe import safe
from .project import Project
from .template import OPERATOR_RULES, Template

TOLERANCE = 0.005
FIELD_EN = {"三级指标": "indicator", "二级指标": "category", "指标性质": "operator", "指标值": "target", "计量单位": "unit",
            "分值": "weight", "得分": "score", "分值总计": "all weights"}
_FORMULA_RULES = ("positive", "equal", "reverse")


@dataclass
class IssueProblem:
    """One inconsistency, with everything a person needs to find it in their own file."""

    project: str
    field: str
    value: Any
    zh: str
    en: str
    row: int | None = None  # indicator row from 1 (the form's 序号)
    indicator: str | None = None
    origin: str | None = None  # where the row came from, e.g. "指标!第 12 行"

    def message(self, lang: str = "zh") -> str:
        if lang == "en":
            where = f"project '{self.project}'" + (f", indicator row {self.row} '{self.indicator}'" if self.row else "")
            src = f" [{self.origin}]" if self.origin else ""
            return f"{where}{src}, {FIELD_EN.get(self.field, self.field)} = {self.value!r}: {self.en}"
        where = f"项目“{self.project}”" + (f"第 {self.row} 行指标“{self.indicator}”" if self.row else "")
        src = f"（{self.origin}）" if self.origin else ""
        return f"{where}{src}，{self.field} = {self.value!r}：{self.zh}"


def _plain(x: float) -> float | int:
    """45 rather than 45.0 in a message (weights are float once the template's are added)."""
    x = round(x, 6)
    return int(x) if float(x).is_integer() else x


def _is_number(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def _is_date(v: Any) -> bool:
    return isinstance(v, (dt.date, dt.datetime))


def issue_problems(pr: Project, tpl: Template, origins: dict[str, str] | None = None) -> list[IssueProblem]:
    """Every inconsistency in what would be issued (an empty list: fine to issue)."""
    name = str(pr.header.get("name") or pr.source or "?")
    origins = origins or {}
    out: list[IssueProblem] = []

    def add(field: str, value: Any, zh: str, en: str, row: int | None = None, ind: str | None = None) -> None:
        out.append(IssueProblem(name, field, value, zh, en, row, ind, origins.get(ind or "") if ind else None))

    seen: dict[str, int] = {}
    for i, r in enumerate(pr.indicators, start=1):
        ind = str(r.get("name") or "")
        op, target, unit = r.get("op"), r.get("target"), r.get("unit") or ""
        if ind in seen:
            add("三级指标", ind, f"与第 {seen[ind]} 行指标重名：指标名称不得重复", f"same name as row {seen[ind]}: indicator names must be unique", i, ind)
        else:
            seen[ind] = i
        lv = tpl.level(r.get("level"))
        if lv is not None and r.get("category") and r["category"] not in lv.categories:
            add("二级指标", r["category"], f"不属于一级指标“{lv.name}”（可选：{'、'.join(lv.categories)}）",
                f"is not a category of level '{lv.name}' (options: {', '.join(lv.categories)})", i, ind)
        rule = OPERATOR_RULES.get(op)
        if rule in _FORMULA_RULES:
            if _is_date(target):
                if rule != "reverse":
                    add("指标性质", op, "日期型（时效）指标的指标性质应为“≤”", "a deadline takes the operator ≤", i, ind)
                if unit != tpl.date_unit:
                    add("计量单位", unit, f"日期型（时效）指标的计量单位应为“{tpl.date_unit}”", f"a deadline's unit is '{tpl.date_unit}'", i, ind)
            elif not _is_number(target):
                add("指标值", target, "定量指标的指标值应为数字（时效指标为日期）", "a quantitative target must be a number (a date for a deadline)", i, ind)
            elif unit == tpl.date_unit:
                add("指标值", target, f"计量单位为“{tpl.date_unit}”，指标值应为日期", f"unit '{tpl.date_unit}' needs a date as the target", i, ind)
            if "score" in r and r["score"] is not None and not _is_date(target):
                add("得分", r["score"], "该指标按公式计分，不应填写评定得分", "this row is scored by formula: an entered score is not used", i, ind)
        elif rule == "qualitative":
            if target in (None, "") or not isinstance(target, str):
                add("指标值", target, "定性指标的指标值应为文字（如“有效提高”）", "a qualitative target is text (e.g. 有效提高)", i, ind)
        w = r.get("weight")
        if not _is_number(w) or w < 0:
            add("分值", w, "分值应为不小于 0 的数字", "the weight must be a number ≥ 0", i, ind)

    # a form issued with header and funds only leaves the indicator table to the unit: no sums yet
    defaults = {d.name for d in tpl.indicators}
    targets_issued = any(r.get("name") not in defaults for r in pr.indicators)
    weights = {lv.name: pr.level_weights.get(lv.name, lv.weight) for lv in tpl.levels}
    for lv in tpl.levels if targets_issued else ():
        if not lv.categories:
            continue  # scored from funds only
        rates = sum(rt.weight for rt in tpl.rates if rt.level == lv.name)
        rows = [r for r in pr.indicators if r.get("level") == lv.name and _is_number(r.get("weight"))]
        found = sum(r["weight"] for r in rows) + rates
        if abs(found - weights[lv.name]) > 1e-9:
            add(f"一级指标“{lv.name}”分值合计", _plain(found),
                f"应为 {weights[lv.name]:g}（{len(rows)} 个三级指标" + (f"，另含资金计分 {rates:g}" if rates else "") + "）",
                f"must be {weights[lv.name]:g} ({len(rows)} indicators" + (f", plus {rates:g} scored from funds" if rates else "") + ")")
    total = sum(r["weight"] for r in pr.indicators if _is_number(r.get("weight"))) \
        + sum(rt.weight for rt in tpl.rates)
    if targets_issued and abs(total - 100) > 1e-9:
        add("分值总计", _plain(total), "全部分值合计应为 100", "all weights must add up to 100")

    for c in tpl.funds_columns:
        items = [it.get(c.id) for it in pr.funds_items if _is_number(it.get(c.id))]
        tot = pr.funds_total.get(c.id)
        for v in [tot] + items:
            if _is_number(v) and v < 0:
                add(c.label, v, "金额不得为负数", "an amount cannot be negative")
        if items and _is_number(tot) and abs(sum(items) - tot) > TOLERANCE:
            add(f"{c.label}（明细合计）", _plain(sum(items)), f"与合计 {tot:g} 不一致", f"differs from the total {tot:g}")
    return out


def refuse_if_inconsistent(problems: list[IssueProblem]) -> None:
    """Raise one error listing every problem (exit 2): nothing is written for an inconsistent issue."""
    if not problems:
        return
    zh = "下达内容不一致，未生成任何文件：\n" + "\n".join("  " + safe(p.message("zh")) for p in problems)
    en = "the issue is inconsistent; nothing was written:\n" + "\n".join("  " + safe(p.message("en")) for p in problems)
    raise WbtoolError("P010", zh, en)
