"""The streaming reader against openpyxl, cell by cell (value and formula in both views).

``check`` reads returns with :mod:`workbook_tool.xlsxread`; it must see exactly what openpyxl
sees (openpyxl's two loads were the reference the checker was built and tested on). Compared
here on generated workbooks, the LibreOffice-saved sample, workbooks edited with openpyxl
(merges, booleans, errors, dates, typed formulas), hand-made XML (shared formulas as Excel writes
them after a fill-down, inline strings, every cell type, date and duration formats) and a few
hundred fuzzed copies. A snapshot taken through either reader must also be the same.
"""
from __future__ import annotations

import datetime as dt
import io
import random
import re
import subprocess
import sys
import zipfile
from pathlib import Path

import openpyxl
import pytest

from test_fuzz import _members, _rezip  # the fuzz test's zip helpers (tests/ is on the path)
from workbook_tool import xlsxread
from workbook_tool.checker import check_file
from workbook_tool.layout import build_layout
from workbook_tool.project import load_project_file, parse_project
from workbook_tool.metadata import read_meta
from workbook_tool.reader import take_snapshot
from workbook_tool.template import load_template
from workbook_tool.writer import write_workbook

ROOT = Path(__file__).resolve().parents[1]
SAMPLE = ROOT / "samples" / "party-building-2024-filled.xlsx"
NS = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"


def _openpyxl(data: bytes) -> tuple[openpyxl.Workbook, openpyxl.Workbook]:
    return (openpyxl.load_workbook(io.BytesIO(data), keep_links=False),
            openpyxl.load_workbook(io.BytesIO(data), data_only=True, keep_links=False))


def _book(data: bytes) -> xlsxread.Book:
    with zipfile.ZipFile(io.BytesIO(data)) as z:
        names = [n for n, _p in xlsxread._workbook_info(z, xlsxread._parts(z, set(z.namelist()))[0],
                                                         set(z.namelist())).sheets]
        return xlsxread.read_book(z, names)


def _norm(v):
    if isinstance(v, (xlsxread.NonScalarFormula,)):
        return ("formula-object", v.text)
    if type(v).__name__ in ("ArrayFormula", "DataTableFormula"):
        return ("formula-object", getattr(v, "text", None))
    return v


def compare(data: bytes) -> int:
    """Assert both readers agree on every cell the streaming reader keeps; returns cells compared."""
    wf, wv = _openpyxl(data)
    book = _book(data)
    assert book.sheetnames == wf.sheetnames
    assert book.calc_mode == (wf.calculation.calcMode if wf.calculation is not None else None)
    custom = {p.name: p.value for p in wf.custom_doc_props.props}
    assert book.custom == custom
    n = 0
    for ws in wf.worksheets:
        cells = book.sheets[ws.title]
        vs = wv[ws.title]
        for (r, c), cell in list(ws._cells.items()):
            if r > xlsxread.MAX_ROW or c > xlsxread.MAX_COL:
                continue
            mine = cells.get((r, c), xlsxread.EMPTY)
            vcell = vs.cell(r, c)
            where = f"{ws.title}!{cell.coordinate}"
            assert (_norm(mine.value), mine.type) == (_norm(cell.value), cell.data_type), where
            assert (_norm(mine.cached), mine.cached_type) == (_norm(vcell.value), vcell.data_type), where
            n += 1
        extra = [k for k, v in cells.items() if k not in ws._cells and (v.value is not None or v.cached is not None)]
        assert not extra, (ws.title, extra[:5])
    return n


def compare_snapshots(data: bytes, tmp_path: Path) -> None:
    """The checker's view (metadata, every slot) through both readers."""
    wf, wv = _openpyxl(data)
    book = _book(data)
    m1, m2 = read_meta(wf), read_meta(book)
    assert (m1 is None) == (m2 is None)
    if m1 is None:
        return
    assert (m1.data, m1.ruleset, m1.record, m1.custom, m1.record_error) == (m2.data, m2.ruleset, m2.record, m2.custom, m2.record_error)
    tpl = load_template(m1.template_id)
    L = build_layout(tpl, m1.lang)
    s1, s2 = take_snapshot(L, wf, wv), take_snapshot(L, book)
    for f in ("missing_sheets", "values", "raw", "formulas", "cached", "typed_formulas", "end_rows", "anchors", "calc_mode",
              "unprotected"):
        assert getattr(s1, f) == getattr(s2, f), f


