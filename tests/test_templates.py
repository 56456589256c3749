"""Templates: built-ins load with the domain's numbers; broken templates are refused with a precise message."""
from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

from workbook_tool.cli import main
from workbook_tool.errors import TemplateError
from workbook_tool.template import builtin_dir, load_template

ROOT = Path(__file__).resolve().parents[1]


def test_self_eval_is_the_national_form():
    t = load_template("self-eval")
    assert {lv.name: lv.weight for lv in t.levels} == {"产出指标": 50, "效益指标": 30, "满意度指标": 10, "预算执行率": 10}
    assert [(b.grade, b.min) for b in t.rating] == [("优", 90), ("良", 80), ("中", 60), ("差", 0)]
    (rate,) = t.rates
    assert (rate.numerator, rate.denominator, rate.weight) == ("spent", "budget", 10)  # 全年执行数 / 全年预算数
    assert t.indicator_rows >= 40


def test_dept_eval_is_the_seed_framework():
    t = load_template("dept-eval")
    assert [(lv.name, lv.weight) for lv in t.levels] == [("决策", 20), ("过程", 20), ("产出", 40), ("效益", 10), ("满意度", 10)]
    assert [(b.grade, b.min) for b in t.rating][2] == ("中", 70)
    names = {d.name: d for d in t.indicators}
    assert [names[n].weight for n in ("立项依据充分性", "立项程序规范性", "绩效目标合理性", "绩效指标明确性", "预算编制科学性",
                                      "资金分配合理性")] == [4, 4, 3, 3, 3, 3]
    assert all("评价要点" in d.note for d in t.indicators)
    assert {r.id: (r.numerator, r.denominator, r.weight) for r in t.rates} == {
        "arrival": ("arrived", "budget", 5), "execution": ("spent", "arrived", 5)}


def _write_variant(tmp_path: Path, edit) -> Path:
    data = yaml.safe_load((builtin_dir() / "self-eval.yaml").read_text(encoding="utf-8"))
    edit(data)
    p = tmp_path / "province.yaml"
    p.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    return p


@pytest.mark.parametrize("edit, key", [
    (lambda d: d.update(colour="red"), "colour"),
    (lambda d: d["levels"][0].update(weight=55), "levels[*].weight"),
    (lambda d: d["rating"][1].update(min=95), "rating[1].min"),
    (lambda d: d["rating"][3].update(min=10), "rating[3].min"),
    (lambda d: d["scoring"]["qualitative_grades"][1].update(min=0.5), "qualitative_grades"),
    (lambda d: d["scoring"].update(reverse="log"), "scoring.reverse"),
    (lambda d: d["funds"]["rates"][0].update(denominator="initial2"), "funds.rates[0].denominator"),
    (lambda d: d["levels"][0].update(name="产出*"), "levels[0].name"),
])
def test_broken_template_is_refused_with_file_and_key(tmp_path, edit, key):
    p = _write_variant(tmp_path, edit)
    with pytest.raises(TemplateError) as e:
        load_template(p)
    assert "province.yaml" in e.value.zh and key in e.value.zh
    r = CliRunner().invoke(main, ["new", "--template", str(p), "-o", str(tmp_path / "x.xlsx")])
    assert r.exit_code == 2
    assert "Traceback" not in r.output and key in r.output
    assert not (tmp_path / "x.xlsx").exists()


def test_office_template_file_is_used(tmp_path):
    p = _write_variant(tmp_path, lambda d: (d.update(id="xj-2025", version="1"), d["scoring"].update(reverse="linear")))
    r = CliRunner().invoke(main, ["new", "--template", str(p), "-o", str(tmp_path / "x.xlsx")])
    assert r.exit_code == 0, r.output
    assert "xj-2025@1" in r.output


def test_templates_command_lists_builtins():
    r = CliRunner().invoke(main, ["templates"])
    assert r.exit_code == 0
    lines = r.output.splitlines()
    assert any(l.startswith("self-eval") and "2024.2" in l for l in lines)
    assert any(l.startswith("dept-eval") for l in lines)


def test_non_editable_install_carries_templates(tmp_path):
    """`pip install .` (not editable) must ship templates/ inside the package."""
    target = tmp_path / "site"
    subprocess.run([sys.executable, "-m", "pip", "install", "-q", "--no-deps",
                    "--target", str(target), str(ROOT)], check=True, capture_output=True)
    code = textwrap.dedent("""
        import workbook_tool.template as t
        print(t.builtin_dir()); print(sorted(t.builtin_templates()))
    """)
    out = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True,
                         env={**os.environ, "PYTHONPATH": str(target)}, check=True).stdout
    assert str(target) in out and "'dept-eval', 'self-eval'" in out


def test_findings_doc_is_generated_from_the_catalogue():
    """docs/findings.md must list exactly the catalogue (regenerate with `wbtool codes --format markdown`)."""
    r = CliRunner().invoke(main, ["codes", "--format", "markdown"])
    assert r.exit_code == 0
    assert (ROOT / "docs" / "findings.md").read_text(encoding="utf-8") == r.output


def test_every_code_a_command_raises_is_catalogued():
    """Each code passed to an error where it is raised is in a catalogue, so `wbtool codes` and
    docs/findings.md list it (a new code added at its raise site only fails here)."""
    import ast
    import re

    from workbook_tool import catalogue, intake  # noqa: F401 - both register finding codes
    from workbook_tool.errors import COMMAND_ERRORS
    from workbook_tool.findings import CATALOGUE

    raised: dict[str, str] = {}
    for path in sorted((ROOT / "workbook_tool").glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Call) and node.args and isinstance(node.args[0], ast.Constant) \
                    and isinstance(node.args[0].value, str) and re.fullmatch(r"[A-Z]\d{3}", node.args[0].value):
                name = node.func.attr if isinstance(node.func, ast.Attribute) else getattr(node.func, "id", "")
                if name.endswith("Error") or name in ("_fail", "_reject", "UnreadableFile"):
                    raised[node.args[0].value] = f"{path.name}:{node.lineno}"
    assert len(raised) > 30
    missing = {c: at for c, at in raised.items() if c not in COMMAND_ERRORS and c not in CATALOGUE}
    assert not missing, missing
    assert not set(COMMAND_ERRORS) & set(CATALOGUE)
    unused = set(COMMAND_ERRORS) - set(raised)
    assert not unused, unused  # (a catalogued command error nothing raises any more)
