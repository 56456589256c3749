"""`wbtool check` on returned workbooks with the defects real returns have (issue acceptance).

Every workbook here is made the way it happens in practice: `wbtool new` writes it (from a project
that reads like the spreadsheet), LibreOffice recalculates it as Excel/WPS would, and a "user" edits
it with openpyxl before it goes through LibreOffice again. Cells are located through the layout,
never by hard-coded A1 addresses. All LibreOffice work is batched into two calls per module.
"""
from __future__ import annotations

import copy
import datetime as dt
import json
import re
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import openpyxl
import pytest
from click.testing import CliRunner

from workbook_tool.checker import FileReport, check_file
from workbook_tool.cli import main
from workbook_tool.findings import ERROR, INFO, WARNING, Finding
from workbook_tool.layout import Layout, build_layout
from workbook_tool.project import load_project_file, parse_project
from workbook_tool.recalc import recalculate
from workbook_tool.template import load_template
from workbook_tool.writer import write_workbook

DEPT = load_template("dept-eval")
SELF = load_template("self-eval")
LD = build_layout(DEPT)
LS = build_layout(SELF)

# ---------------------------------------------------------------------------------------------
# A self-evaluation project that reads like the form (财预〔2020〕10号 附件1). Clean: 99.5, 优.
# ---------------------------------------------------------------------------------------------
COLS = ("level", "category", "name", "op", "target", "unit", "weight", "actual", "grade", "score", "explain")
ROWS = [
    # 一级指标    二级指标           三级指标        性质   指标值               单位    分值 实际完成值          等级   评定得分 说明
    ("产出指标", "数量指标", "书籍配发", "≥", 800, "册", 10, 850, None, None, None),
    ("产出指标", "数量指标", "培训人数", "≥", 40, "人", 10, 45, None, None, None),
    ("产出指标", "质量指标", "培训率", "≥", 85, "%", 10, 90.4, None, None, None),
    ("产出指标", "时效指标", "完成时间", "≤", dt.date(2024, 9, 30), "日期", 10, dt.date(2024, 9, 25), None, None, None),
    ("产出指标", "成本指标", "培训费用", "≤", 2, "万元", 10, 1.9, None, None, None),
    ("效益指标", "经济效益指标", "带动就业", "定性", "有效带动", None, 15, "完成", "达成", 15, None),
    ("效益指标", "社会效益指标", "党建工作水平", "定性", "有效提高", None, 15, "完成", "达成年度指标", 15, None),
    ("满意度指标", "服务对象满意度指标", "服务对象满意度", "≥", 85, "%", 10, 93, None, None, None),
]
FUNDS = {  # 万元: 年初预算数 / 全年预算数 / 全年执行数; 执行率 95% → 9.5
    "total": {"initial": 10, "budget": 10, "spent": 9.5},
    "items": [{"initial": 10, "budget": 10, "spent": 9.5}],  # 其中：当年财政拨款
}


def row(*values: Any, **changes: Any) -> dict[str, Any]:
    d = {k: v for k, v in zip(COLS, values) if v is not None}
    d.update(changes)
    return {k: v for k, v in d.items() if v is not None}


def self_eval(changes: dict[str, dict[str, Any]] | None = None, *, drop: tuple[str, ...] = (),
              extra: list[tuple] = (), funds: dict[str, Any] | None = None) -> dict[str, Any]:
    """The clean project with some rows changed ({name: {field: value}}; None removes a field)."""
    changes = changes or {}
    rows = [row(*r, **changes.get(r[2], {})) for r in ROWS if r[2] not in drop] + [row(*r) for r in extra]
    return {
        "template": "self-eval",
        "project": {"name": "测试项目", "department": "测试主管部门", "unit": "测试实施单位", "year": 2024},
        "funds": copy.deepcopy(funds or FUNDS),
        "indicators": rows,
        "goal": {"expected": "完成年度培训和书籍配发任务。", "actual": "完成培训 2 期、配发书籍 850 册。"},
        "sign": {"lead": "张三", "finance": "李四", "date": dt.date(2025, 3, 31)},
    }


def seed_with(seed_data: dict[str, Any], name: str, **changes: Any) -> dict[str, Any]:
    data = copy.deepcopy(seed_data)
    for ind in data["indicators"]:
        if ind["name"] == name:
            ind.update(changes)
            return data
    raise KeyError(name)