@pytest.fixture(scope="module")
def generated(tmp_path_factory) -> dict[str, bytes]:
    d = tmp_path_factory.mktemp("gen")
    de = load_template("dept-eval")
    seed = parse_project(load_project_file(ROOT / "samples" / "party-building-2024.yaml"), de)
    out = {}
    for name, args in {"self-eval-zh": (load_template("self-eval"), None, "zh"),
                       "dept-eval-en": (de, None, "en"), "seed-filled": (de, seed, "zh")}.items():
        write_workbook(d / f"{name}.xlsx", args[0], args[1], args[2])
        out[name] = (d / f"{name}.xlsx").read_bytes()
    out["sample-libreoffice"] = SAMPLE.read_bytes()
    return out


def test_generated_and_libreoffice_saved(generated, tmp_path):
    for name, data in generated.items():
        assert compare(data) > 500, name
        compare_snapshots(data, tmp_path)


def _edited_with_openpyxl(tmp_path: Path) -> bytes:
    L = build_layout(load_template("dept-eval"))
    wb = openpyxl.load_workbook(SAMPLE)
    act, ind = wb[L.sheet("actuals")], wb[L.sheet("indicators")]
    col = L.slots["actual"].col + 1
    r0 = L.rows()[0] + 1
    values = ["#DIV/0!", True, "=1+0", 1e300, "NaN", dt.datetime(2024, 9, 25), dt.date(2024, 1, 3), -0.0, 10**20, "  "]
    for i, v in enumerate(values):
        c = act.cell(r0 + i, col)
        c.value = v
        if v == "#DIV/0!":
            c.data_type = "e"
    act.cell(r0 + 12, col).number_format = "[h]:mm:ss"
    act.cell(r0 + 12, col).value = 1.25
    act.cell(r0 + 13, col).number_format = "yyyy-mm-dd"
    act.cell(r0 + 13, col).value = 45000.5
    act.merge_cells(start_row=r0 + 20, start_column=col, end_row=r0 + 22, end_column=col + 1)  # over inputs
    ind.cell(r0 + 1, 3).value = "长" * 5000
    p = tmp_path / "edited.xlsx"
    wb.save(p)
    return p.read_bytes()


def _shared_formula_copy(data: bytes, L) -> bytes:
    """The scoring sheet with each formula column written as Excel does after a fill-down."""
    m = _members(data)
    wb_xml = m["xl/workbook.xml"].decode()
    rels = m["xl/_rels/workbook.xml.rels"].decode()
    rid = re.search(r'<sheet name="%s" sheetId="\d+" (?:state="\w+" )?r:id="(rId\d+)"' % L.sheet("scoring"), wb_xml).group(1)
    target = re.search(r'Id="%s"[^>]*Target="([^"]+)"' % rid, rels) or re.search(r'Target="([^"]+)"[^>]*Id="%s"' % rid, rels)
    part = "xl/" + target.group(1).lstrip("/").removeprefix("xl/")
    xml = m[part].decode()
    si = 0
    for slot in L.columns("scoring"):
        if slot.kind != "formula":
            continue
        col = xlsxread.col_name(slot.col)
        first, last = L.rows()[0] + 1, L.rows()[-1] + 1

        def repl(mm, si=si, col=col, first=first, last=last):
            row = int(mm.group(1))
            attrs = f't="shared" ref="{col}{first}:{col}{last}" si="{si}"'
            if row == first:
                return f'<c r="{col}{row}"{mm.group(2)}><f {attrs}>{mm.group(3)}</f>'
            return f'<c r="{col}{row}"{mm.group(2)}><f t="shared" si="{si}"/>'

        xml = re.sub(r'<c r="%s(\d+)"([^>]*)><f[^>]*>([^<]*)</f>' % col, repl, xml)
        si += 1
    assert xml.count('t="shared"') > 100
    m[part] = xml.encode()
    return _rezip(m)


def _hand_made_cells(data: bytes) -> bytes:
    """Every cell type and a few odd encodings written into the metadata sheet's spare rows."""
    m = _members(data)
    part = next(n for n in m if n.startswith("xl/worksheets/") and b"wbtool workbook" in m[n]) if any(
        b"wbtool workbook" in m[n] for n in m if n.startswith("xl/worksheets/")) else "xl/worksheets/sheet8.xml"
    xml = m[part].decode()
    cells = ('<row r="60"><c r="A60" t="inlineStr"><is><t>内联</t><r><t>文本</t></r></is></c>'
             '<c r="B60" t="str"><f>"a"&amp;"b"</f><v>ab</v></c><c r="C60" t="e"><v>#N/A</v></c>'
             '<c r="D60" t="b"><v>0</v></c><c r="E60" t="d"><v>2024-09-25T10:30:00</v></c>'
             '<c r="F60"><v>1.5E3</v></c><c r="G60"><v></v></c><c r="H60" t="e"><f>1/0</f><v>#DIV/0!</v></c>'
             '<c r="I60"><f t="array" ref="I60">SUM(A1:A2*2)</f><v>0</v></c><c r="J60" t="str"><f>IF(1,"x")</f><v></v></c>'
             '</row><row r="61"><c t="n"><v>7</v></c><c><v>8</v></c><c r="XFD61"><v>9</v></c></row>')
    xml = re.sub(r"</sheetData>", cells + "</sheetData>", xml, count=1)
    if "<sheetData/>" in xml:
        xml = xml.replace("<sheetData/>", "<sheetData>" + cells + "</sheetData>")
    m[part] = xml.encode()
    return _rezip(m)


