"""Issuing: what the office sends out carries nothing the unit must fill (issue #12)."""
from __future__ import annotations

from pathlib import Path

import openpyxl
import pytest
from click.testing import CliRunner

from workbook_tool.cli import main
from workbook_tool.template import builtin_templates

ROOT = Path(__file__).resolve().parents[1]
SEED = ROOT / "samples" / "party-building-2024.yaml"


def unlocked_filled(path: Path) -> list[str]:
    """Every unlocked (unit-fillable) cell that holds something, as 'sheet!A1 = value'."""
    wb = openpyxl.load_workbook(path)
    return [f"{ws.title}!{c.coordinate} = {c.value!r}" for ws in wb for row in ws.iter_rows() for c in row
            if c.value not in (None, "") and not c.protection.locked]


def unlocked_count(path: Path) -> int:
    wb = openpyxl.load_workbook(path)
    return sum(1 for ws in wb for row in ws.iter_rows() for c in row if c.has_style and not c.protection.locked)


@pytest.mark.parametrize("lang", ["zh", "en"])
@pytest.mark.parametrize("tid", builtin_templates())
def test_blank_workbook_leaves_every_unlocked_cell_empty(tmp_path, tid, lang):
    out = tmp_path / "blank.xlsx"
    r = CliRunner().invoke(main, ["new", "-t", tid, "--lang", lang, "-o", str(out)])
    assert r.exit_code == 0, r.output
    assert unlocked_filled(out) == []
    assert unlocked_count(out) > 50  # the test looks at real input cells, not at nothing


def test_issued_seed_project_leaves_every_unlocked_cell_empty(tmp_path):
    """Issue #12: without --with-actuals the seed's arrived/spent 7.94 landed in the unit's cells."""
    out = tmp_path / "issued.xlsx"
    r = CliRunner().invoke(main, ["new", "--project", str(SEED), "-o", str(out)])
    assert r.exit_code == 0, r.output
    assert unlocked_filled(out) == []
    # the issued budget column is still there, locked
    budget = openpyxl.load_workbook(out)["预算"]
    assert [c.value for c in budget["B"] if c.value == 7.94 and c.protection.locked]


def test_with_actuals_still_writes_fill_fields(tmp_path):
    out = tmp_path / "filled.xlsx"
    r = CliRunner().invoke(main, ["new", "--project", str(SEED), "--with-actuals", "-o", str(out)])
    assert r.exit_code == 0, r.output
    filled = unlocked_filled(out)
    assert any("7.94" in f for f in filled) and any("1015" in f for f in filled)