# ---------------------------------------------------------------------------------------------
# Edits "the way a user would" (openpyxl on a recalculated file; LibreOffice runs again after)
# ---------------------------------------------------------------------------------------------
def row_of(pr_rows: list[dict[str, Any]], L: Layout, name: str) -> int:
    return list(L.rows())[[r["name"] for r in pr_rows].index(name)]


def cell(wb: openpyxl.Workbook, L: Layout, key: str, r: int | None = None):
    slot = L.slots[key]
    return wb[L.sheet(slot.sheet)][L.a1(slot, r)]


def setv(L: Layout, key: str, r: int | None, value: Any) -> Callable[[openpyxl.Workbook], None]:
    def edit(wb: openpyxl.Workbook) -> None:
        cell(wb, L, key, r).value = value
    return edit


def patch_cached_value(src: Path, dst: Path, sheet: str, a1: str, value: Any, manual: bool = False) -> None:
    """Change one stored cell value in the XML without recalculating (stale results); ``manual``
    also marks the workbook as saved in manual calculation mode."""
    with zipfile.ZipFile(src) as z:
        wbxml = z.read("xl/workbook.xml").decode()
        rid = re.search(rf'<sheet name="{re.escape(sheet)}"[^>]*r:id="([^"]+)"', wbxml).group(1)
        rels = z.read("xl/_rels/workbook.xml.rels").decode()
        target = re.search(rf'Id="{rid}"[^>]*Target="([^"]+)"', rels).group(1)
        part = "xl/" + target.lstrip("/").removeprefix("xl/")
        members = {i.filename: z.read(i) for i in z.infolist()}
    xml = members[part].decode()
    new, n = re.subn(rf'(<c r="{a1}"[^>]*>)<v>[^<]*</v>', rf"\g<1><v>{value}</v>", xml)
    assert n == 1, f"cell {a1} not found in {part}"
    members[part] = new.encode()
    if manual:
        wbxml, n = re.subn(r"<calcPr\b", '<calcPr calcMode="manual"', wbxml)
        assert n == 1
        members["xl/workbook.xml"] = wbxml.encode()
    with zipfile.ZipFile(dst, "w", zipfile.ZIP_DEFLATED) as z:
        for name, data in members.items():
            z.writestr(name, data)


# ---------------------------------------------------------------------------------------------
# Build everything once: two LibreOffice calls for the whole module
# ---------------------------------------------------------------------------------------------
@dataclass
class Books:
    files: dict[str, Path]
    rows: dict[str, int] = field(default_factory=dict)  # "book:indicator" → 0-based row
    _reports: dict[str, FileReport] = field(default_factory=dict)

    def report(self, name: str) -> FileReport:
        if name not in self._reports:
            self._reports[name] = check_file(self.files[name])
        return self._reports[name]


