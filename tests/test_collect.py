"""`wbtool collect --roster` and `wbtool check --annotate` over an office's inbox (issue #13 acceptance).

The inbox is built once for the module the way it happens: a roster issues one workbook per project,
units fill them in (some wrongly, one tampers, one never recalculates, one sends nothing back, one
sends twice, one was never on the roster), everything goes through LibreOffice in one call, and the
folder also holds a PDF, a Word file and — on the second run — the previous summary.
"""
from __future__ import annotations

import csv
import datetime as dt
import hashlib
import io
import json
import shutil
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

import openpyxl
import pytest
from click.testing import CliRunner

from workbook_tool.checker import FileReport, check_file
from workbook_tool.cli import main
from workbook_tool.layout import build_layout
from workbook_tool.project import parse_project, strip_fill
from workbook_tool.recalc import recalculate
from workbook_tool.template import load_template
from workbook_tool.writer import write_workbook

SELF = load_template("self-eval")
LS = build_layout(SELF)

ROWS = [  # level, category, name, op, target, unit, weight, actual, grade, score
    ("产出指标", "数量指标", "书籍配发", "≥", 800, "册", 10, 850, None, None),
    ("产出指标", "数量指标", "培训人数", "≥", 40, "人", 10, 45, None, None),
    ("产出指标", "质量指标", "培训率", "≥", 85, "%", 10, 90.4, None, None),
    ("产出指标", "时效指标", "完成时间", "≤", dt.date(2024, 9, 30), "日期", 10, dt.date(2024, 9, 25), None, None),
    ("产出指标", "成本指标", "培训费用", "≤", 2, "万元", 10, 1.9, None, None),
    ("效益指标", "经济效益指标", "带动就业", "定性", "有效带动", None, 15, "完成", "达成", 15),
    ("效益指标", "社会效益指标", "工作水平", "定性", "有效提高", None, 15, "完成", "达成年度指标", 15),
    ("满意度指标", "服务对象满意度指标", "服务对象满意度", "≥", 85, "%", 10, 93, None, None),
]
KEYS = ("level", "category", "name", "op", "target", "unit", "weight", "actual", "grade", "score")


def project(i: int, changes: dict[str, dict[str, Any]] | None = None, spent: float = 9.5, **header: Any) -> dict[str, Any]:
    changes = changes or {}
    rows = []
    for r in ROWS:
        d = {k: v for k, v in zip(KEYS, r) if v is not None}
        d.update(changes.get(r[2], {}))
        rows.append({k: v for k, v in d.items() if v is not None})
    return {"project": {"name": f"项目{i:02d}", "department": f"主管部门{i % 4}", "unit": f"单位{i:02d}", "year": 2024,
                        **header},
            "goal": {"expected": "完成年度培训与配发任务", "actual": "已完成"},
            "sign": {"lead": "张三", "finance": "李四", "date": dt.date(2025, 4, 20)},
            "funds": {"total": {"initial": 10, "budget": 10, "spent": spent},
                      "items": [{"initial": 10, "budget": 10, "spent": spent}]},
            "indicators": rows}


def setv(key: str, name: str, value: Any) -> Callable[[openpyxl.Workbook], None]:
    def edit(wb: openpyxl.Workbook) -> None:
        r = list(LS.rows())[[x[2] for x in ROWS].index(name)]
        slot = LS.slots[key]
        wb[LS.sheet(slot.sheet)][LS.a1(slot, r)] = value
    return edit


CLEAN = 26


