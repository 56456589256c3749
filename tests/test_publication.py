"""Publication (issue #14): the 自评表 sheet after LibreOffice recalculation, print settings, the report draft.

One LibreOffice call recalculates every workbook of the module (the seed sample, a self-eval project
with a deadline row, and a few random fills from test_engine_agreement's generator); the tests then
read the form back with openpyxl and compare it cell by cell with the scoring sheets *as LibreOffice
computed them* — the form is a view, so it must show exactly what the scoring sheets hold.
"""
from __future__ import annotations

import datetime as dt
import math
import random
import re
import zipfile
from pathlib import Path

import openpyxl
import pytest
from click.testing import CliRunner
from docx import Document
from docx.oxml.ns import qn

from workbook_tool.cli import main
from workbook_tool.form_sheet import FORM
from workbook_tool.layout import Layout, build_layout
from workbook_tool.project import load_project_file, parse_project
from workbook_tool.recalc import recalculate
from workbook_tool.template import load_template
from workbook_tool.writer import write_workbook

from test_engine_agreement import VARIANTS, random_fill

ROOT = Path(__file__).resolve().parents[1]
SEED_PROJECT = ROOT / "samples" / "party-building-2024.yaml"
N_RANDOM = 6

DEADLINE = {
    "template": "self-eval",
    "project": {"name": "农村道路养护", "department": "交通局", "unit": "公路段", "year": 2024},
    "goal": {"expected": "完成道路养护。", "actual": "已完成。"},
    "funds": {"total": {"initial": 100, "budget": 120, "spent": 96}},
    "rates": {"execution": {"explain": "部分工程结算未完成。"}},
    "indicators": [
        {"level": "产出指标", "category": "数量指标", "name": "养护里程", "op": "≥", "target": 800, "unit": "公里",
         "weight": 20, "actual": 640, "explain": "雨季停工。"},
        {"level": "产出指标", "category": "时效指标", "name": "完工时间", "op": "≤", "target": dt.date(2024, 10, 31),
         "unit": "日期", "weight": 10, "actual": dt.date(2024, 10, 20)},
        {"level": "产出指标", "category": "质量指标", "name": "验收合格率", "op": "≥", "target": 95, "unit": "%",
         "weight": 20, "actual": 98},
        {"level": "效益指标", "category": "社会效益指标", "name": "通行条件改善", "op": "定性", "target": "明显改善",
         "weight": 30, "grade": "达成", "score": 27},
        {"level": "满意度指标", "category": "服务对象满意度指标", "name": "群众满意度", "op": "≥", "target": 90,
         "unit": "%", "weight": 10, "actual": 93},
    ],
    "sign": {"lead": "王五", "date": dt.date(2025, 3, 20)},
}


@pytest.fixture(scope="module")
def books(tmp_path_factory, soffice) -> dict[str, tuple[Path, Layout]]:
    tmp = tmp_path_factory.mktemp("publication")
    src = tmp / "src"
    src.mkdir()
    made: dict[str, tuple[Path, Layout]] = {}
    seed = load_template("dept-eval")
    write_workbook(src / "seed.xlsx", seed, parse_project(load_project_file(SEED_PROJECT), seed))
    made["seed"] = (src / "seed.xlsx", build_layout(seed))
    se = load_template("self-eval")
    write_workbook(src / "deadline.xlsx", se, parse_project(DEADLINE, se))
    made["deadline"] = (src / "deadline.xlsx", build_layout(se))
    write_workbook(src / "blank.xlsx", se, None)
    made["blank"] = (src / "blank.xlsx", build_layout(se))
    for i in range(N_RANDOM):
        tpl = VARIANTS[(i * 7) % len(VARIANTS)]
        lang = "en" if i == 3 else "zh"
        data, _edits, _ = random_fill(tpl, random.Random(f"publication-{i}"), lang, full=True)
        name = f"random{i}"
        write_workbook(src / f"{name}.xlsx", tpl, parse_project(data, tpl, name), lang)
        made[name] = (src / f"{name}.xlsx", build_layout(tpl, lang))
    outs = recalculate([p for p, _ in made.values()], tmp / "lo")
    recalculated = {k: (o, L) for (k, (_, L)), o in zip(made.items(), outs)}
    recalculated.update({f"fresh:{k}": v for k, v in made.items()})
    return recalculated


def _cell(ws, slot, row=None):
    return ws.cell((slot.row if row is None else row) + 1, slot.col + 1).value