@pytest.fixture(scope="module")
def books(tmp_path_factory, soffice, seed_project) -> Books:
    d = tmp_path_factory.mktemp("defects")
    src, edited = d / "src", d / "edited"
    src.mkdir()
    edited.mkdir()
    seed_data = load_project_file(seed_project)
    projects: dict[str, tuple[Any, dict[str, Any]]] = {
        "seed": (DEPT, seed_data),
        "seed_le_far_below": (DEPT, seed_with(seed_data, "党务培训班费用", actual=0.5)),
        "se_clean": (SELF, self_eval()),
        "se_zero_target": (SELF, self_eval({
            "书籍配发": dict(name="零目标等于达成", op="=", target=0, unit="项", actual=0),
            "培训人数": dict(name="零目标等于未达成", op="=", target=0, unit="项", actual=1, explain="发生 1 项"),
            "培训率": dict(name="零目标反向达成", op="≤", target=0, unit="项", actual=0),
            "培训费用": dict(name="零目标反向未达成", op="≤", target=0, unit="项", actual=1, explain="发生 1 项"),
        })),
        "se_initial_zero": (SELF, self_eval(funds={"total": {"initial": 0, "budget": 10, "spent": 9.5},
                                                   "items": [{"initial": 0, "budget": 10, "spent": 9.5}]})),
        "se_text_actuals": (SELF, self_eval({
            "书籍配发": dict(actual="800余册"), "培训人数": dict(actual="不少于40"), "培训率": dict(actual="≥85%"),
            "培训费用": dict(actual="4万元"), "服务对象满意度": dict(actual="完成"),
        })),
        "se_percent_scale": (SELF, self_eval({"培训率": dict(actual=0.93)})),
        "se_negative": (SELF, self_eval(funds={"total": {"initial": 10, "budget": 10, "spent": 9.5},
                                               "items": [{"initial": 10, "budget": 10, "spent": 10},
                                                         {"spent": -0.5}]})),
        "se_items_mismatch": (SELF, self_eval(funds={"total": {"initial": 10, "budget": 10, "spent": 9.5},
                                                     "items": [{"initial": 10, "budget": 10, "spent": 9}]})),
        "se_over_execution": (SELF, self_eval(funds={"total": {"initial": 10, "budget": 10, "spent": 10.5},
                                                     "items": [{"initial": 10, "budget": 10, "spent": 10.5}]})),
        "se_low_execution": (SELF, self_eval(funds={"total": {"initial": 10, "budget": 10, "spent": 8},
                                                    "items": [{"initial": 10, "budget": 10, "spent": 8}]})),
        "se_date_text": (SELF, self_eval({"完成时间": dict(actual="2024/9/25")})),
        "se_grades": (SELF, self_eval(drop=("带动就业", "党建工作水平"), extra=[
            ("效益指标", "社会效益指标", "等级缺失", "定性", "有效提高", None, 7.5, "完成", None, 7.5, None),
            ("效益指标", "社会效益指标", "等级无效", "定性", "有效提高", None, 7.5, "完成", "良好", 7.5, None),
            ("效益指标", "社会效益指标", "超出区间", "定性", "有效提高", None, 7.5, "完成", "达成", 5, "部分工作未完成"),
            ("效益指标", "社会效益指标", "超出分值", "定性", "有效提高", None, 7.5, "完成", "达成", 9, None),
        ])),
        "se_explain_missing": (SELF, self_eval({"书籍配发": dict(actual=1015), "培训人数": dict(actual=30)})),
        "se_unit_mismatch": (SELF, self_eval({"带动就业": dict(
            name="带动社会投资", op="≥", target=7.29, unit="万元", actual=72890, grade=None, score=None,
            explain="带动社会投资较多")})),
        # an issued target declared 不适用 by the unit (not the unit's call: V031 is an error by default)
        "se_issued_na": (SELF, self_eval({"培训人数": dict(na=True, explain="本年未开展培训")})),
        # the unit fills the 满意度 rows itself (not issued), with look-alike operators and a text target
        "se_unissued": (SELF, self_eval(drop=("服务对象满意度",))),
    }
    prs = {}
    for name, (tpl, data) in projects.items():
        pr = prs[name] = parse_project(data, tpl, name)
        write_workbook(src / f"{name}.xlsx", tpl, pr)
    out1 = dict(zip(projects, recalculate([src / f"{n}.xlsx" for n in projects], d / "lo1")))

    seed_rows = prs["seed"].indicators
    r_books = row_of(seed_rows, LD, "商会党建书籍配发")
    r_people = row_of(seed_rows, LD, "党务培训班培训人数")

    def edit_formula(wb: openpyxl.Workbook) -> None:
        c = cell(wb, LD, "score", r_books)
        assert isinstance(c.value, str) and c.value.startswith("=")
        c.value = c.value + "+1"

    n_se = len(prs["se_unissued"].indicators)
    r1, r2, r3 = list(LS.rows())[n_se:n_se + 3]

    def fill_unissued(wb: openpyxl.Workbook) -> None:
        for r, name, op, target, weight, actual in ((r1, "服务对象满意度", "﹦", 85, 10, 93),
                                                    (r2, "群众满意度", ">=", 85, 0, 90),
                                                    (r3, "投诉处理率", "≥", "不少于40", 0, 45)):
            for key, v in (("level", "满意度指标"), ("category", "服务对象满意度指标"), ("name", name), ("op", op),
                           ("target", target), ("unit", "%"), ("weight", weight), ("actual", actual)):
                cell(wb, LS, key, r).value = v

    edits: dict[str, tuple[str, Callable[[openpyxl.Workbook], None]]] = {
        "score_constant": ("seed", setv(LD, "score", r_books, 5)),
        "formula_edited": ("seed", edit_formula),
        "target_lowered": ("seed", setv(LD, "target", r_books, 600)),
        "weight_changed": ("seed", setv(LD, "weight", r_books, 6)),
        "row_inserted": ("seed", lambda wb: wb[LD.sheet("indicators")].insert_rows(r_people + 1)),
        "row_deleted": ("seed", lambda wb: wb[LD.sheet("actuals")].delete_rows(r_people + 1)),
        "sheet_renamed": ("seed", lambda wb: setattr(wb[LD.sheet("actuals")], "title", "实际完成情况")),
        "se_lookalike": ("se_unissued", fill_unissued),
    }
    for name, (base, fn) in edits.items():
        wb = openpyxl.load_workbook(out1[base])
        fn(wb)
        wb.save(edited / f"{name}.xlsx")
    out2 = dict(zip(edits, recalculate([edited / f"{n}.xlsx" for n in edits], d / "lo2")))

    stale = d / "stale.xlsx"  # 培训人数 62 → 30 typed, results never recalculated (manual mode / no F9)
    patch_cached_value(out1["seed"], stale, LD.sheet("actuals"), LD.a1(LD.slots["actual"], r_people), 30)

    stale_manual = d / "stale_manual.xlsx"  # target edited in manual calculation mode, never recalculated
    patch_cached_value(out1["seed"], stale_manual, LD.sheet("indicators"), LD.a1(LD.slots["target"], r_people), 30,
                       manual=True)

    b = Books({**out1, **out2, "never_recalculated": src / "seed.xlsx", "stale": stale, "stale_manual": stale_manual})
    for name, pr in prs.items():
        L = LD if projects[name][0] is DEPT else LS
        b.rows.update({f"{name}:{r['name']}": row_of(pr.indicators, L, r["name"]) for r in pr.indicators})
    b.rows.update({"se_lookalike:服务对象满意度": r1, "se_lookalike:群众满意度": r2, "se_lookalike:投诉处理率": r3})
    return b


