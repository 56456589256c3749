"""Issuing from the office's own spreadsheets (issue #12): rosters as offices keep them, all or nothing.

Each roster below is built the way offices' files look — a merged title, a two-row header under a
merged 资金（万元）, 序号 and 负责人 columns nobody asked for, 2024年 and 12.5万元, a 合计 row and a
footnote — and every issued workbook's record is compared with the roster row it came from.
"""
from __future__ import annotations

import datetime as dt
from pathlib import Path

import openpyxl
from click.testing import CliRunner

from workbook_tool.cli import main
from workbook_tool.layout import build_layout
from workbook_tool.metadata import read_meta
from workbook_tool.template import load_template

from test_issuing import unlocked_filled

ROOT = Path(__file__).resolve().parents[1]
SAMPLE_ROSTER = ROOT / "samples" / "roster-2024.xlsx"
SEED_CODE = "2024-001"


# ---- reading back what was issued ---------------------------------------------------------------

def issued_view(path: Path) -> dict:
    """The issued record of a workbook: record fields, header, issued funds and indicator rows."""
    wb = openpyxl.load_workbook(path)
    meta = read_meta(wb)
    tpl = load_template(meta.template_id)
    L = build_layout(tpl, meta.lang)
    cells = meta.record.cells

    def at(key: str, row: int | None = None):
        s = L.slots[key]
        return cells.get(f"{s.sheet}!{L.a1(s, row)}")

    defaults = {d.name for d in tpl.indicators}
    rows = []
    for r in meta.record.rows:
        name = at("name", r)
        if name in defaults:
            continue
        target = at("target", r)
        if at("unit", r) == tpl.date_unit:
            target = (dt.datetime(1899, 12, 30) + dt.timedelta(days=target)).date()
        rows.append((at("level", r), at("category", r), name, at("op", r), target, at("unit", r) or "", at("weight", r)))
    return {
        "template": tpl.id,
        "record": meta.record.extra.get("issue", {}),
        "header": {f: at(f"hdr.{f}") for f in ("name", "department", "unit", "year")},
        "budget": at("funds.total.budget"),
        "initial": at("funds.total.initial") if "funds.total.initial" in L.slots else None,
        "indicators": rows,
    }


# ---- an office-style roster ---------------------------------------------------------------------

SELF = [  # (level, category, name, 指标值 as exported, expected (op, value, unit), weight)
    ("产出指标", "数量指标", "服务人数", "≥{n}人", ("≥", "{n}", "人"), 20),
    ("产出指标", "质量指标", "验收合格率", "≥95%", ("≥", 95, "%"), 10),
    ("产出指标", "时效指标", "完成时间", "2024年10月31日前", ("≤", dt.date(2024, 10, 31), "日期"), 10),
    ("产出指标", "成本指标", "项目成本", "≤{cost}万元", ("≤", "{cost}", "万元"), 10),
    ("效益指标", "社会效益指标", "群众生活质量", "有效提高", ("定性", "有效提高", ""), 30),
    ("满意度指标", "服务对象满意度指标", "服务对象满意度", "≥90％", ("≥", 90, "%"), 10),
]
DEPT = [  # dept-eval: 决策/过程 come from the template; exports say 产出指标 / 数量指标 for 产出 / 产出数量
    ("产出指标", "数量指标", "购置册数", "≥{n}册", ("≥", "{n}", "册"), 15),
    ("产出指标", "质量指标", "验收合格率", "=100%", ("=", 100, "%"), 10),
    ("产出指标", "时效指标", "配送完成时间", "2024年9月1日前", ("≤", dt.date(2024, 9, 1), "日期"), 5),
    ("产出指标", "成本指标", "购置费用", "≤{cost}万元", ("≤", "{cost}", "万元"), 10),
    ("效益指标", "社会效益指标", "生均藏书量", "有效提高", ("定性", "有效提高", ""), 10),
    ("满意度指标", "服务对象满意度指标", "师生满意度", "≥90%", ("≥", 90, "%"), 10),
]
FORM_NAMES = {"产出指标": "产出", "效益指标": "效益", "满意度指标": "满意度", "数量指标": "产出数量", "质量指标": "产出质量",
              "时效指标": "产出时效", "成本指标": "产出成本", "服务对象满意度指标": "满意度指标"}


