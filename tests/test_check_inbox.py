"""`wbtool check` over a mixed inbox: broken and hostile files get one line and exit 2, the rest are still checked."""
from __future__ import annotations

import hashlib
import io
import json
import zipfile
from pathlib import Path

from click.testing import CliRunner

from workbook_tool.cli import main

ROOT = Path(__file__).resolve().parents[1]
SAMPLE = ROOT / "samples" / "party-building-2024-filled.xlsx"


def _with_member(data: bytes, name: str, content: bytes) -> bytes:
    src = zipfile.ZipFile(io.BytesIO(data))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as z:
        for n in src.namelist():
            z.writestr(n, src.read(n))
        z.writestr(name, content)
    return out.getvalue()


def _inbox(tmp_path: Path) -> dict[str, Path]:
    good = SAMPLE.read_bytes()
    files = {
        "good.xlsx": good,
        "old.xlsx": b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\0" * 2048,
        "locked.xlsx": b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\0" * 512 + "EncryptionInfo".encode("utf-16-le") + b"\0" * 512,
        "report.xlsx": b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj\n",
        "table.xlsx": "项目,得分\n党建,99\n".encode("utf-8"),
        "empty.xlsx": b"",
        "half.xlsx": good[: len(good) // 2],
        "macro.xlsx": _with_member(good, "xl/vbaProject.bin", b"\0" * 64),
    }
    out = {}
    for name, data in files.items():
        p = tmp_path / name
        p.write_bytes(data)
        out[name] = p
    return out


def test_mixed_inbox(tmp_path):
    inbox = _inbox(tmp_path)
    before = {n: (hashlib.sha256(p.read_bytes()).hexdigest(), p.stat().st_mtime_ns) for n, p in inbox.items()}
    r = CliRunner().invoke(main, ["check", str(tmp_path), "--format", "json"])
    assert r.exit_code == 2  # some files could not be read at all
    doc = json.loads(r.stdout)
    by = {Path(f["path"]).name: f for f in doc["files"]}
    assert set(by) == set(inbox)
    assert by["good.xlsx"]["status"] == "ok" and by["good.xlsx"]["total"]["python"] == 99
    expect = {"old.xlsx": "F110", "locked.xlsx": "F111", "report.xlsx": "F113", "table.xlsx": "F115",
              "empty.xlsx": "F104", "half.xlsx": "F116"}
    for name, code in expect.items():
        f = by[name]
        assert f["status"] == "unreadable" and f["exit_code"] == 2, name
        (finding,) = f["findings"]
        assert finding["code"] == code, (name, finding)
        assert "\n" not in finding["message"] and len(finding["message"]) < 300
    assert "另存为" in by["old.xlsx"]["findings"][0]["message"]
    assert "密码" in by["locked.xlsx"]["findings"][0]["message"]
    # a macro workbook renamed .xlsx is read (VBA never runs) and flagged
    macro = by["macro.xlsx"]
    assert macro["status"] != "unreadable" and "W101" in {f["code"] for f in macro["findings"]}
    after = {n: (hashlib.sha256(p.read_bytes()).hexdigest(), p.stat().st_mtime_ns) for n, p in inbox.items()}
    assert after == before


def test_unreadable_message_in_english_and_human_report(tmp_path):
    p = tmp_path / "old.xlsx"
    p.write_bytes(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\0" * 2048)
    r = CliRunner().invoke(main, ["check", str(p), "--lang", "en"])
    assert r.exit_code == 2
    assert "Save As" in r.output and "Traceback" not in r.output
    r = CliRunner().invoke(main, ["check", str(p), str(tmp_path / "missing.xlsx")])
    assert r.exit_code == 2 and sum(line.startswith("无法读取") for line in r.output.splitlines()) == 2


def test_usage_error_exits_2():
    r = CliRunner().invoke(main, ["check"])
    assert r.exit_code == 2


def test_hostile_cell_contents_become_findings(tmp_path):
    """Error values, booleans, very long text, typed formulas, huge numbers, NaN-like text, dates in number cells."""
    import datetime as dt

    import openpyxl

    from workbook_tool.checker import check_file
    from workbook_tool.layout import build_layout
    from workbook_tool.template import load_template

    L = build_layout(load_template("dept-eval"))
    wb = openpyxl.load_workbook(SAMPLE)
    act = wb[L.sheet("actuals")]
    ind = wb[L.sheet("indicators")]
    row = {ind.cell(r + 1, L.slots["name"].col + 1).value: r for r in L.rows()}
    col = L.slots["actual"].col + 1
    edits = {
        "商会党建书籍配发": "#DIV/0!",
        "党务培训班培训人数": True,
        "组织党支部开展党务培训班": "=1+0",
        "直属商会党支部党务工作者培训率": 1e300,
        "党支部开展党务培训班完成及时率": "NaN",
        "党务培训班费用": dt.datetime(2024, 9, 25),
        "购买学习资料和书籍等费用": 987654321.25,   # becomes a 400-digit integer in the XML below (OverflowError once)
        "服务对象满意度": 1.5,                                   # a duration: built-in [h]:mm:ss format below
    }
    for name, value in edits.items():
        c = act.cell(row[name] + 1, col)
        c.value = value
        if value == "#DIV/0!":
            c.data_type = "e"
        if name == "服务对象满意度":
            c.number_format = "[h]:mm:ss"
    act.cell(row["购买商会党建书籍"] + 1, L.slots["explain"].col + 1).value = "长" * 5000
    p = tmp_path / "hostile.xlsx"
    wb.save(p)
    with zipfile.ZipFile(p) as z:
        members = {n: z.read(n) for n in z.namelist()}
    hits = [n for n, d in members.items() if b"<v>987654321.25</v>" in d]
    assert len(hits) == 1
    members[hits[0]] = members[hits[0]].replace(b"<v>987654321.25</v>", b"<v>" + b"9" * 400 + b"</v>")
    with zipfile.ZipFile(p, "w", zipfile.ZIP_DEFLATED) as z:
        for n, d in members.items():
            z.writestr(n, d)
    rep = check_file(p)
    got = {(f.code, f.indicator) for f in rep.findings}
    assert ("V022", "商会党建书籍配发") in got          # error value
    assert ("V023", "党务培训班培训人数") in got         # boolean
    assert ("S015", "组织党支部开展党务培训班") in got    # formula typed into an input cell
    assert ("V026", "直属商会党支部党务工作者培训率") in got  # absurd number
    assert ("V002", "党支部开展党务培训班完成及时率") in got  # NaN-like text
    assert ("V029", "党务培训班费用") in got             # a date in a number cell
    assert ("V025", "购买商会党建书籍") in got            # very long text
    assert ("V026", "购买学习资料和书籍等费用") in got     # 400 digits: a finding, not an internal error
    # the duration is read as the number it holds (1.5 days), not an internal error: 10 × 1.5 / 85 = 0.18
    assert [s.python for s in rep.scores if s.name == "服务对象满意度"] == [0.18]
    assert rep.exit_code() == 1 and not any(f.code == "S099" for f in rep.findings)


def test_rows_added_by_the_unit_are_news_only_when_a_project_was_issued(tmp_path):
    import openpyxl

    from workbook_tool.checker import check_file
    from workbook_tool.layout import build_layout
    from workbook_tool.project import parse_project
    from workbook_tool.template import load_template
    from workbook_tool.writer import write_workbook

    tpl = load_template("dept-eval")
    L = build_layout(tpl)
    row = L.rows()[12]
    added = {"level": "产出", "category": "产出数量", "name": "新增指标", "op": "≥", "target": 5, "unit": "个", "weight": 40}
    codes = {}
    for kind, project in (("blank", None), ("issued", parse_project({"project": {"name": "某项目"}}, tpl))):
        src = tmp_path / f"{kind}.xlsx"
        write_workbook(src, tpl, project)
        wb = openpyxl.load_workbook(src)
        ws = wb[L.sheet("indicators")]
        for key, value in added.items():
            ws.cell(row + 1, L.slots[key].col + 1).value = value
        wb.save(tmp_path / f"{kind}-filled.xlsx")
        rep = check_file(tmp_path / f"{kind}-filled.xlsx")
        codes[kind] = {(f.code, f.indicator) for f in rep.findings}
    assert ("V032", "新增指标") in codes["issued"]  # a project's list was complete as issued
    assert not any(c == "V032" for c, _ in codes["blank"])  # a blank workbook is the unit's to fill


def test_file_names_cannot_forge_report_lines_and_json_keeps_the_exact_name(tmp_path):
    """A file name with a newline and a fake passing line, ESC sequences and U+202E; and a name that is not
    valid UTF-8: the text report shows them escaped on one line, the JSON keeps the exact name."""
    import os

    fake = "r.xlsx\n通过     伪造.xlsx  总分 100.00  等级 优  错误 0  警告 0\x1b[2J\u202eslx.exe"
    p = tmp_path / fake
    p.write_bytes(SAMPLE.read_bytes())
    raw = os.fsdecode(b"r\xff\xfe.xlsx")  # bytes a Windows zip or a GBK file system can leave behind
    (tmp_path / raw).write_bytes(SAMPLE.read_bytes())

    text = CliRunner().invoke(main, ["check", str(p), str(tmp_path / raw)]).output
    assert "\x1b" not in text and "\u202e" not in text and "\udcff" not in text
    assert not any(line.startswith("通过     伪造") for line in text.splitlines()), text
    assert "r.xlsx\\n通过" in text and "\\x1b[2J\\u202e" in text

    out = CliRunner().invoke(main, ["check", "--format", "json", str(p), str(tmp_path / raw)]).stdout
    out.encode("utf-8")  # valid UTF-8 throughout
    paths = [f["path"] for f in json.loads(out)["files"]]
    assert str(p) in paths
    assert os.fsencode([x for x in paths if x != str(p)][0]).endswith(b"r\xff\xfe.xlsx")


def test_a_subfolder_that_cannot_be_read_is_reported(tmp_path, monkeypatch):
    import os

    (tmp_path / "a").mkdir()
    (tmp_path / "a" / "good.xlsx").write_bytes(SAMPLE.read_bytes())
    (tmp_path / "locked").mkdir()
    real = os.scandir

    def scandir(path="."):
        if os.fspath(path).endswith("locked"):  # (tests run as root: permissions alone would not stop it)
            raise PermissionError(13, "Permission denied", os.fspath(path))
        return real(path)

    monkeypatch.setattr(os, "scandir", scandir)
    r = CliRunner().invoke(main, ["check", "--format", "json", str(tmp_path)])
    files = {Path(f["path"]).name: f for f in json.loads(r.stdout)["files"]}
    assert files["good.xlsx"]["status"] == "ok"
    assert files["locked"]["status"] == "unreadable" and files["locked"]["findings"][0]["code"] == "F122"
    assert r.exit_code == 2


def test_protection_removed_is_a_warning_naming_the_sheets(tmp_path):
    """Protection is not a security boundary, but a return whose sheets were unprotected says something."""
    import openpyxl

    from workbook_tool.checker import check_file

    wb = openpyxl.load_workbook(SAMPLE)
    for name in ("评分", "实际完成"):
        wb[name].protection.sheet = False
    p = tmp_path / "unprotected.xlsx"
    wb.save(p)
    [f] = [f for f in check_file(p).findings if f.code == "S016"]
    assert f.severity == "warning" and "实际完成" in f.message() and "评分" in f.message()
    assert not [f for f in check_file(SAMPLE).findings if f.code == "S016"]