# ---------------------------------------------------------------------------------------------
# Assertion helpers
# ---------------------------------------------------------------------------------------------
def _dump(rep: FileReport) -> str:
    return "\n".join(f"  {f.code} {f.severity} {f.sheet}!{f.cell} [{f.indicator}] {f.message()}" for f in rep.findings)


def findings(rep: FileReport, code: str, **attrs: Any) -> list[Finding]:
    return [f for f in rep.findings if f.code == code and all(getattr(f, k) == v for k, v in attrs.items())]


def one(rep: FileReport, code: str, **attrs: Any) -> Finding:
    hits = findings(rep, code, **attrs)
    assert len(hits) == 1, f"expected one {code} {attrs}, found {len(hits)}:\n{_dump(rep)}"
    return hits[0]


def codes(rep: FileReport, *severities: str) -> set[str]:
    return {f.code for f in rep.findings if not severities or f.severity in severities}


def at(L: Layout, key: str, r: int | None = None) -> dict[str, Any]:
    """Where a finding about slot ``key`` (row ``r``) must point."""
    slot = L.slots[key]
    return {"sheet": L.sheet(slot.sheet), "cell": L.a1(slot, r)}


def no_disagreement(rep: FileReport) -> None:
    """Python and LibreOffice agree on every formula (even for broken inputs)."""
    assert not codes(rep) & {"X001", "X002", "X003"}, _dump(rep)
    assert rep.recalculated is True


def score_of(rep: FileReport, name: str) -> tuple[Any, Any]:
    [s] = [s for s in rep.scores if s.name == name]
    return s.python, s.workbook


# ---------------------------------------------------------------------------------------------
# The seed and the clean self-evaluation
# ---------------------------------------------------------------------------------------------
SEED_SCORES = {
    # 决策
    "立项依据充分性": 4, "立项程序规范性": 4, "绩效目标合理性": 3, "绩效指标明确性": 3, "预算编制科学性": 3, "资金分配合理性": 2,
    # 过程
    "资金到位率": 5, "预算执行率": 5, "资金使用合规性": 3, "管理制度健全性": 3, "制度执行有效性": 4,
    # 产出
    "商会党建书籍配发": 5, "党务培训班培训人数": 5, "组织党支部开展党务培训班": 5, "直属商会党支部党务工作者培训率": 5,
    "党支部开展党务培训班完成及时率": 5, "党务培训班费用": 5, "购买商会党建书籍": 5, "购买学习资料和书籍等费用": 5,
    # 效益, 满意度
    "有效提高商会党建各项工作": 10, "服务对象满意度": 10,
}


def test_seed_recalculated_checks_clean_with_the_reports_scores(books):
    rep = books.report("seed")
    assert rep.exit_code() == 0 and rep.exit_code(strict=True) == 0, _dump(rep)
    assert codes(rep, ERROR, WARNING) == set()
    assert rep.recalculated is True
    assert rep.total_python == 99 and rep.total_workbook == 99
    assert rep.grade_python == "优" and rep.grade_workbook == "优"
    got = {s.name: (s.python, s.workbook) for s in rep.scores}
    assert got == {k: (v, v) for k, v in SEED_SCORES.items()}


