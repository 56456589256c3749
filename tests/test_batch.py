"""Batch issue from a roster, and the consolidated summary of many returns."""
from __future__ import annotations

import csv
from pathlib import Path

import openpyxl
from click.testing import CliRunner

from workbook_tool.cli import main

ROOT = Path(__file__).resolve().parents[1]
SAMPLE = ROOT / "samples" / "party-building-2024-filled.xlsx"

ROSTER = """项目名称,主管部门,实施单位,年度,年初预算数,全年预算数,文件名
党建经费,市工商联,市工商联,2024,7.94,7.94,
"=HYPERLINK(""http://x"",""点我"")",某局,某单位,2024,10,12.5,evil
坏行,甲,乙,二零二四,1,1,
"""


ROSTER_OK = ROSTER.replace("坏行,甲,乙,二零二四,1,1,\n", "")


def test_batch_refuses_a_roster_with_a_bad_row_and_writes_nothing(tmp_path):
    roster = tmp_path / "名单.csv"
    roster.write_text(ROSTER, encoding="utf-8")
    out = tmp_path / "out"
    r = CliRunner().invoke(main, ["batch", str(roster), "-o", str(out)])
    assert r.exit_code == 2  # all or nothing: the office fixes the row and runs again
    assert "“名单.csv”第 4 行“年度”列 '二零二四'" in r.output
    assert not out.exists()


def test_batch_issues_one_workbook_per_roster_row(tmp_path):
    roster = tmp_path / "名单.csv"
    roster.write_text(ROSTER_OK, encoding="utf-8")
    out = tmp_path / "out"
    r = CliRunner().invoke(main, ["batch", str(roster), "-o", str(out)])
    assert r.exit_code == 0, r.output
    assert "[1/2]" in r.stderr and "[2/2]" in r.stderr  # progress off a terminal: one plain line per project
    assert r.stderr.strip().splitlines()[-1] == "共 2 个项目：生成 2 个工作簿，失败 0 个"
    assert sorted(p.name for p in out.iterdir()) == ["evil.xlsx", "党建经费.xlsx"]
    wb = openpyxl.load_workbook(out / "evil.xlsx")
    budget = wb["预算"]
    cells = {c.coordinate: c for row in budget.iter_rows() for c in row if c.value is not None}
    name_cell = next(c for c in cells.values() if isinstance(c.value, str) and "HYPERLINK" in c.value)
    assert name_cell.data_type == "s"  # a unit name is never turned into a formula
    assert 12.5 in [c.value for c in cells.values()]
    # a second run does not overwrite without --force, and says so before writing anything
    before = (out / "evil.xlsx").read_bytes()
    r2 = CliRunner().invoke(main, ["batch", str(roster), "-o", str(out)])
    assert r2.exit_code == 2 and "--force" in r2.output
    assert (out / "evil.xlsx").read_bytes() == before


def test_collect_summarises_returns_and_keeps_going_past_bad_files(tmp_path):
    from workbook_tool.checker import check_file

    returns = tmp_path / "returns"
    returns.mkdir()
    (returns / "a.xlsx").write_bytes(SAMPLE.read_bytes())
    (returns / "broken.xlsx").write_bytes(b"PK\x03\x04 not really")
    (returns / "~$a.xlsx").write_bytes(b"lock file")  # Excel's lock file is skipped
    out = tmp_path / "汇总.xlsx"
    r = CliRunner().invoke(main, ["collect", str(returns), "-o", str(out)])
    assert r.exit_code == 0, r.output
    wb = openpyxl.load_workbook(out)

    def table(name):
        rows = list(wb[name].iter_rows(min_row=3, values_only=True))
        return [dict(zip(rows[0], row)) for row in rows[1:]]

    files = {Path(f["文件"]).name: f for f in table("文件清单")}
    assert set(files) == {"a.xlsx", "broken.xlsx"}
    assert files["broken.xlsx"]["状态"] == "无法读取"
    (a,) = table("排名")
    rep = check_file(returns / "a.xlsx")
    from workbook_tool.collect import summarise

    verify = summarise(returns / "a.xlsx").verify  # 待核实 for a tampered/unrecalculated return
    assert (a["总分"], a["等级"], a["错误"]) == (99, "待核实" if verify else "优", rep.count("error"))
    assert a["状态"] == {"ok": "通过", "warnings": "有警告", "errors": "有错误"}[rep.status]
    assert (a["决策"], a["过程"], a["产出"]) == (19, 20, 40)
    assert a["项目名称"] == "2024年非公有制党建工作经费"


def test_collect_csv_never_carries_formulas(tmp_path):
    roster = tmp_path / "r.csv"
    roster.write_text(ROSTER_OK, encoding="utf-8")
    CliRunner().invoke(main, ["batch", str(roster), "-o", str(tmp_path / "issued")])
    out = tmp_path / "s.csv"
    r = CliRunner().invoke(main, ["collect", str(tmp_path / "issued"), "-o", str(out)])
    assert r.exit_code == 0, r.output
    with out.open(encoding="utf-8-sig") as f:
        rows = list(csv.DictReader(f))
    names = {row["项目名称"] for row in rows}
    assert "'=HYPERLINK(\"http://x\",\"点我\")" in names  # neutralised for spreadsheet programs
    assert not any(v.startswith("=") for row in rows for v in row.values() if v)
