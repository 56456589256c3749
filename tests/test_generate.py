"""`wbtool new`: the generated workbook's structure, read back semantically with openpyxl.

Expectations are the form's own words and the issue's requirements, not values re-read from the
layout that wrote them.
"""
from __future__ import annotations

import zipfile
from pathlib import Path

import openpyxl
import pytest
from click.testing import CliRunner

from workbook_tool.cli import main

ROOT = Path(__file__).resolve().parents[1]
SEED = ROOT / "samples" / "party-building-2024.yaml"


def _new(tmp_path: Path, *args: str, name: str = "w.xlsx") -> Path:
    out = tmp_path / name
    r = CliRunner().invoke(main, ["new", *args, "-o", str(out)])
    assert r.exit_code == 0, r.output
    return out


@pytest.fixture(scope="module")
def books(tmp_path_factory):
    d = tmp_path_factory.mktemp("gen")
    return {
        "self-eval": _new(d, name="se.xlsx"),
        "dept-eval": _new(d, "--template", "dept-eval", name="de.xlsx"),
        "seed": _new(d, "--project", str(SEED), name="seed.xlsx"),
        "en": _new(d, "--lang", "en", name="en.xlsx"),
    }


def _headers(ws, row=3):
    return [c.value for c in ws[row] if c.value is not None]


def test_sheets_in_order_with_hidden_lists_and_metadata(books):
    wb = openpyxl.load_workbook(books["self-eval"])
    assert wb.sheetnames == ["说明", "预算", "指标", "实际完成", "评分", "汇总", "自评表", "列表", "元数据"]
    assert wb["列表"].sheet_state == "hidden" and wb["元数据"].sheet_state == "hidden"
    assert all(wb[s].sheet_state == "visible" for s in wb.sheetnames[:6])
    en = openpyxl.load_workbook(books["en"])
    assert en.sheetnames[:6] == ["Guide", "Budget", "Indicators", "Actuals", "Scoring", "Summary"]


def test_headers_use_the_forms_words(books):
    wb = openpyxl.load_workbook(books["self-eval"])
    ind = _headers(wb["指标"])
    for word in ("一级指标", "二级指标", "三级指标", "指标性质", "指标值", "计量单位", "分值"):
        assert word in ind
    act = _headers(wb["实际完成"])
    for word in ("实际完成值", "得分", "偏差原因分析及改进措施"):
        assert word in act
    budget_words = {c.value for row in wb["预算"].iter_rows() for c in row}
    for word in ("年初预算数", "全年预算数", "全年执行数", "预算执行率",
                 "项目名称", "主管部门", "实施单位", "年度"):
        assert word in budget_words
    de = openpyxl.load_workbook(books["dept-eval"])
    words = {c.value for row in de["预算"].iter_rows() for c in row}
    assert {"预算资金", "实际到位资金", "实际支出资金", "资金到位率", "预算执行率"} <= words


def test_at_least_40_indicator_rows_with_score_formulas(books):
    wb = openpyxl.load_workbook(books["self-eval"])
    ws = wb["评分"]
    col = _headers(ws).index("得分") + 1
    formulas = [ws.cell(r, col).value for r in range(4, 4 + 40)]
    assert all(isinstance(f, str) and f.startswith("=ROUND(") or f.startswith("=IF(") for f in formulas)
    assert all("_xlfn" not in f for f in formulas)


def _validations(ws):
    return [(dv.type, dv.formula1, str(dv.sqref), dv.promptTitle, dv.prompt) for dv in ws.data_validations.dataValidation]


def test_dropdowns_come_from_ranges_on_the_hidden_list_sheet(books):
    wb = openpyxl.load_workbook(books["self-eval"])
    dvs = _validations(wb["指标"])
    lists = {f1: sq for t, f1, sq, *_ in dvs if t == "list"}
    assert {"lst_levels", "lst_categories", "lst_ops", "lst_units"} <= set(lists)
    dn = wb.defined_names["lst_ops"]
    (sheet, rng), = dn.destinations
    assert sheet == "列表"
    ops = [c.value for row in wb[sheet][rng.replace("$", "")] for c in row]
    assert ops == ["≥", "≤", "=", "＞", "＜", "定性"]
    grades = wb.defined_names["lst_grades"]
    (s2, r2), = grades.destinations
    assert [c.value for row in wb[s2][r2.replace("$", "")] for c in row][0] == "达成年度指标"
    # every validation has a Chinese prompt
    assert all(p and any("\u4e00" <= ch <= "\u9fff" for ch in p) for *_, p in dvs)
    act = {t for t, *_ in _validations(wb["实际完成"])}
    assert {"list", "custom"} <= act
    assert any(t == "decimal" for t, *_ in _validations(wb["预算"]))
    assert any(t == "date" for t, *_ in _validations(wb["汇总"]))


