"""Workbook labels in Chinese (default) and English.

Chinese headers use the form's own words (一级指标, 指标性质, 偏差原因分析及改进措施 …) so that
people and tools recognise the table. Strings that formulas produce ("是", "超出区间") are labels
too: the same text feeds the Excel formula and the Python evaluation.
"""
from __future__ import annotations

LABELS: dict[str, tuple[str, str]] = {
    # sheets
    "sheet.guide": ("说明", "Guide"),
    "sheet.budget": ("预算", "Budget"),
    "sheet.indicators": ("指标", "Indicators"),
    "sheet.actuals": ("实际完成", "Actuals"),
    "sheet.scoring": ("评分", "Scoring"),
    "sheet.summary": ("汇总", "Summary"),
    "sheet.lists": ("列表", "Lists"),
    "sheet.meta": ("元数据", "Meta"),
    "sheet.form": ("自评表", "Form"),
    # headers: project
    "hdr.name": ("项目名称", "Project name"),
    "hdr.department": ("主管部门", "Supervising department"),
    "hdr.unit": ("实施单位", "Implementing unit"),
    "hdr.year": ("年度", "Year"),
    "hdr.code": ("项目编码", "Project code"),
    # indicator table
    "col.no": ("序号", "No."),
    "col.level": ("一级指标", "Level 1"),
    "col.category": ("二级指标", "Level 2"),
    "col.name": ("三级指标", "Level 3 indicator"),
    "col.op": ("指标性质", "Operator"),
    "col.target": ("指标值", "Target"),
    "col.unit": ("计量单位", "Unit"),
    "col.weight": ("分值", "Weight"),
    "col.note": ("指标解释/评价要点", "Explanation / evaluation points"),
    "col.actual": ("实际完成值", "Actual"),
    "col.grade": ("定性等级", "Qualitative grade"),
    "col.manual": ("评定得分", "Entered score"),
    "col.na": ("不适用", "Not applicable"),
    "col.explain": ("偏差原因分析及改进措施", "Reasons for deviation and improvements"),
    "col.score": ("得分", "Score"),
    "col.ratio": ("完成率", "Completion"),
    "col.need_explain": ("需说明", "Explain?"),
    "col.band": ("等级区间", "Grade band"),
    "col.hint": ("填写提示", "Hint"),
    # live cues of the declared input checks (checks.py): what `check` will say, in a few words
    "cue.number": ("请填数字", "enter a number"),
    "cue.date": ("日期请按 2024-10-31 填写", "enter the date as 2024-10-31"),
    "cue.percent": ("百分比请填 90.4 而非 0.904", "enter 90.4 for 90.4 %, not 0.904"),
    "cue.percent_target": ("指标值疑为小数形式的百分比", "target looks like a fraction, not a percent"),
    "cue.grade": ("未选等级", "choose a grade"),
    "cue.band": ("得分超出等级区间", "score outside the grade's band"),
    "cue.range": ("得分应在 0 至分值之间", "score must lie between 0 and the weight"),
    "cue.late_full": ("逾期完成不应给满分", "late: score must be below the weight"),
    "cue.score_ignored": ("此行按公式计分，评定得分不计", "scored by formula: entered score ignored"),
    "cue.explain": ("须填写偏差原因", "explanation required"),
    "cue.amounts": ("请填写金额", "enter the amounts"),
    "col.w_app": ("计分分值", "Counted weight"),
    "col.w_na": ("不适用分值", "N/A weight"),
    # funds
    "funds.title": ("资金情况（{unit}）", "Funds ({unit})"),
    "funds.item": ("项目", "Item"),
    "funds.itemsum": ("明细合计", "Sum of items"),
    "funds.amount": ("计分金额（合计为空时取明细合计）", "Scored amount (total, or the items while it is blank)"),
    "rates.title": ("资金指标", "Funds indicators"),
    "rates.name": ("指标", "Indicator"),
    "rates.ratio": ("比率", "Rate"),
    "rates.weight": ("分值", "Weight"),
    "rates.score": ("得分", "Score"),
    "rates.level": ("一级指标", "Level 1"),
    "rates.explain": ("说明（“需说明”为“是”时必填）", "Explanation (required when flagged)"),
    "rates.need_explain": ("需说明", "Explain?"),
    # levels & totals
    "lv.title": ("一级指标汇总", "Levels"),
    "lv.name": ("一级指标", "Level 1"),
    "lv.std": ("标准权重", "Standard weight"),
    "lv.weight": ("分值合计", "Weights"),
    "lv.score": ("得分", "Score"),
    "lv.na": ("不适用分值", "N/A weight"),
    "lv.check": ("权重检查", "Weight check"),
    "tot.weight": ("分值合计", "Total weight"),
    "tot.raw": ("得分合计", "Sum of scores"),
    "tot.na": ("不适用分值合计", "N/A weight"),
    "tot.score": ("总分", "Total score"),
    "tot.grade": ("评价等级", "Rating"),
    "tot.digest": ("输入校验和（供检查是否已重算）", "Input checksum (tells whether results are current)"),
    # summary
    "sum.title": ("项目支出绩效评价汇总", "Performance evaluation summary"),
    "sum.goal": ("年度总体目标", "Overall annual goal"),
    "sum.goal_expected": ("预期目标", "Expected"),
    "sum.goal_actual": ("实际完成情况", "Achieved"),
    "sum.lead": ("项目负责人", "Project lead"),
    "sum.finance": ("财务负责人", "Finance lead"),
    "sum.date": ("填报日期", "Date filled"),
    "sum.chart": ("各一级指标得分与分值", "Score against weight by level"),
    "sum.rate": ("得分率", "Score rate"),
    # the print-ready form (form_sheet.py)
    "form.title": ("项目支出绩效自评表", "Project expenditure performance self-evaluation"),
    "form.year_suffix": ("年度", ""),
    "form.funds": ("项目资金（{unit}）", "Funds ({unit})"),
    "form.target": ("年度指标值", "Annual target"),
    "form.note": ("评价要点", "Evaluation points"),
    "form.levels_title": ("项目各部分权重和绩效分值", "Weights and scores by part"),
    "form.stamp": ("（单位盖章）", "(unit seal)"),
    # formula outputs
    "v.yes": ("是", "yes"),
    "v.ok": ("符合", "ok"),
    "v.out_of_band": ("超出区间", "out of band"),
    "v.no_grade": ("未选等级", "no grade"),
    "v.mismatch": ("不一致", "mismatch"),
    "v.end": ("（表格结束，请勿在此插入行）", "(end of table — do not insert rows here)"),
    "v.na": ("不适用", "N/A"),
    # titles
    "title.indicators": ("绩效指标（下达）", "Performance indicators (issued)"),
    "title.actuals": ("实际完成情况（由单位填写）", "Actuals (filled by the unit)"),
    "title.scoring": ("评分（自动计算，请勿修改）", "Scoring (computed — do not edit)"),
    "title.budget": ("项目基本情况与资金", "Project and funds"),
}


def label(key: str, lang: str = "zh", **kw: object) -> str:
    zh, en = LABELS[key]
    text = en if lang == "en" else zh
    return text.format(**kw) if kw else text