def test_clean_self_evaluation_checks_clean(books):
    rep = books.report("se_clean")
    assert rep.exit_code(strict=True) == 0, _dump(rep)
    no_disagreement(rep)
    assert rep.total_python == rep.total_workbook == 99.5
    assert rep.grade_python == rep.grade_workbook == "优"


def test_cli_check_seed_exit_0_and_json(books):
    r = CliRunner().invoke(main, ["check", "--format", "json", str(books.files["seed"])])
    assert r.exit_code == 0, r.output
    doc = json.loads(r.stdout)
    assert doc["exit_code"] == 0
    [f] = doc["files"]
    assert f["status"] == "ok" and f["recalculated"] is True
    assert f["total"] == {"python": 99, "workbook": 99} and f["grade"] == {"python": "优", "workbook": "优"}
    assert {x["code"] for x in f["findings"]} == {"I001", "I002"}  # not authenticated; saved by LibreOffice


# ---------------------------------------------------------------------------------------------
# Never recalculated / stale
# ---------------------------------------------------------------------------------------------
def test_untouched_new_workbook_is_not_recalculated_but_python_scores_are_reported(books):
    rep = books.report("never_recalculated")
    one(rep, "X002", severity=ERROR, sheet=LD.sheet("scoring"), cell=LD.a1(LD.slots["tot.score"]))
    assert rep.exit_code() == 1
    assert rep.recalculated is False
    assert rep.total_python == 99 and rep.grade_python == "优"  # not "0 points"
    # the cached results are the engine's for the state issued (what a previewer shows), and the
    # canary's is still '': that, not blank scores, is how a never-recalculated return is recognised
    assert rep.total_workbook == 99
    got = {s.name: s.python for s in rep.scores}
    assert got == SEED_SCORES
    assert {s.name: s.workbook for s in rep.scores} == SEED_SCORES
    assert "X001" not in codes(rep)  # placeholders are not disagreements


def test_cli_never_recalculated_json(books):
    r = CliRunner().invoke(main, ["check", "--format", "json", str(books.files["never_recalculated"])])
    assert r.exit_code == 1, r.output
    [f] = json.loads(r.stdout)["files"]
    assert f["recalculated"] is False
    assert f["total"]["python"] == 99 and f["grade"]["python"] == "优"
    assert "X002" in {x["code"] for x in f["findings"]}


def test_stale_results_are_reported_separately(books):
    rep = books.report("stale")
    one(rep, "X003", severity=ERROR, **at(LD, "tot.digest"))
    assert "X001" not in codes(rep)
    assert rep.exit_code() == 1


def test_stale_results_in_manual_calculation_mode(books):
    rep = books.report("stale_manual")
    r = books.rows["seed:党务培训班培训人数"]
    f = one(rep, "S014", indicator="党务培训班培训人数", **at(LD, "target", r))
    assert f.values == {"issued": 40, "returned": 30}
    x = one(rep, "X003", severity=ERROR)
    assert "手动" in x.message()
    assert "X001" not in codes(rep)  # stale, not "the formula disagrees"


# ---------------------------------------------------------------------------------------------
# Structure: formulas, issued content, rows, sheets
# ---------------------------------------------------------------------------------------------
def test_score_formula_replaced_by_constant(books):
    rep = books.report("score_constant")
    r = books.rows["seed:商会党建书籍配发"]
    f = one(rep, "S012", severity=ERROR, indicator="商会党建书籍配发", **at(LD, "score", r))
    assert f.values["value"] == 5
    assert f.values["expected"] == LD.formula(LD.slots["score"], r)
    assert rep.exit_code() == 1


def test_formula_edited(books):
    rep = books.report("formula_edited")
    r = books.rows["seed:商会党建书籍配发"]
    f = one(rep, "S013", severity=ERROR, indicator="商会党建书籍配发", **at(LD, "score", r))
    assert f.values["found"].replace(" ", "").endswith("+1")
    assert "S012" not in codes(rep)
    assert rep.exit_code() == 1


def test_target_lowered_names_issued_and_returned_values(books):
    rep = books.report("target_lowered")
    r = books.rows["seed:商会党建书籍配发"]
    f = one(rep, "S014", severity=ERROR, indicator="商会党建书籍配发", **at(LD, "target", r))
    assert f.values == {"issued": 800, "returned": 600}
    assert "800" in f.message() and "600" in f.message()
    assert len(findings(rep, "S014")) == 1
    assert rep.exit_code() == 1


