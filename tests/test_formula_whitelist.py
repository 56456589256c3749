"""Every formula wbtool writes uses classic functions only, and quotes every sheet name it references.

compat.md: functions Excel 2010+ writes with an ``_xlfn.`` prefix (IFS, XLOOKUP, MAXIFS, LET …) show
#NAME? in older Excel, older WPS and LibreOffice 7.4, while Python evaluators accept them — so
agreement with Python proves nothing for them. We generate every built-in template (blank and
prefilled, Chinese and English, and every rule variant), then read back with openpyxl every formula:
cell formulas, data-validation and conditional-format formulas, defined names, and the chart series
references in the raw package.
"""
from __future__ import annotations

import dataclasses
import re
import zipfile
from pathlib import Path

import openpyxl
import pytest
from openpyxl.formula.tokenizer import Tokenizer

from workbook_tool.expr import CLASSIC_FUNCTIONS
from workbook_tool.project import load_project_file, parse_project
from workbook_tool.template import Band, Grade, Template, builtin_templates, load_template
from workbook_tool.writer import write_workbook

ROOT = Path(__file__).resolve().parents[1]
SEED_PROJECT = ROOT / "samples" / "party-building-2024.yaml"


def _prefilled(tpl: Template) -> dict:
    """A project for any template: header, funds, and one row of every operator the template offers."""
    lv = tpl.indicator_levels()[0]
    rows = []
    for i, op in enumerate(tpl.operators):
        row = {"level": lv.name, "category": lv.categories[0], "name": f"指标{i + 1}", "op": op, "weight": 2,
               "unit": "个", "target": 10, "actual": 9}
        if op in ("定性", "评分"):
            row.update(target="有效提高", actual="达到", grade=tpl.grades[0].name, score=2)
        rows.append(row)
    return {"template": tpl.id, "project": {"name": "测试项目", "department": "测试局", "unit": "测试中心", "year": 2024},
            "funds": {"total": {c.id: 10 for c in tpl.funds_columns}}, "indicators": rows}


def _flipped(base: Template) -> Template:
    """Every rule setting that changes formula text set the other way (reverse, bands, 不适用, rating)."""
    grades_50 = tuple(Grade(g.name, g.short, 0.5 if g.min == 0.6 else g.min, 0.5 if g.max == 0.6 else g.max)
                      for g in base.grades)
    rating = tuple(Band(b.grade, {60: 70, 70: 60}.get(b.min, b.min)) for b in base.rating)
    return dataclasses.replace(base, reverse="linear" if base.reverse == "ratio" else "ratio", grades=grades_50,
                               not_applicable=not base.not_applicable, rating=rating, version=base.version + "+flipped")


def _workbooks(tmp: Path) -> list[Path]:
    paths = []
    for tid in builtin_templates():
        base = load_template(tid)
        for lang in ("zh", "en"):
            p = tmp / f"{tid}-{lang}-blank.xlsx"
            write_workbook(p, base, None, lang)
            paths.append(p)
            p = tmp / f"{tid}-{lang}-prefilled.xlsx"
            write_workbook(p, base, parse_project(_prefilled(base), base), lang)
            paths.append(p)
        v = _flipped(base)
        p = tmp / f"{tid}-flipped.xlsx"
        write_workbook(p, v, parse_project(_prefilled(v), v))
        paths.append(p)
    seed = load_template("dept-eval")
    p = tmp / "seed.xlsx"
    write_workbook(p, seed, parse_project(load_project_file(SEED_PROJECT), seed))
    paths.append(p)
    return paths


@dataclasses.dataclass
class Formula:
    where: str
    text: str
    kind: str = "cell"  # cell | validation | conditional | name | chart


def collect_formulas(path: Path) -> list[Formula]:
    wb = openpyxl.load_workbook(path)  # formulas, not values
    out: list[Formula] = []
    for ws in wb.worksheets:
        for row in ws.iter_rows():
            for c in row:
                if c.data_type == "f" and isinstance(c.value, str):
                    out.append(Formula(f"{ws.title}!{c.coordinate}", c.value))
        for dv in ws.data_validations.dataValidation:
            for f in (dv.formula1, dv.formula2):
                if f:
                    out.append(Formula(f"{ws.title} validation {dv.sqref}", "=" + f, "validation"))
        for cf in ws.conditional_formatting:
            for rule in cf.rules:
                for f in rule.formula or []:
                    out.append(Formula(f"{ws.title} conditional format {cf.sqref}", "=" + f, "conditional"))
    for name, dn in wb.defined_names.items():
        out.append(Formula(f"defined name {name}", "=" + dn.attr_text, "name"))
    with zipfile.ZipFile(path) as z:  # chart series references (openpyxl does not load charts)
        for member in z.namelist():
            if member.startswith("xl/charts/") and member.endswith(".xml"):
                for ref in re.findall(r"<c:f>(.*?)</c:f>", z.read(member).decode("utf-8")):
                    out.append(Formula(member, "=" + ref.replace("&apos;", "'"), "chart"))
    return out