def _shown(ws, L: Layout, i: int) -> tuple:
    """(年度指标值, 实际完成值) as displayed on form row ``i`` (display-only cells: not layout slots)."""
    r = L.form.table_first + i + 1
    return ws.cell(r, 4).value, ws.cell(r, 5).value


def _same(a, b) -> bool:
    if a in (None, "") and b in (None, ""):
        return True
    if isinstance(a, (int, float)) and isinstance(b, (int, float)):
        return math.isclose(a, b, rel_tol=1e-12, abs_tol=1e-12)
    return a == b


def form_against_scoring(path: Path, L: Layout) -> list[str]:
    """Every number of the form equals the data/scoring sheet cell it shows (LibreOffice's values)."""
    wb = openpyxl.load_workbook(path, data_only=True)
    assert wb[L.sheet("meta")]["B1"].value == pytest.approx(0.6667), "LibreOffice did not recalculate"
    form = wb[L.sheet(FORM)]
    s = L.slots
    bad: list[str] = []

    def cmp(form_key: str, src_key: str, row: int | None = None) -> None:
        fv = _cell(form, s[form_key])
        sv = _cell(wb[L.sheet(s[src_key].sheet)], s[src_key], row)
        if not _same(fv, sv):
            bad.append(f"{path.name} {form_key}={fv!r} but {src_key}{'' if row is None else '@' + str(row)}={sv!r}")

    for i, r in enumerate(L.rows()):
        cmp(f"f.row{i}.score", "score", r)
        cmp(f"f.row{i}.weight", "a_weight", r)
        cmp(f"f.row{i}.name", "a_name", r)
    for k in ("weight", "score", "grade"):
        cmp(f"f.tot.{k}", f"tot.{k}")
    cmp("f.lvtot.score", "tot.score")
    for i, _ in enumerate(L.tpl.levels):
        cmp(f"f.lv.{i}.score", f"lv.{i}.score")
        cmp(f"f.lv.{i}.weight", f"lv.{i}.weight")
    for rt in L.tpl.rates:
        for k in ("ratio", "score", "weight"):
            cmp(f"f.rate.{rt.id}.{k}", f"rate.{rt.id}.{k}")
    for c in L.tpl.funds_columns:
        cmp(f"f.funds.total.{c.id}", f"funds.amount.{c.id}")
    return bad


def test_form_equals_scoring_sheets_after_libreoffice(books):
    bad: list[str] = []
    n = 0
    for key, (path, L) in books.items():
        if not key.startswith("fresh:"):
            bad += form_against_scoring(path, L)
            n += 1
    assert n == 3 + N_RANDOM
    assert not bad, "\n".join(bad[:20])


def test_form_renders_targets_actuals_and_dates(books):
    path, L = books["deadline"]
    ws = openpyxl.load_workbook(path, data_only=True)[L.sheet(FORM)]
    s = L.slots
    got = [_shown(ws, L, i) for i in range(5)]
    assert got == [("≥800公里", "640公里"), ("≤2024-10-31", "2024-10-20"), ("≥95%", "98%"), ("明显改善", "达成年度指标"),
                   ("≥90%", "93%")]
    assert _cell(ws, s["f.row0.explain"]) == "雨季停工。"
    assert ws["A2"].value == "（2024年度）"
    sign = ws.cell(L.form.sign_row + 1, 1).value
    assert "2025-03-20" in sign and "王五" in sign
    assert _shown(ws, L, 5) == (None, None) and _cell(ws, s["f.row5.score"]) in (None, "")
    seed_path, LS = books["seed"]
    ws = openpyxl.load_workbook(seed_path, data_only=True)[LS.sheet(FORM)]
    first_output = 9  # the seed's rows: 9 决策/过程 defaults, then 商会党建书籍配发
    assert _shown(ws, LS, first_output) == ("≥800本", "1015本")
    assert _cell(ws, LS.slots["f.tot.score"]) == 99 and _cell(ws, LS.slots["f.tot.grade"]) == "优"


def test_issued_levels_are_merged_as_on_the_form(books):
    path, L = books["fresh:seed"]
    ws = openpyxl.load_workbook(path)[L.sheet(FORM)]
    G = L.form
    merged = {str(m) for m in ws.merged_cells.ranges}
    # 决策: 6 issued rows in one merged 一级 cell; 项目立项: 2 rows in one 二级 cell
    assert f"A{G.table_first + 1}:A{G.table_first + 6}" in merged
    assert f"B{G.table_first + 1}:B{G.table_first + 2}" in merged
    # rows after the issued ones keep their own (unmerged) label formulas
    r = G.table_first + 25
    assert ws.cell(r, 1).data_type == "f" and ws.cell(r, 2).data_type == "f"