def _cases() -> dict[str, tuple[dict[str, Any], Any]]:
    cases: dict[str, tuple[dict[str, Any], Any]] = {}
    for i in range(1, CLEAN + 1):  # clean, with varied scores and execution
        ch = {}
        if i % 3 == 0:
            ch["培训人数"] = {"actual": 40 - i % 7 * 4, "explain": "部分学员未到"}
        if i % 5 == 0:
            ch["书籍配发"] = {"actual": 500 + i * 5, "explain": "采购延迟"}
        spent = 9.5 if i % 4 else 9.0 + (i % 3) * 0.2
        cases[f"clean{i:02d}"] = (project(i, ch, spent=spent), None)
    faulty = {
        "text_actual": ({"书籍配发": {"actual": "800余册"}}, None),          # V002 (+ V013 folded)
        "missing_actual": ({"培训人数": {"actual": None}}, None),            # V001 (+ V013 folded)
        "percent_scale": ({"培训率": {"actual": 0.93}}, None),               # V004
        "explain_missing": ({"书籍配发": {"actual": 1015}}, None),            # V013
        "grade_missing": ({"带动就业": {"grade": None}}, None),               # V008
        "date_text": ({"完成时间": {"actual": "2024/9/25"}}, None),           # V007
        "score_overwritten": ({}, setv("score", "培训人数", 10)),             # S012 (tampered)
        "target_lowered": ({}, setv("target", "书籍配发", 600)),              # S014 (tampered)
    }
    for j, (name, (ch, edit)) in enumerate(faulty.items(), start=CLEAN + 1):
        cases[name] = (project(j, ch), edit)
    cases["low_execution"] = (project(CLEAN + 20, spent=7.0), None)        # V013 on the funds rate
    return cases


@dataclass
class Inbox:
    root: Path
    inbox: Path
    roster: Path
    files: dict[str, Path]          # case → file in the inbox
    not_returned: list[str]         # project names issued but never returned
    unlisted: str                   # project returned but not on the roster
    hashes: dict[str, str]
    reports: dict[str, FileReport] = None  # type: ignore[assignment]

    def report(self, name: str) -> FileReport:
        if self.reports is None:
            self.reports = {}
        if name not in self.reports:
            self.reports[name] = check_file(self.files[name])
        return self.reports[name]