def check_formula(f: Formula) -> tuple[set[str], list[str]]:
    """Function names used, and problems found, in one formula."""
    problems = []
    if "_xlfn." in f.text.lower() or "_xlws." in f.text.lower():
        problems.append(f"{f.where}: future-function prefix in {f.text}")
    functions: set[str] = set()
    tok = Tokenizer(f.text)
    for item in tok.items:
        if item.type == "FUNC" and item.subtype == "OPEN":
            functions.add(item.value[:-1].upper())
        elif item.type == "OPERAND" and item.subtype == "RANGE" and "!" in item.value:
            sheet = item.value.rsplit("!", 1)[0]
            if not (sheet.startswith("'") and sheet.endswith("'")):
                problems.append(f"{f.where}: unquoted sheet reference {item.value} in {f.text}")
    return functions, problems


@pytest.fixture(scope="module")
def formulas(tmp_path_factory) -> dict[str, list[Formula]]:
    tmp = tmp_path_factory.mktemp("whitelist")
    return {p.name: collect_formulas(p) for p in _workbooks(tmp)}


def test_every_workbook_has_formulas_everywhere_expected(formulas):
    for name, fs in formulas.items():
        kinds = {f.kind for f in fs}
        assert kinds == {"cell", "validation", "conditional", "name", "chart"}, (name, kinds)
        assert sum(f.kind == "cell" for f in fs) > 500, name


def test_only_classic_functions(formulas):
    used: set[str] = set()
    problems: list[str] = []
    for fs in formulas.values():
        for f in fs:
            fn, pr = check_formula(f)
            used |= fn
            problems += [p for p in pr if "future-function" in p]
            bad = fn - CLASSIC_FUNCTIONS
            if bad:
                problems.append(f"{f.where}: non-classic {sorted(bad)} in {f.text}")
    assert not problems, "\n".join(problems[:20])
    # the tokenizer really sees the functions (guards against a vacuous pass)
    assert {"IF", "ROUND", "SUMIF", "ISNUMBER", "MIN", "MAX", "SUM", "AND", "OR"} <= used, used
    assert used <= CLASSIC_FUNCTIONS


def _unquoted(formulas: dict[str, list[Formula]], kinds: set[str]) -> tuple[list[str], int]:
    problems: list[str] = []
    n_cross = 0
    for fs in formulas.values():
        for f in fs:
            if f.kind in kinds:
                n_cross += f.text.count("!")
                problems += [p for p in check_formula(f)[1] if "unquoted" in p]
    return problems, n_cross


def test_cross_sheet_references_are_quoted(formulas):
    problems, n_cross = _unquoted(formulas, {"cell", "validation", "conditional", "name"})
    assert not problems, "\n".join(problems[:20])
    assert n_cross > 1000


def test_chart_references_are_quoted(formulas):
    """Regression: writer.chart passed [sheet, row, col, ...] lists and XlsxWriter wrote =汇总!$B$10:$B$14."""
    problems, n_cross = _unquoted(formulas, {"chart"})
    assert n_cross > 0
    assert not problems, "\n".join(problems[:20])


def test_checker_catches_what_this_test_rejects():
    """The helpers flag the faults they exist for."""
    fn, pr = check_formula(Formula("x", "=_xlfn.IFS(A1>1,1,TRUE,0)+XLOOKUP(1,A:A,B:B)+评分!A1+'评分'!B2"))
    assert "XLOOKUP" in fn and "_XLFN.IFS" in fn
    assert any("future-function" in p for p in pr)
    unquoted = [p for p in pr if "unquoted" in p]
    assert len(unquoted) == 1 and "评分!A1" in unquoted[0] and "'评分'!B2" not in unquoted[0].split(" in ")[0]


def test_form_sheet_is_covered(formulas):
    """The 自评表 sheet (form_sheet.py) is formula-only and inside this test: TEXT only for dates."""
    for name, fs in formulas.items():
        form = [f for f in fs if f.kind == "cell" and f.where.split("!")[0] in ("自评表", "Form")]
        assert len(form) > 200, (name, len(form))
        used = set().union(*(check_formula(f)[0] for f in form))
        assert "TEXT" in used and used <= CLASSIC_FUNCTIONS, used
        assert all('TEXT(' not in f.text or '"yyyy-mm-dd"' in f.text for f in form)