def test_fresh_workbook_shows_the_issued_state_but_is_not_taken_as_recalculated(books):
    """Cached results are the engine's (a previewer shows the right scores); the canary stays '' (X002)."""
    from workbook_tool.checker import check_file

    path, L = books["fresh:seed"]
    wb = openpyxl.load_workbook(path, data_only=True)
    assert _cell(wb[L.sheet(FORM)], L.slots["f.tot.score"]) == 99
    assert _cell(wb[L.sheet("scoring")], L.slots["tot.grade"]) == "优"
    assert wb[L.sheet("meta")]["B1"].value in (None, "")
    with zipfile.ZipFile(path) as z:  # the chart's cached series hold the level scores, not zeros
        chart = z.read("xl/charts/chart1.xml").decode()
    assert re.search(r"<c:v>19(\.0)?</c:v>", chart), chart[:300]  # 决策 scored 19
    rep = check_file(path)
    assert rep.recalculated is False and "X002" in {f.code for f in rep.findings}


# ---- print settings ---------------------------------------------------------------------------

def _printable_rows_per_page(ws, scale: float) -> float:
    m = ws.page_margins
    landscape = ws.page_setup.orientation == "landscape"
    height_in = (8.27 if landscape else 11.69) - m.top - m.bottom
    return height_in * 72 / scale


def _fit_scale(ws) -> float:
    """The scale fit-to-width gives: printable width over the width of the used columns (chars → points)."""
    m = ws.page_margins
    landscape = ws.page_setup.orientation == "landscape"
    width_pt = ((11.69 if landscape else 8.27) - m.left - m.right) * 72
    cols = 0.0
    for c in range(1, ws.max_column + 1):
        d = ws.column_dimensions.get(openpyxl.utils.get_column_letter(c))
        chars = d.width if d is not None and d.width else 8.43
        cols += (chars * 7 + 5) * 0.75
    return min(1.0, width_pt / cols)


def page_of_rows(ws, scale: float, upto: int) -> list[int]:
    """The page each row prints on: rows fill a page by height; manual breaks start a new one."""
    manual = {b.id for b in ws.row_breaks.brk}
    limit = _printable_rows_per_page(ws, scale)
    pages, page, used = [], 1, 0.0
    for r in range(1, upto + 1):
        d = ws.row_dimensions.get(r)
        h = d.height if d is not None and d.height else 15.0
        if used + h > limit:
            page, used = page + 1, 0.0
        pages.append(page)
        used += h
        if r in manual:
            page, used = page + 1, 0.0
    return pages


def _chart_anchors(path: Path) -> dict[str, list[tuple[int, int]]]:
    """(from row, to row) of every chart, by sheet title (0-based rows, from the drawing XML)."""
    out: dict[str, list[tuple[int, int]]] = {}
    with zipfile.ZipFile(path) as z:
        wbxml = z.read("xl/workbook.xml").decode()
        rels = z.read("xl/_rels/workbook.xml.rels").decode()
        for name, rid in re.findall(r'<sheet name="([^"]+)" sheetId="\d+"(?: state="\w+")? r:id="(rId\d+)"', wbxml):
            target = re.search(rf'Id="{rid}"[^>]*Target="([^"]+)"', rels) or re.search(rf'Target="([^"]+)"[^>]*Id="{rid}"', rels)
            sheet_xml = "xl/" + target.group(1).lstrip("/").replace("xl/", "")
            srels = sheet_xml.replace("worksheets/", "worksheets/_rels/") + ".rels"
            if srels not in z.namelist():
                continue
            for d in re.findall(r'Target="\.\./drawings/(drawing\d+\.xml)"', z.read(srels).decode()):
                xml = z.read(f"xl/drawings/{d}").decode()
                for fr, to in re.findall(r"<xdr:from>.*?<xdr:row>(\d+)</xdr:row>.*?</xdr:from>\s*<xdr:to>.*?<xdr:row>(\d+)</xdr:row>",
                                         xml, re.S):
                    out.setdefault(name, []).append((int(fr), int(to)))
    return out


