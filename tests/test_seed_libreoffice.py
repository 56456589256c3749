"""The seed, recalculated by LibreOffice: the workbook's own formulas give the report's scores, 99 and 优.

This reads LibreOffice's cached results directly (not through the checker), so it proves the
formulas, and then that `wbtool check` agrees and exits 0.
"""
from __future__ import annotations

from pathlib import Path

import openpyxl
from click.testing import CliRunner

from workbook_tool.cli import main
from workbook_tool.recalc import recalculate

ROOT = Path(__file__).resolve().parents[1]
SEED = ROOT / "samples" / "party-building-2024.yaml"

# The report's table 项目各部分权重和绩效分值 (分值, 得分)
REPORT = {
    "立项依据充分性": 4, "立项程序规范性": 4, "绩效目标合理性": 3, "绩效指标明确性": 3, "预算编制科学性": 3,
    "资金分配合理性": 2, "资金使用合规性": 3, "管理制度健全性": 3, "制度执行有效性": 4,
    "商会党建书籍配发": 5, "党务培训班培训人数": 5, "组织党支部开展党务培训班": 5, "直属商会党支部党务工作者培训率": 5,
    "党支部开展党务培训班完成及时率": 5, "党务培训班费用": 5, "购买商会党建书籍": 5, "购买学习资料和书籍等费用": 5,
    "有效提高商会党建各项工作": 10, "服务对象满意度": 10,
}


def test_seed_formulas_recalculated_by_libreoffice(tmp_path):
    src = tmp_path / "seed.xlsx"
    r = CliRunner().invoke(main, ["new", "--project", str(SEED), "--with-actuals", "-o", str(src)])
    assert r.exit_code == 0, r.output
    (out,) = recalculate([src], tmp_path / "lo")
    wb = openpyxl.load_workbook(out, data_only=True)
    ws = wb["评分"]
    hdr = [c.value for c in ws[3]]
    name_col, score_col = hdr.index("三级指标"), hdr.index("得分")
    got = {row[name_col]: row[score_col] for row in ws.iter_rows(min_row=4, values_only=True) if row[name_col]}
    assert got == REPORT
    budget = {row[0]: row for row in wb["预算"].iter_rows(values_only=True) if row[0]}
    assert budget["资金到位率"][4] == 5 and budget["预算执行率"][4] == 5
    summary = {row[0]: row[2] for row in wb["汇总"].iter_rows(values_only=True) if row[0]}
    assert summary["总分"] == 99 and summary["评价等级"] == "优"
    assert [summary[k] for k in ("决策", "过程", "产出", "效益", "满意度")] == [19, 20, 40, 10, 10]

    before = out.read_bytes(), out.stat().st_mtime_ns
    res = CliRunner().invoke(main, ["check", str(out)])
    assert res.exit_code == 0, res.output
    assert "99.00" in res.output and "优" in res.output
    assert (out.read_bytes(), out.stat().st_mtime_ns) == before  # check never writes


def test_committed_sample_checks_clean():
    """samples/party-building-2024-filled.xlsx is a LibreOffice-recalculated return that checks clean."""
    r = CliRunner().invoke(main, ["check", str(ROOT / "samples" / "party-building-2024-filled.xlsx"), "--format", "json"])
    assert r.exit_code == 0, r.output
    import json

    doc = json.loads(r.stdout)
    f = doc["files"][0]
    assert f["total"] == {"python": 99, "workbook": 99} and f["grade"]["python"] == "优"