@pytest.fixture(scope="module")
def box(tmp_path_factory, soffice) -> Inbox:
    root = tmp_path_factory.mktemp("collect")
    issued, filled, edited, inbox = (root / n for n in ("issued", "filled", "edited", "inbox"))
    for d in (issued, filled, edited, inbox):
        d.mkdir()
    cases = _cases()
    not_returned = {f"missing{k}": project(60 + k) for k in range(3)}
    roster_rows = []
    srcs: dict[str, Path] = {}
    for name, (data, edit) in cases.items():
        pr = parse_project(data, SELF, name)
        write_workbook(issued / f"{name}.xlsx", SELF, strip_fill(pr))
        write_workbook(filled / f"{name}.xlsx", SELF, pr)
        srcs[name] = filled / f"{name}.xlsx"
        if edit is not None:
            wb = openpyxl.load_workbook(srcs[name])
            edit(wb)
            wb.save(edited / f"{name}.xlsx")
            srcs[name] = edited / f"{name}.xlsx"
        h = data["project"]
        if name != f"clean{CLEAN:02d}":  # the last clean unit is missing from the roster
            roster_rows.append([h["name"], h["department"], h["unit"], h["year"], f"{name}.xlsx"])
    for name, data in not_returned.items():
        h = data["project"]
        roster_rows.append([h["name"], h["department"], h["unit"], h["year"], f"{name}.xlsx"])
        write_workbook(issued / f"{name}.xlsx", SELF, strip_fill(parse_project(data, SELF, name)))
    # never recalculated: filled in, saved by something that does not compute (no LibreOffice pass)
    nr_data = project(50, {})
    pr = parse_project(nr_data, SELF, "never_recalculated")
    write_workbook(inbox / "never_recalculated.xlsx", SELF, pr)
    roster_rows.append([nr_data["project"]["name"], nr_data["project"]["department"], nr_data["project"]["unit"], 2024,
                        "never_recalculated.xlsx"])
    # an issued workbook sent back as it was (never filled in)
    empty_data = project(51)
    write_workbook(inbox / "empty.xlsx", SELF, strip_fill(parse_project(empty_data, SELF, "empty")))
    roster_rows.append([empty_data["project"]["name"], empty_data["project"]["department"], empty_data["project"]["unit"],
                        2024.0, "empty.xlsx"])

    order = list(srcs)
    # LibreOffice writes into one folder: stage sources under distinct stems (filled/ and edited/ share names)
    stage = root / "stage"
    stage.mkdir()
    for n in order:
        shutil.copy(srcs[n], stage / f"{n}.xlsx")
    outs = recalculate([stage / f"{n}.xlsx" for n in order], root / "lo")
    files = {}
    for n, p in zip(order, outs):
        files[n] = inbox / f"{n}.xlsx"
        shutil.copy(p, files[n])
    files["never_recalculated"] = inbox / "never_recalculated.xlsx"
    files["empty"] = inbox / "empty.xlsx"
    # duplicates: the same file sent twice under another name, and a project re-sent after a correction
    files["clean01_again"] = inbox / "clean01 (1).xlsx"
    shutil.copy(files["clean01"], files["clean01_again"])
    import os
    os.utime(files["clean01_again"], (1_600_000_000, 1_600_000_000))  # sent first; clean01.xlsx is the newer
    files["text_actual_v1"] = inbox / "旧版" / "text_actual.xlsx"
    files["text_actual_v1"].parent.mkdir()
    shutil.copy(files["text_actual"], files["text_actual_v1"])
    os.utime(files["text_actual_v1"], (1_600_000_000, 1_600_000_000))  # the older copy
    # not workbooks
    files["pdf"] = inbox / "说明.pdf"
    files["pdf"].write_bytes(b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj\n<<>>\nendobj\n")
    docx = io.BytesIO()
    with zipfile.ZipFile(docx, "w") as z:
        z.writestr("[Content_Types].xml", '<?xml version="1.0"?><Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
                   '<Override PartName="/word/document.xml" ContentType="application/vnd.openxmlformats-officedocument.'
                   'wordprocessingml.document.main+xml"/></Types>')
        z.writestr("word/document.xml", "<w:document/>")
    files["docx"] = inbox / "自评报告.docx"
    files["docx"].write_bytes(docx.getvalue())
    (inbox / "~$clean02.xlsx").write_bytes(b"lock")  # an Excel lock file: not a return
    roster = root / "名单.csv"
    with roster.open("w", encoding="utf-8-sig", newline="") as f:
        w = csv.writer(f)
        w.writerow(["项目名称", "主管部门", "实施单位", "年度", "文件名"])
        w.writerows(roster_rows)
    hashes = {n: hashlib.sha256(p.read_bytes()).hexdigest() for n, p in files.items()}
    assert len(files) >= 40
    return Inbox(root, inbox, roster, files, [d["project"]["name"] for d in not_returned.values()],
                 cases[f"clean{CLEAN:02d}"][0]["project"]["name"], hashes)


def _sheet(path: Path, name: str) -> list[dict[str, Any]]:
    ws = openpyxl.load_workbook(path)[name]
    rows = list(ws.iter_rows(min_row=3, values_only=True))  # title, note, then the header row
    return [dict(zip(rows[0], r)) for r in rows[1:]]


@pytest.fixture(scope="module")
def summary(box) -> Path:
    out = box.inbox / "汇总.xlsx"  # the output lies in the returns folder
    r = CliRunner().invoke(main, ["collect", str(box.inbox), "--roster", str(box.roster), "-o", str(out)])
    assert r.exit_code == 0, r.output
    # a second run over the same folder does not read its own earlier summary as a return
    r2 = CliRunner().invoke(main, ["collect", str(box.inbox), "--roster", str(box.roster), "-o", str(out), "--force"])
    assert r2.exit_code == 0, r2.output
    assert r.stdout == r2.stdout
    assert "[1/" in r2.output  # plain progress lines on stderr when not on a terminal
    return out


def test_every_file_is_accounted_for(box, summary):
    files = _sheet(summary, "文件清单")
    listed = {Path(f["文件"]).resolve() for f in files}
    assert listed == {p.resolve() for p in box.files.values()}  # not the lock file, not the summary
    by = {Path(f["文件"]).name: f for f in files}
    assert by["说明.pdf"]["类型"] == "非工作簿" and by["自评报告.docx"]["状态"] == "非工作簿"
    assert by["clean01 (1).xlsx"]["状态"] == "重复报送" or by["clean01.xlsx"]["状态"] == "重复报送"
    dup = [f for f in files if f["状态"] == "重复报送"]
    assert {Path(f["文件"]).name for f in dup} >= {"text_actual.xlsx"}
    old = next(f for f in dup if "旧版" in f["文件"])  # the older copy is the duplicate; the newer one counts
    assert "只计一次" in old["说明"]
    assert len(dup) == 2


def test_ranking_matches_the_checker(box, summary):
    rows = _sheet(summary, "排名")
    names = [r["项目名称"] for r in rows]
    assert len(names) == len(set(names))  # duplicates counted once
    dups = {"clean01_again", "text_actual_v1", "pdf", "docx"}
    assert len(rows) == len([n for n in box.files if n not in dups])
    by = {r["文件"]: r for r in rows}
    for name, path in box.files.items():
        if name in dups:
            continue
        rep = box.report(name)
        row = by[path.name]
        assert row["总分"] == pytest.approx(rep.total_python), name
        assert isinstance(row["年度"], int) and row["年度"] == 2024
        assert row["状态"] in ("通过", "有警告", "有错误")
        tampered = {"score_overwritten", "target_lowered", "never_recalculated", "empty"}
        if name in tampered:
            assert row["等级"] == "待核实" and row["排名"] is None and row["待核实原因"], name
        else:
            assert row["等级"] == rep.grade_python and isinstance(row["排名"], int), name
    # ranks follow the totals; the execution rate is a percentage of budget
    ranked = [r for r in rows if r["排名"] is not None]
    assert [r["总分"] for r in ranked] == sorted((r["总分"] for r in ranked), reverse=True)
    assert ranked[0]["排名"] == 1
    low = by["low_execution.xlsx"]
    assert low["预算执行率"] == pytest.approx(0.7) and low["预算数（万元）"] == 10 and low["执行数（万元）"] == 7
    assert low["预算执行率（得分）"] == 7  # self-eval's level of the same name: its points, in a column of its own
    ws = openpyxl.load_workbook(summary)["排名"]
    col = [c.value for c in ws[3]].index("预算执行率") + 1
    assert "%" in ws.cell(4, col).number_format


def test_problem_list_one_row_per_finding(box, summary):
    rows = _sheet(summary, "问题清单")
    text = [r for r in rows if r["文件"] == "text_actual.xlsx"]
    assert [(r["代码"], r["指标"], r["位置"]) for r in text] == [("V002", "书籍配发", f"实际完成!{LS.a1(LS.slots['actual'], list(LS.rows())[0])}")]
    assert text[0]["实施单位"] and text[0]["项目名称"]
    empty = [r for r in rows if r["文件"] == "empty.xlsx"]
    assert [r["代码"] for r in empty] == ["V040"]  # one message for a return never filled
    assert any(r["代码"] == "S012" and "公式被改为数值" in r["问题"] and "=" not in r["问题"] for r in rows)
    assert not any(r["文件"] in ("clean01 (1).xlsx",) for r in rows)
    assert not any("None" in str(r["问题"]) for r in rows)


def test_roster_missing_and_unexpected(box, summary):
    missing = _sheet(summary, "未报送")
    assert sorted(m["项目名称"] for m in missing) == sorted(box.not_returned)
    unexpected = _sheet(summary, "名单外")
    assert [u["项目名称"] for u in unexpected] == [box.unlisted]


def test_overview_counts_grades_and_charts(box, summary):
    wb = openpyxl.load_workbook(summary)
    assert wb.sheetnames[:3] == ["总览", "排名", "问题清单"]
    ws = wb["总览"]
    counts = {r[0]: r[1] for r in ws.iter_rows(min_row=4, max_col=2, values_only=True) if r[0]}
    assert counts["收到文件"] == len(box.files)
    assert counts["非工作簿（PDF、Word 等）"] == 2 and counts["重复报送"] == 2
    assert counts["未报送"] == 3 and counts["名单外报送"] == 1
    assert counts["有效报送（每个项目计一次）"] == len(box.files) - 4
    grades = {r[0]: r[1] for r in ws.iter_rows(min_row=4, min_col=4, max_col=5, values_only=True) if r[0]}
    assert grades["待核实"] == 4
    assert sum(grades[g] for g in ("优", "良", "中", "差", "待核实")) == counts["有效报送（每个项目计一次）"]
    with zipfile.ZipFile(summary) as z:
        charts = [n for n in z.namelist() if n.startswith("xl/charts/chart")]
        assert len(charts) == 2
        props = z.read("docProps/custom.xml").decode()
        assert "wbtool.summary" in props
        sheet1 = z.read("xl/worksheets/sheet2.xml").decode()
        assert 'orientation="landscape"' in sheet1 and 'paperSize="9"' in sheet1 and "fitToHeight=\"0\"" in sheet1
        assert "<f>" not in sheet1  # text written as text, never formulas


def test_csv_tables(box, tmp_path):
    out = tmp_path / "汇总.csv"
    r = CliRunner().invoke(main, ["collect", str(box.inbox), "--roster", str(box.roster), "-o", str(out), "-q"])
    assert r.exit_code == 0, r.output
    assert "[1/" not in r.output  # --quiet: no progress
    with out.open(encoding="utf-8-sig") as f:
        rows = list(csv.DictReader(f))
    assert {row["年度"] for row in rows} == {"2024"}
    assert all(row["预算执行率"].endswith("%") for row in rows if row["预算执行率"])
    assert (tmp_path / "汇总-问题清单.csv").exists() and (tmp_path / "汇总-未报送.csv").exists()
    assert {row["状态"] for row in rows} <= {"通过", "有警告", "有错误"}


# ---- annotated copies -----------------------------------------------------------------------------

@pytest.fixture(scope="module")
def annotated(box) -> dict[str, Path]:
    outdir = box.root / "退回"
    r = CliRunner().invoke(main, ["check", str(box.inbox), "--annotate", str(outdir)])
    assert r.exit_code == 1, r.output  # returns with errors (check takes spreadsheets only: no PDF here)
    copies: dict[str, Any] = {p.name: p for p in outdir.glob("*.xlsx")}
    copies["-"] = r.stdout
    return copies


def _key(rep: FileReport) -> list[tuple[str, str | None, str | None]]:
    return sorted((f.code, f.sheet, f.cell) for f in rep.findings if f.code != "I002")


def test_annotated_copies(box, annotated):
    faulty = {n for n in box.files if n not in ("pdf", "docx") and box.report(n).status in ("errors", "warnings")}
    assert {f"{box.files[n].stem}-审核意见.xlsx" for n in faulty} == set(annotated) - {"-"}
    # originals untouched
    assert {n: hashlib.sha256(p.read_bytes()).hexdigest() for n, p in box.files.items()} == box.hashes
    names = sorted(n for n in faulty if "旧版" not in str(box.files[n]))
    copies = [annotated[f"{box.files[n].stem}-审核意见.xlsx"] for n in names]
    stage = box.root / "ann-stage"
    stage.mkdir()
    staged = []
    for n, c in zip(names, copies):
        staged.append(stage / f"{n}.xlsx")
        shutil.copy(c, staged[-1])
    recalced = dict(zip(names, recalculate(staged, box.root / "ann-lo")))
    for n, copy_path in zip(names, copies):
        orig = box.report(n)
        wb = openpyxl.load_workbook(copy_path)
        assert wb.sheetnames[0] == "审核意见"
        for f in orig.findings:
            if f.sheet and f.cell and f.severity != "info":
                assert wb[f.sheet][f.cell].comment is not None, (n, f.code, f.cell)
                assert wb[f.sheet][f.cell].fill.fgColor.rgb.endswith("FFC7CE")
        review = [r for r in wb["审核意见"].iter_rows(values_only=True)]
        assert any(r[0] == "序号" for r in review)
        again = check_file(recalced[n])
        expect = _key(orig)
        if not orig.recalculated:  # the copy is computed on opening; the original never was
            expect = [k for k in expect if k[0] != "X002"]
        assert _key(again) == expect, n
    ws = openpyxl.load_workbook(annotated["text_actual-审核意见.xlsx"])["审核意见"]
    links = [c for row in ws.iter_rows() for c in row if c.hyperlink is not None]
    assert links and links[0].hyperlink.location.startswith("'实际完成'!")


# ---- the text report ------------------------------------------------------------------------------

def test_text_report_folds_orders_and_aligns(box):
    from workbook_tool.report import render_file, width

    empty = box.report("empty")
    assert len([f for f in empty.findings if f.severity == "error"]) > 15
    text = render_file(empty)
    lines = [line for line in text.splitlines() if line.startswith("  错误")]
    assert len(lines) == 1 and "V040" in lines[0]  # one message, not 41
    doc = json.loads(CliRunner().invoke(main, ["check", str(box.files["empty"]), "--format", "json"]).stdout)
    fs = doc["files"][0]["findings"]
    cause = next(i for i, f in enumerate(fs) if f["code"] == "V040")
    assert len(fs) == len(empty.findings) and sum(f["folded_under"] == cause for f in fs) == len(fs) - 2  # all but I001 and V040 itself
    # a follow-on is shown under its cause, not as a finding of its own
    t = render_file(box.report("text_actual"))
    assert "V013" not in "\n".join(line for line in t.splitlines() if line.startswith("  错误"))
    assert "由此引起" in t
    # ordered by sheet, then row
    rep = box.report("score_overwritten")
    t = render_file(rep)
    codes = [line.split()[1] for line in t.splitlines() if line.startswith("  错误")]
    assert codes.index("S012") >= 0
    # score table aligned by display width; no formula dumps, no None
    table = [line for line in render_file(box.report("clean01")).splitlines() if line.startswith("  ") and "复核得分" not in line
             and line.strip()[:1].isdigit()]
    assert len({width(line) for line in table}) == 1
    head = next(line for line in render_file(box.report("clean01")).splitlines() if "复核得分" in line)
    assert "表内得分" in head and "Python" not in head
    r = CliRunner().invoke(main, ["check", str(box.files["score_overwritten"])])
    found = [line for line in r.stdout.splitlines() if line.startswith("  错误")]
    assert found and not any("=" in line or "None" in line for line in found)
    assert "公式被改为数值 10" in r.stdout


def test_check_streams_and_notices_once(box, summary, annotated):
    n = len([p for p in box.files.values() if p.suffix == ".xlsx"])  # check takes spreadsheets (not the summary)
    out = annotated["-"]  # the run that wrote the annotated copies
    assert out.count("I001") == 1  # a per-run notice, once
    assert out.count("== ") == n
    assert out.strip().splitlines()[-1].startswith(f"共 {n} 个文件")
    three = [str(box.files[k]) for k in ("clean02", "text_actual", "empty")]
    q = CliRunner().invoke(main, ["check", *three, "-q"])
    assert len(q.stdout.strip().splitlines()) == 3 + 1
    assert "[1/3]" not in q.output  # --quiet: no progress either
    p = CliRunner().invoke(main, ["check", *three])
    assert "[1/3] clean02.xlsx" in p.stderr and "[3/3] empty.xlsx" in p.stderr  # plain progress off a terminal
    # streamed: the first file's report is out before the second file is done
    assert p.output.index(f"== {three[0]}") < p.output.index("[2/3]")


def test_progress_bar_mode_runs_on_a_terminal_stream():
    import io as _io

    from workbook_tool.progress import Progress

    buf = _io.StringIO()
    with Progress(3, stream=buf, bar=True) as prog:
        assert prog.mode == "bar"
        for name in ("a.xlsx", "b.xlsx", "c.xlsx"):
            prog.advance(name)
    assert prog.done == 3
    with Progress(3, quiet=True, stream=buf) as prog:
        assert prog.mode == "off"


def test_annotated_copy_shows_the_office_contact_when_issued(box, tmp_path):
    """The contact entries another change adds to the issued metadata are shown when present."""
    from workbook_tool.annotate import annotate, contact

    rep = check_file(box.files["text_actual"])
    assert contact(rep) == {}  # absent: nothing invented
    rep.meta.update({"联系人": "王会计", "联系电话": "0991-1234567", "报送截止日期": "2025-04-30"})
    out = annotate(rep, tmp_path)
    values = [c for row in openpyxl.load_workbook(out)["审核意见"].iter_rows(values_only=True) for c in row if c]
    assert {"王会计", "0991-1234567", "2025-04-30"} <= set(values)