def test_cli_json_reports_lowered_target(books):
    r = CliRunner().invoke(main, ["check", "--format", "json", "--lang", "en", str(books.files["target_lowered"])])
    assert r.exit_code == 1, r.output
    doc = json.loads(r.stdout)
    assert doc["exit_code"] == 1
    [f] = doc["files"]
    assert f["status"] == "errors"
    [s014] = [x for x in f["findings"] if x["code"] == "S014"]
    row_ = books.rows["seed:商会党建书籍配发"]
    assert (s014["severity"], s014["sheet"], s014["cell"]) == ("error", LD.sheet("indicators"), LD.a1(LD.slots["target"], row_))
    assert s014["indicator"] == "商会党建书籍配发"
    assert s014["values"] == {"issued": 800, "returned": 600}


def test_weight_changed(books):
    rep = books.report("weight_changed")
    r = books.rows["seed:商会党建书籍配发"]
    f = one(rep, "S014", severity=ERROR, indicator="商会党建书籍配发", **at(LD, "weight", r))
    assert f.values == {"issued": 5, "returned": 6}
    lv = [lv.name for lv in DEPT.levels].index("产出")
    v = one(rep, "V011", severity=ERROR, **at(LD, f"lv.{lv}.weight"))
    assert v.values == {"level": "产出", "found": 41, "expected": 40}
    one(rep, "V012", severity=ERROR, **at(LD, "tot.weight"))
    assert rep.exit_code() == 1


def test_row_inserted_in_indicator_area(books):
    rep = books.report("row_inserted")
    f = one(rep, "S011", severity=ERROR, sheet=LD.sheet("indicators"))
    assert f.values["change"] == "插入" and f.values["n"] == 1
    assert rep.exit_code() == 1
    # everything below the insertion is shifted: no misleading "target changed" errors or made-up score
    assert codes(rep, ERROR) == {"S011"}, _dump(rep)
    assert rep.total_python is None
    r = CliRunner().invoke(main, ["check", str(books.files["row_inserted"])])
    assert r.exit_code == 1 and "Traceback" not in r.output
    assert r.exception is None or isinstance(r.exception, SystemExit)


def test_row_deleted_in_indicator_area(books):
    rep = books.report("row_deleted")
    f = one(rep, "S011", severity=ERROR, sheet=LD.sheet("actuals"))
    assert f.values["change"] == "删除" and f.values["n"] == 1
    assert codes(rep, ERROR) == {"S011"}, _dump(rep)
    assert rep.exit_code() == 1


def test_sheet_renamed(books):
    rep = books.report("sheet_renamed")
    f = one(rep, "S010", severity=ERROR)
    assert f.values["sheet"] == LD.sheet("actuals")
    assert rep.exit_code() == 1


# ---------------------------------------------------------------------------------------------
# Scoring edge cases
# ---------------------------------------------------------------------------------------------
def test_reverse_indicator_far_below_target_scores_exactly_its_weight(books):
    rep = books.report("seed_le_far_below")
    assert score_of(rep, "党务培训班费用") == (5, 5)  # not 5 × 2 / 0.5 = 20
    no_disagreement(rep)
    assert rep.total_python == rep.total_workbook == 99
    assert rep.exit_code() == 0, _dump(rep)


def test_zero_target_under_equal_and_reverse(books):
    rep = books.report("se_zero_target")
    assert score_of(rep, "零目标等于达成") == (10, 10)
    assert score_of(rep, "零目标等于未达成") == (0, 0)
    assert score_of(rep, "零目标反向达成") == (10, 10)
    assert score_of(rep, "零目标反向未达成") == (0, 0)
    no_disagreement(rep)
    warned = findings(rep, "V027", severity=WARNING, sheet=LS.sheet("indicators"))
    names = ("零目标等于达成", "零目标等于未达成", "零目标反向达成", "零目标反向未达成")
    assert {f.indicator: f.cell for f in warned} == {
        n: LS.a1(LS.slots["target"], books.rows[f"se_zero_target:{n}"]) for n in names}
    assert {f.values["op"] for f in warned} == {"=", "≤"}
    assert rep.exit_code() == 0 and rep.exit_code(strict=True) == 1, _dump(rep)


