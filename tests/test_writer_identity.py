"""`wbtool new` writes the same workbook, cell for cell, as the reference dump.

tests/data/writer-reference.json was made from the writer before it was sped up (per-formula
preparation skipped, in-memory output, cached layouts): every cell's type, value or formula,
number format, lock and fill; data validations; conditional formats; merged ranges; defined
names; custom properties; and each formula cell's cached result (what a previewer, Protected View or
WPS with calculation off shows). Regenerate it only for an intended change of the output:
``python tests/test_writer_identity.py`` (then review the diff).
"""
from __future__ import annotations

import json
import sys
from pathlib import Path

import openpyxl

ROOT = Path(__file__).resolve().parents[1]
REFERENCE = ROOT / "tests" / "data" / "writer-reference.json"
KEY = b"k" * 32


def cases(tmp: Path) -> dict[str, Path]:
    from workbook_tool.project import load_project_file, parse_project
    from workbook_tool.template import load_template
    from workbook_tool.writer import write_workbook

    se, de = load_template("self-eval"), load_template("dept-eval")
    seed = parse_project(load_project_file(ROOT / "samples" / "party-building-2024.yaml"), de)
    out = {}
    for name, args in {"self-eval-zh": dict(tpl=se), "dept-eval-en": dict(tpl=de, lang="en"),
                       "seed-filled-signed": dict(tpl=de, project=seed, password="pw", key=KEY)}.items():
        p = tmp / f"{name}.xlsx"
        write_workbook(p, force=True, **args)
        out[name] = p
    return out


def dump(path: Path) -> dict:
    """A semantic text dump of a workbook (what the reference compares)."""
    wb = openpyxl.load_workbook(path)
    cached = openpyxl.load_workbook(path, data_only=True)
    out: dict = {"sheets": {}, "names": sorted(wb.defined_names), "custom": {}}
    for p in wb.custom_doc_props.props:
        out["custom"][p.name] = str(p.value)
    for ws in wb.worksheets:
        cells = {}
        for row in ws.iter_rows():
            for c in row:
                if c.value is None and c.style_id == 0:
                    continue
                v = c.value
                if c.column == 2 and ws.cell(c.row, 1).value == "created":
                    v = "<created>"  # the creation time
                cells[c.coordinate] = [c.data_type, str(v) if v is not None else None, c.number_format,
                                       bool(c.protection.locked), c.fill.fgColor.rgb if c.fill and c.fill.fill_type else None]
                if c.data_type == "f":
                    cells[c.coordinate].append(repr(cached[ws.title][c.coordinate].value))
        out["sheets"][ws.title] = {
            "state": ws.sheet_state,
            "cells": cells,
            "merged": sorted(str(r) for r in ws.merged_cells.ranges),
            "validations": sorted(f"{dv.sqref}|{dv.type}|{dv.formula1}|{dv.formula2}|{dv.operator}" for dv in ws.data_validations.dataValidation),
            "conditional": sorted(f"{cf.sqref}|{r.type}|{r.formula}" for cf in ws.conditional_formatting for r in cf.rules),
            "protected": bool(ws.protection.sheet),
        }
    return out


def test_new_writes_the_reference_workbooks(tmp_path):
    reference = json.loads(REFERENCE.read_text(encoding="utf-8"))
    got = {name: dump(p) for name, p in cases(tmp_path).items()}
    assert set(got) == set(reference)
    for name in reference:
        for sheet, want in reference[name]["sheets"].items():
            have = got[name]["sheets"][sheet]
            for k in want:
                if k == "cells":
                    diff = {a1: (want[k].get(a1), have[k].get(a1)) for a1 in set(want[k]) | set(have[k])
                            if want[k].get(a1) != have[k].get(a1)}
                    assert not diff, (name, sheet, sorted(diff.items())[:5])
                else:
                    assert have[k] == want[k], (name, sheet, k)
        for k in ("names", "custom"):
            assert got[name][k] == reference[name][k], (name, k)


if __name__ == "__main__":
    import tempfile

    sys.path.insert(0, str(ROOT))
    with tempfile.TemporaryDirectory() as d:
        data = {name: dump(p) for name, p in cases(Path(d)).items()}
    REFERENCE.write_text(json.dumps(data, ensure_ascii=False, indent=0, sort_keys=True), encoding="utf-8")
    print(f"wrote {REFERENCE}")
