"""The declared input checks (checks.py): what the workbook's 填写提示 shows is what `check` reports.

Each case is a row as a unit types it; the workbook is recalculated in LibreOffice, then the cue
the unit saw (the cached 填写提示 value) and the finding `check` raises are asserted side by side.
The cases are the disagreements and held-out findings of the issue that introduced checks.py.
"""
from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import openpyxl
import pytest

from workbook_tool import checks
from workbook_tool.checker import FileReport, check_file
from workbook_tool.layout import FIRST_ROW, build_layout
from workbook_tool.project import parse_project
from workbook_tool.recalc import recalculate
from workbook_tool.template import load_template
from workbook_tool.writer import write_workbook

SELF = load_template("self-eval")
L = build_layout(SELF)
R0 = FIRST_ROW

#   name                 row as the unit leaves it                                                        edits typed over it
CASES: dict[str, tuple[list[dict[str, Any]], list[tuple[str, int | None, Any]]]] = {
    "grade_trailing_space": ([{"op": "定性", "target": "有效提高", "weight": 10, "grade": "达成年度指标", "score": 9}],
                             [("grade", R0, "达成 ")]),
    "grade_free_text": ([{"op": "定性", "target": "有效提高", "weight": 10, "grade": "达成年度指标", "score": 7}],
                        [("grade", R0, "部分达成预期指标")]),
    "percent_as_text": ([{"op": "≥", "target": 85, "unit": "%", "weight": 10, "actual": 90}], [("actual", R0, "90.4%")]),
    "percent_as_fraction": ([{"op": "≥", "target": 85, "unit": "%", "weight": 10, "actual": 0.904}], []),
    "percent_unit_word": ([{"op": "≥", "target": 85, "unit": "百分比", "weight": 10, "actual": 0.904}], []),
    "target_as_fraction": ([{"op": "≥", "target": 1, "unit": "%", "weight": 10, "actual": 95, "explain": "x"}], []),
    "score_on_met_target": ([{"op": "≥", "target": 20, "unit": "个", "weight": 20, "actual": 25, "score": 19}], []),
    "late_in_full": ([{"op": "≤", "target": dt.date(2024, 10, 31), "unit": "日期", "weight": 10,
                       "actual": dt.date(2024, 11, 5), "score": 10, "explain": "采购延误"}], []),
    "date_as_text": ([{"op": "≤", "target": dt.date(2024, 10, 31), "unit": "日期", "weight": 10,
                       "actual": dt.date(2024, 10, 1)}], [("actual", R0, "2024年10月31日")]),
    "explain_missing": ([{"op": "≥", "target": 100, "unit": "个", "weight": 10, "actual": 80}], []),
    "blank_denominator": ([{"op": "≥", "target": 100, "unit": "个", "weight": 10, "actual": 100}],
                          [("funds.total.budget", None, None), ("funds.item0.budget", None, None)]),
}


def project(rows: list[dict[str, Any]]) -> dict[str, Any]:
    lv = SELF.indicator_levels()[0]
    return {"template": "self-eval", "project": {"name": "提示测试", "department": "测试局", "unit": "测试中心", "year": 2024},
            "funds": {"total": {"initial": 10, "budget": 10, "spent": 9.5}},
            "goal": {"expected": "完成。", "actual": "完成。"}, "sign": {"lead": "张三", "finance": "李四", "date": dt.date(2025, 3, 1)},
            "default_indicators": "replace",
            "indicators": [{"level": lv.name, "category": lv.categories[0], "name": f"指标{i + 1}", **r} for i, r in enumerate(rows)]}


@pytest.fixture(scope="module")
def books(tmp_path_factory, soffice) -> dict[str, tuple[FileReport, Any]]:
    d = tmp_path_factory.mktemp("checks")
    src = d / "src"
    src.mkdir()
    paths = []
    for name, (rows, edits) in CASES.items():
        p = src / f"{name}.xlsx"
        write_workbook(p, SELF, parse_project(project(rows), SELF, name))
        if edits:
            wb = openpyxl.load_workbook(p)
            for key, r, v in edits:
                s = L.slots[key]
                wb[L.sheet(s.sheet)].cell((s.row if r is None else r) + 1, s.col + 1).value = v
            wb.save(p)
        paths.append(p)
    blank = src / "blank.xlsx"
    write_workbook(blank, SELF)
    outs = recalculate(paths + [blank], d / "lo")
    return {o.stem: (check_file(o), openpyxl.load_workbook(o, data_only=True)) for o in outs}