def test_initial_budget_zero_uses_full_year_budget(books):
    rep = books.report("se_initial_zero")
    assert score_of(rep, "预算执行率") == (9.5, 9.5)  # 9.5 / 10 (全年预算数), not ÷ 0
    no_disagreement(rep)
    assert "V024" not in codes(rep)
    assert rep.exit_code(strict=True) == 0, _dump(rep)


# ---------------------------------------------------------------------------------------------
# Inputs
# ---------------------------------------------------------------------------------------------
def test_text_where_a_number_belongs(books):
    rep = books.report("se_text_actuals")
    expect = {  # text → what the hint must suggest (None: nothing parsable)
        "书籍配发": ("800余册", ["800", "册"]),
        "培训人数": ("不少于40", ["≥", "40"]),
        "培训率": ("≥85%", ["≥", "85", "%"]),
        "培训费用": ("4万元", ["4", "万元"]),
        "服务对象满意度": ("完成", None),
    }
    for name, (text, hint) in expect.items():
        r = books.rows[f"se_text_actuals:{name}"]
        f = one(rep, "V002", severity=ERROR, indicator=name, **at(LS, "actual", r))
        assert f.values["value"] == text
        if hint is None:
            assert f.values["hint"] == ""
        else:
            msg = f.message()
            assert "建议" in msg and all(h in msg for h in hint), msg
            assert "suggested" in f.message("en") and "建议" not in f.message("en")
    no_disagreement(rep)
    assert rep.exit_code() == 1


def test_lookalike_operators_and_text_target_in_rows_the_unit_filled(books):
    rep = books.report("se_lookalike")
    r1, r2, r3 = (books.rows[f"se_lookalike:{n}"] for n in ("服务对象满意度", "群众满意度", "投诉处理率"))
    f = one(rep, "V003", severity=ERROR, indicator="服务对象满意度", **at(LS, "op", r1))
    assert f.values["value"] == "﹦" and "应为 =" in f.message() and "should be =" in f.message("en")
    f = one(rep, "V003", severity=ERROR, indicator="群众满意度", **at(LS, "op", r2))
    assert f.values["value"] == ">=" and "应为 ≥" in f.message()
    f = one(rep, "V018", severity=ERROR, indicator="投诉处理率", **at(LS, "target", r3))
    assert "指标性质 ≥" in f.message() and "40" in f.message()
    assert "S014" not in codes(rep)  # rows the unit filled were not issued
    no_disagreement(rep)


def test_percent_on_the_wrong_scale(books):
    rep = books.report("se_percent_scale")
    r = books.rows["se_percent_scale:培训率"]
    f = one(rep, "V004", severity=ERROR, indicator="培训率", **at(LS, "actual", r))
    assert f.values["target"] == 85 and f.values["actual"] == 0.93 and f.values["suggest"] == "93"
    assert "85.0" not in f.message() and "0.93" in f.message()
    no_disagreement(rep)


def test_negative_amount(books):
    rep = books.report("se_negative")
    f = one(rep, "V005", severity=ERROR, **at(LS, "funds.item1.spent"))
    assert f.values["value"] == -0.5
    assert "V015" not in codes(rep)
    no_disagreement(rep)


def test_line_items_not_adding_up(books):
    rep = books.report("se_items_mismatch")
    f = one(rep, "V015", severity=ERROR, **at(LS, "funds.total.spent"))
    assert f.values["items"] == 9 and f.values["total"] == 9.5
    no_disagreement(rep)


def test_execution_above_100_percent(books):
    rep = books.report("se_over_execution")
    f = one(rep, "V014", severity=WARNING, indicator="预算执行率", **at(LS, "rate.execution.ratio"))
    assert f.values["rate"] == pytest.approx(1.05)
    assert score_of(rep, "预算执行率") == (10, 10)  # capped
    no_disagreement(rep)
    assert rep.exit_code() == 0 and rep.exit_code(strict=True) == 1


def test_execution_below_threshold_needs_an_explanation(books):
    rep = books.report("se_low_execution")
    f = one(rep, "V013", severity=ERROR, indicator="预算执行率", **at(LS, "rate.execution.explain"))
    assert "80" in f.message() and "90%" in f.message()
    assert score_of(rep, "预算执行率") == (8, 8)
    no_disagreement(rep)


def test_deadline_entered_as_text(books):
    rep = books.report("se_date_text")
    r = books.rows["se_date_text:完成时间"]
    f = one(rep, "V007", severity=ERROR, indicator="完成时间", **at(LS, "actual", r))
    assert f.values["value"] == "2024/9/25"
    assert "V002" not in codes(rep)
    no_disagreement(rep)


