"""How findings read outside JSON: brief text for the office's report, plain advice for the unit.

The catalogue's messages are complete (they carry the expected formula, so JSON loses nothing). In a
terminal an 881-character formula buries the point, and in the annotated copy sent back to a unit
a message addressed to the office ("请核实", "ask the unit to resend") speaks to the wrong person.
This module holds those two other wordings, one place for each code that needs one.
"""
from __future__ import annotations

from typing import Any

from .findings import Finding, render

MAX_SHOWN = 40  # characters of a typed formula or text value shown in a report line

# Text-report wording where the catalogue's message quotes formulas ("say what changed").
BRIEF: dict[str, tuple[str, str]] = {
    "S012": ("公式被改为数值 {value}", "the formula was replaced by the value {value}"),
    "S013": ("公式被修改（现为 {found}）", "the formula was edited (now {found})"),
    "S015": ("输入单元格中填写了公式 {formula}：请直接填写数值", "a formula {formula} was typed into an input cell: enter the value"),
    "X001": ("表内结果为 {cached}，复核结果为 {python}", "the workbook shows {cached}, the re-check computes {python}"),
}

# The unit's wording, where the catalogue speaks to the office.
UNIT: dict[str, tuple[str, str]] = {
    "V031": ("财政下达的指标被标为“不适用”，其分值将不计入总分：如确不适用请说明原因，否则请取消“不适用”",
             "an issued indicator is marked not applicable and drops out of the total: explain why, or clear the mark"),
    "V032": ("该指标不在财政下达的指标中：如确需增加请在说明中写明理由，否则请删除该行",
             "this indicator was not issued: give the reason for adding it, or delete the row"),
    "X002": ("表格未重新计算：请在 Excel/WPS 中打开、确认计算后保存再发送",
             "the workbook was not recalculated: open it in Excel/WPS, let it calculate, save and send it again"),
    "S004": ("下达内容或元数据被修改：请在财政下发的原表格中填写", "issued content or metadata was changed: fill in the workbook as issued"),
    "S005": ("下达内容、公式或评分规则在下发后被修改：请在财政下发的原表格中填写",
             "issued content, formulas or rules were changed after issue: fill in the workbook as issued"),
    "S006": ("表格缺少下发签名：请使用财政下发的表格填写", "the workbook carries no issue signature: use the workbook as issued"),
    "S012": ("此处原为公式，被改为数值 {value}：请恢复公式（可从财政下发的原表格复制该单元格）",
             "this cell held a formula and now holds the value {value}: restore the formula (copy the cell from the issued workbook)"),
    "S013": ("此处的公式被修改：请恢复下发时的公式（可从原表格复制该单元格）",
             "this formula was edited: restore it (copy the cell from the issued workbook)"),
    "S014": ("财政下达的内容被修改（原为 {issued}）：请改回原值", "issued content was changed (issued: {issued}): restore it"),
    "X001": ("表内结果 {cached} 与复核结果 {python} 不一致：请检查该单元格的公式是否被改动，并重新计算后保存",
             "the cell shows {cached}, the re-check computes {python}: check its formula, recalculate and save"),
    "X003": ("公式结果与当前填写的内容不符：请按 F9 重新计算后保存", "formula results do not match the inputs: press F9 and save"),
    "I003": ("被覆盖或修改的公式影响了其他 {n} 个单元格的结果：恢复公式后即可消除",
             "{n} other cells depend on the overwritten or edited formulas: restoring them fixes these"),
}

# What to do, for the unit, when the message itself does not say it.
ACTION: dict[str, tuple[str, str]] = {
    "V001": ("请填写", "fill it in"),
    "V002": ("请只填写数字，单位写在“计量单位”列", "enter a number only; the unit goes in its own column"),
    "V003": ("请从下拉列表中选择指标性质", "choose the operator from the dropdown"),
    "V005": ("请核对金额", "check the amount"),
    "V008": ("请从下拉列表中选择等级", "choose the grade from the dropdown"),
    "V013": ("请在本行“偏差原因分析及改进措施”中说明", "explain the deviation in this row"),
    "V014": ("请核对资金数据", "check the funds"),
    "V015": ("请核对明细与合计", "check items against the total"),
    "V022": ("请填写有效数值", "enter a valid value"),
    "V023": ("请填写数字", "enter a number"),
    "V026": ("请核对数值", "check the number"),
    "V040": ("请逐项填写实际完成值、等级、评定得分和偏差原因", "fill in actuals, grades, scores and explanations"),
}


def _short(v: Any) -> Any:
    if isinstance(v, str) and len(v) > MAX_SHOWN:
        return v[:MAX_SHOWN] + "…"
    if isinstance(v, float) and v.is_integer():
        return int(v)
    return v


def brief(f: Finding, lang: str = "zh") -> str:
    """The finding as one readable line: no formula dumps, long values cut."""
    if f.code in BRIEF and f.text is None:
        zh, en = BRIEF[f.code]
        return render(en if lang == "en" else zh, {k: _short(v) for k, v in f.values.items()}, lang)
    return f.message(lang)


def for_unit(f: Finding, lang: str = "zh") -> tuple[str, str]:
    """(what is wrong, what to do) worded for the unit that fills the workbook in."""
    if f.code in UNIT and f.text is None:
        zh, en = UNIT[f.code]
        msg = render(en if lang == "en" else zh, {k: _short(v) for k, v in f.values.items()}, lang)
    else:
        msg = brief(f, lang)
    act = ACTION.get(f.code)
    if act is None:
        # most catalogue messages end with the advice after a colon: keep the sentence whole
        return msg, ""
    return msg, act[1] if lang == "en" else act[0]