def office_projects(n: int) -> list[dict]:
    """n projects, alternating templates; amounts and years written the ways offices write them."""
    out = []
    for i in range(1, n + 1):
        dept = i % 2 == 0
        budget = round(10 + i * 1.25, 2)
        out.append({
            "序号": i, "code": f"2024-{i:03d}", "name": f"2024年第{i}号项目支出（全称）" if i % 7 == 0 else f"2024年项目{i:02d}经费",
            "department": f"市第{i % 5 + 1}局", "unit": f"市第{i % 5 + 1}局直属单位{i}", "year": "2024年" if i % 3 == 0 else 2024,
            "template": "绩效评价" if dept else "自评表", "initial": budget - 1 if not dept else None,
            "budget": f"{budget}万元" if i % 4 == 0 else budget, "负责人": f"张{i}",
            "deadline": dt.date(2025, 3, 31) if i % 2 else "2025年4月15日",
            "dept": dept, "n": 100 * i, "cost": budget,
        })
    return out


def write_office_roster(path: Path, projects: list[dict], indicator_rows: list[list] | None = None) -> None:
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = "项目"
    ws.append(["2024年度项目支出绩效评价下发名单"])
    ws.merge_cells("A1:K1")
    ws.append(["填报单位：市财政局绩效管理科", None, None, None, None, None, None, None, None, None, "单位：万元"])
    ws.append(["序号", "项目编码", "项目名称（全称）", "主管部门", "预算单位", "年度", "评价类型", "资金（万元）", None, "负责人", "报送截止日期"])
    ws.append([None, None, None, None, None, None, None, "年初预算数", "全年预算数", None, None])
    ws.merge_cells("H3:I3")
    for col in "ABCDEFGJK":
        ws.merge_cells(f"{col}3:{col}4")
    for p in projects:
        ws.append([p["序号"], p["code"], p["name"], p["department"], p["unit"], p["year"], p["template"], p["initial"],
                   p["budget"], p["负责人"], p["deadline"]])
    ws.append(["合计", None, None, None, None, None, None, None, sum(1 for _ in projects), None, None])
    ws.append([])
    ws.append(["注：资金单位为万元。"])
    ind = wb.create_sheet("指标")
    ind.append(["2024年度项目绩效目标表（预算系统导出）"])
    ind.merge_cells("A1:J1")
    ind.append(["项目编码", "项目名称", "一级指标", "二级指标", "三级指标", "指标性质", "指标值", "度量单位", "分值", "备注"])
    if indicator_rows is None:
        indicator_rows = []
        for p in projects:
            first = True
            prev_level = None
            for (lv, cat, name, text, _exp, w) in (DEPT if p["dept"] else SELF):
                text = text.format(n=p["n"], cost=p["cost"])
                level = lv if lv != prev_level else None  # exports leave the level blank under its first row
                prev_level = lv
                indicator_rows.append([p["code"] if first else None, p["name"] if first else None, level, cat, name,
                                       None, text, None, w, None])
                first = False
    for r in indicator_rows:
        ind.append(r)
    for row in ind.iter_rows():
        for c in row:
            if isinstance(c.value, str) and c.value.startswith("="):
                c.data_type = "s"  # "=100%" is text in an export, not a formula
    # the project code cell merged over the project's rows, as exports do
    start = 3
    for p in projects:
        k = len(DEPT if p["dept"] else SELF)
        ind.merge_cells(f"A{start}:A{start + k - 1}")
        start += k
    wb.save(path)


def expected_rows(p: dict) -> list[tuple]:
    rows = []
    tpl_rows = DEPT if p["dept"] else SELF
    for (lv, cat, name, _text, (op, value, unit), w) in tpl_rows:
        if isinstance(value, str) and value.startswith("{"):
            value = p[value.strip("{}")]
        if p["dept"]:
            lv, cat = FORM_NAMES.get(lv, lv), FORM_NAMES.get(cat, cat)
        rows.append((lv, cat, name, op, value, unit, w))
    return rows


def test_office_roster_of_52_projects_issues_every_row_as_written(tmp_path):
    projects = office_projects(52)
    roster = tmp_path / "名单.xlsx"
    write_office_roster(roster, projects)
    out = tmp_path / "下发"
    r = CliRunner().invoke(main, ["batch", str(roster), "-o", str(out)])
    assert r.exit_code == 0, r.output
    # the extra column is named, the 合计 row and the footnote made no workbook
    assert "负责人" in r.output and "合计" not in r.output.replace("合计", "", 0)
    files = sorted(out.glob("*.xlsx"))
    assert len(files) == 52
    assert not [f for f in files if "合计" in f.name or f.name.startswith("project-")]
    for p in projects:
        view = issued_view(out / f"{p['name']}.xlsx")
        assert view["template"] == ("dept-eval" if p["dept"] else "self-eval")
        assert view["header"] == {"name": p["name"], "department": p["department"], "unit": p["unit"], "year": 2024}
        budget = float(str(p["budget"]).replace("万元", ""))
        assert view["budget"] == budget
        assert view["initial"] == (None if p["dept"] else budget - 1)
        deadline = p["deadline"] if isinstance(p["deadline"], dt.date) else dt.date(2025, 4, 15)
        assert view["record"] == {"code": p["code"], "name": p["name"], "year": 2024, "deadline": deadline.isoformat()}
        assert view["indicators"] == expected_rows(p), p["name"]