def test_protection_locks_formulas_and_opens_inputs(books):
    wb = openpyxl.load_workbook(books["seed"])
    for name in ("说明", "预算", "指标", "实际完成", "评分", "汇总"):
        assert wb[name].protection.sheet, name
    act = wb["实际完成"]
    hdr = _headers(act)
    actual_col, score_col = hdr.index("实际完成值") + 1, hdr.index("得分") + 1
    for r in range(4, 44):
        assert act.cell(r, actual_col).protection.locked is False
        assert act.cell(r, score_col).protection.locked is True
        assert act.cell(r, score_col).data_type == "f"
    ind = wb["指标"]
    target_col = _headers(ind).index("指标值") + 1
    name_col = _headers(ind).index("三级指标") + 1
    # issued (prefilled) rows are locked, unused rows stay open for the unit
    issued = [r for r in range(4, 44) if ind.cell(r, name_col).value]
    assert len(issued) == 19
    assert all(ind.cell(r, target_col).protection.locked for r in issued)
    assert not ind.cell(43, target_col).protection.locked


def test_prefilled_project_header_funds_and_targets(books):
    wb = openpyxl.load_workbook(books["seed"])
    budget_values = [c.value for row in wb["预算"].iter_rows() for c in row]
    assert "2024年非公有制党建工作经费" in budget_values and 7.94 in budget_values
    ind = wb["指标"]
    rows = {r[3].value: r for r in ind.iter_rows(min_row=4, max_row=43) if r[3].value}
    books_row = rows["商会党建书籍配发"]
    assert [books_row[i].value for i in (4, 5, 6, 7)] == ["≥", 800, "本", 5]
    act = wb["实际完成"]
    # issued without actuals: the unit's columns are empty
    hdr = _headers(act)
    col = hdr.index("实际完成值") + 1
    assert all(act.cell(r, col).value is None for r in range(4, 44))


def test_metadata_is_stored_redundantly(books):
    wb = openpyxl.load_workbook(books["seed"])
    props = {p.name: p.value for p in wb.custom_doc_props.props}
    assert props["wbtool.template"] == "dept-eval@2024.2"
    meta = {r[0]: r[1] for r in wb["元数据"].iter_rows(min_row=3, max_col=2, values_only=True) if r[0]}
    assert meta["template_id"] == "dept-eval" and meta["fingerprint"] == props["wbtool.fingerprint"]
    assert len(meta["fingerprint"]) == 64


def test_chart_print_setup_and_frozen_panes(books):
    with zipfile.ZipFile(books["self-eval"]) as z:
        assert any(n.startswith("xl/charts/chart") for n in z.namelist())
    wb = openpyxl.load_workbook(books["self-eval"])
    ws = wb["评分"]
    assert ws.page_setup.paperSize == 9
    assert ws.print_title_rows.replace("$", "") == "3:3"
    assert ws.freeze_panes == "C4"


def test_existing_output_needs_force(tmp_path):
    out = _new(tmp_path)
    before = out.read_bytes()
    r = CliRunner().invoke(main, ["new", "-o", str(out)])
    assert r.exit_code == 2 and "--force" in r.output
    assert out.read_bytes() == before
    r = CliRunner().invoke(main, ["new", "-o", str(out), "--force", "--template", "dept-eval"])
    assert r.exit_code == 0 and out.read_bytes() != before
    assert not list(tmp_path.glob(".wbtool-*"))  # no temporary left behind


@pytest.mark.parametrize("content, field", [
    ("template: dept-eval\nproject: {name: x, year: 24}\n", "project.year"),
    ("template: dept-eval\nindicators:\n  - {name: a, level: 产出, op: '>=', weight: 5, target: 1}\n", "indicators 第 1 项（a） 的 op"),
    ("template: dept-eval\nindicators:\n  - {name: a, level: 产出, op: '≥', weight: 5, target: 800余册}\n", "indicators 第 1 项（a） 的 target"),
    ("template: dept-eval\nfunds: {total: {budget: 四万}}\n", "funds.total.budget"),
    ("template: dept-eval\nbogus: 1\n", "bogus"),
    ("- just\n- a list\n", "顶层"),
    ("a: [unclosed\n", "YAML：第 2 行"),
])
def test_invalid_project_file_names_the_field(tmp_path, content, field):
    p = tmp_path / "p.yaml"
    p.write_text(content, encoding="utf-8")
    r = CliRunner().invoke(main, ["new", "--project", str(p), "-o", str(tmp_path / "o.xlsx")])
    assert r.exit_code == 2
    assert field in r.output and "Traceback" not in r.output
