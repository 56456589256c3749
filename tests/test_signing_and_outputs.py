"""Signed issue (HMAC), and the "nothing lost" guarantees: inputs untouched, outputs atomic."""
from __future__ import annotations

import hashlib
import json
import stat
from pathlib import Path

import openpyxl
import pytest
from click.testing import CliRunner

from workbook_tool import record, writer
from workbook_tool.checker import check_file
from workbook_tool.cli import main
from workbook_tool.layout import build_layout
from workbook_tool.signing import load_key
from workbook_tool.template import load_template

ROOT = Path(__file__).resolve().parents[1]
SEED = ROOT / "samples" / "party-building-2024.yaml"


def _state(p: Path) -> tuple[str, int]:
    return hashlib.sha256(p.read_bytes()).hexdigest(), p.stat().st_mtime_ns


def test_keygen_makes_a_private_key_and_refuses_to_overwrite(tmp_path):
    k = tmp_path / "office.key"
    r = CliRunner().invoke(main, ["keygen", str(k)])
    assert r.exit_code == 0
    assert stat.S_IMODE(k.stat().st_mode) == 0o600
    assert len(load_key(k)) == 32
    before = _state(k)
    r = CliRunner().invoke(main, ["keygen", str(k)])
    assert r.exit_code == 2 and "--force" in r.output
    assert _state(k) == before


@pytest.fixture()
def signed(tmp_path):
    k = tmp_path / "office.key"
    CliRunner().invoke(main, ["keygen", str(k)])
    out = tmp_path / "signed.xlsx"
    r = CliRunner().invoke(main, ["new", "--project", str(SEED), "--key", str(k), "-o", str(out)])
    assert r.exit_code == 0, r.output
    return k, out


def _codes(rep):
    return [f.code for f in rep.findings]


def test_signed_workbook_verifies_with_its_key(signed):
    k, out = signed
    rep = check_file(out, key=load_key(k))
    assert rep.authenticated
    assert "I001" not in _codes(rep) and "S005" not in _codes(rep)
    rep = check_file(out)
    assert not rep.authenticated and "I001" in _codes(rep)


def test_wrong_key_is_reported(signed, tmp_path):
    _, out = signed
    other = tmp_path / "other.key"
    CliRunner().invoke(main, ["keygen", str(other)])
    rep = check_file(out, key=load_key(other))
    assert "S005" in _codes(rep) and not rep.authenticated


def _forge(src: Path, dst: Path, edit_record, edit_sheets=None, refingerprint: bool = True) -> None:
    """Edit the hidden issued record as a careful tamperer would (and, optionally, recompute the plain
    fingerprint so it matches): openpyxl, like a unit's own script."""
    tpl = load_template("dept-eval")
    L = build_layout(tpl)
    wb = openpyxl.load_workbook(src)
    if edit_sheets:
        edit_sheets(wb, L)
    meta = wb[L.sheet("meta")]
    fp = None
    for mrow in meta.iter_rows():
        if mrow[0].value == "issued":
            blob = json.loads("".join(str(c.value) for c in mrow[1:] if c.value))
            edit_record(blob, L)
            mrow[1].value = json.dumps(blob, ensure_ascii=False, sort_keys=True)
            for c in mrow[2:]:
                c.value = None
            fp = record.fingerprint(tpl.digest(), record.parse(mrow[1].value, None))
    if refingerprint:
        for mrow in meta.iter_rows():
            if mrow[0].value == "fingerprint":
                mrow[1].value = fp
        for p in wb.custom_doc_props.props:
            if p.name == "wbtool.fingerprint":
                p.value = fp
    wb.save(dst)


def _row_of(ws, L, name: str) -> int:
    return next(r for r in L.rows() if ws.cell(r + 1, L.slots["name"].col + 1).value == name)


def test_target_lowered_together_with_the_hidden_record_is_caught_only_with_the_key(signed, tmp_path):
    """A careful tamperer edits the target, the issued record and the fingerprint: the HMAC still fails."""
    k, out = signed

    L = build_layout(load_template("dept-eval"))
    row = _row_of(openpyxl.load_workbook(out)[L.sheet("indicators")], L, "商会党建书籍配发")

    def lower(wb, L):
        wb[L.sheet("indicators")].cell(row + 1, L.slots["target"].col + 1).value = 500

    def in_record(blob, L):
        a1 = f"indicators!{L.a1(L.slots['target'], row)}"
        assert blob["cells"][a1] == 800
        blob["cells"][a1] = 500

    forged = tmp_path / "forged.xlsx"
    _forge(out, forged, in_record, lower)
    assert "S014" not in _codes(check_file(forged))  # the plain fingerprint is fooled ...
    rep = check_file(forged, key=load_key(k))
    assert "S005" in _codes(rep) and not rep.authenticated  # ... the signature is not