@pytest.mark.parametrize("key", ["fresh:seed", "fresh:blank", "seed"])
def test_print_settings_of_every_sheet(books, key):
    path, L = books[key]
    wb = openpyxl.load_workbook(path)
    for sk in ("guide", "budget", "indicators", "actuals", "scoring", "summary", FORM):
        ws = wb[L.sheet(sk)]
        ps = ws.page_setup
        assert int(ps.paperSize) == 9, (sk, ps.paperSize)  # A4
        assert ps.orientation == ("portrait" if sk == FORM else "landscape"), sk
        assert ws.sheet_properties.pageSetUpPr.fitToPage, sk
        assert int(ps.fitToWidth or 1) == 1 and int(ps.fitToHeight) == 0, (sk, ps.fitToWidth, ps.fitToHeight)
        footer = ws.oddFooter.left.text + "|" + ws.oddFooter.right.text
        assert "&P" in footer and "&N" in footer, (sk, footer)
        assert L.tpl.name in footer or "党建" in footer or "Project" in footer or L.tpl.name[:4] in footer, footer
        assert ws.oddHeader.right.text == "&A", sk
        if sk in ("indicators", "actuals", "scoring"):
            assert ws.print_title_rows.replace("$", "") == "3:3", (sk, ws.print_title_rows)
    form = wb[L.sheet(FORM)]
    G = L.form
    assert form.print_title_rows.replace("$", "") == f"{G.table_header + 1}:{G.table_header + 1}"
    area = form.print_area[0] if isinstance(form.print_area, list) else form.print_area
    last_col = openpyxl.utils.get_column_letter(G.n_cols)
    assert area.endswith(f"$A$1:${last_col}${G.sign_row + 2}"), area
    assert form.protection.sheet


def test_no_chart_is_cut_by_a_page_break(books):
    for key in ("fresh:seed", "fresh:blank", "fresh:deadline"):
        path, L = books[key]
        wb = openpyxl.load_workbook(path)
        anchors = _chart_anchors(path)
        assert anchors, "no chart found: the test would pass vacuously"
        for title, spans in anchors.items():
            ws = wb[title]
            pages = page_of_rows(ws, _fit_scale(ws), max(to for _, to in spans) + 2)
            for fr, to in spans:
                assert pages[fr] == pages[to], f"{path.name} {title}: chart rows {fr}-{to} on pages {pages[fr]}-{pages[to]}"


def test_page_model_detects_the_old_layout(books):
    """Without the manual break the chart of 汇总 straddled a page (what the issue reported)."""
    path, L = books["fresh:seed"]
    ws = openpyxl.load_workbook(path)[L.sheet("summary")]
    ws.row_breaks.brk = []
    (fr, to), = _chart_anchors(path)[L.sheet("summary")]
    pages = page_of_rows(ws, _fit_scale(ws), to + 2)
    assert pages[fr] != pages[to]


# ---- the report draft --------------------------------------------------------------------------

def _tables(doc) -> list[list[list[str]]]:
    return [[[c.text for c in row.cells] for row in t.rows] for t in doc.tables]


SEED_TABLE = [
    ["决策", "项目立项", "立项依据充分性", "4", "4", "100%"], ["决策", "项目立项", "立项程序规范性", "4", "4", "100%"],
    ["决策", "绩效目标", "绩效目标合理性", "3", "3", "100%"], ["决策", "绩效目标", "绩效指标明确性", "3", "3", "100%"],
    ["决策", "资金投入", "预算编制科学性", "3", "3", "100%"], ["决策", "资金投入", "资金分配合理性", "3", "2", "66.67%"],
    ["过程", "资金管理", "资金到位率", "5", "5", "100%"], ["过程", "资金管理", "预算执行率", "5", "5", "100%"],
    ["过程", "资金管理", "资金使用合规性", "3", "3", "100%"], ["过程", "组织实施", "管理制度健全性", "3", "3", "100%"],
    ["过程", "组织实施", "制度执行有效性", "4", "4", "100%"],
    ["产出", "产出数量", "商会党建书籍配发", "5", "5", "100%"], ["产出", "产出数量", "党务培训班培训人数", "5", "5", "100%"],
    ["产出", "产出数量", "组织党支部开展党务培训班", "5", "5", "100%"],
    ["产出", "产出质量", "直属商会党支部党务工作者培训率", "5", "5", "100%"],
    ["产出", "产出时效", "党支部开展党务培训班完成及时率", "5", "5", "100%"],
    ["产出", "产出成本", "党务培训班费用", "5", "5", "100%"], ["产出", "产出成本", "购买商会党建书籍", "5", "5", "100%"],
    ["产出", "产出成本", "购买学习资料和书籍等费用", "5", "5", "100%"],
    ["效益", "社会效益指标", "有效提高商会党建各项工作", "10", "10", "100%"],
    ["满意度", "满意度指标", "服务对象满意度", "10", "10", "100%"],
    ["合计", "", "", "100", "99", "99%"],
]