def test_issued_roster_workbooks_leave_unlocked_cells_blank(tmp_path):
    out = tmp_path / "out"
    r = CliRunner().invoke(main, ["batch", str(SAMPLE_ROSTER), "-o", str(out)])
    assert r.exit_code == 0, r.output
    files = sorted(out.glob("*.xlsx"))
    assert len(files) == 4
    for f in files:
        assert unlocked_filled(f) == [], f.name


def test_sample_roster_issues_the_seed_with_its_targets(tmp_path):
    out = tmp_path / "out"
    r = CliRunner().invoke(main, ["batch", str(SAMPLE_ROSTER), "-o", str(out)])
    assert r.exit_code == 0, r.output
    seed = issued_view(next(out.glob(f"{SEED_CODE}*.xlsx")))
    assert seed["template"] == "dept-eval" and seed["budget"] == 7.94
    assert seed["record"]["code"] == SEED_CODE and seed["record"]["contact"] == "王芳"
    by_name = {row[2]: row for row in seed["indicators"]}
    assert by_name["商会党建书籍配发"] == ("产出", "产出数量", "商会党建书籍配发", "≥", 800, "本", 5)
    assert by_name["购买学习资料和书籍等费用"][3:6] == ("≤", 1.94, "万元")
    assert by_name["党支部开展党务培训班完成及时率"][3:6] == ("=", 100, "%")
    assert by_name["有效提高商会党建各项工作"][3:5] == ("定性", "有效提高")
    templates = {issued_view(f)["template"] for f in out.glob("*.xlsx")}
    assert templates == {"self-eval", "dept-eval"}


def test_gbk_csv_pair_with_synonyms_subtotals_and_units(tmp_path):
    projects = tmp_path / "项目.csv"
    projects.write_bytes(
        "项目编码,项目,主管部门,单位名称,年度,预算数（万元）,备注\n"
        "A1,乡村道路养护,交通局,公路中心,2024年,300万元,重点项目\n"
        ",,,,,,\n"
        "A2,社区养老补贴,民政局,养老中心,2024,\"1,234.5\",\n"
        "小计,,,,,1534.5,\n".encode("gbk"))
    indicators = tmp_path / "指标.csv"
    rows = ["项目编码,一级指标,二级指标,三级指标,指标性质,指标值,计量单位,分值"]
    for code in ("A1", "A2"):
        rows += [f"{code},产出指标,数量指标,数量,≥,850,公里,20", f"{code},产出指标,质量指标,质量,,≥80%,,15",
                 f"{code},产出指标,时效指标,时效,,2024年11月30日前,,5", f"{code},产出指标,成本指标,成本,≤,0.35,万元,10",
                 f"{code},效益指标,社会效益指标,效益,定性,有效保障,,30", f"{code},满意度指标,服务对象满意度指标,满意度,,≥85%,,10"]
    indicators.write_bytes(("\n".join(rows) + "\n").encode("gbk"))
    out = tmp_path / "out"
    r = CliRunner().invoke(main, ["batch", str(projects), "--indicators", str(indicators), "-o", str(out)])
    assert r.exit_code == 0, r.output
    assert "备注" in r.output  # the extra column is named
    assert sorted(f.name for f in out.glob("*.xlsx")) == ["乡村道路养护.xlsx", "社区养老补贴.xlsx"]
    a2 = issued_view(out / "社区养老补贴.xlsx")
    assert a2["budget"] == 1234.5 and a2["header"]["unit"] == "养老中心" and a2["header"]["year"] == 2024
    assert a2["indicators"][0] == ("产出指标", "数量指标", "数量", "≥", 850, "公里", 20)
    assert a2["indicators"][2] == ("产出指标", "时效指标", "时效", "≤", dt.date(2024, 11, 30), "日期", 5)


# ---- refusals: everything listed, nothing written ------------------------------------------------

def _refused(tmp_path: Path, args: list[str]) -> str:
    out = tmp_path / "out"
    r = CliRunner().invoke(main, ["batch", *args, "-o", str(out)])
    assert r.exit_code == 2, r.output
    assert not out.exists() or not list(out.iterdir()), "nothing may be written"
    assert "Traceback" not in r.output
    return r.output


