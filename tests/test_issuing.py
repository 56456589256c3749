"""Issuing: what the office sends out carries nothing the unit must fill (issue #12)."""
from __future__ import annotations

from pathlib import Path

import openpyxl
import pytest
from click.testing import CliRunner

from workbook_tool.cli import main
from workbook_tool.template import builtin_templates

ROOT = Path(__file__).resolve().parents[1]
SEED = ROOT / "samples" / "party-building-2024.yaml"


def unlocked_filled(path: Path) -> list[str]:
    """Every unlocked (unit-fillable) cell that holds something, as 'sheet!A1 = value'."""
    wb = openpyxl.load_workbook(path)
    return [f"{ws.title}!{c.coordinate} = {c.value!r}" for ws in wb for row in ws.iter_rows() for c in row
            if c.value not in (None, "") and not c.protection.locked]


def unlocked_count(path: Path) -> int:
    wb = openpyxl.load_workbook(path)
    return sum(1 for ws in wb for row in ws.iter_rows() for c in row if c.has_style and not c.protection.locked)


@pytest.mark.parametrize("lang", ["zh", "en"])
@pytest.mark.parametrize("tid", builtin_templates())
def test_blank_workbook_leaves_every_unlocked_cell_empty(tmp_path, tid, lang):
    out = tmp_path / "blank.xlsx"
    r = CliRunner().invoke(main, ["new", "-t", tid, "--lang", lang, "-o", str(out)])
    assert r.exit_code == 0, r.output
    assert unlocked_filled(out) == []
    assert unlocked_count(out) > 50  # the test looks at real input cells, not at nothing


def test_issued_seed_project_leaves_every_unlocked_cell_empty(tmp_path):
    """Issue #12: without --with-actuals the seed's arrived/spent 7.94 landed in the unit's cells."""
    out = tmp_path / "issued.xlsx"
    r = CliRunner().invoke(main, ["new", "--project", str(SEED), "-o", str(out)])
    assert r.exit_code == 0, r.output
    assert unlocked_filled(out) == []
    # the issued budget column is still there, locked
    budget = openpyxl.load_workbook(out)["预算"]
    assert [c.value for c in budget["B"] if c.value == 7.94 and c.protection.locked]


def test_with_actuals_still_writes_fill_fields(tmp_path):
    out = tmp_path / "filled.xlsx"
    r = CliRunner().invoke(main, ["new", "--project", str(SEED), "--with-actuals", "-o", str(out)])
    assert r.exit_code == 0, r.output
    filled = unlocked_filled(out)
    assert any("7.94" in f for f in filled) and any("1015" in f for f in filled)


def test_check_warns_when_a_return_is_for_another_year_than_issued(tmp_path):
    """The issue record (project, year, office details) travels with the form; a reused form is named."""
    import json

    out = tmp_path / "issued.xlsx"
    r = CliRunner().invoke(main, ["new", "--project", str(SEED), "-o", str(out), "--deadline", "2025-03-31",
                                  "--contact", "王芳", "--phone", "0991-4567890", "--return-to", "jxk@example.gov.cn"])
    assert r.exit_code == 0, r.output
    wb = openpyxl.load_workbook(out)
    guide = [c.value for c in wb["说明"]["A"] if c.value]
    assert "报送截止日期：2025-03-31" in guide and "联系人：王芳" in guide and "报送方式：jxk@example.gov.cn" in guide
    r = CliRunner().invoke(main, ["check", str(out), "--format", "json"])
    codes = {f["code"] for f in json.loads(r.output)["files"][0]["findings"]}
    assert "V037" not in codes and "S004" not in codes  # the record is part of the fingerprint, intact
    budget = wb["预算"]
    year_cell = next(c for row in budget.iter_rows() for c in row if c.value == 2024)
    year_cell.value = 2023  # last year's form reused
    reused = tmp_path / "reused.xlsx"
    wb.save(reused)
    r = CliRunner().invoke(main, ["check", str(reused), "--format", "json"])
    found = [f for f in json.loads(r.output)["files"][0]["findings"] if f["code"] == "V037"]
    assert len(found) == 1 and "2023" in found[0]["message"] and "2024" in found[0]["message"]


def test_output_extension_and_umask(tmp_path):
    import os

    r = CliRunner().invoke(main, ["new", "-o", str(tmp_path / "c")])
    assert r.exit_code == 0 and (tmp_path / "c.xlsx").exists() and not (tmp_path / "c").exists()
    r = CliRunner().invoke(main, ["new", "-o", str(tmp_path / "x.xls")])
    assert r.exit_code == 2 and ".xlsx" in r.output and not (tmp_path / "x.xls").exists()
    old = os.umask(0o027)
    try:
        CliRunner().invoke(main, ["new", "-o", str(tmp_path / "m.xlsx")])
    finally:
        os.umask(old)
    assert (tmp_path / "m.xlsx").stat().st_mode & 0o777 == 0o640
    r = CliRunner().invoke(main, ["keygen", str(tmp_path / "k.key")])
    assert (tmp_path / "k.key").stat().st_mode & 0o777 == 0o600  # the key stays private


def test_project_file_in_gbk_is_read(tmp_path):
    p = tmp_path / "p.yaml"
    p.write_bytes(SEED.read_text(encoding="utf-8").encode("gb18030"))
    r = CliRunner().invoke(main, ["new", "--project", str(p), "-o", str(tmp_path / "o.xlsx")])
    assert r.exit_code == 0, r.output


def _yaml(tmp_path: Path, indicators: str, funds: str = "{total: {budget: 10}}") -> Path:
    p = tmp_path / "p.yaml"
    p.write_text("template: self-eval\nproject: {name: 养老补贴, year: 2024}\n"
                 f"funds: {funds}\nindicators:\n{indicators}", encoding="utf-8")
    return p