def test_edited_shared_and_hand_made(tmp_path):
    L = build_layout(load_template("dept-eval"))
    edited = _edited_with_openpyxl(tmp_path)
    assert compare(edited) > 500
    compare_snapshots(edited, tmp_path)
    shared = _shared_formula_copy(SAMPLE.read_bytes(), L)
    assert compare(shared) > 500
    compare_snapshots(shared, tmp_path)
    # the translated formulas are the generated ones: check finds nothing edited
    p = tmp_path / "shared.xlsx"
    p.write_bytes(shared)
    rep = check_file(p)
    assert not [f for f in rep.findings if f.code in ("S012", "S013", "S099")]
    assert rep.total_python == check_file(SAMPLE).total_python
    assert compare(_hand_made_cells(SAMPLE.read_bytes())) > 500


@pytest.mark.parametrize("formula,dr,dc,expected", [
    ("=A1+$B$2+C$3+$D4", 2, 1, "=B3+$B$2+D$3+$D6"),
    ("='预算'!B5*SUM(Sheet2!A1:A3)", 1, 0, "='预算'!B6*SUM(Sheet2!A2:A4)"),
    ('=IF(A1="A1",1E+5,TRUE)', 1, 1, '=IF(B2="A1",1E+5,TRUE)'),
    ("=SUM(A:A)+SUM(3:4)+lst_levels", 1, 1, "=SUM(B:B)+SUM(4:5)+lst_levels"),
    ("=#REF!+A1", 1, 0, "=#REF!+A2"),
])
def test_shared_formula_translation_matches_openpyxl(formula, dr, dc, expected):
    from openpyxl.formula.translate import Translator

    dest = f"{xlsxread.col_name(3 + dc - 1)}{5 + dr}"
    assert Translator(formula, "C5").translate_formula(dest) == expected
    assert xlsxread.translate_formula(formula, dr, dc) == expected


def test_fuzzed_copies_agree():
    """Mutated copies (the fuzz test's mutations): where openpyxl reads a file, so does the
    streaming reader, with the same cells; where openpyxl fails, the reader fails cleanly or
    reads it (it parses less, so it refuses less)."""
    from test_fuzz import mutate

    rng = random.Random(11)
    seeds = [SAMPLE.read_bytes()]
    seed_members = [_members(s) for s in seeds]
    agreed = 0
    for _ in range(120):
        data = mutate(rng, seeds[0], seed_members[0])
        try:
            _openpyxl(data)
        except Exception:
            try:
                _book(data)
            except (xlsxread.ReadError, Exception) as e:  # noqa: B014 - any clean failure is fine here
                assert isinstance(e, (xlsxread.ReadError, zipfile.BadZipFile, KeyError, ValueError)), repr(e)
            continue
        try:
            compare(data)
        except xlsxread.ReadError as e:
            pytest.fail(f"openpyxl read it, the streaming reader refused: {e}")
        agreed += 1
    assert agreed > 30


def test_check_imports_neither_openpyxl_xlsxwriter_nor_pandas():
    code = ("import sys, workbook_tool.cli as c, workbook_tool.checker as k, workbook_tool.report; "
            "k.check_file(sys.argv[1]); "
            "bad = [m for m in ('openpyxl', 'xlsxwriter', 'pandas', 'numpy') if m in sys.modules]; "
            "print(bad)")
    out = subprocess.run([sys.executable, "-c", code, str(SAMPLE)], capture_output=True, text=True, cwd=ROOT, check=True)
    assert out.stdout.strip() == "[]", out.stdout + out.stderr


def test_only_the_named_template_is_parsed():
    code = ("import sys, workbook_tool.template as t; seen = []; orig = t.parse_template\n"
            "t.parse_template = lambda d, s: (seen.append(s), orig(d, s))[1]\n"
            "import workbook_tool.checker as k; k.check_file(sys.argv[1]); print(seen)")
    out = subprocess.run([sys.executable, "-c", code, str(SAMPLE)], capture_output=True, text=True, cwd=ROOT, check=True)
    assert out.stdout.strip() == "['dept-eval.yaml']", out.stdout + out.stderr