def test_qualitative_grades_and_entered_scores(books):
    rep = books.report("se_grades")
    row_ = lambda n: books.rows[f"se_grades:{n}"]  # noqa: E731
    f = one(rep, "V008", indicator="等级缺失", **at(LS, "grade", row_("等级缺失")))
    assert f.severity == ERROR and "缺失" in f.message()
    f = one(rep, "V008", indicator="等级无效", **at(LS, "grade", row_("等级无效")))
    assert f.values["value"] == "良好" and "无效" in f.message()
    f = one(rep, "V009", severity=ERROR, indicator="超出区间", **at(LS, "manual", row_("超出区间")))
    assert (f.values["lo"], f.values["hi"], f.values["score"]) == (6, 7.5, 5)
    f = one(rep, "V010", severity=ERROR, indicator="超出分值", **at(LS, "manual", row_("超出分值")))
    assert f.values["score"] == 9 and f.values["weight"] == 7.5
    assert score_of(rep, "超出分值") == (7.5, 7.5)  # held to 分值 by the formula too
    assert not findings(rep, "V009", indicator="等级缺失") and not findings(rep, "V010", indicator="超出区间")
    no_disagreement(rep)


def test_explanation_missing(books):
    rep = books.report("se_explain_missing")
    rows = {n: books.rows[f"se_explain_missing:{n}"] for n in ("培训人数", "书籍配发")}
    low = one(rep, "V013", severity=ERROR, indicator="培训人数", **at(LS, "explain", rows["培训人数"]))
    assert "7.5" in low.message() and "10" in low.message()
    over = one(rep, "V013", severity=ERROR, indicator="书籍配发", **at(LS, "explain", rows["书籍配发"]))
    assert "120%" in over.message()
    assert len(findings(rep, "V013")) == 2
    no_disagreement(rep)


def test_unit_mismatch_is_a_warning_and_strict_fails(books):
    rep = books.report("se_unit_mismatch")
    r = books.rows["se_unit_mismatch:带动社会投资"]
    f = one(rep, "V006", severity=WARNING, indicator="带动社会投资", **at(LS, "actual", r))
    assert f.values["unit"] == "万元" and f.values["other"] == "元"
    assert codes(rep, ERROR) == set(), _dump(rep)
    assert rep.exit_code() == 0 and rep.exit_code(strict=True) == 1
    path = str(books.files["se_unit_mismatch"])
    assert CliRunner().invoke(main, ["check", path]).exit_code == 0
    r_strict = CliRunner().invoke(main, ["check", "--strict", "--format", "json", path])
    assert r_strict.exit_code == 1
    doc = json.loads(r_strict.stdout)
    assert doc["exit_code"] == 1 and doc["files"][0]["counts"]["warning"] == 1
    assert doc["files"][0]["counts"]["error"] == 0


def test_issued_indicator_marked_not_applicable_is_an_error_quoting_both_totals(books):
    rep = books.report("se_issued_na")
    f = one(rep, "V031", **at(LS, "na", books.rows["se_issued_na:培训人数"]))
    assert f.severity == ERROR and f.indicator == "培训人数"
    # 9.5 + 80 over 90 applicable points → 99.44; counted (45 ≥ 40 → 10 points) → 99.5
    assert f.values["with_na"] == 99.44 and f.values["without_na"] == 99.5, f.values
    assert rep.total_python == 99.44 and rep.exit_code() == 1
    no_disagreement(rep)


def test_template_may_allow_issued_not_applicable(tmp_path):
    """An office's template can leave the decision to the unit: V031 is then a warning."""
    import dataclasses

    tpl = dataclasses.replace(SELF, issued_not_applicable=True, version=SELF.version + "+na")
    p = tmp_path / "allowed.xlsx"
    write_workbook(p, tpl, parse_project(self_eval({"培训人数": dict(na=True, explain="本年未开展培训")}), tpl, "t"))
    rep = check_file(p, templates=[tpl])
    assert [f.severity for f in rep.findings if f.code == "V031"] == [WARNING]
    assert check_file(p, templates=[SELF]).status == "unreadable"  # (its own version: S002 against the built-in)


def test_findings_carry_catalogue_severities(books):
    for name in ("se_text_actuals", "se_grades", "weight_changed", "row_inserted"):
        for f in books.report(name).findings:
            assert f.severity in (ERROR, WARNING, INFO)