GOOD = """\
  - {level: 产出指标, category: 数量指标, name: 服务人数, op: "≥", target: 1200, unit: 人, weight: 30}
  - {level: 产出指标, category: 时效指标, name: 完成时间, op: "≤", target: 2024-12-31, unit: 日期, weight: 20}
  - {level: 效益指标, category: 社会效益指标, name: 生活质量, op: 定性, target: 有效提高, weight: 30}
  - {level: 满意度指标, category: 服务对象满意度指标, name: 满意度, op: "≥", target: 90, unit: "%", weight: 10}
"""


@pytest.mark.parametrize("change, expected", [
    (("weight: 30}", "weight: 25}", 1), "一级指标“产出指标”分值合计 = 45"),
    (("name: 满意度,", "name: 服务人数,", 1), "第 4 行指标“服务人数”，三级指标 = '服务人数'：与第 1 行指标重名"),
    (("target: 有效提高", "target: 5", 1), "第 3 行指标“生活质量”，指标值 = 5：定性指标的指标值应为文字"),
    (("target: 90, unit: \"%\", weight: 10}", "target: 90, unit: \"%\", weight: 10, score: 10}", 1),
     "第 4 行指标“满意度”，得分 = 10：该指标按公式计分"),
    (("op: \"≤\", target: 2024-12-31", "op: \"≥\", target: 2024-12-31", 1), "第 2 行指标“完成时间”，指标性质 = '≥'：日期型"),
    (("unit: 人, weight: 30", "unit: 日期, weight: 30", 1), "第 1 行指标“服务人数”，指标值 = 1200：计量单位为“日期”，指标值应为日期"),
])
def test_new_refuses_an_inconsistent_issue_and_writes_nothing(tmp_path, change, expected):
    old, new, count = change
    assert GOOD.count(old) >= count
    p = _yaml(tmp_path, GOOD.replace(old, new, count))
    out = tmp_path / "o.xlsx"
    r = CliRunner().invoke(main, ["new", "--project", str(p), "-o", str(out)])
    assert r.exit_code == 2, r.output
    assert expected in r.output and "项目“养老补贴”" in r.output
    assert not out.exists() and not list(tmp_path.glob("*.xlsx")) and not list(tmp_path.glob(".wbtool-*"))


def test_new_issues_the_consistent_project(tmp_path):
    r = CliRunner().invoke(main, ["new", "--project", str(_yaml(tmp_path, GOOD)), "-o", str(tmp_path / "o.xlsx")])
    assert r.exit_code == 0, r.output


def test_new_refuses_line_items_that_do_not_add_up(tmp_path):
    funds = "{total: {budget: 10}, items: [{label: 当年财政拨款, budget: 6}, {label: 上年结转资金, budget: 3}]}"
    p = _yaml(tmp_path, GOOD, funds)
    r = CliRunner().invoke(main, ["new", "--project", str(p), "-o", str(tmp_path / "o.xlsx"), "--lang", "en"])
    assert r.exit_code == 2
    assert "全年预算数（明细合计） = 9" in r.output
    assert "differs from the total 10" in r.output and not (tmp_path / "o.xlsx").exists()


@pytest.mark.parametrize("args, zh, en", [
    (["new"], "用法错误：缺少选项 '-o' / '--output'", "Error: Missing option '-o' / '--output'."),
    (["new", "-o", "x.xlsx", "--bogus"], "用法错误：没有选项 '--bogus'", "No such option"),
    (["new", "-o", "x.xlsx", "--template"], "用法错误：选项 '--template' 需要一个值", "requires an argument"),
])
def test_usage_errors_in_the_chosen_language(args, zh, en):
    r = CliRunner().invoke(main, args)
    assert r.exit_code == 2 and zh in r.output and "Usage:" not in r.output
    r = CliRunner().invoke(main, [*args[:1], "--lang", "en", *args[1:]])
    assert r.exit_code == 2 and en in r.output


def test_office_details_from_the_project_file_and_the_command_line(tmp_path):
    from workbook_tool.metadata import read_meta

    p = tmp_path / "p.yaml"
    p.write_text(SEED.read_text(encoding="utf-8") + "office: {deadline: 2025年3月31日, contact: 王芳, code: 2024-001}\n",
                 encoding="utf-8")
    out = tmp_path / "o.xlsx"
    r = CliRunner().invoke(main, ["new", "--project", str(p), "-o", str(out), "--contact", "李四"])
    assert r.exit_code == 0, r.output
    issue = read_meta(openpyxl.load_workbook(out)).record.extra["issue"]
    assert issue == {"code": "2024-001", "deadline": "2025-03-31", "contact": "李四",
                     "name": "2024年非公有制党建工作经费", "year": 2024}
    p.write_text(SEED.read_text(encoding="utf-8") + "office: {deadline: 下个月}\n", encoding="utf-8")
    r = CliRunner().invoke(main, ["new", "--project", str(p), "-o", str(tmp_path / "x.xlsx")])
    assert r.exit_code == 2 and "报送截止日期应为日期" in r.output


def test_blank_form_carries_office_details_and_keeps_the_template_rows(tmp_path):
    from workbook_tool.metadata import read_meta

    out = tmp_path / "blank.xlsx"
    r = CliRunner().invoke(main, ["new", "-t", "dept-eval", "-o", str(out), "--deadline", "2025-03-31"])
    assert r.exit_code == 0, r.output
    wb = openpyxl.load_workbook(out)
    meta = read_meta(wb)
    assert meta.record.extra["issue"] == {"deadline": "2025-03-31"} and not meta.record.project_issued
    assert "立项依据充分性" in [c.value for row in wb["指标"].iter_rows() for c in row]  # dept-eval's default rows
    assert unlocked_filled(out) == []