@pytest.mark.parametrize("forgery", ["rows emptied", "project_issued false", "version dropped"])
def test_every_field_of_the_issued_record_is_signed(signed, tmp_path, forgery):
    """Issue with --key, mark an issued indicator 不适用 and hide it from the record (empty ``rows``, or
    ``project_issued`` off, or a downgrade to the unversioned record): check --key must not say authentic,
    and without the key the edit must still show as S004 unless the forger recomputed the fingerprint."""
    k, out = signed

    def mark_na(wb, L):
        act = wb[L.sheet("actuals")]
        act.cell(_row_of(wb[L.sheet("indicators")], L, "商会党建书籍配发") + 1, L.slots["na"].col + 1).value = "不适用"

    def edit(blob, L):
        if forgery == "rows emptied":
            blob["rows"] = []
        elif forgery == "project_issued false":
            blob["project_issued"] = False
        else:
            blob.pop("version")
            blob.pop("project_issued")

    forged, naive = tmp_path / "forged.xlsx", tmp_path / "naive.xlsx"
    _forge(out, forged, edit, mark_na)
    _forge(out, naive, edit, mark_na, refingerprint=False)
    rep = check_file(forged, key=load_key(k))
    assert not rep.authenticated and "S005" in _codes(rep), _codes(rep)
    if forgery != "version dropped":  # (an unversioned record is verified the old way: its fingerprint matches)
        assert "S004" in _codes(check_file(naive))


def test_damaged_record_shapes_are_findings_not_internal_errors(signed, tmp_path):
    """Metadata JSON of the wrong shape (issued as a list, rows: true): S004, never S099."""
    k, out = signed
    for i, bad in enumerate(['["a"]', '{"version": 2, "cells": {}, "rows": true, "project_issued": true}',
                             '{"version": 2, "cells": [], "rows": [], "project_issued": true}', '{"cells": {"x": {}}}',
                             "[" * 5000 + "]" * 5000]):
        L = build_layout(load_template("dept-eval"))
        wb = openpyxl.load_workbook(out)
        for mrow in wb[L.sheet("meta")].iter_rows():
            if mrow[0].value == "issued":
                mrow[1].value = bad[:32000]
                for c in mrow[2:]:
                    c.value = None
        p = tmp_path / f"bad{i}.xlsx"
        wb.save(p)
        codes = _codes(check_file(p, key=load_key(k)))
        assert "S004" in codes and "S099" not in codes, (bad[:40], codes)


def test_check_with_key_names_changed_issued_cells(signed, tmp_path):
    k, out = signed
    L = build_layout(load_template("dept-eval"))
    wb = openpyxl.load_workbook(out)
    ws = wb[L.sheet("indicators")]
    r = next(r for r in L.rows() if ws.cell(r + 1, L.slots["name"].col + 1).value == "党务培训班费用")
    ws.cell(r + 1, L.slots["weight"].col + 1).value = 8
    edited = tmp_path / "edited.xlsx"
    wb.save(edited)
    rep = check_file(edited, key=load_key(k))
    hits = [f for f in rep.findings if f.code == "S014"]
    assert len(hits) == 1 and hits[0].cell == L.a1(L.slots["weight"], r)
    assert hits[0].values["issued"] == 5 and hits[0].values["returned"] == 8
    assert rep.authenticated  # the issued record itself is genuine, so the original values are known


def test_commands_never_modify_their_inputs(tmp_path, signed):
    k, out = signed
    project = tmp_path / "p.yaml"
    project.write_bytes(SEED.read_bytes())
    roster = tmp_path / "roster.csv"
    roster.write_text("项目名称,主管部门,实施单位,年度,全年预算数\n甲,乙,丙,2024,5\n", encoding="utf-8")
    inputs = [k, out, project, roster]
    before = [_state(p) for p in inputs]
    runner = CliRunner()
    assert runner.invoke(main, ["new", "--project", str(project), "-o", str(tmp_path / "n.xlsx")]).exit_code == 0
    assert runner.invoke(main, ["check", str(out), "--key", str(k)]).exit_code in (0, 1)
    assert runner.invoke(main, ["batch", str(roster), "-o", str(tmp_path / "b")]).exit_code == 0
    assert [_state(p) for p in inputs] == before


def test_interrupted_write_leaves_nothing_under_the_final_name(tmp_path, monkeypatch):
    out = tmp_path / "x.xlsx"

    def boom(self):
        raise KeyboardInterrupt

    monkeypatch.setattr(writer._Writer, "guide", boom)
    with pytest.raises(KeyboardInterrupt):
        writer.write_workbook(out, load_template("self-eval"))
    assert not out.exists()
    assert list(tmp_path.iterdir()) == []


def test_existing_output_survives_a_failed_overwrite(tmp_path, monkeypatch):
    out = tmp_path / "x.xlsx"
    writer.write_workbook(out, load_template("self-eval"))
    before = _state(out)
    monkeypatch.setattr(writer._Writer, "meta", lambda self: (_ for _ in ()).throw(RuntimeError("disk full")))
    with pytest.raises(RuntimeError):
        writer.write_workbook(out, load_template("dept-eval"), force=True)
    assert _state(out) == before and len(list(tmp_path.iterdir())) == 1