@pytest.fixture(scope="module")
def seed_report(books, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("report") / "报告.docx"
    r = CliRunner().invoke(main, ["report", str(books["seed"][0]), "-o", str(out)])
    assert r.exit_code == 0, r.output
    return out


def test_seed_report_has_the_weight_and_score_table(seed_report):
    doc = Document(str(seed_report))
    tables = _tables(doc)
    [table] = [t for t in tables if t[0] == ["一级指标", "二级指标", "三级指标", "分值", "得分", "得分率"]]
    assert table[1:] == SEED_TABLE
    text = "\n".join(p.text for p in doc.paragraphs)
    assert "总得分 99 分，评价等级为“优”" in text
    # funds: 7.94 万元 arrived and spent, 100 %
    assert "预算资金 7.94 万元" in text and "资金到位率 100%" in text and "预算执行率 100%" in text
    [funds] = [t for t in tables if t[0][0].startswith("项目（")]
    assert funds[1] == ["合计", "7.94", "7.94", "7.94"]
    assert ["购书费", "4", "4", "4"] in funds and ["办公费", "1.94", "1.94", "1.94"] in funds


def test_seed_report_structure_fonts_and_page(seed_report):
    doc = Document(str(seed_report))
    heads = [p.text for p in doc.paragraphs if p.style.name == "Heading 1"]
    assert heads == ["一、基本情况", "二、绩效评价工作开展情况", "三、综合评价情况及评价结论", "四、绩效评价指标分析",
                     "五、存在的问题及原因分析", "六、有关建议"]
    text = "\n".join(p.text for p in doc.paragraphs)
    assert "【待填写】有关建议" in text
    assert "资金分配合理性得 2 分，低于分值 3 分" in text  # §五 lists the indicator below full marks
    assert "商会党建书籍配发完成率 126.88%" in text  # and the over-achievement
    fonts = doc.styles["Normal"].element.rPr.find(qn("w:rFonts"))
    assert fonts.get(qn("w:eastAsia")) == "仿宋_GB2312"
    assert doc.styles["Heading 1"].element.rPr.find(qn("w:rFonts")).get(qn("w:eastAsia")) == "黑体"
    sec = doc.sections[0]
    assert (round(sec.page_width.mm), round(sec.page_height.mm)) == (210, 297)
    assert "PAGE" in sec.footer._element.xml
    assert doc.paragraphs[4].text == "2024年非公有制党建工作经费"  # title page
    assert "乌鲁木齐市工商业联合会" in text and "年度：2024" in text


def test_report_refuses_a_return_with_errors_unless_forced(books, tmp_path):
    path = books["blank"][0]
    r = CliRunner().invoke(main, ["report", str(path), "-o", str(tmp_path / "x.docx")])
    assert r.exit_code == 1 and not (tmp_path / "x.docx").exists()
    assert "--force" in r.output
    r = CliRunner().invoke(main, ["report", str(path), "-o", str(tmp_path / "x.docx"), "--force", "--lang", "en"])
    assert r.exit_code == 0, r.output
    doc = Document(str(tmp_path / "x.docx"))
    first_page = []
    for p in doc.paragraphs:
        if p.style.name == "Heading 1":
            break
        first_page.append(p.text)
    joined = "\n".join(first_page)
    assert "did not pass the check" in joined and "V001" in joined
    assert [p.text for p in doc.paragraphs if p.style.name == "Heading 1"][0] == "1. Basic information"


def test_report_on_a_folder_writes_one_per_return(books, tmp_path):
    folder = tmp_path / "returns"
    folder.mkdir()
    for k in ("seed", "deadline"):
        (folder / f"{k}.xlsx").write_bytes(books[k][0].read_bytes())
    r = CliRunner().invoke(main, ["report", str(folder), "-o", str(tmp_path / "out"), "--force"])
    assert r.exit_code == 0, r.output
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["deadline.docx", "seed.docx"]