def cue(wb: Any, key: str = "a_hint", r: int | None = R0) -> Any:
    s = L.slots[key]
    return wb[L.sheet(s.sheet)].cell((s.row if r is None else r) + 1, s.col + 1).value


def finding(rep: FileReport, code: str, key: str, r: int | None = R0):
    s = L.slots[key]
    hits = [f for f in rep.findings if f.code == code and f.sheet == L.sheet(s.sheet) and f.cell == L.a1(s, r)]
    assert len(hits) == 1, [(f.code, f.cell, f.message()) for f in rep.findings]
    return hits[0]


@pytest.mark.parametrize("case,code,key,shown", [
    # a trailing space: the workbook shows 未选等级 — and check no longer strips it and says nothing
    ("grade_trailing_space", "V008", "grade", "未选等级"),
    ("grade_free_text", "V008", "grade", "未选等级"),
    # "90.4%" typed as text: the cue asks for a correction (a number), not for an explanation
    ("percent_as_text", "V002", "actual", "请填数字"),
    ("percent_as_fraction", "V004", "actual", "百分比请填 90.4 而非 0.904"),
    ("percent_unit_word", "V004", "actual", "百分比请填 90.4 而非 0.904"),  # 百分比 means %
    ("target_as_fraction", "V034", "target", "指标值疑为小数形式的百分比"),
    ("score_on_met_target", "V033", "manual", "此行按公式计分，评定得分不计"),
    ("late_in_full", "V030", "manual", "逾期完成不应给满分"),
    ("date_as_text", "V007", "actual", "日期请按 2024-10-31 填写"),
    ("explain_missing", "V013", "explain", "须填写偏差原因"),
])
def test_the_cue_the_unit_sees_is_the_finding_check_reports(books, case, code, key, shown):
    rep, wb = books[case]
    assert cue(wb) == shown
    f = finding(rep, code, key)
    assert not {"X001", "X002", "X003"} & {x.code for x in rep.findings}
    assert "None" not in f.message() and "None" not in f.message("en")


def test_messages_name_what_the_unit_meant(books):
    assert "达成年度指标" in finding(books["grade_trailing_space"][0], "V008", "grade").message()
    assert "部分达成年度指标并具有一定效果" in finding(books["grade_free_text"][0], "V008", "grade").message()
    assert "2024-10-31" in finding(books["date_as_text"][0], "V007", "actual").message()
    f = finding(books["score_on_met_target"][0], "V033", "manual")
    assert f.severity == "warning" and f.values["computed"] == 20 and f.values["score"] == 19
    f = finding(books["target_as_fraction"][0], "V034", "target")
    assert f.values["suggest"] == "100"


def test_blank_denominator_asks_for_the_explanation_in_both(books):
    rep, wb = books["blank_denominator"]
    assert cue(wb, "rate.execution.hint", None) == "须填写偏差原因"
    finding(rep, "V013", "rate.execution.explain", None)
    assert "V024" in {f.code for f in rep.findings}


def test_a_blank_workbook_shows_no_grade_and_no_weight_alarm(books):
    _, wb = books["blank"]
    assert cue(wb, "tot.grade", None) in (None, "")
    assert all(cue(wb, f"lv.{i}.check", None) in (None, "") for i in range(len(SELF.levels)))


def test_each_check_is_declared_once_and_the_writer_types_no_conditional_format():
    names = [c.name for c in checks.ROW_CHECKS]
    assert len(names) == len(set(names))
    writer = (Path(__file__).resolve().parents[1] / "workbook_tool" / "writer.py").read_text(encoding="utf-8")
    assert '"criteria": f' not in writer and "criteria\": '=" not in writer