def test_every_unreadable_cell_is_named_and_nothing_is_written(tmp_path):
    projects = office_projects(4)
    projects[1]["year"] = "二零二四"
    projects[2]["budget"] = "十二万"
    roster = tmp_path / "名单.xlsx"
    write_office_roster(roster, projects)
    wb = openpyxl.load_workbook(roster)
    ind = wb["指标"]
    ind["G3"] = "800余册"  # project 1's first target: an approximation
    ind.append(["2024-999", None, "产出指标", "数量指标", "孤儿指标", "≥", 1, "个", 5])
    wb.save(roster)
    msg = _refused(tmp_path, [str(roster)])
    assert "“项目”第 6 行“年度”列 '二零二四'" in msg  # rows as Excel shows them: data starts on row 5
    assert "“项目”第 7 行“全年预算数”列 '十二万'" in msg
    assert "“指标”第 3 行“指标值”列 '800余册'" in msg and "约数" in msg
    assert "'2024-999'" in msg and "名单中没有这个项目" in msg


def test_roster_without_a_header_is_refused(tmp_path):
    roster = tmp_path / "x.csv"
    roster.write_text("a,b,c\n1,2,3\n", encoding="utf-8")
    msg = _refused(tmp_path, [str(roster)])
    assert "找不到表头" in msg


def test_level_weights_not_adding_up_are_refused_for_the_whole_batch(tmp_path):
    projects = office_projects(3)
    roster = tmp_path / "名单.xlsx"
    write_office_roster(roster, projects)
    wb = openpyxl.load_workbook(roster)
    wb["指标"]["I3"] = 15  # project 1 (self-eval): 服务人数 20 → 15, 产出 adds up to 45, total 95
    wb.save(roster)
    msg = _refused(tmp_path, [str(roster)])
    assert "项目“2024年项目01经费”" in msg and "一级指标“产出指标”分值合计 = 45" in msg and "应为 50" in msg
    assert "分值总计 = 95" in msg


def test_category_of_another_level_is_refused(tmp_path):
    projects = office_projects(1)
    roster = tmp_path / "名单.xlsx"
    write_office_roster(roster, projects)
    wb = openpyxl.load_workbook(roster)
    wb["指标"]["D3"] = "社会效益指标"  # under 产出指标
    wb.save(roster)
    msg = _refused(tmp_path, [str(roster)])
    assert "“指标”第 3 行“二级指标”列 '社会效益指标'" in msg and "不属于一级指标“产出指标”" in msg


def test_conflicting_operator_and_qualitative_number_are_refused(tmp_path):
    projects = office_projects(1)
    roster = tmp_path / "名单.xlsx"
    write_office_roster(roster, projects)
    wb = openpyxl.load_workbook(roster)
    wb["指标"]["F4"] = "≤"  # 验收合格率 ≥95% with 指标性质 ≤
    wb["指标"]["F7"], wb["指标"]["G7"] = "定性", 5  # a qualitative row with a number
    wb.save(roster)
    msg = _refused(tmp_path, [str(roster)])
    assert "“指标”第 4 行" in msg and "与指标性质“≤”不一致" in msg
    assert "“指标”第 7 行" in msg and "定性指标的指标值应为文字" in msg


def test_roster_template_reads_back_as_an_empty_roster(tmp_path):
    out = tmp_path / "名单"
    r = CliRunner().invoke(main, ["roster-template", "-o", str(out)])
    assert r.exit_code == 0, r.output
    wb = openpyxl.load_workbook(tmp_path / "名单.xlsx")
    assert wb.sheetnames[:3] == ["列表", "项目", "指标"]
    assert [c.value for c in wb["项目"][1]][:3] == ["项目编码", "项目名称", "主管部门"]
    lists = [dv.formula1 for dv in wb["指标"].data_validations.dataValidation]
    assert len([f for f in lists if f and "列表" in f]) == 4  # 一级, 二级, 指标性质, 计量单位
    # empty: batch refuses with a clear message, writes nothing
    msg = _refused(tmp_path, [str(tmp_path / "名单.xlsx")])
    assert "没有可读的项目行" in msg


def test_new_takes_one_project_from_the_roster(tmp_path):
    out = tmp_path / "seed.xlsx"
    r = CliRunner().invoke(main, ["new", "--roster", str(SAMPLE_ROSTER), "--code", SEED_CODE, "-o", str(out),
                                  "--contact", "李四"])
    assert r.exit_code == 0, r.output
    view = issued_view(out)
    assert view["record"]["code"] == SEED_CODE and view["record"]["contact"] == "李四"  # the command line wins
    assert view["record"]["deadline"] == "2025-03-31"  # the roster's
    assert len(view["indicators"]) == 10 and unlocked_filled(out) == []
    r = CliRunner().invoke(main, ["new", "--roster", str(SAMPLE_ROSTER), "--code", "nope", "-o", str(tmp_path / "x.xlsx")])
    assert r.exit_code == 2 and "'nope'" in r.output and not (tmp_path / "x.xlsx").exists()
